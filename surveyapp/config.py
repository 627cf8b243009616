"""Configuration defaults and the checks applied once every source has been read."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

#: Interface languages (Flask-Babel catalogues); English is the fallback.
INTERFACE_LANGUAGES = ("en", "de", "fr", "cs", "es", "it", "pl")

DEFAULTS: dict[str, Any] = {
    # Set PRODUCTION=1 behind HTTPS: secure cookies, and a SECRET_KEY becomes mandatory.
    "PRODUCTION": False,
    "SECRET_KEY": None,
    "DATABASE_URL": None,
    # Answer pages of the reference questionnaire post about 20 KB; 512 KB leaves room for
    # long free texts and refuses abuse early.
    "MAX_CONTENT_LENGTH": 512 * 1024,
    "MAX_FORM_MEMORY_SIZE": 512 * 1024,
    "MAX_FORM_PARTS": 2000,
    "SESSION_COOKIE_NAME": "skillsgap_session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    # A respondent may come back on the same device for weeks while the campaign runs.
    "PERMANENT_SESSION_LIFETIME": dt.timedelta(days=60),
    # CSRF tokens expire after a working day; an expired one never loses answers (see respond).
    "WTF_CSRF_TIME_LIMIT": 8 * 3600,
    # Token guessing: at most this many unknown tokens per client address and window.
    "TOKEN_RATE_LIMIT": 20,
    "RATE_LIMIT_WINDOW_SECONDS": 600,
    # Password guessing: at most this many failed sign-ins per client address and window.
    "LOGIN_RATE_LIMIT": 10,
    # Number of reverse proxies in front of the app whose X-Forwarded-For/-Proto to trust.
    "PROXY_COUNT": 0,
    # Base of the links printed by the command line (invitations, open links).
    "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
    "BABEL_DEFAULT_LOCALE": "en",
    "BABEL_DEFAULT_TIMEZONE": "UTC",
    "LANGUAGES": INTERFACE_LANGUAGES,
}

SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name, not a secret)


def apply_defaults(app: Flask) -> None:
    """Load the defaults into ``app.config``."""
    app.config.from_mapping(DEFAULTS)


def finalise(app: Flask) -> None:
    """Fill derived settings and refuse unsafe combinations, naming the setting at fault."""
    config = app.config
    instance = Path(app.instance_path)
    if not config.get("DATABASE_URL"):
        instance.mkdir(parents=True, exist_ok=True)
        config["DATABASE_URL"] = f"sqlite:///{instance / 'skillsgap.sqlite'}"
    if _truthy(config.get("PRODUCTION")):
        config["PRODUCTION"] = True
        if not config.get("SECRET_KEY"):
            raise RuntimeError(
                "PRODUCTION is set but SECRET_KEY is not: set SKILLSGAP_SECRET_KEY (or "
                "SECRET_KEY in instance/config.py) to a long random value shared by all processes"
            )
        config["SESSION_COOKIE_SECURE"] = True
        config["REMEMBER_COOKIE_SECURE"] = True
        config["PREFERRED_URL_SCHEME"] = "https"
    else:
        config["PRODUCTION"] = False
        if not config.get("SECRET_KEY"):
            config["SECRET_KEY"] = _instance_secret(instance)
    for name in ("TOKEN_RATE_LIMIT", "LOGIN_RATE_LIMIT", "RATE_LIMIT_WINDOW_SECONDS",
                 "PROXY_COUNT"):
        value = config.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise RuntimeError(f"setting {name} must be a non-negative integer, not {value!r}")
    if config["RATE_LIMIT_WINDOW_SECONDS"] < 1:
        raise RuntimeError("setting RATE_LIMIT_WINDOW_SECONDS must be at least 1 (seconds)")


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _instance_secret(instance: Path) -> str:
    """A development secret kept in the instance folder, so restarts and workers share it."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / SECRET_KEY_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    key = secrets.token_hex(32)
    # Exclusive creation: when two workers race, the loser reads the winner's key.
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(key)
        path.chmod(0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    return key
