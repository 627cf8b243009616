"""Answer forms: one small field builder per question type, a fresh form class per request.

Fields only turn what was typed into typed answers (a number that is not a number is the only
error they report); every rule of the questionnaire is checked by `questionnaires.rules`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.fields import HiddenField

from questionnaires import rules
from questionnaires.model import (
    DecimalColumn,
    DecimalQuestion,
    GridColumnType,
    GridQuestion,
    IntegerColumn,
    IntegerQuestion,
    MultipleChoiceQuestion,
    PercentageColumn,
    PercentageQuestion,
    Questionnaire,
    Scale,
    ScaleColumn,
    ScaleQuestion,
    Section,
    SingleChoiceColumn,
    SingleChoiceQuestion,
    TextColumn,
    TextQuestion,
)
from questionnaires.variables import other_text_name

#: Spaces people type inside numbers ("1 200", with no-break or thin spaces).
_NUMBER_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")
#: Longest text accepted in a number box (anything longer is not a number anyone typed).
_MAX_NUMBER_CHARS = 40


def field_name(question_id: str) -> str:
    """The form field name of a question (prefixed so it never shadows a Form attribute)."""
    return f"q_{question_id}"


def other_field_name(question_id: str) -> str:
    """The form field name of a choice question's "other, please specify" text."""
    return f"q_{question_id}__other"


def cell_field_name(question_id: str, row: str, column: str) -> str:
    """The form field name of one grid cell."""
    return f"q_{question_id}__{row}__{column}"


class AnswerField(Field):
    """A field holding one typed answer; ``raw`` keeps exactly what was typed for re-display."""

    def __init__(self, label: str = "", **kwargs: Any) -> None:
        super().__init__(label, **kwargs)
        self.raw = ""

    def process_formdata(self, valuelist: list[str]) -> None:
        """Parse the first posted value (absent or blank means unanswered)."""
        self.raw = valuelist[0] if valuelist else ""
        text = self.raw.strip()
        self.data = None if not text else self.parse(text)

    def process_data(self, value: Any) -> None:
        """Take a stored answer as the initial value."""
        self.data = value
        self.raw = "" if value is None else self.format(value)

    def parse(self, text: str) -> Any:
        """Turn non-blank typed text into the answer value; raise ValueError with a message."""
        return text

    def format(self, value: Any) -> str:
        """Show a stored answer in the input box."""
        return str(value)

    def display_value(self) -> str:
        """What the input box shows."""
        return self.raw


class TextAnswerField(AnswerField):
    """Free text (kept as typed, surrounding blanks removed)."""

    def parse(self, text: str) -> str:
        """The text itself."""
        return text


class IntegerAnswerField(AnswerField):
    """A whole number; spaces as thousands separators are allowed."""

    def parse(self, text: str) -> int:
        """The whole number typed, or a clear message."""
        cleaned = _NUMBER_SPACES.sub("", text)
        if len(cleaned) > _MAX_NUMBER_CHARS or not re.fullmatch(r"[+-]?\d+", cleaned):
            raise ValueError(_l("Enter a whole number, for example 120."))
        return int(cleaned)


class DecimalAnswerField(AnswerField):
    """A number; a decimal comma is accepted as well as a decimal point."""

    def parse(self, text: str) -> int | float:
        """The number typed (whole when typed without decimals), or a clear message."""
        cleaned = _NUMBER_SPACES.sub("", text).replace(",", ".")
        if len(cleaned) > _MAX_NUMBER_CHARS or not re.fullmatch(
            r"[+-]?(\d+(\.\d*)?|\.\d+)", cleaned
        ):
            raise ValueError(_l("Enter a number, for example 12.5."))
        if re.fullmatch(r"[+-]?\d+", cleaned):
            # "60" is a whole number: stored as int, so "at most 0 decimals" holds for it.
            return int(cleaned)
        value = float(cleaned)
        if not math.isfinite(value):
            raise ValueError(_l("Enter a number, for example 12.5."))
        return value

    def format(self, value: Any) -> str:
        """Plain digits as typed (never 1e-05, which the box would not take back)."""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, float):
            # repr is the shortest text that reads back as the same float; Decimal writes it
            # without an exponent.
            return format(Decimal(repr(value)), "f")
        return str(value)


