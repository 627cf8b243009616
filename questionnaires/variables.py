"""The flat list of analysis variables of a questionnaire (codebook, exports, analysis)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from questionnaires.model import (
    OTHER_CODE,
    CalculatedQuestion,
    DecimalColumn,
    DecimalQuestion,
    GridColumnType,
    GridQuestion,
    IntegerColumn,
    IntegerQuestion,
    MultipleChoiceQuestion,
    NoteQuestion,
    OptionList,
    PercentageColumn,
    PercentageQuestion,
    Questionnaire,
    QuestionType,
    ScaleColumn,
    ScaleQuestion,
    Section,
    SingleChoiceColumn,
    SingleChoiceQuestion,
    TextColumn,
    TextQuestion,
)
from questionnaires.translations import TextCatalog

VariableKind = Literal["categorical", "multiple_flag", "integer", "decimal", "text", "ordinal"]

#: Value labels of every ``multiple_flag`` variable. Fixed English: the format has no text key
#: for them, since they belong to the data layout rather than to any questionnaire.
FLAG_LABELS: Mapping[int, str] = MappingProxyType({1: "selected", 0: "not selected"})


@dataclass(frozen=True)
class Variable:
    """One analysis variable: a column of the response data.

    ``relevance`` joins the section's and the question's ``relevant`` expressions (``None``
    when always asked); ``row_relevance`` is a grid's ``row_relevant``, evaluated with ``row``
    set to ``row``. ``value_labels`` maps a stored value (an option code, a scale level's
    integer value, or 1/0 of a ``multiple_flag``) to its label.
    """

    name: str
    kind: VariableKind
    label: str
    question_id: str
    section_id: str
    value_labels: dict[str | int, str] = field(default_factory=dict)
    row: str | None = None
    column: str | None = None
    option: str | None = None
    relevance: str | None = None
    row_relevance: str | None = None
    unit: str | None = None
    profile: str | None = None
    scale: str | None = None
    not_applicable: bool = False


def other_text_name(question_id: str) -> str:
    """The name of a choice question's "other, please specify" text: answer key and variable."""
    return f"{question_id}_other"


def flag_variable_name(question_id: str, code: str) -> str:
    """The name of the 0/1 variable of one option of a multiple-choice question."""
    return f"{question_id}_{code}"


def cell_variable_name(question_id: str, row: str, column: str) -> str:
    """The name of the variable of one grid cell."""
    return f"{question_id}_{row}_{column}"


def questionnaire_variables(
    questionnaire: Questionnaire, lang: str | None = None
) -> list[Variable]:
    """Every analysis variable in questionnaire order, labelled in ``lang`` (default source)."""
    catalog = TextCatalog(questionnaire, lang)
    variables: list[Variable] = []
    for section in questionnaire.sections:
        for question in section.questions:
            variables.extend(_question_variables(questionnaire, catalog, section, question))
    return variables


def variable_names(questionnaire: Questionnaire) -> list[str]:
    """The names of every analysis variable in questionnaire order (no labels looked up)."""
    names: list[str] = []
    for section in questionnaire.sections:
        for question in section.questions:
            names.extend(question_variable_names(questionnaire, question))
    return names


def question_variable_names(questionnaire: Questionnaire, question: QuestionType) -> list[str]:
    """The names of the variables a question produces, by the naming rules of the format."""
    qid = question.id
    if isinstance(question, NoteQuestion):
        return []
    if isinstance(question, MultipleChoiceQuestion):
        names = [
            flag_variable_name(qid, option.code) for option in questionnaire.options_for(question)
        ]
        return names + ([other_text_name(qid)] if question.other else [])
    if isinstance(question, SingleChoiceQuestion):
        return [qid] + ([other_text_name(qid)] if question.other else [])
    if isinstance(question, GridQuestion):
        return [
            cell_variable_name(qid, row.code, column.id)
            for row in questionnaire.options_for(question)
            for column in question.columns
        ]
    return [qid]


@dataclass(frozen=True)
class _Where:
    """What every variable of one question shares."""

    question_id: str
    section_id: str
    relevance: str | None

    def variable(self, name: str, kind: VariableKind, label: str, **details: Any) -> Variable:
        """A variable of this question."""
        return Variable(name=name, kind=kind, label=label, question_id=self.question_id,
                        section_id=self.section_id, relevance=self.relevance, **details)


def _join_relevance(*expressions: str | None) -> str | None:
    present = [expression for expression in expressions if expression]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return " and ".join(f"({expression})" for expression in present)


