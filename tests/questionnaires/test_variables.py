"""Analysis variables: names by the format's table, kinds, labels and value labels."""

from __future__ import annotations

from collections.abc import Callable

from questionnaires.model import Questionnaire
from questionnaires.variables import questionnaire_variables, variable_names

Loader = Callable[[str], Questionnaire]


def test_single_choice_with_other(load_fixture: Loader) -> None:
    variables = {v.name: v for v in questionnaire_variables(load_fixture("single_choice"))}
    assert list(variables) == ["trains", "segment", "segment_other"]
    assert variables["trains"].kind == "categorical"
    assert variables["trains"].value_labels == {"yes": "Yes", "no": "No"}
    assert variables["segment"].value_labels == {
        "oem": "OEM", "tier1": "Tier 1 supplier", "other": "Another segment"
    }
    assert variables["segment_other"].kind == "text"
    assert variables["segment_other"].label == "Your main segment?: Another segment"
    assert variables["segment"].section_id == "main"


def test_multiple_choice_flags(load_fixture: Loader) -> None:
    variables = questionnaire_variables(load_fixture("multiple_choice"))
    assert [v.name for v in variables] == [
        "barriers_cost", "barriers_time", "barriers_none", "barriers_other"
    ]
    cost = variables[0]
    assert (cost.kind, cost.option, cost.question_id) == ("multiple_flag", "cost", "barriers")
    assert cost.label == "What keeps you from training more?: Cost"
    assert cost.value_labels == {1: "selected", 0: "not selected"}
    assert variables[-1].kind == "text"
    assert variables[-1].value_labels == {}


def test_numbers_and_text(load_fixture: Loader) -> None:
    variables = {v.name: v for v in questionnaire_variables(load_fixture("numeric"))}
    assert {name: v.kind for name, v in variables.items()} == {
        "staff": "integer", "turnover": "decimal", "share_bev": "decimal", "comment": "text"
    }
    assert variables["staff"].unit == "persons"
    assert variables["share_bev"].unit == "%"


def test_scale_is_ordinal(load_fixture: Loader) -> None:
    (digital,) = questionnaire_variables(load_fixture("scale"))
    assert digital.kind == "ordinal"
    assert digital.value_labels == {0: "None", 1: "Awareness", 2: "Practitioner"}
    assert digital.scale == "proficiency"
    assert digital.not_applicable is True


def test_grid_cells(load_fixture: Loader) -> None:
    q = load_fixture("grid")
    cells = [v for v in questionnaire_variables(q) if v.question_id == "skills"]
    assert [v.name for v in cells] == [
        "skills_batteries_current", "skills_batteries_required", "skills_batteries_staff",
        "skills_batteries_plan", "skills_software_current", "skills_software_required",
        "skills_software_staff", "skills_software_plan",
    ]
    current = cells[0]
    assert (current.row, current.column, current.kind) == ("batteries", "current", "ordinal")
    assert current.row_relevance == "selected(relevant_skills, row)"
    assert current.label == "Current and required proficiency: Batteries: Current level"
    assert cells[2].unit == "persons"
    assert cells[3].value_labels == {"yes": "Yes", "no": "No"}
    assert variable_names(q) == [v.name for v in questionnaire_variables(q)]


def test_labels_in_a_language_with_fallback(load_fixture: Loader) -> None:
    q = load_fixture("grid")
    german = {v.name: v for v in questionnaire_variables(q, "de")}
    assert german["skills_software_current"].label == (
        "Aktuelles und benötigtes Niveau: Software: Aktuelles Niveau"
    )
    assert german["skills_batteries_current"].value_labels == {0: "Keine", 4: "Experte"}
    assert german["skills_batteries_staff"].unit == "Personen"
    spanish = {v.name: v for v in questionnaire_variables(q, "es")}
    assert spanish["employees"].label == "Persons employed"


def test_profile_and_calculated(load_fixture: Loader) -> None:
    variables = {v.name: v for v in questionnaire_variables(load_fixture("profile"))}
    assert variables["size_class"].kind == "text"
    assert variables["size_class"].label == "Size class"
    assert variables["size_class"].profile == "size_class"
    assert variables["region"].value_labels == {"DE11": "Stuttgart", "CZ08": "Moravskoslezsko"}
    assert variables["nace"].profile == "nace"


def test_relevance_joins_section_and_question(load_fixture: Loader) -> None:
    q = load_fixture("multiple_choice")
    assert [v.name for v in questionnaire_variables(q) if v.question_id == "barrier_note"] == []
    data = q.model_dump()
    data["sections"][0]["relevant"] = "true"
    data["sections"][0]["questions"].append(
        {"id": "hours", "type": "integer", "text": "Hours", "relevant": "count(barriers) > 0"}
    )
    with_relevance = Questionnaire.model_validate(data)
    (hours,) = [v for v in questionnaire_variables(with_relevance) if v.name == "hours"]
    assert hours.relevance == "(true) and (count(barriers) > 0)"
