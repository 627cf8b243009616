"""The questionnaire models and their lookup helpers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from questionnaires.model import (
    GridQuestion,
    IntegerQuestion,
    Option,
    Questionnaire,
    ScaleQuestion,
    SingleChoiceQuestion,
)

Loader = Callable[[str], Questionnaire]


def minimal(**overrides: Any) -> dict[str, Any]:
    """A small valid questionnaire as data."""
    data: dict[str, Any] = {
        "id": "mini",
        "version": "1.0.0",
        "source_language": "en",
        "languages": ["en"],
        "title": "Mini",
        "option_lists": {
            "yes_no": [{"code": "yes", "label": "Yes"}, {"code": "no", "label": "No"}]
        },
        "sections": [
            {"id": "main", "title": "Main", "questions": [
                {"id": "trains", "type": "single_choice", "text": "Train?", "options": "yes_no"},
                {"id": "staff", "type": "integer", "text": "Staff", "min": 0},
            ]},
        ],
    }
    data.update(overrides)
    return data


def test_lookups_by_id(load_fixture: Loader) -> None:
    q = load_fixture("single_choice")
    assert q.section("main").title == "Main"
    trains = q.question("trains")
    assert isinstance(trains, SingleChoiceQuestion)
    assert [question.id for question in q.iter_questions()] == ["trains", "segment"]
    assert q.section_of("segment").id == "main"
    with pytest.raises(KeyError, match="no question 'nope'"):
        q.question("nope")
    with pytest.raises(KeyError, match="no section 'nope'"):
        q.section("nope")


def test_options_resolve_named_and_inline_lists(load_fixture: Loader) -> None:
    q = load_fixture("single_choice")
    assert [o.code for o in q.options_for("trains")] == ["yes", "no"]
    assert [o.code for o in q.options_for(q.question("segment"))] == ["oem", "tier1"]
    assert q.option_source(q.question("trains"))[0] == "yes_no"
    assert q.option_source(q.question("segment"))[0] == "segment"


def test_grid_rows_columns_and_scales(load_fixture: Loader) -> None:
    q = load_fixture("grid")
    grid = q.question("skills")
    assert isinstance(grid, GridQuestion)
    assert [row.code for row in q.options_for(grid)] == ["batteries", "software"]
    assert [o.code for o in q.options_for(grid, "plan")] == ["yes", "no"]
    assert q.option_source(grid, grid.column("plan"))[0] == "skills.plan"
    assert q.scale_for("skills", column="current").values() == [0, 4]
    assert q.scale_for(grid.column("required")).level(4).label == "Expert"
    with pytest.raises(TypeError, match="not a scale"):
        q.scale_for("skills", column="staff")
    with pytest.raises(KeyError, match="no column 'nope'"):
        grid.column("nope")


def test_scale_question(load_fixture: Loader) -> None:
    q = load_fixture("scale")
    question = q.question("digital")
    assert isinstance(question, ScaleQuestion)
    scale = q.scale_for(question)
    assert scale.not_applicable is True
    assert scale.values() == [0, 1, 2]
    with pytest.raises(KeyError, match="no level 3"):
        scale.level(3)


def test_profile_questions_by_role(load_fixture: Loader) -> None:
    q = load_fixture("profile")
    roles = q.profile_questions()
    assert {role: question.id for role, question in roles.items()} == {
        "country": "country", "region": "region", "nace": "nace",
        "employees": "employees", "size_class": "size_class",
    }
    assert isinstance(roles["employees"], IntegerQuestion)


def test_codes_as_written(load_fixture: Loader) -> None:
    q = load_fixture("profile")
    assert [o.code for o in q.options_for("nace")] == ["C29.10", "C29.32"]
    regions = q.option_list("regions")
    assert regions.translate is False
    assert regions.options[0].attributes == {"country": "DE"}


def test_integer_code_becomes_text_but_float_code_is_refused() -> None:
    assert Option.model_validate({"code": 10, "label": "Ten"}).code == "10"
    with pytest.raises(ValidationError, match="quote it"):
        Option.model_validate({"code": 29.1, "label": "Cars"})
    with pytest.raises(ValidationError, match="quote it"):
        Option.model_validate({"code": True, "label": "Yes"})


def test_models_are_frozen_and_strict() -> None:
    q = Questionnaire.model_validate(minimal())
    with pytest.raises(ValidationError):
        q.title = "Other"
    with pytest.raises(ValidationError, match="Extra inputs"):
        Questionnaire.model_validate(minimal(colour="blue"))


def test_text_keys_follow_the_structure(load_fixture: Loader) -> None:
    keys = load_fixture("grid").text_keys()
    assert keys["title"] == "Grid"
    assert keys["question.skills.column.staff.unit"] == "persons"
    assert keys["option.skills.plan.yes"] == "Yes"
    assert keys["question.skills.validation.staff_le_employees"] == (
        "Cannot exceed the number of employees."
    )
    assert keys["scale.proficiency.4.label"] == "Expert"
    assert "question.employees.help" not in keys


def test_text_keys_of_single_choice(load_fixture: Loader) -> None:
    keys = load_fixture("single_choice").text_keys()
    assert set(keys) == {
        "title", "description", "option.yes_no.yes", "option.yes_no.no", "section.main.title",
        "section.main.intro", "question.trains.text", "question.trains.help",
        "question.segment.text", "question.segment.other_label", "option.segment.oem",
        "option.segment.oem.description", "option.segment.tier1",
    }


def test_untranslated_lists_have_no_text_keys(load_fixture: Loader) -> None:
    q = load_fixture("profile")
    assert "option.regions.DE11" not in q.text_keys()
    assert ("option.regions.DE11", "Stuttgart", False) in list(q.iter_texts())
    assert q.text_keys()["question.size_class.label"] == "Size class"


def test_content_hash_ignores_key_order() -> None:
    data = minimal()
    reordered = dict(reversed(list(data.items())))
    reordered["sections"] = [dict(reversed(list(s.items()))) for s in data["sections"]]
    first = Questionnaire.model_validate(data)
    second = Questionnaire.model_validate(reordered)
    assert first.content_hash() == second.content_hash()
    assert len(first.content_hash()) == 64


def test_content_hash_sees_texts_structure_and_translations() -> None:
    base = Questionnaire.model_validate(minimal())
    retitled = Questionnaire.model_validate(minimal(title="Mini survey"))
    assert base.content_hash() != retitled.content_hash()
    translated = base.with_translations({"de": {"title": "Mini"}})
    assert translated.content_hash() != base.content_hash()
    assert translated.with_translations({"de": {"title": "Mini"}}).content_hash() == (
        translated.content_hash()
    )
    assert base.translations == {}


def test_discriminated_union_picks_the_type() -> None:
    q = Questionnaire.model_validate(minimal())
    assert isinstance(q.question("staff"), IntegerQuestion)
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        Questionnaire.model_validate(minimal(sections=[
            {"id": "main", "title": "Main",
             "questions": [{"id": "x", "type": "slider", "text": "X"}]}
        ]))


def test_content_hash_ignores_keys_written_with_their_default() -> None:
    data = minimal()
    explicit = minimal()
    explicit["sections"][0]["questions"][1] = {
        "id": "staff", "type": "integer", "text": "Staff", "min": 0, "required": False,
        "validation": [], "relevant": None,
    }
    assert Questionnaire.model_validate(data).content_hash() == (
        Questionnaire.model_validate(explicit).content_hash()
    )


def test_type_lists_match_the_models() -> None:
    from typing import get_args

    from questionnaires import model

    def tags(union: Any) -> list[str]:
        return [get_args(member.model_fields["type"].annotation)[0] for member in get_args(union)]

    assert tags(model.QuestionType) == list(model.QUESTION_TYPES)
    assert tags(model.GridColumnType) == list(model.COLUMN_TYPES)
    forms = ("yes_no", [{"code": "a", "label": "A"}], {"options": []})
    assert tuple(model._option_source_tag(form) for form in forms) == model.OPTION_SOURCE_TAGS
