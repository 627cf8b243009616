"""What a page shows: questions in the respondent's language, their fields and their errors.

Templates receive these plain view objects and never look into the questionnaire themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from babel.numbers import format_decimal
from flask_babel import get_locale
from flask_babel import gettext as _

from questionnaires import rules
from questionnaires.model import (
    CalculatedQuestion,
    DecimalColumn,
    DecimalQuestion,
    GridColumnType,
    GridQuestion,
    IntegerColumn,
    IntegerQuestion,
    MultipleChoiceQuestion,
    NoteQuestion,
    Option,
    PercentageColumn,
    PercentageQuestion,
    Questionnaire,
    QuestionType,
    Scale,
    ScaleColumn,
    ScaleQuestion,
    Section,
    SingleChoiceColumn,
    SingleChoiceQuestion,
    TextColumn,
    TextQuestion,
)
from questionnaires.rules import RuleViolation
from questionnaires.translations import TextCatalog
from questionnaires.variables import other_text_name
from surveyapp.respond.forms import (
    AnswerField,
    ChoiceAnswerField,
    MultiChoiceAnswerField,
    SectionFormBase,
    cell_field_name,
    field_name,
    other_field_name,
)
from surveyapp.respond.messages import violation_message
from surveyapp.responses import asked_on_shown_page, rows_on_shown_page


@dataclass
class OptionView:
    """One radio button, check box or list entry."""

    value: str
    label: str
    description: str | None
    input_id: str


@dataclass
class CellView:
    """One cell of a grid row."""

    name: str
    kind: str  # "select", "number" or "text"
    label: str  # "<row>: <column>", for assistive technology and narrow screens
    column_label: str
    options: list[OptionView]
    selected: set[str]
    value: str
    unit: str | None
    inputmode: str | None
    errors: list[str]


@dataclass
class RowView:
    """One relevant row of a grid."""

    code: str
    label: str
    anchor: str
    cells: list[CellView]
    errors: list[str]


@dataclass
class ColumnView:
    """The header of a grid column."""

    id: str
    text: str
    help: str | None
    unit: str | None


@dataclass
class QuestionView:
    """One question as the template draws it."""

    id: str
    type: str
    name: str
    text: str
    help: str | None = None
    unit: str | None = None
    required: bool = False
    errors: list[str] = field(default_factory=list)
    options: list[OptionView] = field(default_factory=list)
    selected: set[str] = field(default_factory=set)
    value: str = ""
    display: str = "radio"
    inputmode: str | None = None
    multiline: bool = False
    max_length: int | None = None
    other: OptionView | None = None
    other_name: str | None = None
    other_value: str = ""
    other_label: str = ""
    other_errors: list[str] = field(default_factory=list)
    columns: list[ColumnView] = field(default_factory=list)
    rows: list[RowView] = field(default_factory=list)


@dataclass(frozen=True)
class ErrorLink:
    """An entry of the error summary: where it belongs (id and a short label), the message."""

    anchor: str
    message: str
    label: str = ""


#: Longest label in the error summary (long question texts are shortened).
_SUMMARY_LABEL_CHARS = 90


def _short(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= _SUMMARY_LABEL_CHARS:
        return text
    return text[: _SUMMARY_LABEL_CHARS - 1].rstrip() + "…"


@dataclass
class PageView:
    """A whole page: its questions, the error summary and page-level messages."""

    section_id: str
    title: str
    intro: str | None
    questions: list[QuestionView]
    summary: list[ErrorLink]
    page_errors: list[str]


def anchor_for(violation_field: str) -> str:
    """The element id a violation's field points at (question, 'other' text, row or cell)."""
    parts = violation_field.split(".")
    if len(parts) == 3:
        return cell_field_name(*parts)
    if len(parts) == 2:
        return f"{field_name(parts[0])}__{parts[1]}"
    if violation_field.endswith("_other"):
        return other_field_name(violation_field[: -len("_other")])
    return field_name(violation_field)


def _option_label(catalog: TextCatalog, list_name: str, code: str) -> str:
    return catalog[f"option.{list_name}.{code}"]


def _option_description(catalog: TextCatalog, list_name: str, option: Option) -> str | None:
    return catalog.get_text(f"option.{list_name}.{option.code}.description")


