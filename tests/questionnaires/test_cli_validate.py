"""`skillsgap questionnaire validate` and `schema` through click's test runner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from questionnaires.cli import questionnaire_group
from questionnaires.schema import questionnaire_json_schema

Folder = Callable[[str], Path]


def test_valid_folder_exits_0(questionnaire_folder: Folder) -> None:
    folder = questionnaire_folder("grid")
    result = CliRunner().invoke(questionnaire_group, ["validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{folder}: valid"


def test_invalid_folder_exits_1_listing_every_problem(questionnaire_folder: Folder) -> None:
    folder = questionnaire_folder("bad_grid")
    result = CliRunner().invoke(questionnaire_group, ["validate", str(folder)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 6
    assert lines[0].startswith("questionnaire.yaml:8: option_lists.areas[0].code:")
    assert lines[3] == (
        "questionnaire.yaml:19: sections[0].questions[0].columns[1].scale: "
        "unknown scale 'level' (known: none declared)"
    )
    assert lines[-1] == f"5 problem(s) found in {folder}"


def test_lang_option_limits_translations(questionnaire_folder: Folder) -> None:
    folder = str(questionnaire_folder("translation_gaps"))
    only_fr = CliRunner().invoke(questionnaire_group, ["validate", folder, "--lang", "fr"])
    assert only_fr.exit_code == 1
    assert "translations/fr.yaml:1: language: language is 'de'" in only_fr.stderr
    assert "translations/de.yaml" not in only_fr.stderr
    both = CliRunner().invoke(
        questionnaire_group, ["validate", folder, "--lang", "de", "--lang", "fr"]
    )
    assert "missing key 'question.comment.text'" in both.stderr
    assert "orphaned key 'question.comment.txt'" in both.stderr


def test_schema_command_prints_the_schema() -> None:
    result = CliRunner().invoke(questionnaire_group, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == questionnaire_json_schema()