def _question_variables(
    q: Questionnaire, catalog: TextCatalog, section: Section, question: QuestionType
) -> list[Variable]:
    if isinstance(question, NoteQuestion):
        return []
    qid = question.id
    relevance = _join_relevance(section.relevant, question.relevant)
    where = _Where(qid, section.id, relevance)
    if isinstance(question, CalculatedQuestion):
        kind: VariableKind = (
            "text" if question.value_type == "text" else question.value_type
        )
        label = catalog.get_text(f"question.{qid}.label") or qid
        return [where.variable(qid, kind, label=label, profile=question.profile)]
    text = catalog[f"question.{qid}.text"]
    unit = catalog.get_text(f"question.{qid}.unit")
    profile = question.profile
    if isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion):
        labels = _option_labels(catalog, *q.option_source(question))
        # Without an other_label the app shows its own (interface) wording; the codebook
        # then names the answer by its code.
        other_label = catalog.get_text(f"question.{qid}.other_label") or OTHER_CODE
        other = (
            [where.variable(other_text_name(qid), "text", label=f"{text}: {other_label}",
                            option=OTHER_CODE)]
            if question.other else []
        )
        if isinstance(question, SingleChoiceQuestion):
            if question.other:
                labels[OTHER_CODE] = other_label
            return [where.variable(qid, "categorical", label=text, value_labels=labels,
                                   profile=profile), *other]
        flags = [
            where.variable(flag_variable_name(qid, str(code)), "multiple_flag",
                           label=f"{text}: {label}",
                           value_labels=dict(FLAG_LABELS), option=str(code), profile=profile)
            for code, label in labels.items()
        ]
        return [*flags, *other]
    if isinstance(question, GridQuestion):
        rows_name, rows = q.option_source(question)
        variables: list[Variable] = []
        for row in rows.options:
            row_label = catalog[f"option.{rows_name}.{row.code}"]
            for column in question.columns:
                variables.append(_cell_variable(q, catalog, question, column, row.code,
                                                f"{text}: {row_label}", where))
        return variables
    if isinstance(question, ScaleQuestion):
        scale = q.scale_for(question)
        return [where.variable(qid, "ordinal", label=text,
                         value_labels=_scale_labels(catalog, question.scale, q),
                         scale=question.scale, not_applicable=scale.not_applicable,
                         profile=profile)]
    if isinstance(question, IntegerQuestion):
        return [where.variable(qid, "integer", label=text, unit=unit, profile=profile)]
    if isinstance(question, DecimalQuestion):
        return [where.variable(qid, "decimal", label=text, unit=unit, profile=profile)]
    if isinstance(question, PercentageQuestion):
        return [where.variable(qid, "decimal", label=text, unit="%", profile=profile)]
    if isinstance(question, TextQuestion):
        return [where.variable(qid, "text", label=text, profile=profile)]
    raise TypeError(f"question {qid!r} has an unknown type {question.type!r}")


def _option_labels(catalog: TextCatalog, list_name: str, options: OptionList
                   ) -> dict[str | int, str]:
    return {option.code: catalog[f"option.{list_name}.{option.code}"]
            for option in options.options}


def _scale_labels(catalog: TextCatalog, scale_id: str, q: Questionnaire) -> dict[str | int, str]:
    return {
        level.value: catalog[f"scale.{scale_id}.{level.value}.label"]
        for level in q.scales[scale_id].levels
    }


def _cell_variable(
    q: Questionnaire,
    catalog: TextCatalog,
    question: GridQuestion,
    column: GridColumnType,
    row_code: str,
    row_text: str,
    where: _Where,
) -> Variable:
    qid = question.id
    column_text = catalog[f"question.{qid}.column.{column.id}.text"]
    name = cell_variable_name(qid, row_code, column.id)
    label = f"{row_text}: {column_text}"
    cell: dict[str, Any] = {
        "row": row_code,
        "column": column.id,
        "row_relevance": question.row_relevant,
    }
    if isinstance(column, SingleChoiceColumn):
        labels = _option_labels(catalog, *q.option_source(question, column))
        return where.variable(name, "categorical", label, value_labels=labels, **cell)
    if isinstance(column, ScaleColumn):
        scale = q.scales[column.scale]
        return where.variable(name, "ordinal", label,
                              value_labels=_scale_labels(catalog, column.scale, q),
                              scale=column.scale, not_applicable=scale.not_applicable,
                        **cell)
    unit = catalog.get_text(f"question.{qid}.column.{column.id}.unit")
    if isinstance(column, IntegerColumn):
        return where.variable(name, "integer", label, unit=unit, **cell)
    if isinstance(column, DecimalColumn):
        return where.variable(name, "decimal", label, unit=unit, **cell)
    if isinstance(column, PercentageColumn):
        return where.variable(name, "decimal", label, unit="%", **cell)
    if isinstance(column, TextColumn):
        return where.variable(name, "text", label, **cell)
    raise TypeError(f"column {column.id!r} of {qid!r} has an unknown type {column.type!r}")
