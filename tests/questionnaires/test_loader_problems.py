"""Each loader check fails its fixture with the exact file, path and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from questionnaires.errors import QuestionnaireError
from questionnaires.loader import load_questionnaire, validate_folder

# fixture name -> the problems it must produce, as rendered by str(Problem), in file order.
EXPECTED: dict[str, list[str]] = {
    "bad_scale_ref": [
        "questionnaire.yaml:22: sections[0].questions[0].scale: unknown scale 'profficiency' "
        "(known: proficiency, relevance)",
    ],
    "bad_option_ref": [
        "questionnaire.yaml:17: sections[0].questions[0].options: unknown option list 'yesno' "
        "(known: yes_no)",
    ],
    "duplicate_ids": [
        "questionnaire.yaml:13: sections[1].id: duplicate section id 'main' (also sections[0])",
        "questionnaire.yaml:16: sections[1].questions[0].id: question id 'staff' is already "
        "taken by question 'staff' (sections[0].questions[0], line 10)",
    ],
    "duplicate_variable": [
        "questionnaire.yaml:16: sections[0].questions[1].id: question id 'barriers_other' is "
        "already taken by a variable of question 'barriers' (sections[0].questions[0], line 10)",
    ],
    "duplicate_rule_id": [
        "questionnaire.yaml:15: sections[0].questions[0].validation[1].id: "
        "duplicate rule id 'positive'",
    ],
    "duplicate_code": [
        "questionnaire.yaml:9: option_lists.yes_no[1].code: duplicate code 'yes'",
    ],
    "bad_exclusive": [
        "questionnaire.yaml:16: sections[0].questions[0].exclusive[0]: exclusive code 'nothing' "
        "is not an option of 'barriers' (codes: cost, none)",
    ],
    "min_greater_than_max": [
        "questionnaire.yaml:13: sections[0].questions[0].min: min 10 is greater than max 5",
    ],
    "profile_twice": [
        "questionnaire.yaml:19: sections[0].questions[1].profile: profile role 'country' is "
        "already taken by sections[0].questions[0]",
    ],
    "bad_variable_code": [
        "questionnaire.yaml:14: sections[0].questions[0].options[0].code: code 'C29.10' becomes "
        "part of variable names (multiple choice), so it must match ^[a-z0-9_]+$",
    ],
    "expression_unknown_name": [
        "questionnaire.yaml:18: sections[0].questions[1].validation[0].rule: unknown name "
        "'staf' in 'trainees <= staf' (did you mean 'staff'?)",
    ],
    "choice_filter_attribute": [
        "questionnaire.yaml:19: sections[0].questions[1].choice_filter: no option carries the "
        "attribute '@land' (available: code, country)",
    ],
    "relevance_later_page": [
        "questionnaire.yaml:13: sections[0].questions[0].relevant: relevance refers to 'trains', "
        "which is asked on a later page ('second'); it cannot be answered when the relevance "
        "is decided",
    ],
    "section_relevance_same_page": [
        "questionnaire.yaml:9: sections[0].relevant: relevance refers to 'staff', which is asked "
        "on this page; it cannot be answered when the relevance is decided",
    ],
    "inline_list_clash": [
        "questionnaire.yaml:16: sections[0].questions[0].options: inline options of 'segment' "
        "share their text keys (option.segment.*) with the option list 'segment'; "
        "rename one of them",
    ],
    "unknown_key": [
        "questionnaire.yaml:13: sections[0].questions[0].maximum: unknown key 'maximum' "
        "(did you mean 'max'?)",
    ],
    "unknown_type": [
        "questionnaire.yaml:11: sections[0].questions[0].type: unknown type 'number' (known: "
        "'single_choice', 'multiple_choice', 'integer', 'decimal', 'percentage', 'text', "
        "'scale', 'grid', 'note', 'calculated')",
    ],
    "missing_key": [
        "questionnaire.yaml:10: sections[0].questions[0].scale: missing required key 'scale'",
    ],
    "duplicate_yaml_key": [
        "questionnaire.yaml:13: sections[0].questions[0].text: duplicate key 'text' "
        "(YAML keeps only the last one)",
    ],
    "version_number": [
        "questionnaire.yaml:2: version: version is written as a number (YAML reads 1.1); "
        'quote it, e.g. version: "1.0.0"',
    ],
    "source_language_missing": [
        "questionnaire.yaml:4: languages: languages ['de'] must include the source_language 'en'",
        "translations/de.yaml: missing translation file for language 'de'",
    ],
    "bad_scale_order": [
        "questionnaire.yaml:4: languages[2]: language 'en' listed twice",
        "questionnaire.yaml:10: scales.level.levels[1].value: level values must increase; "
        "1 follows 2",
        "translations/de.yaml: missing translation file for language 'de'",
    ],
    "bad_grid": [
        "questionnaire.yaml:8: option_lists.areas[0].code: code 'Batteries' becomes part of "
        "variable names (grid rows), so it must match ^[a-z0-9_]+$",
        "questionnaire.yaml:18: sections[0].questions[0].columns[0].min: "
        "min 5 is greater than max 1",
        "questionnaire.yaml:19: sections[0].questions[0].columns[1].id: "
        "duplicate column id 'staff'",
        "questionnaire.yaml:19: sections[0].questions[0].columns[1].scale: unknown scale "
        "'level' (known: none declared)",
        "questionnaire.yaml:21: sections[0].questions[0].row_validation[0].rule: unknown name "
        "'staf' in 'staf < 10' (did you mean 'staff'?)",
    ],
    "calculation_cycle": [
        "questionnaire.yaml:13: sections[0].questions[1].expression: calculated values depend "
        "on each other in a circle: first -> second -> first",
        "questionnaire.yaml:25: sections[0].questions[4].relevant: 'intro' in 'intro == null' "
        "is a note, which has no answer",
    ],
    "other_code_clash": [
        "questionnaire.yaml:16: sections[0].questions[0].other: other: true adds the answer "
        "'other', which is already a code of 'segment'",
    ],
    "relevance_order": [
        "questionnaire.yaml:13: sections[0].questions[0].relevant: relevance refers to "
        "'trainees', which is asked later on this page; it cannot be answered when the "
        "relevance is decided",
        "questionnaire.yaml:17: sections[0].questions[1].relevant: relevance refers to "
        "'trainees', the question's own answer; it cannot be answered when the relevance "
        "is decided",
    ],
    "bad_grid_refs": [
        "questionnaire.yaml:16: sections[0].questions[0].rows: unknown option list "
        "'skill_area' (known: skill_areas)",
        "questionnaire.yaml:18: sections[0].questions[0].columns[0].options: unknown option "
        "list 'yes_no' (known: skill_areas)",
    ],
    "bad_choice_counts": [
        "questionnaire.yaml:15: sections[0].questions[0].min_selected: min_selected 3 is "
        "greater than max_selected 2",
        "questionnaire.yaml:15: sections[0].questions[0].min_selected: min_selected 3 exceeds "
        "the 1 choices",
        "questionnaire.yaml:20: sections[0].questions[1].profile: profile role 'employees' "
        "needs a question of type integer or calculated:integer, not decimal",
        "questionnaire.yaml:21: sections[0].questions[1].relevant: '@code' refers to an option "
        "attribute, which only a choice_filter can use",
        "questionnaire.yaml:23: sections[0].questions[1].validation[0].fields[0]: "
        "unknown field 'employes'",
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_reports_exactly_its_problems(
    name: str, questionnaire_folder: Callable[[str], Path]
) -> None:
    problems = validate_folder(questionnaire_folder(name))
    assert [str(problem) for problem in problems] == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_load_raises_with_every_problem(
    name: str, questionnaire_folder: Callable[[str], Path]
) -> None:
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(questionnaire_folder(name))
    assert [str(problem) for problem in caught.value.problems] == EXPECTED[name]
    for line in EXPECTED[name]:
        assert line in str(caught.value)


def test_problem_carries_file_path_and_line(questionnaire_folder: Callable[[str], Path]) -> None:
    (problem,) = validate_folder(questionnaire_folder("bad_scale_ref"))
    assert problem.file == "questionnaire.yaml"
    assert problem.path == "sections[0].questions[0].scale"
    assert problem.line == 22
    assert "profficiency" in problem.message


def test_expression_syntax_error_names_the_column(
    questionnaire_folder: Callable[[str], Path],
) -> None:
    (problem,) = validate_folder(questionnaire_folder("expression_syntax"))
    assert (problem.file, problem.path, problem.line) == (
        "questionnaire.yaml", "sections[0].questions[1].relevant", 16)
    assert problem.message == (
        "invalid expression 'staff >> 0': expected a value, found '>' (at column 8)"
    )


def test_yaml_syntax_error_names_the_line(questionnaire_folder: Callable[[str], Path]) -> None:
    (problem,) = validate_folder(questionnaire_folder("yaml_syntax"))
    assert problem.file == "questionnaire.yaml"
    assert problem.line == 5
    assert problem.message == (
        "invalid YAML: while parsing a flow sequence (begun on line 4): "
        "expected ',' or ']', but got ':'"
    )


def test_missing_folder_content_is_a_problem(tmp_path: Path) -> None:
    (problem,) = validate_folder(tmp_path)
    assert problem.file == "questionnaire.yaml"
    assert "no questionnaire.yaml" in problem.message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    (tmp_path / "questionnaire.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    (problem,) = validate_folder(tmp_path)
    assert "must be a mapping" in problem.message


def test_non_utf8_file_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "questionnaire.yaml").write_bytes(b"id: caf\xe9\n")
    (problem,) = validate_folder(tmp_path)
    assert "not UTF-8" in problem.message