def _scale_options(catalog: TextCatalog, scale_id: str, scale: Scale, name: str
                   ) -> list[OptionView]:
    options = [
        OptionView(
            value=str(level.value),
            label=catalog[f"scale.{scale_id}.{level.value}.label"],
            description=catalog.get_text(f"scale.{scale_id}.{level.value}.description"),
            input_id=f"{name}-{level.value}",
        )
        for level in scale.levels
    ]
    if scale.not_applicable:
        options.append(OptionView(rules.NOT_APPLICABLE, _("Don't know / not applicable"), None,
                                  f"{name}-{rules.NOT_APPLICABLE}"))
    return options


class PageBuilder:
    """Builds the view of one page for one respondent's answers and language."""

    def __init__(self, questionnaire: Questionnaire, catalog: TextCatalog,
                 answers: Mapping[str, Any]) -> None:
        self.q = questionnaire
        self.catalog = catalog
        self.answers = dict(answers)

    def messages(self, violations: list[RuleViolation]) -> dict[str, list[str]]:
        """Messages by anchor ("" for the page itself), in the respondent's language."""
        by_anchor: dict[str, list[str]] = {}
        for violation in violations:
            violation = self._with_labels(violation)
            message = violation_message(violation, self.catalog)
            targets = violation.fields or (violation.field,)
            anchors = [anchor_for(target) if target else "" for target in targets]
            for anchor in dict.fromkeys(anchors):
                by_anchor.setdefault(anchor, [])
                if message not in by_anchor[anchor]:
                    by_anchor[anchor].append(message)
        return by_anchor

    def _with_labels(self, violation: RuleViolation) -> RuleViolation:
        """Give an 'exclusive' message the option's label instead of its code."""
        if violation.rule_id != "exclusive" or "option" not in violation.params:
            return violation
        try:
            question = self.q.question(violation.field)
            list_name, options = self.q.option_source(question)
        except (KeyError, TypeError):
            return violation
        code = violation.params["option"]
        for option in options.options:
            if option.code == code:
                label = _option_label(self.catalog, list_name, option.code)
                return replace(violation, params={**violation.params, "label": label})
        return violation

    def page(self, section: Section, form: SectionFormBase,
             violations: list[RuleViolation], parse_errors: Mapping[str, list[str]]) -> PageView:
        """The view of ``section`` with the form's values and every message placed."""
        messages = self.messages(violations)
        for name, errors in parse_errors.items():
            messages.setdefault(name, [])
            messages[name].extend(error for error in errors if error not in messages[name])
        questions = [
            self.question(question, form, messages)
            for question in section.questions
            if question.type != "calculated"
            and asked_on_shown_page(self.q, question, self.answers)
        ]
        shown = self._shown_anchors(questions)
        summary: list[ErrorLink] = []
        page_errors = list(messages.get("", []))
        for anchor, texts in messages.items():
            if not anchor:
                continue
            for text in texts:
                if anchor in shown:
                    label, target = shown[anchor]
                    summary.append(ErrorLink(target, text, _short(label)))
                elif text not in page_errors:
                    page_errors.append(text)
        return PageView(
            section_id=section.id,
            title=self.catalog[f"section.{section.id}.title"],
            intro=self.catalog.get_text(f"section.{section.id}.intro"),
            questions=questions,
            summary=summary,
            page_errors=page_errors,
        )

    @staticmethod
    def _shown_anchors(questions: list[QuestionView]) -> dict[str, tuple[str, str]]:
        """Every element an error can point at on the page: a label naming it, the link target.

        A grid row's error links to the row's first control, not to the row, so following
        the link puts the keyboard focus where the answer is typed.
        """
        anchors: dict[str, tuple[str, str]] = {}
        for view in questions:
            anchors[view.name] = (view.text, view.name)
            if view.other_name:
                anchors[view.other_name] = (f"{view.text} ({view.other_label})", view.other_name)
            for row in view.rows:
                first = row.cells[0].name if row.cells else row.anchor
                anchors[row.anchor] = (f"{view.text}: {row.label}", first)
                anchors.update((cell.name, (cell.label, cell.name)) for cell in row.cells)
        return anchors

    def question(self, question: QuestionType, form: SectionFormBase,
                 messages: Mapping[str, list[str]]) -> QuestionView:
        """The view of one relevant question."""
        qid = question.id
        name = field_name(qid)
        key = f"question.{qid}"
        view = QuestionView(
            id=qid,
            type=question.type,
            name=name,
            text=self.catalog[f"{key}.text"],
            help=self.catalog.get_text(f"{key}.help"),
            errors=list(messages.get(name, [])),
        )
        if isinstance(question, NoteQuestion | CalculatedQuestion):
            return view
        view.required = question.required
        view.unit = self.catalog.get_text(f"{key}.unit")
        if isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion):
            self._choice(view, question, form, messages)
        elif isinstance(question, ScaleQuestion):
            answer = form[name]
            view.options = _scale_options(self.catalog, question.scale,
                                          self.q.scale_for(question), name)
            view.selected = _selected(answer)
        elif isinstance(question, GridQuestion):
            self._grid(view, question, form, messages)
        elif isinstance(question, IntegerQuestion | DecimalQuestion | PercentageQuestion):
            view.value = _display(form[name])
            view.inputmode = "numeric" if isinstance(question, IntegerQuestion) else "decimal"
            if isinstance(question, PercentageQuestion):
                view.unit = "%"
        elif isinstance(question, TextQuestion):
            view.value = _display(form[name])
            view.multiline = question.multiline
            view.max_length = question.max_length
        return view

    def _choice(self, view: QuestionView, question: SingleChoiceQuestion | MultipleChoiceQuestion,
                form: SectionFormBase, messages: Mapping[str, list[str]]) -> None:
        list_name, _options = self.q.option_source(question)
        visible = rules.visible_options(self.q, question, self.answers)
        view.options = [
            OptionView(option.code, _option_label(self.catalog, list_name, option.code),
                       _option_description(self.catalog, list_name, option),
                       f"{view.name}-{option.code}")
            for option in visible
        ]
        view.selected = _selected(form[view.name])
        if isinstance(question, SingleChoiceQuestion):
            view.display = question.display
        else:
            view.display = "checkbox"
        if question.other:
            other_label = (self.catalog.get_text(f"question.{question.id}.other_label")
                           or _("Other, please specify"))
            view.other = OptionView(rules.OTHER_CODE, other_label, None,
                                    f"{view.name}-{rules.OTHER_CODE}")
            view.other_name = other_field_name(question.id)
            view.other_value = _display(form[view.other_name])
            view.other_label = _("Please specify")
            view.other_errors = list(messages.get(view.other_name, []))

    def _grid(self, view: QuestionView, question: GridQuestion, form: SectionFormBase,
              messages: Mapping[str, list[str]]) -> None:
        qid = question.id
        key = f"question.{qid}"
        view.columns = [
            ColumnView(
                id=column.id,
                text=self.catalog[f"{key}.column.{column.id}.text"],
                help=self.catalog.get_text(f"{key}.column.{column.id}.help"),
                unit="%" if isinstance(column, PercentageColumn)
                else self.catalog.get_text(f"{key}.column.{column.id}.unit"),
            )
            for column in question.columns
        ]
        rows_name, rows = self.q.option_source(question)
        relevant = set(rows_on_shown_page(self.q, question, self.answers))
        for row in rows.options:
            if row.code not in relevant:
                continue
            row_label = _option_label(self.catalog, rows_name, row.code)
            cells = [
                self._cell(question, column, header, row.code, row_label, form, messages)
                for column, header in zip(question.columns, view.columns, strict=True)
            ]
            anchor = f"{field_name(qid)}__{row.code}"
            view.rows.append(RowView(row.code, row_label, anchor, cells,
                                     list(messages.get(anchor, []))))

    def _cell(self, question: GridQuestion, column: GridColumnType, header: ColumnView,
              row: str, row_label: str, form: SectionFormBase,
              messages: Mapping[str, list[str]]) -> CellView:
        name = cell_field_name(question.id, row, column.id)
        answer = form[name]
        options: list[OptionView] = []
        kind = "text"
        inputmode: str | None = None
        if isinstance(column, SingleChoiceColumn):
            kind = "select"
            list_name, _options = self.q.option_source(question, column)
            options = [
                OptionView(option.code, _option_label(self.catalog, list_name, option.code),
                           None, f"{name}-{option.code}")
                for option in _options.options
            ]
        elif isinstance(column, ScaleColumn):
            kind = "select"
            options = _scale_options(self.catalog, column.scale,
                                     self.q.scale_for(question, column.id), name)
        elif isinstance(column, IntegerColumn | DecimalColumn | PercentageColumn):
            kind = "number"
            inputmode = "numeric" if isinstance(column, IntegerColumn) else "decimal"
        elif not isinstance(column, TextColumn):
            raise TypeError(f"grid {question.id!r}: cannot show column type {column.type!r}")
        return CellView(
            name=name,
            kind=kind,
            label=f"{row_label}: {header.text}",
            column_label=header.text,
            options=options,
            selected=_selected(answer),
            value=_display(answer),
            unit=header.unit,
            inputmode=inputmode,
            errors=list(messages.get(name, [])),
        )


