"""The JSON Schema of questionnaire.yaml, generated from the models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from questionnaires.model import Questionnaire

SCHEMA_ID = "urn:skillsgap:schema:questionnaire"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: The committed copy, for editors (regenerate with `skillsgap questionnaire schema`).
SCHEMA_FILE = Path(__file__).with_name("questionnaire.schema.json")


def questionnaire_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that questionnaire.yaml files follow."""
    generated = Questionnaire.model_json_schema(mode="validation")
    schema: dict[str, Any] = {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": "skillsgap questionnaire",
        "description": "The structure file questionnaire.yaml of a skillsgap questionnaire "
        "folder (see questionnaires/README.md).",
    }
    schema.update({key: value for key, value in generated.items()
                   if key not in ("title", "description")})
    return schema
