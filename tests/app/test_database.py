"""Database behaviour: SQLite settings, write locks, constraints, the shared rate-limit counter."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.exc import IntegrityError

from surveyapp import ratelimit
from surveyapp.db import Base, make_engine, session_factory, session_scope
from surveyapp.models import Campaign, Invitation, Response
from surveyapp.tokens import new_key
from tests.app.conftest import SurveySetup, run_in_parallel


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """An engine on an empty SQLite file with the schema."""
    engine = make_engine(sqlite_url)
    Base.metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_sqlite_foreign_keys_are_enforced(sqlite_engine: Engine) -> None:
    with pytest.raises(IntegrityError), session_scope(sqlite_engine) as session:
        session.execute(text(
            "INSERT INTO invitation (campaign_id, company_id, token_hash, status, created_at) "
            "VALUES (999, 999, 'x', 'created', '2026-01-01 00:00:00')"
        ))


def test_concurrent_sqlite_writers_wait_instead_of_failing(sqlite_engine: Engine) -> None:
    # Each writer reads, then writes: with deferred transactions two of them would deadlock on
    # the lock upgrade and one would fail with "database is locked"; BEGIN IMMEDIATE serialises.
    writers = 12

    def write(number: int) -> None:
        with session_scope(sqlite_engine) as session:
            session.execute(select(func.count()).select_from(Response)).scalar()
            ratelimit.record_attempt(session, "writer", 600)

    _, errors = run_in_parallel(writers, write)
    assert errors == []
    with session_scope(sqlite_engine, write=False) as session:
        assert ratelimit.attempts(session, "writer", 600) == writers


def test_read_sessions_on_sqlite_open_deferred_transactions(sqlite_engine: Engine) -> None:
    reader = session_factory(sqlite_engine, write=False)()
    writer = session_factory(sqlite_engine, write=True)()
    try:
        reader.execute(select(func.count()).select_from(Response)).scalar()
        # A writer can still take the write lock while a read transaction is open (WAL).
        ratelimit.record_attempt(writer, "key", 600)
        writer.commit()
    finally:
        reader.close()
        writer.close()


def test_at_most_one_submitted_response_per_invitation(
    make_campaign: Callable[..., SurveySetup], engine: Engine
) -> None:
    setup = make_campaign(invitations=1)
    with session_scope(engine) as session:
        invitation = session.get(Invitation, setup.invitation_ids[0])
        assert invitation is not None
        campaign = invitation.campaign
        for status in ("submitted", "in_progress"):
            session.add(Response(key=new_key(), campaign_id=campaign.id,
                                 invitation_id=invitation.id,
                                 questionnaire_version_id=campaign.questionnaire_version_id,
                                 channel="invitation", language="en", status=status,
                                 answers={}, page_seconds={}))
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        # The unfinished response cannot become a second submitted one.
        session.execute(update(Response).where(Response.status == "in_progress")
                        .values(status="submitted"))


def test_open_link_responses_are_not_limited_by_the_invitation_index(
    make_campaign: Callable[..., SurveySetup], engine: Engine
) -> None:
    setup = make_campaign(invitations=0)
    with session_scope(engine) as session:
        campaign = session.get(Campaign, setup.campaign_id)
        assert campaign is not None
        for _ in range(3):
            session.add(Response(key=new_key(), campaign_id=setup.campaign_id,
                                 invitation_id=None,
                                 questionnaire_version_id=campaign.questionnaire_version_id,
                                 channel="open_link", language="en", status="submitted",
                                 answers={}, page_seconds={}))
    with session_scope(engine, write=False) as session:
        assert session.scalar(select(func.count()).select_from(Response)) == 3


def test_rate_limit_counter_counts_per_key_and_window(engine: Engine) -> None:
    with session_scope(engine) as session:
        for _ in range(3):
            ratelimit.record_attempt(session, "token:10.0.0.1", 600, now=1200.0)
        ratelimit.record_attempt(session, "token:10.0.0.2", 600, now=1200.0)
    with session_scope(engine, write=False) as session:
        assert ratelimit.attempts(session, "token:10.0.0.1", 600, now=1300.0) == 3
        assert ratelimit.attempts(session, "token:10.0.0.2", 600, now=1300.0) == 1
        assert ratelimit.attempts(session, "token:10.0.0.1", 600, now=1900.0) == 0