def _selected(field: Any) -> set[str]:
    if isinstance(field, ChoiceAnswerField | MultiChoiceAnswerField):
        return field.selected()
    return set()


def _display(field: Any) -> str:
    if isinstance(field, AnswerField):
        return field.display_value()
    return ""


# ------------------------------------------------------------------------------ review page


@dataclass
class ReviewItem:
    """One answered (or unanswered) question on the review page."""

    text: str
    answer: str
    rows: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)


@dataclass
class ReviewSection:
    """One page on the review page, with a link to change it."""

    id: str
    title: str
    items: list[ReviewItem]


def format_value(q: Questionnaire, catalog: TextCatalog, question: QuestionType,
                 value: Any, column: GridColumnType | None = None) -> str:
    """An answer as the respondent reads it: labels for codes, numbers in their locale."""
    if value is None or value == "" or value == []:
        return _("Not answered")
    item: Any = column if column is not None else question
    if isinstance(item, ScaleQuestion | ScaleColumn):
        if value == rules.NOT_APPLICABLE:
            return _("Don't know / not applicable")
        scale_id = item.scale
        return catalog.get_text(f"scale.{scale_id}.{value}.label") or str(value)
    if isinstance(item, SingleChoiceQuestion | MultipleChoiceQuestion | SingleChoiceColumn):
        list_name, options = q.option_source(question, column)
        labels = {option.code: _option_label(catalog, list_name, option.code)
                  for option in options.options}
        labels[rules.OTHER_CODE] = (catalog.get_text(f"question.{question.id}.other_label")
                                    or _("Other"))
        codes = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(str(code), str(code)) for code in codes)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        # All digits given, in the reader's locale (Babel would round to three decimals).
        text = str(format_decimal(value, locale=get_locale(), decimal_quantization=False))
        return f"{text} %" if isinstance(item, PercentageQuestion | PercentageColumn) else text
    return str(value)


