"""XLSForm import: mapped constructs, older spellings, refusals and --skip-unsupported."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from questionnaires.cli import questionnaire_group
from questionnaires.loader import load_questionnaire
from questionnaires.model import (
    CalculatedQuestion,
    DecimalQuestion,
    IntegerQuestion,
    MultipleChoiceQuestion,
    NoteQuestion,
    Questionnaire,
    SingleChoiceQuestion,
    TextQuestion,
)
from questionnaires.xlsform import ImportReport, XLSFormError, import_xlsform

FIXTURES = Path(__file__).parent / "xlsform_fixtures"


def _load_make_fixtures() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_fixtures = _load_make_fixtures()

Sheets = dict[str, list[list[Any]]]


@pytest.fixture
def form(tmp_path: Path) -> Callable[[Sheets], Path]:
    """Return a function writing a workbook from sheets (first row = header) into tmp_path."""

    def write(sheets: Sheets) -> Path:
        return make_fixtures.write_workbook(tmp_path / "form.xlsx", sheets)

    return write


def _import(file: Path, out: Path, *, skip: bool = False) -> tuple[Questionnaire, ImportReport]:
    report = import_xlsform(file, out, skip_unsupported=skip)
    return load_questionnaire(out), report


def _questions(questionnaire: Questionnaire) -> dict[str, Any]:
    return {q.id: q for section in questionnaire.sections for q in section.questions}


# --------------------------------------------------------------------------- mapped constructs


@pytest.fixture
def mapped(tmp_path: Path) -> tuple[Questionnaire, ImportReport, Path]:
    out = tmp_path / "mapped"
    questionnaire, report = _import(FIXTURES / "mapped.xlsx", out)
    return questionnaire, report, out


def test_settings_and_languages(mapped: tuple[Questionnaire, ImportReport, Path]) -> None:
    questionnaire, report, _ = mapped
    assert questionnaire.id == "mini-xls"
    assert questionnaire.version == "2024.1"
    assert questionnaire.title == "Mini XLSForm"
    assert questionnaire.source_language == "en"
    assert questionnaire.languages == ["en", "de"]
    assert report.languages == ["en", "de"]


def test_groups_become_sections(mapped: tuple[Questionnaire, ImportReport, Path]) -> None:
    questionnaire, _, _ = mapped
    sections = {s.id: s for s in questionnaire.sections}
    assert list(sections) == ["profile", "training", "general"]
    assert sections["profile"].title == "Company profile"
    assert sections["profile"].intro == "About your company."
    assert sections["training"].relevant == "employees > 0"
    # Questions outside any group form a section titled with the form title.
    assert sections["general"].title == "Mini XLSForm"
    assert [q.id for q in sections["training"].questions] == [
        "barriers", "lost_days", "comments", "thanks"
    ]


def test_question_types_and_keys(mapped: tuple[Questionnaire, ImportReport, Path]) -> None:
    questions = _questions(mapped[0])
    country = questions["country"]
    assert isinstance(country, SingleChoiceQuestion)
    assert country.required is True
    assert country.display == "dropdown"
    assert country.options == "countries"
    employees = questions["employees"]
    assert isinstance(employees, IntegerQuestion) and employees.required
    # A constraint that only bounds the answer also gives min and max.
    assert (employees.min, employees.max) == (1, 1000000)
    lost_days = questions["lost_days"]
    assert isinstance(lost_days, DecimalQuestion)
    assert (lost_days.min, lost_days.max) == (None, 365.0)
    comments = questions["comments"]
    assert isinstance(comments, TextQuestion) and comments.multiline
    assert isinstance(questions["thanks"], NoteQuestion)
    assert questions["thanks"].text == "Thank you."
    barriers = questions["barriers"]
    assert isinstance(barriers, MultipleChoiceQuestion)
    assert barriers.other is True
    assert barriers.other_label == "Which other barrier?"
    assert barriers.help == "Tick all that apply."
    # The form's own barriers_other text question is the format's `other`, not a question.
    assert "barriers_other" not in questions
    plans = questions["plans"]
    assert isinstance(plans, SingleChoiceQuestion) and plans.required is False


def test_calculate_becomes_calculated(mapped: tuple[Questionnaire, ImportReport, Path]) -> None:
    size_class = _questions(mapped[0])["size_class"]
    assert isinstance(size_class, CalculatedQuestion)
    assert size_class.expression == "if(employees < 50, 'small', 'large')"
    assert size_class.value_type == "text"


def test_expressions_are_translated(mapped: tuple[Questionnaire, ImportReport, Path]) -> None:
    questions = _questions(mapped[0])
    employees = questions["employees"]
    assert [(r.id, r.rule, r.message) for r in employees.validation] == [
        ("constraint", "employees >= 1 and employees <= 1000000", "Between 1 and 1,000,000.")
    ]
    assert questions["barriers"].validation[0].rule == "count(barriers) <= 3"
    # The nested group's relevance is joined to the question's own with `and`; the choice
    # name 'Time' was normalised to 'time', and the expression follows.
    assert questions["lost_days"].relevant == "selected(barriers, 'time') and employees / 10 > 1"
    assert questions["lost_days"].validation[0].rule == "lost_days <= 365"
    assert questions["comments"].relevant == "answered(region)"
    assert questions["plans"].relevant == "not country == 'FR'"


def test_conditional_required_becomes_rule(
    mapped: tuple[Questionnaire, ImportReport, Path],
) -> None:
    staff = _questions(mapped[0])["staff_count"]
    assert staff.required is False
    assert [(r.id, r.rule) for r in staff.validation] == [
        ("required", "answered(staff_count) or not plans == 'yes'")
    ]


def test_choice_filter_and_attributes(mapped: tuple[Questionnaire, ImportReport, Path]) -> None:
    questionnaire, _, _ = mapped
    region = _questions(questionnaire)["region"]
    assert region.choice_filter == "@country == country"
    regions = questionnaire.option_lists["regions"]
    assert isinstance(regions, list)
    assert [(o.code, o.attributes) for o in regions] == [
        ("DE11", {"country": "DE"}),
        ("FRK2", {"country": "FR"}),
    ]


def test_codes_and_labels(mapped: tuple[Questionnaire, ImportReport, Path]) -> None:
    lists = mapped[0].option_lists
    countries = lists["countries"]
    barriers = lists["barriers"]
    assert isinstance(countries, list) and isinstance(barriers, list)
    # Single-choice codes keep their case; multiple-choice codes become variable names.
    assert [o.code for o in countries] == ["DE", "FR"]
    assert [(o.code, o.label) for o in barriers] == [("cost", "Cost"), ("time", "Time")]


def test_translation_file(mapped: tuple[Questionnaire, ImportReport, Path]) -> None:
    questionnaire, _, out = mapped
    written = yaml.safe_load((out / "translations" / "de.yaml").read_text(encoding="utf-8"))
    assert written["language"] == "de"
    texts = written["texts"]
    assert texts["section.profile.title"] == "Unternehmensprofil"
    assert texts["question.barriers.other_label"] == "Welches andere Hindernis?"
    assert texts["question.employees.validation.constraint"] == "Zwischen 1 und 1.000.000."
    assert texts["option.barriers.time"] == "Zeit"
    assert texts["question.staff_count.validation.required"] == (
        "Diese Frage muss beantwortet werden."
    )
    assert questionnaire.translations["de"]["question.country.text"] == "Land?"


def test_report_names_sheet_and_row(mapped: tuple[Questionnaire, ImportReport, Path]) -> None:
    lines = mapped[1].lines()
    assert (
        "Survey row 18, column Name (B): the name 'Staff-Count' is not a valid id; "
        "imported as 'staff_count'"
    ) in lines
    assert any(line.startswith("choices row 7, column name (B): the choice name 'Time'")
               for line in lines)
    assert any(line.startswith("Survey row 11: the nested group 'details'") for line in lines)
    assert any("form_id 'mini_xls'" in line and "'mini-xls'" in line for line in lines)


# --------------------------------------------------------------------------- older spellings


def test_older_kobo_spellings(tmp_path: Path) -> None:
    questionnaire, _ = _import(FIXTURES / "older_kobo.xlsx", tmp_path / "older")
    assert questionnaire.languages == ["en", "fr"]
    trains = _questions(questionnaire)["trains"]
    assert isinstance(trains, SingleChoiceQuestion)
    assert trains.other is True and trains.required is True
    assert _questions(questionnaire)["apprentices"].required is False
    assert questionnaire.translations["fr"]["option.yes_no.yes"] == "Oui"


def test_plain_label_without_settings(tmp_path: Path) -> None:
    questionnaire, report = _import(FIXTURES / "plain_label.xlsx", tmp_path / "plain")
    assert questionnaire.id == "plain-label"
    assert questionnaire.languages == ["en"]
    assert _questions(questionnaire)["company"].help == "As registered."
    assert "settings sheet: no label language is named; the labels are taken as English (en)" \
        in report.lines()
    assert not (tmp_path / "plain" / "translations").exists()


def test_headers_and_sheet_names_are_case_insensitive(form: Callable[[Sheets], Path],
                                                      tmp_path: Path) -> None:
    file = form({
        "SURVEY": [["TYPE", "NAME", "LABEL::ENGLISH (EN)", "Label::Čeština (CS)"],
                   ["integer", "staff", "Staff?", "Zaměstnanci?"]],
        "Settings": [["Form_ID", "Default_Language"], ["case", "English (en)"]],
    })
    questionnaire, _ = _import(file, tmp_path / "out")
    assert questionnaire.languages == ["en", "cs"]
    assert questionnaire.translations["cs"]["question.staff.text"] == "Zaměstnanci?"


def test_incomplete_language_is_not_listed(form: Callable[[Sheets], Path],
                                           tmp_path: Path) -> None:
    file = form({
        "survey": [["type", "name", "label::English (en)", "label::Deutsch (de)",
                    "hint::Deutsch (de)"],
                   ["text", "a", "A?", "A?", "Nur deutsch"],
                   ["text", "b", "B?", None, None]],
        "settings": [["form_id", "form_title", "default_language"], ["gaps", "Gaps", "en"]],
    })
    questionnaire, report = _import(file, tmp_path / "out")
    assert questionnaire.languages == ["en"]
    assert questionnaire.translations["de"]["question.a.text"] == "A?"
    assert _questions(questionnaire)["a"].help is None
    assert ("survey row 2, column hint::Deutsch (de) (E): the hint has no text in the source "
            "language 'en'; not imported") in report.lines()
    assert any("1 text(s) have no de translation (survey row 3, column label::Deutsch (de) "
               "(D))" in line for line in report.lines())


def test_colliding_names_are_made_unique(form: Callable[[Sheets], Path], tmp_path: Path) -> None:
    file = form({"survey": [["type", "name", "label"],
                            ["integer", "Age", "Age?"],
                            ["integer", "age", "Age again?"],
                            ["integer", "2nd", "Second?"],
                            ["integer", "Größe", "Size?"],
                            ["select_multiple l", "Café-Besuch", "Visits?"]],
                 "choices": [["list_name", "name", "label"], ["l", "Oui, très", "Yes"]]})
    questionnaire, report = _import(file, tmp_path / "out")
    assert list(_questions(questionnaire)) == ["age", "age_2", "q_2nd", "gro_e", "cafe_besuch"]
    options = questionnaire.option_lists["l"]
    assert isinstance(options, list) and [o.code for o in options] == ["oui_tres"]
    assert "survey row 3, column name (B): the name 'age' is not a valid id; imported as " \
        "'age_2'" in report.lines()


def test_choice_filter_with_selected_name(form: Callable[[Sheets], Path], tmp_path: Path) -> None:
    file = form({
        "survey": [["type", "name", "label", "choice_filter"],
                   ["select_multiple Skill-Areas", "relevant_areas", "Relevant areas?", None],
                   ["select_one Skill-Areas", "main_area", "Main area?",
                    "selected(${relevant_areas}, name)"]],
        "choices": [["list_name", "name", "label"], ["Skill-Areas", "ev", "EV"],
                    ["Skill-Areas", "sw", "Software"]],
    })
    questionnaire, report = _import(file, tmp_path / "out")
    assert _questions(questionnaire)["main_area"].choice_filter == (
        "selected(relevant_areas, @code)"
    )
    assert list(questionnaire.option_lists) == ["skill_areas"]
    assert "choices row 2, column list_name (A): the list name 'Skill-Areas' is not a valid " \
        "id; imported as 'skill_areas'" in report.lines()


def test_label_piping_and_ignored_columns_are_reported(
    form: Callable[[Sheets], Path], tmp_path: Path
) -> None:
    file = form({"survey": [["type", "name", "label", "default", "appearance", "colour"],
                            ["integer", "n", "How many?", "3", "thousands-sep", "red"],
                            ["text", "why", "Why ${n}?", None, None, None]]})
    _, report = _import(file, tmp_path / "out")
    lines = report.lines()
    assert "survey row 2, column default (D): default answers are not imported" in lines
    assert ("survey row 2, column appearance (E): the appearance 'thousands-sep' has no "
            "equivalent; ignored") in lines
    assert any(line.startswith("survey, column colour (F): not an XLSForm column")
               for line in lines)
    assert any(line.startswith("survey row 3, column label (C): the en label refers to ${n}")
               for line in lines)


# --------------------------------------------------------------------------- unsupported rows

UNSUPPORTED_ROWS = [
    "survey row 4, column type (A): 'geopoint'",
    "survey row 5, column relevant (D): its relevant refers to ${location} (row 4)",
    "survey row 6, column type (A): 'begin repeat'",
    "survey row 7, column type (A): 'text': inside the repeat 'plants' (row 6)",
    "survey row 9, column type (A): 'image'",
    "survey row 10, column constraint (E): \"regex(., '^[A-Z]+$')\": function regex()",
    "survey row 11, column type (A): 'date'",
]


def test_unsupported_rows_refuse_and_write_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(XLSFormError) as caught:
        import_xlsform(FIXTURES / "unsupported.xlsx", out, skip_unsupported=False)
    message = str(caught.value)
    for row in UNSUPPORTED_ROWS:
        assert row in message
    # Metadata such as `start` never refuses an import.
    assert "row 2" not in message
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_skip_unsupported_drops_and_reports(tmp_path: Path) -> None:
    questionnaire, report = _import(FIXTURES / "unsupported.xlsx", tmp_path / "out", skip=True)
    questions = _questions(questionnaire)
    assert list(questions) == ["site", "code"]
    assert questions["code"].validation == []
    lines = report.lines()
    for row in UNSUPPORTED_ROWS:
        assert any(line.startswith(row) for line in lines), row
    assert any(line.startswith("survey row 5, column relevant (D)")
               and line.endswith("the row is dropped") for line in lines)
    assert any(line.startswith("survey row 10, column constraint (E)")
               and line.endswith("the rule is dropped") for line in lines)
    assert any(line.startswith("survey row 2, column type (A): the metadata field 'start'")
               for line in lines)


def test_dropped_group_takes_its_questions(form: Callable[[Sheets], Path], tmp_path: Path) -> None:
    file = form({"survey": [["type", "name", "label", "relevant"],
                            ["geopoint", "where", "Where?", None],
                            ["begin group", "g", "G", "${where} != ''"],
                            ["text", "inside", "Inside?", None],
                            ["end group", None, None, None],
                            ["text", "outside", "Outside?", None]]})
    questionnaire, report = _import(file, tmp_path / "out", skip=True)
    assert list(_questions(questionnaire)) == ["outside"]
    assert any(line.startswith("survey row 4: inside the group 'g' (row 3)")
               for line in report.lines())


# --------------------------------------------------------------------------- malformed forms

MALFORMED: list[tuple[str, Sheets, str]] = [
    ("no survey sheet", {"choices": [["list_name", "name", "label"]]},
     "the workbook has no 'survey' sheet"),
    ("no name column", {"survey": [["type", "label"], ["text", "A?"]]},
     "survey row 1: the survey sheet has no 'name' column"),
    ("no type column", {"survey": [["name", "label"], ["a", "A?"]]},
     "survey row 1: the survey sheet has no 'type' column"),
    ("unknown list", {"survey": [["type", "name", "label"], ["select_one nope", "a", "A?"]],
                      "choices": [["list_name", "name", "label"], ["yes_no", "yes", "Yes"]]},
     "survey row 2, column type (A): the list 'nope' is not on the choices sheet"),
    ("no choices sheet", {"survey": [["type", "name", "label"], ["select_one yn", "a", "A?"]]},
     "survey row 2, column type (A): uses the list 'yn', but the workbook has no choices sheet"),
    ("unclosed group", {"survey": [["type", "name", "label"], ["begin group", "g", "G"],
                                   ["text", "a", "A?"]]},
     "survey row 2, column type (A): 'begin group' 'g' is never closed with 'end group'"),
    ("stray end group", {"survey": [["type", "name", "label"], ["text", "a", "A?"],
                                    ["end group", None, None]]},
     "survey row 3, column type (A): 'end group' without a matching 'begin group'"),
    ("duplicate names", {"survey": [["type", "name", "label"], ["text", "a", "A?"],
                                    ["integer", "a", "A again?"]]},
     "survey row 3, column name (B): the name 'a' is already used in row 2"),
    ("row without name", {"survey": [["type", "name", "label"], ["text", None, "A?"]]},
     "survey row 2, column name (B): the 'text' row has no name"),
    ("row without type", {"survey": [["type", "name", "label"], [None, "a", "A?"]]},
     "survey row 2, column type (A): the row 'a' has no type"),
    ("unknown reference", {"survey": [["type", "name", "label", "relevant"],
                                      ["text", "a", "A?", "${b} > 1"]]},
     "survey row 2, column relevant (D): '${b} > 1' refers to ${b}, which is not a question"),
    ("missing label", {"survey": [["type", "name", "label"], ["text", "a", None]]},
     "survey row 2, column label (C): 'a' has no label in the source language 'en'"),
    ("duplicate choice", {"survey": [["type", "name", "label"], ["select_one yn", "a", "A?"]],
                          "choices": [["list_name", "name", "label"], ["yn", "yes", "Yes"],
                                      ["yn", "yes", "Oui"]]},
     "choices row 3, column name (B): the choice 'yes' is already in list 'yn' (row 2)"),
    ("unknown language", {"survey": [["type", "name", "label::Klingon"], ["text", "a", "A?"]]},
     "survey row 1, column label::Klingon (C): cannot tell the language code of 'Klingon'"),
    ("plain and language columns without default_language",
     {"survey": [["type", "name", "label::English (en)"], ["select_one l", "a", "A?"]],
      "choices": [["list_name", "name", "label"], ["l", "x", "X"]]},
     "choices row 1, column label (C): the form has plain text columns and language columns, "
     "but settings names no default_language"),
    ("duplicate column", {"survey": [["type", "name", "label", "Label"], ["text", "a", "A?", "B"]]},
     "survey row 1, column Label (D): the column appears twice (also C)"),
    ("bad type", {"survey": [["type", "name", "label"], ["select_one", "a", "A?"]]},
     "survey row 2, column type (A): select_one needs a list name"),
    ("empty survey", {"survey": [["type", "name", "label"]]},
     "survey sheet: no question is left to import"),
    ("calculate without calculation", {"survey": [["type", "name", "calculation"],
                                                  ["calculate", "c", None]]},
     "survey row 2, column calculation (C): the calculate 'c' has no calculation"),
]


@pytest.mark.parametrize(("sheets", "expected"), [(s, e) for _, s, e in MALFORMED],
                         ids=[name for name, _, _ in MALFORMED])
def test_malformed_form_is_refused(form: Callable[[Sheets], Path], tmp_path: Path,
                                   sheets: Sheets, expected: str) -> None:
    out = tmp_path / "out"
    with pytest.raises(XLSFormError) as caught:
        import_xlsform(form(sheets), out, skip_unsupported=True)
    assert expected in str(caught.value)
    assert not out.exists()


def test_not_a_workbook(tmp_path: Path) -> None:
    file = tmp_path / "form.xlsx"
    file.write_text("type,name,label\n", encoding="utf-8")
    with pytest.raises(XLSFormError, match="not a readable .xlsx workbook"):
        import_xlsform(file, tmp_path / "out", skip_unsupported=False)


def test_non_empty_output_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(XLSFormError, match="exists and is not empty"):
        import_xlsform(FIXTURES / "plain_label.xlsx", out, skip_unsupported=False)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_invalid_result_is_pointed_at_the_row(form: Callable[[Sheets], Path],
                                              tmp_path: Path) -> None:
    # `choice` multiple-choice variables are choice_<code>: `choice_a` collides with a question.
    file = form({"survey": [["type", "name", "label"], ["select_multiple l", "choice", "C?"],
                            ["text", "choice_a", "Clash?"]],
                 "choices": [["list_name", "name", "label"], ["l", "a", "A"]]})
    out = tmp_path / "out"
    with pytest.raises(XLSFormError) as caught:
        import_xlsform(file, out, skip_unsupported=False)
    assert "survey row" in str(caught.value)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [file]


# --------------------------------------------------------------------------- command line


def test_cli_imports_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(questionnaire_group, [
        "import-xlsform", str(FIXTURES / "unsupported.xlsx"), "--out", str(out),
        "--skip-unsupported",
    ])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"Wrote {out}"
    assert "survey row 4, column type (A): 'geopoint'" in result.stderr
    assert (out / "questionnaire.yaml").is_file()


def test_cli_refuses_with_exit_1(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(questionnaire_group, [
        "import-xlsform", str(FIXTURES / "unsupported.xlsx"), "--out", str(out),
    ])
    assert result.exit_code == 1
    assert "survey row 6, column type (A): 'begin repeat'" in result.stderr
    assert "use --skip-unsupported" in result.stderr
    assert not out.exists()


def test_group_inside_repeat_is_dropped_with_it(form: Callable[[Sheets], Path],
                                                tmp_path: Path) -> None:
    file = form({"survey": [["type", "name", "label"],
                            ["begin_repeat", "plants", "Plants"],
                            ["begin_group", "plant", "Plant"],
                            ["text", "plant_name", "Name?"],
                            ["end_group", None, None],
                            ["end_repeat", None, None],
                            ["text", "kept", "Kept?"]]})
    with pytest.raises(XLSFormError) as caught:
        import_xlsform(file, tmp_path / "refused", skip_unsupported=False)
    assert "survey row 3, column type (A): 'begin_group': inside the repeat 'plants' (row 2)" \
        in str(caught.value)
    questionnaire, _ = _import(file, tmp_path / "out", skip=True)
    assert list(_questions(questionnaire)) == ["kept"]


def test_kobo_export(tmp_path: Path) -> None:
    questionnaire, report = _import(FIXTURES / "kobo_export.xlsx", tmp_path / "kobo")
    assert questionnaire.id == "abc123xyz"
    assert questionnaire.version == "1 (2024-05-01 10:00:00)"
    assert questionnaire.languages == ["en", "fr"]
    questions = _questions(questionnaire)
    assert list(questions) == ["trains", "topics", "q_2024_staff"]
    assert questions["trains"].required is True and questions["trains"].other is True
    # The list has its own 'other' choice, so or_other adds nothing.
    assert questions["topics"].other is False
    assert questions["topics"].required is False
    assert "unused" not in questionnaire.option_lists
    lines = report.lines()
    for row, field in ((2, "start"), (3, "end"), (4, "today"), (5, "deviceid")):
        assert f"survey row {row}, column type (A): the metadata field {field!r} is not " \
            "imported (the survey app records its own metadata)" in lines
    assert "survey row 8, column type (A): the list 'topics' has its own choice 'other'; " \
        "or_other is not imported" in lines
    assert "choices row 6: the list 'unused' is not used by any imported question; " \
        "not imported" in lines
    assert "settings row 2, column style (E): the setting 'style' is not imported" in lines
    # Kobo's bookkeeping columns ($kuid, $autoname) carry no form content.
    assert not any("$kuid" in line or "$autoname" in line for line in lines)


def test_reference_to_a_note_is_unsupported(form: Callable[[Sheets], Path],
                                            tmp_path: Path) -> None:
    file = form({"survey": [["type", "name", "label", "relevant"],
                            ["note", "intro", "Welcome", None],
                            ["text", "a", "A?", "${intro} != ''"],
                            ["text", "b", "B?", None]]})
    with pytest.raises(XLSFormError, match=r"survey row 3, column relevant \(D\): \"\$\{intro\} "
                                           r"!= ''\" refers to \$\{intro\} \(row 2\), a note"):
        import_xlsform(file, tmp_path / "refused", skip_unsupported=False)
    questionnaire, _ = _import(file, tmp_path / "out", skip=True)
    assert list(_questions(questionnaire)) == ["intro", "b"]


def test_emptied_group_leaves_no_orphaned_translation(form: Callable[[Sheets], Path],
                                                      tmp_path: Path) -> None:
    file = form({
        "survey": [["type", "name", "label::English (en)", "label::Deutsch (de)"],
                   ["begin group", "where", "Where", "Wo"],
                   ["geopoint", "spot", "Spot?", "Ort?"],
                   ["end group", None, None, None],
                   ["text", "a", "A?", "A?"]],
        "settings": [["form_id", "form_title", "default_language"], ["g", "G", "en"]],
    })
    questionnaire, report = _import(file, tmp_path / "out", skip=True)
    assert [s.id for s in questionnaire.sections] == ["general"]
    assert questionnaire.languages == ["en", "de"]
    assert "section.where.title" not in questionnaire.translations["de"]
    assert "survey row 2: the group 'where' has no questions left; not imported" \
        in report.lines()


def test_texts_without_a_home_are_reported(form: Callable[[Sheets], Path],
                                           tmp_path: Path) -> None:
    file = form({"survey": [["type", "name", "label", "hint", "calculation", "constraint",
                             "constraint_message"],
                            ["integer", "n", "N?", None, None, None, "Too big."],
                            ["calculate", "twice", "Twice", "Doubled", "${n} * 2", None, None],
                            ["note", "see", "See", None, None, ". > 1", None]]})
    questionnaire, report = _import(file, tmp_path / "out")
    twice = _questions(questionnaire)["twice"]
    assert isinstance(twice, CalculatedQuestion)
    assert (twice.expression, twice.value_type, twice.label) == ("n * 2", "integer", "Twice")
    lines = report.lines()
    assert ("survey row 2, column constraint_message (G): a constraint_message without a "
            "constraint is not imported") in lines
    assert ("survey row 3, column hint (D): a calculation is never shown; its hint is not "
            "imported") in lines
    assert ("survey row 4, column constraint (F): a note has no answer to check; its "
            "constraint and required are not imported") in lines
