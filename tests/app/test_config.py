"""Configuration: defaults, instance file, SKILLSGAP_ environment, test mapping, production."""

from __future__ import annotations

from pathlib import Path

import pytest

from surveyapp import create_app
from surveyapp.db import get_engine


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An instance folder of the test's own, with no SKILLSGAP_ settings in the environment."""
    import os

    for name in list(os.environ):
        if name.startswith("SKILLSGAP_"):
            monkeypatch.delenv(name)
    folder = tmp_path / "instance"
    folder.mkdir()
    monkeypatch.setenv("SKILLSGAP_INSTANCE_PATH", str(folder))
    return folder


def _dispose(app: object) -> None:
    get_engine(app).dispose()  # type: ignore[arg-type]


def test_defaults_put_sqlite_and_a_secret_in_the_instance_folder(instance: Path) -> None:
    app = create_app()
    try:
        assert app.config["DATABASE_URL"] == f"sqlite:///{instance / 'skillsgap.sqlite'}"
        assert len(app.config["SECRET_KEY"]) >= 32
        assert app.config["SESSION_COOKIE_SECURE"] is False
        again = create_app()
        # Every process started on the same instance folder signs with the same key.
        assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]
        _dispose(again)
    finally:
        _dispose(app)


def test_precedence_instance_file_then_environment_then_test_mapping(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (instance / "config.py").write_text("TOKEN_RATE_LIMIT = 7\nPROXY_COUNT = 1\n",
                                        encoding="utf-8")
    app = create_app()
    assert app.config["TOKEN_RATE_LIMIT"] == 7
    _dispose(app)
    monkeypatch.setenv("SKILLSGAP_TOKEN_RATE_LIMIT", "9")
    app = create_app()
    assert app.config["TOKEN_RATE_LIMIT"] == 9
    assert app.config["PROXY_COUNT"] == 1
    _dispose(app)
    app = create_app({"TOKEN_RATE_LIMIT": 11})
    assert app.config["TOKEN_RATE_LIMIT"] == 11
    _dispose(app)


def test_production_requires_a_secret_and_secures_cookies(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKILLSGAP_PRODUCTION", "1")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()
    monkeypatch.setenv("SKILLSGAP_SECRET_KEY", "a-long-random-production-secret-value")
    app = create_app()
    try:
        assert app.config["PRODUCTION"] is True
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["SESSION_COOKIE_HTTPONLY"] is True
        assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
        response = app.test_client().get("/api/health")
        assert "Strict-Transport-Security" in response.headers
    finally:
        _dispose(app)


def test_a_bad_setting_is_named(instance: Path) -> None:
    with pytest.raises(RuntimeError, match="TOKEN_RATE_LIMIT"):
        create_app({"TOKEN_RATE_LIMIT": "many"})
