"""Fixed-window attempt counters in the database, so every process and host shares them."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from surveyapp.models import RateLimitCounter


def _window(window_seconds: int, now: float | None) -> int:
    moment = time.time() if now is None else now
    return int(moment // window_seconds) * window_seconds


def attempts(db: Session, key: str, window_seconds: int, now: float | None = None) -> int:
    """How many attempts ``key`` has made in the current window."""
    count = db.scalar(
        select(RateLimitCounter.count).where(
            RateLimitCounter.key == key,
            RateLimitCounter.window_start == _window(window_seconds, now),
        )
    )
    return count or 0


def record_attempt(db: Session, key: str, window_seconds: int, now: float | None = None) -> int:
    """Count one attempt of ``key`` in the current window (atomic upsert); return the new count."""
    window = _window(window_seconds, now)
    dialect = db.get_bind().dialect.name
    elements = [RateLimitCounter.key, RateLimitCounter.window_start]
    increment = {"count": RateLimitCounter.count + 1}
    values = {"key": key, "window_start": window, "count": 1}
    if dialect == "postgresql":
        statement: Any = pg_insert(RateLimitCounter).values(**values).on_conflict_do_update(
            index_elements=elements, set_=increment)
    elif dialect == "sqlite":
        statement = sqlite_insert(RateLimitCounter).values(**values).on_conflict_do_update(
            index_elements=elements, set_=increment)
    else:
        raise RuntimeError(f"rate limiting supports SQLite and PostgreSQL, not {dialect!r}")
    count = db.execute(statement.returning(RateLimitCounter.count)).scalar_one()
    # Old windows are never read again; removing them here keeps the table small.
    db.execute(delete(RateLimitCounter).where(RateLimitCounter.window_start < window))
    return int(count)