class ChoiceAnswerField(AnswerField):
    """One code out of ``choices`` (radio buttons or a drop-down list)."""

    def __init__(self, label: str = "", *, codes: Iterable[str | int] = (),
                 **kwargs: Any) -> None:
        super().__init__(label, **kwargs)
        self.codes = {str(code): code for code in codes}

    def parse(self, text: str) -> str | int:
        """The chosen code (a scale level as its integer value)."""
        if text not in self.codes:
            raise ValueError(_l("Choose one of the options shown."))
        return self.codes[text]

    def selected(self) -> set[str]:
        """The chosen code as text (for checking the right radio button)."""
        return {self.raw} if self.raw else set()


class MultiChoiceAnswerField(AnswerField):
    """Any number of codes out of ``choices`` (check boxes), kept in option order."""

    def __init__(self, label: str = "", *, codes: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(label, **kwargs)
        self.codes = [str(code) for code in codes]
        self.raw_codes: list[str] = []

    def process_formdata(self, valuelist: list[str]) -> None:
        """Parse every ticked box."""
        self.raw_codes = [value for value in valuelist if value]
        unknown = [value for value in self.raw_codes if value not in self.codes]
        if unknown:
            self.data = None
            raise ValueError(_l("Choose only among the options shown."))
        chosen = set(self.raw_codes)
        codes = [code for code in self.codes if code in chosen]
        self.data = codes or None

    def process_data(self, value: Any) -> None:
        """Take a stored list of codes as the initial value."""
        self.data = list(value) if value else None
        self.raw_codes = [str(code) for code in (value or [])]

    def selected(self) -> set[str]:
        """The ticked codes."""
        return set(self.raw_codes)


Builder = Callable[[Questionnaire, Any], dict[str, Any]]


def _choice_codes(q: Questionnaire, question: SingleChoiceQuestion | MultipleChoiceQuestion
                  ) -> list[str]:
    codes = [option.code for option in q.options_for(question)]
    return [*codes, rules.OTHER_CODE] if question.other else codes


def _scale_codes(scale: Scale) -> list[str | int]:
    values: list[str | int] = list(scale.values())
    return [*values, rules.NOT_APPLICABLE] if scale.not_applicable else values


def _choice_fields(question: SingleChoiceQuestion | MultipleChoiceQuestion,
                   answer: AnswerField) -> dict[str, Any]:
    """The answer field of a choice question, plus its "other" text box when it has one."""
    fields: dict[str, Any] = {field_name(question.id): answer}
    if question.other:
        fields[other_field_name(question.id)] = TextAnswerField()
    return fields


def _single_choice(q: Questionnaire, question: SingleChoiceQuestion) -> dict[str, Any]:
    return _choice_fields(question, ChoiceAnswerField(codes=_choice_codes(q, question)))


def _multiple_choice(q: Questionnaire, question: MultipleChoiceQuestion) -> dict[str, Any]:
    return _choice_fields(question, MultiChoiceAnswerField(codes=_choice_codes(q, question)))


def _scale(q: Questionnaire, question: ScaleQuestion) -> dict[str, Any]:
    codes = _scale_codes(q.scale_for(question))
    return {field_name(question.id): ChoiceAnswerField(codes=codes)}


def _integer(q: Questionnaire, question: IntegerQuestion) -> dict[str, Any]:
    return {field_name(question.id): IntegerAnswerField()}


def _decimal(q: Questionnaire, question: DecimalQuestion | PercentageQuestion) -> dict[str, Any]:
    return {field_name(question.id): DecimalAnswerField()}


def _text(q: Questionnaire, question: TextQuestion) -> dict[str, Any]:
    return {field_name(question.id): TextAnswerField()}


def _column_field(q: Questionnaire, question: GridQuestion, column: GridColumnType) -> Field:
    """The unbound field of one cell of a grid column."""
    if isinstance(column, SingleChoiceColumn):
        return ChoiceAnswerField(codes=[o.code for o in q.options_for(question, column)])
    if isinstance(column, ScaleColumn):
        return ChoiceAnswerField(codes=_scale_codes(q.scale_for(question, column.id)))
    if isinstance(column, IntegerColumn):
        return IntegerAnswerField()
    if isinstance(column, DecimalColumn | PercentageColumn):
        return DecimalAnswerField()
    if isinstance(column, TextColumn):
        return TextAnswerField()
    raise TypeError(f"grid {question.id!r}: no field for column type {column.type!r}")


def _grid(q: Questionnaire, question: GridQuestion) -> dict[str, Any]:
    return {
        cell_field_name(question.id, row.code, column.id): _column_field(q, question, column)
        for row in q.options_for(question)
        for column in question.columns
    }


#: The one table from question type to field builder (notes and calculated values: no field).
BUILDERS: dict[str, Builder] = {
    "single_choice": _single_choice,
    "multiple_choice": _multiple_choice,
    "scale": _scale,
    "integer": _integer,
    "decimal": _decimal,
    "percentage": _decimal,
    "text": _text,
    "grid": _grid,
}


class SectionFormBase(FlaskForm):
    """Base of every page form: CSRF, plus a signed ticket naming the response being edited."""

    ticket = HiddenField()


def section_form_class(q: Questionnaire, section: Section) -> type[SectionFormBase]:
    """A new form class for a page: every answerable question's fields (relevance aside)."""
    fields: dict[str, Any] = {}
    for question in section.questions:
        builder = BUILDERS.get(question.type)
        if builder is not None:
            fields.update(builder(q, question))
    return type("SectionForm", (SectionFormBase,), fields)


def initial_data(q: Questionnaire, section: Section, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Stored answers as initial field data, by field name."""
    data: dict[str, Any] = {}
    for question in section.questions:
        if question.type not in BUILDERS:
            continue
        value = answers.get(question.id)
        if isinstance(question, GridQuestion):
            cells = value if isinstance(value, dict) else {}
            for row, columns in cells.items():
                if isinstance(columns, dict):
                    for column, cell in columns.items():
                        data[cell_field_name(question.id, row, column)] = cell
            continue
        data[field_name(question.id)] = value
        if isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion) and question.other:
            data[other_field_name(question.id)] = answers.get(other_text_name(question.id))
    return data


def page_answers(q: Questionnaire, section: Section, form: FlaskForm) -> dict[str, Any]:
    """The answers a posted page carries, keyed by question id (None where unanswered)."""
    answers: dict[str, Any] = {}
    for question in section.questions:
        if question.type not in BUILDERS:
            continue
        if isinstance(question, GridQuestion):
            grid: dict[str, dict[str, Any]] = {}
            for row in q.options_for(question):
                cells = {}
                for column in question.columns:
                    cell = form[cell_field_name(question.id, row.code, column.id)].data
                    if cell is not None:
                        cells[column.id] = cell
                if cells:
                    grid[row.code] = cells
            answers[question.id] = grid or None
            continue
        answers[question.id] = form[field_name(question.id)].data
        if isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion) and question.other:
            answers[other_text_name(question.id)] = form[other_field_name(question.id)].data
    return answers


def parse_errors(form: FlaskForm) -> dict[str, list[str]]:
    """Fields whose typed text could not be read (e.g. letters in a number box)."""
    return {
        field.name: [str(error) for error in field.process_errors]
        for field in form
        if field.process_errors
    }


def formdata_for(q: Questionnaire, section: Section, answers: Mapping[str, Any]
                 ) -> dict[str, str | list[str]]:
    """The form fields a browser posts for these answers of a page (tests, load drivers)."""
    data: dict[str, str | list[str]] = {}
    for name, value in initial_data(q, section, answers).items():
        if value is None:
            continue
        if isinstance(value, list):
            data[name] = [str(code) for code in value]
        elif isinstance(value, float) and value.is_integer():
            data[name] = str(int(value))
        else:
            data[name] = str(value)
    return data
