"""Every questionnaire shipped under questionnaires/ is valid, translated, and says what it should.

The reference questionnaire ``automotive-skills`` is a contract with the analysis and the demo
data: its variable names, lists and scales are checked here by value.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from questionnaires.loader import load_questionnaire, validate_folder
from questionnaires.model import PROFILE_ROLES, GridQuestion, Questionnaire
from questionnaires.rules import (
    OTHER_CODE,
    compute_calculated,
    question_relevant,
    relevant_rows,
    section_relevant,
    validate_response,
    visible_options,
)
from questionnaires.translations import check_translation, read_translation, translation_path

QUESTIONNAIRES = Path(__file__).resolve().parents[2] / "questionnaires"
SHIPPED = sorted(p.parent for p in QUESTIONNAIRES.glob("*/questionnaire.yaml"))
REFERENCE = QUESTIONNAIRES / "automotive-skills"
NUMBER = re.compile(r"\d+")

SKILL_AREAS = [
    "battery_hv",
    "e_powertrain",
    "hydrogen",
    "embedded_software",
    "adas",
    "cybersecurity",
    "functional_safety",
    "data_ai",
    "automation",
    "advanced_manufacturing",
    "diagnostics_repair",
    "circular_economy",
    "digital_basic",
    "management",
    "problem_solving",
    "communication",
    "adaptability",
]
JOB_FAMILIES = [
    "managers",
    "rd_engineers",
    "software_it",
    "data_ai",
    "process_quality",
    "operators",
    "maintenance_automation",
    "logistics_purchasing",
    "service_repair",
    "sales_customer",
    "administration",
    "apprentices",
]


@pytest.fixture(scope="module")
def q() -> Questionnaire:
    return load_questionnaire(REFERENCE)


def valid_answers() -> dict[str, Any]:
    """A complete, consistent response of a Tier 1 supplier in the Stuttgart region."""
    workforce = {family: {"now": 10, "in_3_years": 10} for family in JOB_FAMILIES}
    return {
        "country": "DE",
        "region": "DE11",
        "nace": "C29.32",
        "employees": 180,
        "value_chain": "tier1",
        "share_ice": 55,
        "share_hev": 20,
        "share_bev": 20,
        "share_fcev": 0,
        "workforce": workforce,
        "skill_areas_relevant": ["battery_hv", "cybersecurity"],
        "skill_levels": {
            "battery_hv": {"relevance_now": 2, "relevance_future": 3, "current": 1, "required": 3},
            "cybersecurity": {
                "relevance_now": 1,
                "relevance_future": 3,
                "current": 1,
                "required": 2,
            },
        },
        "skill_staff": {
            "battery_hv": {
                "staff": 40,
                "not_proficient": 25,
                "upskill_12m": 15,
                "upskill_3y": 30,
                "reskill": 5,
            },
            "cybersecurity": {
                "staff": 8,
                "not_proficient": 6,
                "upskill_12m": 6,
                "upskill_3y": 8,
                "reskill": 0,
            },
        },
        "has_vacancies": "yes",
        "vacancies": {
            "software_it": {"total": 4, "hard_to_fill": 3, "skill_shortage": 2},
            "operators": {"total": 6, "hard_to_fill": 0, "skill_shortage": 0},
        },
        "htfv_causes": ["lack_skills", "pay"],
        "trained_12m": 70,
        "training_budget": 1.5,
        "training_plan": "yes",
        "needs_assessment": "no",
        "training_barriers": ["time", OTHER_CODE],
        "training_barriers_other": "Order peaks",
        "preferred_modes": ["in_house", "vet_provider"],
        "respondent_role": "hr_training",
        "consent_recontact": "yes",
        "consent_benchmark": "yes",
    }


# --- every shipped questionnaire ------------------------------------------------------------


def test_the_reference_questionnaire_is_shipped() -> None:
    assert REFERENCE in SHIPPED


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_shipped_questionnaire_validates(folder: Path) -> None:
    problems = validate_folder(folder)
    assert problems == [], "\n".join(str(p) for p in problems)


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_every_translation_is_complete(folder: Path) -> None:
    questionnaire = load_questionnaire(folder)
    for lang in questionnaire.languages:
        if lang == questionnaire.source_language:
            continue
        translation, problems = read_translation(translation_path(folder, lang))
        assert translation is not None, f"{folder.name}: no translation into {lang}"
        problems += check_translation(questionnaire, translation)
        assert problems == [], "\n".join(str(p) for p in problems)


# --- the reference questionnaire's content --------------------------------------------------


def test_reference_is_translated_into_the_shipped_languages(q: Questionnaire) -> None:
    assert q.source_language == "en"
    assert set(q.languages) >= {"en", "de", "fr", "cs", "es", "it", "pl"}


def test_all_profile_roles_are_present_and_asked_first(q: Questionnaire) -> None:
    roles = q.profile_questions()
    assert set(roles) == set(PROFILE_ROLES)
    assert {role: question.id for role, question in roles.items()} == {
        "country": "country",
        "region": "region",
        "nace": "nace",
        "employees": "employees",
        "size_class": "size_class",
        "value_chain": "value_chain",
    }
    assert q.sections[0].id == "profile"
    assert all(q.section_of(question.id).id == "profile" for question in roles.values())


def test_countries_use_eurostat_codes(q: Questionnaire) -> None:
    codes = [option.code for option in q.option_list("countries").options]
    assert "EL" in codes and "GR" not in codes
    assert {"DE", "FR", "CZ", "ES", "IT", "PL", "NO", "CH", "TR", "RS", "MK"} <= set(codes)
    assert all(len(code) == 2 and code.isupper() for code in codes)
    assert len(codes) == len(set(codes))


def test_nace_codes_are_written_as_in_the_classification(q: Questionnaire) -> None:
    codes = {option.code for option in q.option_list("nace").options}
    assert {
        "C29.10",
        "C29.20",
        "C29.31",
        "C29.32",
        "C22.11",
        "C27.11",
        "C27.20",
        "C27.40",
        "C28.11",
        "G45.1",
        "G45.2",
        "G45.3",
    } <= codes


def test_seventeen_skill_areas_and_twelve_job_families(q: Questionnaire) -> None:
    assert [o.code for o in q.option_list("skill_areas").options] == SKILL_AREAS
    assert all(o.description for o in q.option_list("skill_areas").options)
    assert [o.code for o in q.option_list("job_families").options] == JOB_FAMILIES
    for grid_id, rows in [
        ("skill_levels", SKILL_AREAS),
        ("skill_staff", SKILL_AREAS),
        ("workforce", JOB_FAMILIES),
        ("vacancies", JOB_FAMILIES),
    ]:
        grid = q.question(grid_id)
        assert isinstance(grid, GridQuestion)
        assert [o.code for o in q.options_for(grid)] == rows


def test_value_chain_has_the_eight_positions(q: Questionnaire) -> None:
    assert [o.code for o in q.option_list("value_chain").options] == [
        "oem",
        "tier1",
        "tier2",
        "battery",
        "aftermarket",
        "sales",
        "engineering_it",
        "other",
    ]


def test_proficiency_scale_has_five_levels_with_descriptors(q: Questionnaire) -> None:
    scale = q.scales["proficiency"]
    assert scale.values() == [0, 1, 2, 3, 4]
    assert [level.label for level in scale.levels] == [
        "None",
        "Awareness",
        "Basic",
        "Practitioner",
        "Expert",
    ]
    assert all(level.description for level in scale.levels)
    assert q.scales["relevance"].values() == [0, 1, 2, 3]
    assert q.scale_for("skill_levels", "current") is scale
    assert q.scale_for("skill_levels", "required") is scale


def test_grid_columns_are_the_contract(q: Questionnaire) -> None:
    def columns(grid_id: str) -> list[str]:
        grid = q.question(grid_id)
        assert isinstance(grid, GridQuestion)
        return [column.id for column in grid.columns]

    assert columns("workforce") == ["now", "in_3_years"]
    assert columns("skill_levels") == ["relevance_now", "relevance_future", "current", "required"]
    assert columns("skill_staff") == [
        "staff",
        "not_proficient",
        "upskill_12m",
        "upskill_3y",
        "reskill",
    ]
    assert columns("vacancies") == ["total", "hard_to_fill", "skill_shortage"]


# --- the rules of the reference questionnaire -----------------------------------------------


def test_skill_rows_are_asked_only_for_the_areas_marked_relevant(q: Questionnaire) -> None:
    answers = {
        "country": "CZ",
        "employees": 50,
        "skill_areas_relevant": ["cybersecurity", "battery_hv"],
    }
    # Rows keep the questionnaire's order, whatever the order of the marks.
    assert relevant_rows(q, "skill_levels", answers) == ["battery_hv", "cybersecurity"]
    assert relevant_rows(q, "skill_staff", answers) == ["battery_hv", "cybersecurity"]
    assert relevant_rows(q, "workforce", answers) == JOB_FAMILIES


def test_skill_needs_page_is_skipped_without_relevant_areas(q: Questionnaire) -> None:
    assert not section_relevant(q, "skill_needs", {"country": "CZ", "employees": 50})
    assert relevant_rows(q, "skill_levels", {"country": "CZ", "employees": 50}) == []


def test_a_complete_consistent_response_has_no_violations(q: Questionnaire) -> None:
    violations = validate_response(q, valid_answers())
    assert violations == [], "\n".join(f"{v.field}: {v.message}" for v in violations)


@pytest.mark.parametrize(
    ("employees", "size_class"),
    [
        (1, "1-9"),
        (9, "1-9"),
        (10, "10-49"),
        (49, "10-49"),
        (50, "50-249"),
        (249, "50-249"),
        (250, "250+"),
        (40000, "250+"),
    ],
)
def test_size_class_is_derived_from_persons_employed(
    q: Questionnaire, employees: int, size_class: str
) -> None:
    assert compute_calculated(q, {"employees": employees})["size_class"] == size_class


def test_regions_follow_the_country(q: Questionnaire) -> None:
    for country, first in [("DE", "DE11"), ("FR", "FR10"), ("CZ", "CZ01")]:
        options = visible_options(q, "region", {"country": country})
        assert options and options[0].code == first
        assert {o.attributes["country"] for o in options} == {country}
    assert "FRK2" in {o.code for o in visible_options(q, "region", {"country": "FR"})}
    assert "CZ08" in {o.code for o in visible_options(q, "region", {"country": "CZ"})}
    assert question_relevant(q, "region", {"country": "DE"})
    assert not question_relevant(q, "region", {"country": "AT"})


def rule_ids(q: Questionnaire, answers: dict[str, Any]) -> set[str]:
    return {v.rule_id for v in validate_response(q, answers)}


def test_powertrain_shares_add_up_to_at_most_100(q: Questionnaire) -> None:
    answers = valid_answers() | {"share_ice": 70, "share_bev": 40}
    assert "powertrain_shares_le_100" in rule_ids(q, answers)


def test_job_families_cannot_exceed_persons_employed(q: Questionnaire) -> None:
    answers = valid_answers() | {"employees": 100}
    assert "workforce_le_employees" in rule_ids(q, answers)


def test_staff_counts_are_consistent_per_skill_area(q: Questionnaire) -> None:
    answers = valid_answers()
    answers["skill_staff"]["battery_hv"].update(not_proficient=50, upskill_12m=35)
    assert {"not_proficient_le_staff", "upskill_12m_le_3y"} <= rule_ids(q, answers)


def test_skill_shortage_vacancies_are_part_of_the_hard_to_fill(q: Questionnaire) -> None:
    answers = valid_answers()
    answers["vacancies"]["software_it"] = {"total": 2, "hard_to_fill": 3, "skill_shortage": 4}
    ids = rule_ids(q, answers)
    assert {"hard_to_fill_le_total", "skill_shortage_le_hard_to_fill"} <= ids


def test_causes_are_asked_only_when_some_vacancies_are_hard_to_fill(q: Questionnaire) -> None:
    answers = valid_answers()
    assert question_relevant(q, "htfv_causes", answers)
    answers["vacancies"]["software_it"] = {"total": 4, "hard_to_fill": 0, "skill_shortage": 0}
    assert not question_relevant(q, "htfv_causes", answers)
    assert not question_relevant(q, "vacancies", answers | {"has_vacancies": "no"})


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_translations_keep_the_numbers_of_the_source(folder: Path) -> None:
    """A translated text names every number of its source (years, levels, standards, codes)."""
    questionnaire = load_questionnaire(folder)
    source = questionnaire.text_keys()
    slips = [
        f"{lang} {key}: {sorted(missing)}"
        for lang, texts in questionnaire.translations.items()
        for key, text in texts.items()
        if (missing := set(NUMBER.findall(source[key])) - set(NUMBER.findall(text)))
    ]
    assert slips == []


def test_reported_vacancies_need_numbers(q: Questionnaire) -> None:
    answers = valid_answers()
    del answers["vacancies"], answers["htfv_causes"]
    violations = validate_response(q, answers)
    assert [(v.field, v.rule_id) for v in violations] == [("vacancies", "required")]
    answers["has_vacancies"] = "no"
    assert validate_response(q, answers) == []