def review_sections(q: Questionnaire, catalog: TextCatalog, sections: list[Section],
                    answers: Mapping[str, Any]) -> list[ReviewSection]:
    """Every relevant page with its relevant questions and the answers given."""
    result: list[ReviewSection] = []
    for section in sections:
        items: list[ReviewItem] = []
        for question in section.questions:
            if isinstance(question, NoteQuestion) or question.type == "calculated":
                continue
            if not asked_on_shown_page(q, question, answers):
                continue
            text = catalog[f"question.{question.id}.text"]
            value = answers.get(question.id)
            if isinstance(question, GridQuestion):
                rows_name, rows = q.option_source(question)
                cells = value if isinstance(value, dict) else {}
                shown_rows = []
                for code in rows_on_shown_page(q, question, answers):
                    row_cells = cells.get(code, {})
                    if not row_cells:
                        continue  # rows left empty would only bury the answers given
                    row_label = _option_label(catalog, rows_name, code)
                    shown_rows.append((row_label, [
                        (catalog[f"question.{question.id}.column.{column.id}.text"],
                         format_value(q, catalog, question, row_cells.get(column.id), column))
                        for column in question.columns
                    ]))
                items.append(ReviewItem(text, "" if shown_rows else _("Not answered"),
                                        shown_rows))
                continue
            answer = format_value(q, catalog, question, value)
            other = answers.get(other_text_name(question.id))
            if other:
                answer = f"{answer} ({other})"
            items.append(ReviewItem(text, answer))
        result.append(ReviewSection(section.id, catalog[f"section.{section.id}.title"], items))
    return result
