"""The JSON Schema of questionnaire.yaml: committed, current, and accepting the fixtures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import yaml

from questionnaires.schema import SCHEMA_FILE, questionnaire_json_schema

VALID_FIXTURES = ["single_choice", "multiple_choice", "numeric", "scale", "grid", "profile"]
REGENERATE = "skillsgap questionnaire schema > questionnaires/questionnaire.schema.json"


def test_committed_schema_is_current() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == questionnaire_json_schema(), (
        f"questionnaires/questionnaire.schema.json is out of date; regenerate it with: {REGENERATE}"
    )


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = questionnaire_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]
    assert schema["title"] == "skillsgap questionnaire"


@pytest.mark.parametrize("name", VALID_FIXTURES)
def test_fixtures_validate_against_schema(
    name: str, questionnaire_folder: Callable[[str], Path]
) -> None:
    data = yaml.safe_load((questionnaire_folder(name) / "questionnaire.yaml").read_text("utf-8"))
    jsonschema.Draft202012Validator(questionnaire_json_schema()).validate(data)


@pytest.mark.parametrize("name", ["unknown_key", "unknown_type", "missing_key"])
def test_schema_rejects_what_the_models_reject(
    name: str, questionnaire_folder: Callable[[str], Path]
) -> None:
    data = yaml.safe_load((questionnaire_folder(name) / "questionnaire.yaml").read_text("utf-8"))
    validator = jsonschema.Draft202012Validator(questionnaire_json_schema())
    assert list(validator.iter_errors(data))
