"""Fixtures shared by the whole suite: a real PostgreSQL server and a fresh database per test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_URL_ENV = "SKILLSGAP_TEST_POSTGRES_URL"


def _postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries installed the Debian way, if any."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                        key=lambda path: int(path.parent.parent.name)
                        if path.parent.parent.name.isdigit() else 0)
    if candidates:
        return candidates[-1].parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """URL of a maintenance database on a PostgreSQL server: CI's, or one started here."""
    configured = os.environ.get(POSTGRES_URL_ENV)
    if configured:
        yield configured
        return
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip(f"no PostgreSQL server binaries found and {POSTGRES_URL_ENV} is not set")
    root = Path(tempfile.mkdtemp(prefix="skillsgap-test-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres")
    data = root / "data"
    port = _free_port()
    subprocess.run(
        _as_postgres_user([str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                           "-A", "trust", "--no-sync", "-E", "UTF8"]),
        check=True, capture_output=True,
    )
    subprocess.run(
        _as_postgres_user([
            str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w",
            "-o", f"-p {port} -k {root} -c listen_addresses='' -c fsync=off "
                  "-c max_connections=200",
            "start",
        ]),
        check=True, capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@/postgres?host={root}&port={port}"
    finally:
        subprocess.run(
            _as_postgres_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                               "stop"]),
            check=False, capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_admin_engine(postgres_admin_url: str) -> Iterator[Engine]:
    """An autocommit engine on the maintenance database, for CREATE/DROP DATABASE."""
    engine = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT", poolclass=None)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin_engine: Engine, postgres_admin_url: str) -> Iterator[str]:
    """URL of a new, empty database for one test, dropped afterwards."""
    name = f"skillsgap_test_{uuid.uuid4().hex[:16]}"
    with postgres_admin_engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_admin_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with postgres_admin_engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
