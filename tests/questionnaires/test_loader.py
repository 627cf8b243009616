"""Loading questionnaire folders and snapshots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from questionnaires.errors import QuestionnaireError
from questionnaires.loader import (
    load_questionnaire,
    load_questionnaire_from_mapping,
    validate_folder,
)
from questionnaires.model import Questionnaire

Folder = Callable[[str], Path]
QUESTIONNAIRES = Path(__file__).parents[2] / "questionnaires"
VALID = ["single_choice", "multiple_choice", "numeric", "scale", "grid", "profile"]


@pytest.mark.parametrize("name", VALID)
def test_valid_fixture_has_no_problems(name: str, questionnaire_folder: Folder) -> None:
    assert validate_folder(questionnaire_folder(name)) == []
    assert isinstance(load_questionnaire(questionnaire_folder(name)), Questionnaire)


@pytest.mark.parametrize("name", VALID)
def test_snapshot_round_trip_keeps_the_hash(name: str, questionnaire_folder: Folder) -> None:
    q = load_questionnaire(questionnaire_folder(name))
    again = load_questionnaire_from_mapping(q.model_dump(mode="json"), q.translations)
    assert again == q
    assert again.content_hash() == q.content_hash()


def test_translations_are_attached(questionnaire_folder: Folder) -> None:
    q = load_questionnaire(questionnaire_folder("single_choice"))
    assert set(q.translations) == {"de"}
    assert q.translations["de"]["option.yes_no.yes"] == "Ja"


def test_path_may_name_the_yaml_file(questionnaire_folder: Folder) -> None:
    q = load_questionnaire(questionnaire_folder("scale") / "questionnaire.yaml")
    assert q.id == "scale"


def test_mapping_problems_have_paths_but_no_lines() -> None:
    data = {
        "id": "mini", "version": "1", "source_language": "en", "languages": ["en"],
        "title": "Mini",
        "sections": [{"id": "main", "title": "Main", "questions": [
            {"id": "level", "type": "scale", "text": "Level", "scale": "nope"}]}],
    }
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire_from_mapping(data, {})
    (problem,) = caught.value.problems
    assert (problem.file, problem.path, problem.line) == (
        "questionnaire.yaml", "sections[0].questions[0].scale", None)
    assert str(problem) == (
        "questionnaire.yaml: sections[0].questions[0].scale: unknown scale 'nope' "
        "(known: none declared)"
    )


def test_relevance_on_an_earlier_question_of_the_same_page_is_allowed(tmp_path: Path) -> None:
    (tmp_path / "questionnaire.yaml").write_text(
        'id: same-page\nversion: "1"\nsource_language: en\nlanguages: [en]\ntitle: T\n'
        "sections:\n  - id: main\n    title: Main\n    questions:\n"
        "      - {id: staff, type: integer, text: Staff}\n"
        "      - {id: trainees, type: integer, text: Trainees, relevant: 'staff > 0'}\n",
        encoding="utf-8",
    )
    assert validate_folder(tmp_path) == []


def shipped_questionnaires() -> list[Path]:
    return sorted(p.parent for p in QUESTIONNAIRES.glob("*/questionnaire.yaml"))


@pytest.mark.parametrize("folder", shipped_questionnaires(), ids=lambda p: p.name)
def test_every_shipped_questionnaire_validates(folder: Path) -> None:
    problems = validate_folder(folder)
    assert problems == [], "\n".join(str(problem) for problem in problems)
