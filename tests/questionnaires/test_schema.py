"""The JSON Schema of questionnaire.yaml: committed, current, and accepting the fixtures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def test_shipped_questionnaires_validate_against_schema() -> None:
    folders = sorted(Path(SCHEMA_FILE).parent.glob("*/questionnaire.yaml"))
    assert folders, "no shipped questionnaire found"
    validator = jsonschema.Draft202012Validator(questionnaire_json_schema())
    for path in folders:
        errors = [error.message for error in validator.iter_errors(
            yaml.safe_load(path.read_text("utf-8")))]
        assert errors == [], f"{path}: {errors}"


def test_schema_accepts_unquoted_integer_codes() -> None:
    validator = jsonschema.Draft202012Validator(questionnaire_json_schema())
    data: dict[str, Any] = {
        "id": "codes", "version": "1", "source_language": "en", "languages": ["en"],
        "title": "Codes",
        "option_lists": {
            "sizes": [{"code": 1, "label": "Small"}, {"code": "C29.10", "label": "x"}]
        },
        "sections": [{"id": "main", "title": "Main", "questions": [
            {"id": "size", "type": "single_choice", "text": "Size", "options": "sizes"}]}],
    }
    assert validator.is_valid(data)
    data["option_lists"]["sizes"][0]["code"] = 1.5
    assert not validator.is_valid(data)
