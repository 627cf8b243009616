"""Link tokens (invitations, resume links): 256 bits from `secrets`, stored only hashed."""

from __future__ import annotations

import hashlib
import re
import secrets

#: 32 random bytes, URL-safe base64 without padding: 43 characters.
TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


def new_token() -> str:
    """A fresh invitation or resume token (256 bits of randomness)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def plausible_token(token: str) -> bool:
    """Whether ``token`` has the shape of a token (cheap filter before any lookup)."""
    return bool(_TOKEN_SHAPE.match(token))


#: Tokens appear in exactly two request paths, invitation links /i/<token> and the personal
#: resume links of open-link responses /r/<token>; logs show them redacted.
_TOKEN_PATH = re.compile(r"/([ir])/[^/?\s\"]+")


def redact_tokens(text: str) -> str:
    """Replace the token of an invitation or resume path by a placeholder (for log lines)."""
    return _TOKEN_PATH.sub(r"/\1/<token>", text)


def new_key(nbytes: int = 16) -> str:
    """A random hex key (response keys, open-link keys)."""
    return secrets.token_hex(nbytes)
