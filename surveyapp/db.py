"""Database engine, sessions and the one commit point per request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool

#: Constraint names follow one pattern so migrations stay reviewable and diff cleanly.
NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}

#: Methods whose requests may change data; their transactions take SQLite's write lock at BEGIN.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Execution option read by the SQLite `begin` hook: how to open the transaction.
_SQLITE_BEGIN = "skillsgap_sqlite_begin"
SQLITE_BUSY_TIMEOUT_MS = 30_000


class Base(DeclarativeBase):
    """Declarative base of every model, carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout, foreign keys and BEGIN control."""
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite://", "sqlite:///:memory:") or "mode=memory" in url
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        if in_memory:
            kwargs.setdefault("poolclass", StaticPool)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine, wal=not in_memory)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    """Apply the SQLAlchemy recipe for explicit SQLite transactions (pysqlite's own disabled)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite would otherwise issue its own deferred BEGIN lazily before DML, which is
        # what produces "database is locked" when two writers upgrade their read locks.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock at BEGIN and wait on busy_timeout there, instead of
        # failing when a deferred read transaction tries to become a write transaction.
        mode = connection.get_execution_options().get(_SQLITE_BEGIN, "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


def session_factory(engine: Engine, *, write: bool = True) -> sessionmaker[Session]:
    """A session factory; read-only sessions on SQLite open deferred (shared) transactions."""
    bind = engine
    if engine.dialect.name == "sqlite" and not write:
        bind = engine.execution_options(**{_SQLITE_BEGIN: "DEFERRED"})
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)


@contextmanager
def session_scope(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """A session outside a request (CLI, demo): commits once at the end, rolls back on error."""
    session = session_factory(engine, write=write)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def init_app(app: Flask) -> None:
    """Create the engine of ``app`` and register the per-request session lifecycle."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["skillsgap.engine"] = engine
    app.extensions["skillsgap.sessions"] = {
        True: session_factory(engine, write=True),
        False: session_factory(engine, write=False),
    }

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


def get_engine(app: Flask) -> Engine:
    """The engine of ``app``."""
    engine: Engine = app.extensions["skillsgap.engine"]
    return engine


def get_db(*, write: bool | None = None) -> Session:
    """The session of the current request (write mode follows the HTTP method by default).

    A GET that must write (the invitation link counts wrong tokens) asks for ``write=True``;
    if a read session was opened earlier in the request it is ended first, so the write
    takes its lock at BEGIN like every other write.
    """
    session: Session | None = g.get("db")
    if write is None:
        write = request.method in WRITE_METHODS if has_request_context() else True
    if session is not None and write and not g.get("db_write", False):
        # Only reads happened in it: ending it loses nothing (objects stay usable, detached).
        session.close()
        session = None
    if session is None:
        session = current_app.extensions["skillsgap.sessions"][write]()
        g.db = session
        g.db_write = write
    return session


def commit() -> None:
    """The one commit point of a request: views call this once, after their service calls."""
    session: Session | None = g.get("db")
    if session is not None:
        session.commit()
