"""Answer fields: what is stored comes back into the box and is read back as the same value."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from wtforms.meta import DefaultMeta

from surveyapp.respond.forms import (
    ChoiceAnswerField,
    DecimalAnswerField,
    IntegerAnswerField,
    MultiChoiceAnswerField,
    TextAnswerField,
)
from tests.app.conftest import fixture_questionnaire


def _bound(field: Any, name: str = "q_x") -> Any:
    return field.bind(form=None, name=name, _meta=DefaultMeta())


def _read(field: Any, *values: str) -> Any:
    bound = _bound(field)
    bound.process(MultiDict([("q_x", value) for value in values]))
    return bound


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_integers_round_trip(value: int) -> None:
    shown = _bound(IntegerAnswerField())
    shown.process(None, data=value)
    assert _read(IntegerAnswerField(), shown.display_value()).data == value


@given(st.decimals(min_value=-10**9, max_value=10**9, places=6, allow_nan=False,
                   allow_infinity=False).map(float))
def test_decimals_round_trip(value: float) -> None:
    # Numbers as people type them: up to a billion, up to six decimals (0.000001 included).
    shown = _bound(DecimalAnswerField())
    shown.process(None, data=value)
    assert _read(DecimalAnswerField(), shown.display_value()).data == value


@pytest.mark.parametrize(("typed", "value"), [
    ("1 200", 1200), ("1\u202f200", 1200), ("12,5", 12.5), ("60", 60), ("0.25", 0.25),
    (" 7 ", 7), ("", None),
])
def test_numbers_as_people_type_them(typed: str, value: object) -> None:
    assert _read(DecimalAnswerField(), typed).data == value


@pytest.mark.parametrize("typed", ["12a", "1e5", "inf", "--1", "1.2.3", "9" * 41])
def test_text_that_is_not_a_number_is_refused_and_kept(typed: str) -> None:
    field = _read(IntegerAnswerField(), typed)
    assert field.process_errors
    assert field.display_value() == typed


def test_choices_accept_only_their_codes() -> None:
    assert _read(ChoiceAnswerField(codes=[0, 1, 2]), "2").data == 2
    refused = _read(ChoiceAnswerField(codes=["a", "b"]), "c")
    assert refused.process_errors
    many = _read(MultiChoiceAnswerField(codes=["a", "b", "c"]), "c", "a")
    assert many.data == ["a", "c"]
    assert _read(MultiChoiceAnswerField(codes=["a"]), "z").process_errors


def test_text_is_kept_as_typed_without_surrounding_blanks() -> None:
    assert _read(TextAnswerField(), "  <b>x</b>  ").data == "<b>x</b>"


def test_a_fresh_form_class_per_request(app: Flask) -> None:
    from surveyapp.respond.forms import section_form_class

    questionnaire = fixture_questionnaire("mini")
    section = questionnaire.section("skills")
    with app.test_request_context():
        first = section_form_class(questionnaire, section)
        second = section_form_class(questionnaire, section)
    assert first is not second
    assert hasattr(first, "q_levels__battery__current")
    assert not hasattr(first, "q_country")


@pytest.mark.parametrize(("stored", "shown"), [(1e-05, "0.00001"), (2.0, "2"), (12.5, "12.5"),
                                                (1e16, "10000000000000000")])
def test_stored_decimals_are_shown_without_exponent(stored: float, shown: str) -> None:
    field = _bound(DecimalAnswerField())
    field.process(None, data=stored)
    assert field.display_value() == shown
