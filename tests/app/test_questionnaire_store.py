"""Published questionnaire versions: frozen snapshots that load back to the same questionnaire."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import Engine

from questionnaires.loader import load_questionnaire_from_mapping
from surveyapp.db import session_scope
from surveyapp.questionnaire_store import PublishError, publish, questionnaire_of
from tests.app.conftest import FIXTURES, fixture_questionnaire


def test_a_published_version_loads_back_identical(engine: Engine) -> None:
    original = fixture_questionnaire("mini")
    with session_scope(engine) as db:
        version = publish(db, original)
        assert version.content_hash == original.content_hash()
        assert version.languages == ["en", "de"]
        assert set(version.translations) == {"de"}
    with session_scope(engine, write=False) as db:
        stored = db.get(type(version), version.id)
        assert stored is not None
        loaded = questionnaire_of(stored)
    assert loaded.content_hash() == original.content_hash()
    assert loaded == original
    assert loaded.translations == original.translations


def test_publishing_the_same_version_twice_returns_the_stored_one(engine: Engine) -> None:
    with session_scope(engine) as db:
        first = publish(db, fixture_questionnaire("mini"))
        second = publish(db, fixture_questionnaire("mini"))
        assert first.id == second.id


def test_a_changed_questionnaire_needs_a_new_version(engine: Engine) -> None:
    data = yaml.safe_load((FIXTURES / "mini" / "questionnaire.yaml").read_text(encoding="utf-8"))
    data["languages"] = ["en"]
    changed = load_questionnaire_from_mapping(data, {})
    with session_scope(engine) as db:
        publish(db, fixture_questionnaire("mini"))
    with pytest.raises(PublishError, match="already published with other content"), \
            session_scope(engine) as db:
        publish(db, changed)
