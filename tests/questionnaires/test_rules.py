"""Tests of the answer rules: relevance, filters, calculated values, validation, pruning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from questionnaires.errors import ExpressionEvalError
from questionnaires.loader import load_questionnaire
from questionnaires.model import Questionnaire
from questionnaires.rules import (
    NOT_APPLICABLE,
    OTHER_CODE,
    RuleViolation,
    compute_calculated,
    env_from_flat,
    expression_env,
    flatten_answers,
    prune_irrelevant,
    question_relevant,
    relevant_rows,
    section_relevant,
    validate_response,
    validate_section,
    visible_options,
)
from questionnaires.variables import variable_names

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def q() -> Questionnaire:
    return load_questionnaire(FIXTURES / "rules_survey")


@pytest.fixture
def answers() -> dict[str, Any]:
    """A complete, valid response of a large German company."""
    return {
        "country": "DE",
        "region": "DE11",
        "employees": 120,
        "share_a": 60,
        "share_b": 30,
        "remarks": "fine",
        "digital_level": 3,
        "trained": 40,
        "barriers": ["cost", OTHER_CODE],
        "barriers_other": "No cover for absent staff",
        "areas": ["batteries", "software"],
        "budget": 12.5,
        "skill_grid": {
            "batteries": {"current": 1, "target": 3, "staff": 25, "plan": "yes"},
            "software": {"current": 2, "target": 2, "staff": 10},
        },
        "academy": "no",
    }


def codes(violations: list[RuleViolation]) -> list[tuple[str, str]]:
    """(field, rule id) of each violation."""
    return [(v.field, v.rule_id) for v in violations]


# --- the environment ------------------------------------------------------------------------


def test_env_holds_lists_flags_cells_and_calculated_values(
    q: Questionnaire, answers: dict[str, Any]
) -> None:
    env = expression_env(q, answers)
    assert env["barriers"] == ["cost", OTHER_CODE]
    assert env["barriers_cost"] == 1
    assert env["barriers_time"] == 0
    assert env["barriers_other"] == "No cover for absent staff"
    assert env["skill_grid_batteries_current"] == 1
    assert env["skill_grid_software_plan"] is None
    assert env["skill_grid_welding_current"] is None
    assert env["skill_grid"] == ["batteries", "software"]
    assert env["size_class"] == "50+"
    assert env["employees_k"] == pytest.approx(0.12)


def test_env_nulls_values_of_the_wrong_type(q: Questionnaire) -> None:
    env = expression_env(q, {"employees": "120", "digital_level": 9, "remarks": 5, "areas": "x"})
    assert env["employees"] is None
    assert env["digital_level"] is None
    assert env["remarks"] is None
    assert env["areas"] is None
    assert env["areas_batteries"] is None
    # A calculated question over an unanswered input is null, not an error.
    assert env["size_class"] is None


def test_env_accepts_integral_floats_and_blank_answers_are_null(q: Questionnaire) -> None:
    env = expression_env(q, {"employees": 12.0, "remarks": "   ", "barriers": []})
    assert env["employees"] == 12
    assert env["remarks"] is None
    assert env["barriers"] is None
    assert env["barriers_cost"] is None


def test_other_text_counts_only_when_other_is_chosen(q: Questionnaire) -> None:
    env = expression_env(q, {"barriers": ["cost"], "barriers_other": "stale"})
    assert env["barriers_other"] is None


def test_answers_must_be_a_mapping(q: Questionnaire) -> None:
    with pytest.raises(TypeError, match="answers must be a mapping"):
        expression_env(q, [("country", "DE")])  # type: ignore[arg-type]


# --- relevance ------------------------------------------------------------------------------


def test_question_relevance(q: Questionnaire, answers: dict[str, Any]) -> None:
    assert question_relevant(q, "region", answers) is True
    assert question_relevant(q, "region", {**answers, "country": "CZ"}) is False
    assert question_relevant(q, "region", {}) is False
    assert question_relevant(q, q.question("budget"), answers) is True
    assert question_relevant(q, "budget", {**answers, "barriers": ["none"]}) is False


def test_section_relevance_and_chained_skips(q: Questionnaire, answers: dict[str, Any]) -> None:
    assert section_relevant(q, "skills", answers) is True
    assert section_relevant(q, "skills", {**answers, "areas": []}) is False
    assert section_relevant(q, "large", answers) is True
    # The calculated size class drives the relevance of a later page.
    assert section_relevant(q, "large", {**answers, "employees": 30}) is False
    # A question on a skipped page is not relevant even if its own rule would hold.
    no_areas = {**answers, "areas": None}
    assert question_relevant(q, "grid_remark", no_areas) is False
    assert question_relevant(q, "grid_remark", answers) is True


def test_unknown_ids_are_clear_errors(q: Questionnaire, answers: dict[str, Any]) -> None:
    with pytest.raises(KeyError, match="no section 'nowhere'"):
        section_relevant(q, "nowhere", answers)
    with pytest.raises(KeyError, match="no question 'nothing'"):
        question_relevant(q, "nothing", answers)
    with pytest.raises(TypeError, match="not a grid"):
        relevant_rows(q, "country", answers)
    with pytest.raises(TypeError, match="not a choice question"):
        visible_options(q, "employees", answers)


def test_relevant_rows(q: Questionnaire, answers: dict[str, Any]) -> None:
    assert relevant_rows(q, "skill_grid", answers) == ["batteries", "software"]
    assert relevant_rows(q, "skill_grid", {**answers, "areas": ["welding"]}) == ["welding"]
    # A grid on a page that is not shown has no rows to ask.
    assert relevant_rows(q, q.question("skill_grid"), {**answers, "areas": []}) == []  # type: ignore[arg-type]


def test_row_relevance_sees_the_row_and_its_cells() -> None:
    q = _plain_questionnaire(row_relevant="row != 'b' and (staff == null or staff > 0)")
    answers = {"g": {"a": {"staff": 0}, "c": {"staff": 3}}}
    assert relevant_rows(q, "g", answers) == ["c"]


def test_visible_options_follow_the_choice_filter(
    q: Questionnaire, answers: dict[str, Any]
) -> None:
    assert [o.code for o in visible_options(q, "region", answers)] == ["DE11", "DE12"]
    assert [o.code for o in visible_options(q, "region", {"country": "FR"})] == ["FRK"]
    assert visible_options(q, "region", {}) == []
    assert len(visible_options(q, "barriers", {})) == 4


def test_choice_filter_on_the_code() -> None:
    q = _plain_questionnaire(choice_filter="@code != 'b' and @kind != 'x'")
    assert [o.code for o in visible_options(q, "pick", {})] == ["c"]


# --- calculated -----------------------------------------------------------------------------


def test_compute_calculated(q: Questionnaire, answers: dict[str, Any]) -> None:
    assert compute_calculated(q, answers) == {"size_class": "50+", "employees_k": 0.12}
    assert compute_calculated(q, {**answers, "employees": 9}) == {
        "size_class": "1-9",
        "employees_k": 0.009,
    }
    assert compute_calculated(q, {}) == {"size_class": None, "employees_k": None}


def test_calculated_of_the_wrong_type_is_an_error_naming_the_question() -> None:
    q = _plain_questionnaire(calculated="'many'", value_type="integer")
    with pytest.raises(ExpressionEvalError, match="calculated question 'calc' must give a whole"):
        compute_calculated(q, {"n": 1})


def test_calculated_integer_accepts_integral_results() -> None:
    q = _plain_questionnaire(calculated="n * 2 / 2", value_type="integer")
    assert compute_calculated(q, {"n": 3}) == {"calc": 3}


def test_evaluation_errors_name_where_they_happen() -> None:
    q = _plain_questionnaire(calculated="n / 0", value_type="decimal")
    with pytest.raises(ExpressionEvalError, match="calculated question 'calc'.*division by zero"):
        compute_calculated(q, {"n": 1})
    q = _plain_questionnaire(question_relevant="n + 'x' > 1")
    with pytest.raises(ExpressionEvalError, match="relevant of question 'pick'"):
        question_relevant(q, "pick", {"n": 1})


# --- validation -----------------------------------------------------------------------------


def test_valid_response_has_no_violations(q: Questionnaire, answers: dict[str, Any]) -> None:
    assert validate_response(q, answers) == []


def test_required_only_when_relevant(q: Questionnaire) -> None:
    violations = validate_section(q, "profile", {"country": "CZ"})
    assert codes(violations) == [("employees", "required")]
    violations = validate_section(q, "profile", {"country": "DE"})
    assert codes(violations) == [("region", "required"), ("employees", "required")]
    required = violations[0]
    assert required.text_key == "validation.required"
    assert required.message == "This question needs an answer."
    assert required.fields == ("region",)


def test_numbers_bounds_and_decimals(q: Questionnaire, answers: dict[str, Any]) -> None:
    bad = {**answers, "employees": 0, "share_a": 100.5, "trained": 2.5, "remarks": "x" * 21}
    violations = validate_section(q, "profile", bad)
    assert ("employees", "min") in codes(violations)
    assert ("share_a", "max") in codes(violations)
    assert ("share_a", "decimals") in codes(violations)
    assert ("trained", "not_an_integer") in codes(violations)
    assert ("remarks", "max_length") in codes(violations)
    by_code = {v.rule_id: v for v in violations}
    assert by_code["min"].params == {"min": 1}
    assert by_code["min"].message == "The value must be at least 1."
    assert by_code["max_length"].params == {"max_length": 20}
    assert by_code["decimals"].params == {"decimals": 0}


@pytest.mark.parametrize(
    ("question", "value", "code"),
    [
        ("employees", "12", "not_a_number"),
        ("employees", True, "not_a_number"),
        ("employees", float("inf"), "not_a_number"),
        ("employees", 1e308, "not_a_number"),
        ("employees", 10**400, "not_a_number"),
        ("share_a", [1], "not_a_number"),
        ("remarks", 12, "not_text"),
        ("digital_level", 7, "unknown_level"),
        ("digital_level", "x", "unknown_level"),
        ("country", "XX", "unknown_option"),
        ("country", ["DE"], "not_a_choice"),
        ("region", "FRK", "unknown_option"),
    ],
)
def test_type_and_option_checks(
    q: Questionnaire, answers: dict[str, Any], question: str, value: object, code: str
) -> None:
    violations = validate_section(q, "profile", {**answers, question: value})
    assert (question, code) in codes(violations)


def test_not_applicable_level_is_an_answer(q: Questionnaire, answers: dict[str, Any]) -> None:
    assert validate_section(q, "profile", {**answers, "digital_level": NOT_APPLICABLE}) == []
    assert expression_env(q, {"digital_level": NOT_APPLICABLE})["digital_level"] is None


def test_hidden_option_of_a_choice_filter_is_refused(
    q: Questionnaire, answers: dict[str, Any]
) -> None:
    violations = validate_section(q, "profile", {**answers, "country": "FR", "region": "DE11"})
    assert codes(violations) == [("region", "unknown_option")]
    assert violations[0].params == {"option": "DE11"}


def test_question_rule_fires_only_on_an_answered_question(
    q: Questionnaire, answers: dict[str, Any]
) -> None:
    violations = validate_section(q, "profile", {**answers, "trained": 500})
    assert codes(violations) == [("trained", "trained_le_employees")]
    rule = violations[0]
    assert rule.text_key == "question.trained.validation.trained_le_employees"
    assert rule.message == "Cannot exceed the number of persons employed."
    assert validate_section(q, "profile", {**answers, "trained": None}) == []


def test_section_rule(q: Questionnaire, answers: dict[str, Any]) -> None:
    violations = validate_section(q, "profile", {**answers, "share_a": 80})
    assert codes(violations) == [("share_a", "shares_le_100")]
    assert violations[0].fields == ("share_a", "share_b")
    assert violations[0].text_key == "section.profile.validation.shares_le_100"
    # Unanswered inputs count as 0 in sum(): one share alone can still break the rule...
    lone = {**answers, "share_a": None, "share_b": 100}
    assert validate_section(q, "profile", lone) == []
    # ...and with no share answered the rule does not fire at all.
    assert validate_section(q, "profile", {**answers, "share_a": None, "share_b": None}) == []


def test_multiple_choice_checks(q: Questionnaire, answers: dict[str, Any]) -> None:
    def check(barriers: object, other: str | None = None) -> list[tuple[str, str]]:
        response = {**answers, "barriers": barriers, "barriers_other": other}
        return codes(validate_section(q, "needs", response))

    assert check(["none", "cost"]) == [("barriers", "exclusive")]
    assert check(["cost", "time", "offer"]) == [("barriers", "max_selected")]
    assert check(["cost", "bogus"]) == [("barriers", "unknown_option")]
    assert check([OTHER_CODE]) == [("barriers_other", "other_text")]
    assert check([OTHER_CODE], "x" * 2001) == [("barriers_other", "max_length")]
    assert check("cost") == [("barriers", "not_a_choice")]
    assert check(["cost", "cost"]) == []
    # Not required: no answer is fine, and min_selected only judges an answer.
    assert check(None) == []
    assert check([]) == []


def test_min_selected_counts_other() -> None:
    q = _plain_questionnaire(min_selected=2)
    assert codes(validate_section(q, "main", {"multi": ["b"]})) == [("multi", "min_selected")]
    both = {"multi": ["b", OTHER_CODE], "multi_other": "more"}
    assert validate_section(q, "main", both) == []


def test_grid_cells_and_rows(q: Questionnaire, answers: dict[str, Any]) -> None:
    grid = {
        "batteries": {"current": 9, "target": 3, "staff": -1, "plan": "maybe"},
        "software": {"target": 2},
        "welding": {"current": "x"},  # not relevant: ignored
        "paint": {"current": 1},
    }
    violations = validate_section(q, "skills", {**answers, "skill_grid": grid})
    assert codes(violations) == [
        ("skill_grid", "unknown_row"),
        ("skill_grid.batteries.current", "unknown_level"),
        ("skill_grid.batteries.staff", "min"),
        ("skill_grid.batteries.plan", "unknown_option"),
        ("skill_grid.software.current", "required"),
    ]


def test_grid_row_rules(q: Questionnaire, answers: dict[str, Any]) -> None:
    grid = {
        "batteries": {"current": 1, "staff": 500},
        "software": {"current": 2, "target": 2, "staff": None},
    }
    violations = validate_section(q, "skills", {**answers, "skill_grid": grid})
    assert codes(violations) == [
        ("skill_grid.batteries", "staff_le_employees"),
        ("skill_grid.batteries", "target_with_current"),
    ]
    staff, target = violations
    assert staff.fields == ("skill_grid.batteries.staff",)
    assert staff.params == {"row": "batteries"}
    assert staff.text_key == "question.skill_grid.validation.staff_le_employees"
    assert target.fields == ("skill_grid.batteries",)


def test_rules_wait_for_their_strict_inputs(q: Questionnaire, answers: dict[str, Any]) -> None:
    # employees unanswered: "trained <= employees" and "staff <= employees" stay unchecked.
    response = {**answers, "employees": None, "trained": 10**6, "areas": ["batteries"]}
    response["skill_grid"] = {"batteries": {"current": 1, "target": 1, "staff": 10**6}}
    violations = validate_response(q, response)
    assert codes(violations) == [("employees", "required")]


def test_null_tolerant_rule_fires_on_an_empty_page() -> None:
    q = Questionnaire.model_validate({
        "id": "one-of", "version": "1", "source_language": "en", "languages": ["en"],
        "title": "One of",
        "sections": [{
            "id": "main", "title": "Main",
            "questions": [
                {"id": "a", "type": "integer", "text": "A"},
                {"id": "b", "type": "integer", "text": "B"},
            ],
            "validation": [{"id": "a_or_b", "rule": "answered(a) or answered(b)",
                            "message": "Answer A or B."}],
        }],
    })
    violations = validate_section(q, "main", {})
    assert codes(violations) == [("", "a_or_b")]
    assert violations[0].message == "Answer A or B."
    assert validate_section(q, "main", {"b": 0}) == []


def test_required_grid() -> None:
    q = _plain_questionnaire(grid_required=True)
    assert codes(validate_section(q, "main", {})) == [("g", "required")]
    assert validate_section(q, "main", {"g": {"a": {"staff": 1}}}) == []
    # Answers to rows that are not asked do not answer the grid.
    q = _plain_questionnaire(grid_required=True, row_relevant="row == 'a'")
    assert codes(validate_section(q, "main", {"g": {"b": {"staff": 1}}})) == [("g", "required")]


def test_irrelevant_page_is_not_validated(q: Questionnaire, answers: dict[str, Any]) -> None:
    bad_grid = {"batteries": {"current": "nonsense"}}
    assert validate_section(q, "skills", {**answers, "areas": [], "skill_grid": bad_grid}) == []
    assert validate_section(q, "large", {**answers, "employees": 20, "academy": None}) == []
    assert codes(validate_section(q, "large", {**answers, "academy": None})) == [
        ("academy", "required")
    ]


def test_irrelevant_question_is_not_validated(q: Questionnaire, answers: dict[str, Any]) -> None:
    response = {**answers, "barriers": ["none"], "budget": -5}
    assert validate_section(q, "needs", response) == []
    assert codes(validate_section(q, "needs", {**answers, "budget": -5})) == [("budget", "min")]


def test_validate_response_covers_every_page(q: Questionnaire, answers: dict[str, Any]) -> None:
    response = {**answers, "employees": None, "areas": None, "academy": None}
    assert codes(validate_response(q, response)) == [
        ("employees", "required"),
        ("areas", "required"),
    ]


# --- pruning and flattening -----------------------------------------------------------------


def test_prune_drops_what_was_skipped(q: Questionnaire, answers: dict[str, Any]) -> None:
    response = {
        **answers,
        "country": "CZ",  # region is no longer asked
        "barriers": ["none"],  # budget is no longer asked
        "barriers_other": "stale",  # other is no longer chosen
        "employees": 30,  # the "large" page is no longer shown
        "areas": ["batteries"],  # the software row is no longer asked
        "remarks": "",
        "unknown_key": 1,
    }
    pruned = prune_irrelevant(q, response)
    for key in ("region", "budget", "barriers_other", "academy", "remarks", "unknown_key"):
        assert key not in pruned
    assert pruned["skill_grid"] == {
        "batteries": {"current": 1, "target": 3, "staff": 25, "plan": "yes"}
    }
    assert pruned["barriers"] == ["none"]
    assert pruned["country"] == "CZ"


def test_prune_keeps_a_complete_response(q: Questionnaire, answers: dict[str, Any]) -> None:
    assert prune_irrelevant(q, answers) == answers


def test_prune_keeps_a_malformed_grid_answer_for_validation(
    q: Questionnaire, answers: dict[str, Any]
) -> None:
    response = {**answers, "skill_grid": False}
    pruned = prune_irrelevant(q, response)
    assert pruned["skill_grid"] is False
    assert ("skill_grid", "not_a_choice") in codes(validate_response(q, pruned))
    assert validate_response(q, pruned) == validate_response(q, response)


def test_unknown_grid_rows_are_judged_alike_before_and_after_pruning(
    q: Questionnaire, answers: dict[str, Any]
) -> None:
    blank = {**answers, "skill_grid": {**answers["skill_grid"], "paint": {"current": None}}}
    assert ("skill_grid", "unknown_row") not in codes(validate_response(q, blank))
    assert "paint" not in prune_irrelevant(q, blank)["skill_grid"]
    filled = {**answers, "skill_grid": {**answers["skill_grid"], "paint": {"current": 1}}}
    pruned = prune_irrelevant(q, filled)
    assert pruned["skill_grid"]["paint"] == {"current": 1}
    assert ("skill_grid", "unknown_row") in codes(validate_response(q, pruned))
    assert validate_response(q, pruned) == validate_response(q, filled)


def test_prune_does_not_change_its_input(q: Questionnaire, answers: dict[str, Any]) -> None:
    before = {**answers, "country": "CZ"}
    snapshot = {key: value for key, value in before.items()}
    prune_irrelevant(q, before)
    assert before == snapshot


def test_flatten_uses_the_codebook_names(q: Questionnaire, answers: dict[str, Any]) -> None:
    flat = flatten_answers(q, answers)
    assert list(flat) == variable_names(q)
    assert flat["barriers_cost"] == 1
    assert flat["barriers_time"] == 0
    assert flat["barriers_other"] == "No cover for absent staff"
    assert flat["skill_grid_batteries_target"] == 3
    assert flat["skill_grid_welding_current"] is None
    assert flat["size_class"] == "50+"
    assert flat["academy"] == "no"


def test_flatten_blanks_unanswered_and_skipped(q: Questionnaire, answers: dict[str, Any]) -> None:
    flat = flatten_answers(q, {**answers, "barriers": None, "country": "CZ", "employees": 20})
    assert flat["barriers_cost"] is None
    assert flat["barriers_none"] is None
    assert flat["region"] is None
    assert flat["academy"] is None
    assert flat["size_class"] == "10-49"
    flat = flatten_answers(q, {**answers, "barriers": [OTHER_CODE], "digital_level": "na"})
    assert [flat[f"barriers_{c}"] for c in ("cost", "time", "offer", "none")] == [0, 0, 0, 0]
    # "Don't know" stays distinguishable from no answer, as the codebook lists it...
    assert flat["digital_level"] == NOT_APPLICABLE
    # ...while expressions see it as unanswered.
    assert env_from_flat(q, flat)["digital_level"] is None
    grid = {"batteries": {"current": NOT_APPLICABLE}}
    flat = flatten_answers(q, {**answers, "skill_grid": grid, "remarks": NOT_APPLICABLE})
    assert flat["skill_grid_batteries_current"] == NOT_APPLICABLE
    assert env_from_flat(q, flat)["remarks"] == NOT_APPLICABLE


def test_env_from_flat_rebuilds_the_environment(
    q: Questionnaire, answers: dict[str, Any]
) -> None:
    flat = flatten_answers(q, answers)
    env = env_from_flat(q, flat)
    assert env["barriers"] == ["cost", OTHER_CODE]
    assert env["skill_grid"] == ["batteries", "software"]
    assert env == expression_env(q, prune_irrelevant(q, answers))
    missing = env_from_flat(q, {**flat, **{f"barriers_{c}": float("nan")
                                           for c in ("cost", "time", "offer", "none")},
                                "barriers_other": None})
    assert missing["barriers"] is None


def test_env_from_flat_with_pandas_missing_values(q: Questionnaire) -> None:
    pandas = pytest.importorskip("pandas")
    env = env_from_flat(q, {"barriers_cost": pandas.NA, "barriers_time": 1})
    assert env["barriers"] == ["time"]
    assert env["barriers_cost"] is None


# --- plain model objects --------------------------------------------------------------------


def _plain_questionnaire(
    *,
    row_relevant: str | None = None,
    choice_filter: str | None = None,
    calculated: str | None = None,
    value_type: str = "decimal",
    question_relevant: str | None = None,
    min_selected: int | None = None,
    grid_required: bool = False,
) -> Questionnaire:
    """A one-page questionnaire built as model objects, without the loader."""
    questions: list[dict[str, Any]] = [
        {"id": "n", "type": "integer", "text": "N"},
        {
            "id": "pick",
            "type": "single_choice",
            "text": "Pick",
            "relevant": question_relevant,
            "choice_filter": choice_filter,
            "options": [
                {"code": "a", "label": "A", "attributes": {"kind": "x"}},
                {"code": "b", "label": "B"},
                {"code": "c", "label": "C", "attributes": {"kind": "y"}},
            ],
        },
        {
            "id": "multi",
            "type": "multiple_choice",
            "text": "Multi",
            "options": [{"code": "a", "label": "A"}, {"code": "b", "label": "B"}],
            "other": True,
            "min_selected": min_selected,
        },
        {
            "id": "g",
            "type": "grid",
            "text": "Grid",
            "required": grid_required,
            "rows": [{"code": c, "label": c.upper()} for c in ("a", "b", "c")],
            "row_relevant": row_relevant,
            "columns": [{"id": "staff", "text": "Staff", "type": "integer", "min": 0}],
        },
    ]
    if calculated is not None:
        questions.append(
            {"id": "calc", "type": "calculated", "expression": calculated,
             "value_type": value_type}
        )
    return Questionnaire.model_validate(
        {
            "id": "plain",
            "version": "1",
            "source_language": "en",
            "languages": ["en"],
            "title": "Plain",
            "sections": [{"id": "main", "title": "Main", "questions": questions}],
        }
    )


def test_answer_codes_are_the_model_s_own() -> None:
    from questionnaires import model, rules

    assert (rules.OTHER_CODE, rules.NOT_APPLICABLE) == (model.OTHER_CODE, model.NOT_APPLICABLE)
