"""Invitation tokens: 256 bits from `secrets`, stored only as their SHA-256 digest."""

from __future__ import annotations

import hashlib
import re
import secrets

#: 32 random bytes, URL-safe base64 without padding: 43 characters.
TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


def new_token() -> str:
    """A fresh invitation token (256 bits of randomness)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def plausible_token(token: str) -> bool:
    """Whether ``token`` has the shape of a token (cheap filter before any lookup)."""
    return bool(_TOKEN_SHAPE.match(token))


#: Invitation tokens appear in exactly one request path, /i/<token>; logs show it redacted.
_TOKEN_PATH = re.compile(r"/i/[^/?\s\"]+")


def redact_tokens(text: str) -> str:
    """Replace the token of an invitation path by a placeholder (for log lines)."""
    return _TOKEN_PATH.sub("/i/<token>", text)


def new_key(nbytes: int = 16) -> str:
    """A random hex key (response keys, open-link keys)."""
    return secrets.token_hex(nbytes)
