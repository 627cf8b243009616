"""Translation files: the completeness check and the lookup with source fallback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from questionnaires.errors import QuestionnaireError
from questionnaires.loader import load_questionnaire_from_mapping, validate_folder
from questionnaires.model import Questionnaire
from questionnaires.translations import TextCatalog, read_translation, texts

Folder = Callable[[str], Path]
Loader = Callable[[str], Questionnaire]


def test_gaps_are_listed_with_file_and_line(questionnaire_folder: Folder) -> None:
    problems = [str(p) for p in validate_folder(questionnaire_folder("translation_gaps"))]
    assert problems == [
        "translations/de.yaml:2: texts: missing key 'question.comment.text' (source: 'Comment')",
        'translations/de.yaml:6: texts["question.comment.txt"]: orphaned key '
        "'question.comment.txt': no such text in the questionnaire "
        "(did you mean 'question.comment.text'?)",
        'translations/de.yaml:7: texts["option.regions.DE11"]: orphaned key '
        "'option.regions.DE11': its option list is marked translate: false",
        'translations/de.yaml:8: texts["question.comment.help"]: empty text for '
        "'question.comment.help'",
        "translations/fr.yaml:1: language: language is 'de' but the file is fr.yaml",
    ]


def test_lang_filter_checks_only_those_translations(questionnaire_folder: Folder) -> None:
    problems = validate_folder(questionnaire_folder("translation_gaps"), langs=["fr"])
    assert [p.file for p in problems] == ["translations/fr.yaml"]


def test_lang_filter_reports_a_missing_file(questionnaire_folder: Folder) -> None:
    problems = validate_folder(questionnaire_folder("single_choice"), langs=["it"])
    assert [str(p) for p in problems] == [
        "translations/it.yaml: missing translation file for language 'it'"
    ]


def test_required_language_without_file(questionnaire_folder: Folder) -> None:
    problems = validate_folder(questionnaire_folder("bad_scale_order"))
    assert "translations/de.yaml: missing translation file for language 'de'" in [
        str(p) for p in problems
    ]


def test_complete_translation_is_used(load_fixture: Loader) -> None:
    q = load_fixture("single_choice")
    german = texts(q, "de")
    assert german["question.trains.text"] == "Bildet Ihr Unternehmen seine Beschäftigten weiter?"
    assert german["option.segment.oem.description"] == "Hersteller von Fahrzeugen."
    assert german.is_translated("title")
    assert texts(q)["title"] == "Single choice"
    assert len(german) == len(q.text_keys())


def test_missing_or_blank_text_falls_back_to_source(load_fixture: Loader) -> None:
    q = load_fixture("single_choice").with_translations(
        {"fr": {"title": "Choix unique", "question.trains.text": "   "}}
    )
    french = TextCatalog(q, "fr")
    assert french["title"] == "Choix unique"
    assert french["question.trains.text"] == "Does your company train its staff?"
    assert french["option.yes_no.no"] == "No"
    assert not french.is_translated("option.yes_no.no")
    unknown_language = TextCatalog(q, "sv")
    assert unknown_language["section.main.title"] == "Main"
    assert all(unknown_language[key] for key in unknown_language)


def test_untranslated_list_is_shown_as_written(load_fixture: Loader) -> None:
    q = load_fixture("profile").with_translations(
        {"de": {"option.regions.DE11": "Region Stuttgart", "option.countries.DE": "Deutschland"}}
    )
    german = texts(q, "de")
    assert german["option.regions.DE11"] == "Stuttgart"
    assert german["option.countries.DE"] == "Deutschland"


def test_unknown_key_is_a_key_error(load_fixture: Loader) -> None:
    catalog = texts(load_fixture("single_choice"), "de")
    with pytest.raises(KeyError):
        catalog["question.nope.text"]
    assert catalog.get_text("question.nope.text") is None


def test_read_translation_reports_structure(tmp_path: Path) -> None:
    folder = tmp_path / "translations"
    folder.mkdir()
    path = folder / "de.yaml"
    path.write_text("language: de\nnotes: x\ntexts:\n  title: 3\n", encoding="utf-8")
    translation, problems = read_translation(path)
    assert translation is not None
    assert translation.texts == {}
    assert [str(p) for p in problems] == [
        "translations/de.yaml:2: notes: unknown key 'notes' (allowed: language, texts)",
        "translations/de.yaml:4: texts.title: text for 'title' must be a string, not a number; "
        "quote it",
    ]


def test_translation_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "de.yaml"
    path.write_text("- a\n", encoding="utf-8")
    translation, problems = read_translation(path)
    assert translation is None
    assert "must be a mapping" in problems[0].message


def _mapping() -> dict[str, object]:
    return {
        "id": "mini", "version": "1", "source_language": "en", "languages": ["en", "de"],
        "title": "Mini",
        "sections": [{"id": "main", "title": "Main", "questions": [
            {"id": "staff", "type": "integer", "text": "Staff"}]}],
    }


def test_from_mapping_with_complete_translation() -> None:
    de = {"title": "Mini", "section.main.title": "Haupt", "question.staff.text": "Personal"}
    q = load_questionnaire_from_mapping(_mapping(), {"de": de})
    assert texts(q, "de")["question.staff.text"] == "Personal"
    same = load_questionnaire_from_mapping(_mapping(), {"de": {"language": "de", "texts": de}})
    assert same.content_hash() == q.content_hash()


def test_from_mapping_reports_missing_keys_and_files() -> None:
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire_from_mapping(_mapping(), {"de": {"title": "Mini"}})
    assert [str(p) for p in caught.value.problems] == [
        "translations/de.yaml: texts: missing key 'section.main.title' (source: 'Main')",
        "translations/de.yaml: texts: missing key 'question.staff.text' (source: 'Staff')",
    ]
    with pytest.raises(QuestionnaireError, match="missing translation file for language 'de'"):
        load_questionnaire_from_mapping(_mapping(), {})
