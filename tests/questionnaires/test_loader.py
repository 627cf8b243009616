"""Loading questionnaire folders and snapshots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def _one_question(question: dict[str, Any], **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "mini", "version": "1", "source_language": "en", "languages": ["en"],
        "title": "Mini",
        "sections": [{"id": "main", "title": "Main", "questions": [question]}],
    }
    data.update(extra)
    return data


@pytest.mark.parametrize(
    ("question", "extra", "expected"),
    [
        (
            {"id": "g", "type": "grid", "text": "G", "rows": [{"code": "a", "label": "A"}],
             "columns": [{"id": "c", "type": "slider", "text": "C"}]},
            {},
            "sections[0].questions[0].columns[0].type: unknown type 'slider' (known: "
            "'single_choice', 'scale', 'integer', 'decimal', 'percentage', 'text')",
        ),
        (
            {"id": "s", "type": "single_choice", "text": "S",
             "options": {"translate": False, "options": [{"code": "a b", "label": "A"}]}},
            {},
            "sections[0].questions[0].options.options[0].code: 'a b' does not match the "
            "pattern ^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        ),
        (
            {"id": "s", "type": "single_choice", "text": "S", "options": "lists"},
            {"option_lists": {"lists": 5}},
            "option_lists.lists: an option list must be a list of options or "
            "{translate, options}",
        ),
        (
            {"id": "s", "type": "single_choice", "text": "S", "options": 7},
            {},
            "sections[0].questions[0].options: options must be an option list id, a list of "
            "options or {translate, options}",
        ),
        (
            {"id": "Bad-Id", "type": "text", "text": "T"},
            {},
            "sections[0].questions[0].id: 'Bad-Id' does not match the pattern ^[a-z][a-z0-9_]*$",
        ),
        (
            {"id": "t", "text": "T"},
            {},
            "sections[0].questions[0]: missing required key 'type'",
        ),
    ],
)
def test_model_errors_name_the_path_without_union_tags(
    question: dict[str, object], extra: dict[str, object], expected: str
) -> None:
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire_from_mapping(_one_question(question, **extra), {})
    assert [f"{p.path}: {p.message}" for p in caught.value.problems] == [expected]


def test_unknown_keys_get_a_suggestion_from_their_model() -> None:
    data = _one_question(
        {"id": "g", "type": "grid", "text": "G", "rows": [{"code": "a", "label": "A"}],
         "columns": [{"id": "c", "type": "integer", "text": "C", "minimum": 0}],
         "row_validaton": []},
        scales={"p": {"levels": [{"value": 0, "label": "a", "descripton": "x"},
                                 {"value": 1, "label": "b"}]}},
    )
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire_from_mapping(data, {})
    assert sorted(f"{p.path}: {p.message}" for p in caught.value.problems) == [
        "scales.p.levels[0].descripton: unknown key 'descripton' (did you mean 'description'?)",
        "sections[0].questions[0].columns[0].minimum: unknown key 'minimum' "
        "(did you mean 'min'?)",
        "sections[0].questions[0].row_validaton: unknown key 'row_validaton' "
        "(did you mean 'row_validation'?)",
    ]


def test_bad_snapshot_shapes_are_problems_not_crashes() -> None:
    with pytest.raises(QuestionnaireError, match="must be a mapping of keys"):
        load_questionnaire_from_mapping(["not", "a", "mapping"], {})  # type: ignore[arg-type]
    data = _one_question({"id": "t", "type": "text", "text": "T"})
    with pytest.raises(QuestionnaireError, match="a translation must be a mapping"):
        load_questionnaire_from_mapping(data, {"de": "Hallo"})  # type: ignore[dict-item]


def test_a_shared_list_is_reported_once() -> None:
    question = {"id": "a", "type": "multiple_choice", "text": "A", "options": "areas"}
    data = _one_question(question, option_lists={"areas": [{"code": "B", "label": "B"}]})
    data["sections"][0]["questions"].append(
        {"id": "b", "type": "multiple_choice", "text": "B", "options": "areas"}
    )
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire_from_mapping(data, {})
    assert [str(p) for p in caught.value.problems] == [
        "questionnaire.yaml: option_lists.areas[0].code: code 'B' becomes part of variable "
        "names (multiple choice), so it must match ^[a-z0-9_]+$"
    ]
