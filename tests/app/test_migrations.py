"""Alembic migrations: upgrade head on an empty database matches the models exactly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from surveyapp.db import Base, make_engine
from surveyapp.migrate import alembic_config, upgrade


def test_upgrade_head_matches_the_models(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert differences == []
    assert {"association", "campaign", "invitation", "response", "alembic_version"} <= tables


def test_partial_unique_indexes_exist_after_upgrade(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            found = inspect(connection).get_indexes("response")
            indexes = {index["name"]: index for index in found}
    finally:
        engine.dispose()
    assert indexes["uq_response_invitation_submitted"]["unique"]
    assert indexes["uq_response_invitation_in_progress"]["unique"]


def test_downgrade_to_base_and_upgrade_again(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    command.downgrade(alembic_config(sqlite_url), "base")
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            assert "response" in inspect(connection).get_table_names()
    finally:
        engine.dispose()
