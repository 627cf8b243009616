"""Typed models of the questionnaire format (see questionnaires/README.md)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    StringConstraints,
    Tag,
    WithJsonSchema,
    field_validator,
)

#: Question ids, column ids, rule ids, option list and scale ids.
ID_PATTERN = r"^[a-z][a-z0-9_]*$"
#: Questionnaire ids.
QUESTIONNAIRE_ID_PATTERN = r"^[a-z0-9-]+$"
#: Option codes as written (NACE ``C29.10``, size class ``10-49``, ...).
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
#: Option codes that become part of a variable name (multiple choice options, grid rows).
NAME_CODE_PATTERN = r"^[a-z0-9_]+$"
#: Language codes: ISO 639-1/-3 with an optional region or script subtag.
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Language = Annotated[str, StringConstraints(pattern=LANGUAGE_PATTERN)]
NonEmptyText = Annotated[str, StringConstraints(min_length=1)]
#: Decimal places a number answer may have (questions and grid columns alike).
DecimalPlaces = Annotated[int, Field(ge=0, le=10)]
#: Longest text answer, in characters.
TextLength = Annotated[int, Field(ge=1)]

ProfileRole = Literal["country", "region", "nace", "employees", "size_class", "value_chain"]
PROFILE_ROLES: tuple[str, ...] = (
    "country",
    "region",
    "nace",
    "employees",
    "size_class",
    "value_chain",
)

QUESTION_TYPES: tuple[str, ...] = (
    "single_choice",
    "multiple_choice",
    "integer",
    "decimal",
    "percentage",
    "text",
    "scale",
    "grid",
    "note",
    "calculated",
)
COLUMN_TYPES: tuple[str, ...] = (
    "single_choice", "scale", "integer", "decimal", "percentage", "text"
)

#: The answer code that ``other: true`` adds to a choice question (its text: ``<qid>_other``).
OTHER_CODE = "other"
#: The stored answer "don't know / not applicable" of a scale with ``not_applicable: true``.
NOT_APPLICABLE = "na"

#: Tags pydantic puts into error locations of the option-list unions (see ``_option_source_tag``).
OPTION_SOURCE_TAGS: tuple[str, ...] = ("ref", "list", "object")


class _Frozen(BaseModel):
    """Base of every model: immutable and strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Option(_Frozen):
    """One answer option (or grid row): a stable code and a source-language label."""

    # The schema admits what the validators below turn into text (unquoted integers).
    code: Annotated[
        str,
        StringConstraints(pattern=CODE_PATTERN),
        WithJsonSchema({"anyOf": [{"type": "string", "pattern": CODE_PATTERN},
                                  {"type": "integer", "minimum": 0}]}),
    ]
    label: NonEmptyText
    description: str | None = None
    attributes: dict[
        Annotated[str, StringConstraints(pattern=ID_PATTERN)],
        Annotated[str, WithJsonSchema({"type": ["string", "number"]})],
    ] = Field(default_factory=dict)
    esco: str | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _integer_code_as_text(cls, value: Any) -> Any:
        # YAML reads `code: 1` as an int; such codes are meant as written. Floats and booleans
        # (`code: 29.10`, `code: yes`) would lose how they were written, so they must be quoted.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, bool | float):
            raise ValueError(
                f"code {value!r} is read by YAML as a {type(value).__name__}; quote it"
            )
        return value

    @field_validator("attributes", mode="before")
    @classmethod
    def _scalar_attributes_as_text(cls, value: Any) -> Any:
        # `{nuts_level: 2}` is meant as the short string "2"; choice filters compare strings.
        if isinstance(value, dict):
            return {
                key: str(item) if isinstance(item, int | float) and not isinstance(item, bool)
                else item
                for key, item in value.items()
            }
        return value


class OptionList(_Frozen):
    """An option list written as an object, e.g. ``{translate: false, options: [...]}``."""

    translate: bool = Field(
        default=True,
        description="false: labels are proper names, shown as written in every language.",
    )
    options: list[Option] = Field(min_length=1)


def _option_source_tag(value: Any) -> str | None:
    """Which form an option source is written in: a list id, a plain list or an object."""
    if isinstance(value, str):
        return "ref"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict | OptionList):
        return "object"
    return None


PlainOptions = Annotated[list[Option], Field(min_length=1)]

#: A named option list: a plain list of options or ``{translate, options}``.
OptionListSpec = Annotated[
    Annotated[PlainOptions, Tag("list")] | Annotated[OptionList, Tag("object")],
    Discriminator(
        _option_source_tag,
        custom_error_type="option_list_form",
        custom_error_message="an option list must be a list of options or "
        "{translate, options}",
    ),
]

#: Options of a question or rows of a grid: a list id, a plain list or ``{translate, options}``.
OptionSource = Annotated[
    Annotated[Identifier, Tag("ref")]
    | Annotated[PlainOptions, Tag("list")]
    | Annotated[OptionList, Tag("object")],
    Discriminator(
        _option_source_tag,
        custom_error_type="option_source_form",
        custom_error_message="options must be an option list id, a list of options or "
        "{translate, options}",
    ),
]


class ScaleLevel(_Frozen):
    """One level of an ordered scale."""

    value: int
    label: NonEmptyText
    description: str | None = None


class Scale(_Frozen):
    """An ordered scale (e.g. proficiency 0-4), declared once and reused by id."""

    levels: list[ScaleLevel] = Field(min_length=2, description="Levels, values increasing.")
    not_applicable: bool = Field(
        default=False, description='Offer "don\'t know / not applicable" (stored as `na`).'
    )

    def values(self) -> list[int]:
        """The level values in order."""
        return [level.value for level in self.levels]

    def level(self, value: int) -> ScaleLevel:
        """The level with this value."""
        for level in self.levels:
            if level.value == value:
                return level
        raise KeyError(f"scale has no level {value!r} (levels: {self.values()})")


class Rule(_Frozen):
    """A validation rule: an expression that must hold, and the message shown when it does not."""

    id: Identifier
    rule: NonEmptyText = Field(description="Expression that must be true.")
    message: NonEmptyText
    fields: list[str] | None = Field(
        default=None, description="Variables next to which the message is shown."
    )


# --------------------------------------------------------------------------- answer types

# What a question and a grid column of the same answer type share. Each is the first base of
# its question and its column, so that these fields come after the common ones, as written.


class _IntegerAnswer(_Frozen):
    type: Literal["integer"]
    min: int | None = None
    max: int | None = None
    unit: str | None = None


class _DecimalAnswer(_Frozen):
    type: Literal["decimal"]
    min: float | None = None
    max: float | None = None
    unit: str | None = None
    decimals: DecimalPlaces | None = None


class _PercentageAnswer(_Frozen):
    type: Literal["percentage"]
    decimals: DecimalPlaces | None = None


class _TextAnswer(_Frozen):
    type: Literal["text"]
    max_length: TextLength = 2000
    multiline: bool = False


# --------------------------------------------------------------------------- grid columns


class _ColumnBase(_Frozen):
    id: Identifier
    text: NonEmptyText
    help: str | None = None
    required: bool = False


class SingleChoiceColumn(_ColumnBase):
    """A grid column answered by one option."""

    type: Literal["single_choice"]
    options: OptionSource
    display: Literal["radio", "dropdown"] = "radio"


class ScaleColumn(_ColumnBase):
    """A grid column answered by a level of a scale."""

    type: Literal["scale"]
    scale: Identifier


class IntegerColumn(_IntegerAnswer, _ColumnBase):
    """A grid column answered by a whole number."""


class DecimalColumn(_DecimalAnswer, _ColumnBase):
    """A grid column answered by a number."""


class PercentageColumn(_PercentageAnswer, _ColumnBase):
    """A grid column answered by a number from 0 to 100."""


class TextColumn(_TextAnswer, _ColumnBase):
    """A grid column answered by free text."""


GridColumn = Annotated[
    SingleChoiceColumn | ScaleColumn | IntegerColumn | DecimalColumn | PercentageColumn
    | TextColumn,
    Field(discriminator="type"),
]


# --------------------------------------------------------------------------- questions


class _QuestionBase(_Frozen):
    id: Identifier
    relevant: str | None = Field(
        default=None, description="Expression: ask the question only when it is true."
    )
    esco: str | None = Field(
        default=None, description="ESCO concept URI, only where one exists."
    )


class _AnsweredQuestion(_QuestionBase):
    text: NonEmptyText
    help: str | None = None
    required: bool = False
    validation: list[Rule] = Field(
        default_factory=list, description="Rules checked when the page is saved."
    )
    profile: ProfileRole | None = Field(
        default=None, description="Company-profile role; each role at most once."
    )


class SingleChoiceQuestion(_AnsweredQuestion):
    """One code out of an option list."""

    type: Literal["single_choice"]
    options: OptionSource = Field(
        description="An option_lists id, a list of options, or {translate, options}."
    )
    display: Literal["radio", "dropdown"] = "radio"
    other: bool = Field(
        default=False, description='Add "Other, please specify" (code `other`).'
    )
    other_label: str | None = None
    choice_filter: str | None = Field(
        default=None, description="Expression per option: `@name` is an attribute of the option."
    )


class MultipleChoiceQuestion(_AnsweredQuestion):
    """A set of codes out of an option list, optionally with "other, please specify"."""

    type: Literal["multiple_choice"]
    options: OptionSource = Field(
        description="An option_lists id, a list of options, or {translate, options}."
    )
    other: bool = Field(
        default=False, description='Add "Other, please specify" (code `other`).'
    )
    other_label: str | None = None
    exclusive: list[str] = Field(
        default_factory=list, description="Codes that cannot be combined with others."
    )
    min_selected: Annotated[int, Field(ge=0)] | None = None
    max_selected: Annotated[int, Field(ge=1)] | None = None
    choice_filter: str | None = None


class IntegerQuestion(_IntegerAnswer, _AnsweredQuestion):
    """A whole number with optional bounds and unit."""


class DecimalQuestion(_DecimalAnswer, _AnsweredQuestion):
    """A number with optional bounds, unit and number of decimals."""


class PercentageQuestion(_PercentageAnswer, _AnsweredQuestion):
    """A number from 0 to 100."""


class TextQuestion(_TextAnswer, _AnsweredQuestion):
    """Free text."""


class ScaleQuestion(_AnsweredQuestion):
    """A level of a declared scale."""

    type: Literal["scale"]
    scale: Identifier


class GridQuestion(_AnsweredQuestion):
    """A table: one row per option of ``rows``, one sub-question per column."""

    type: Literal["grid"]
    rows: OptionSource = Field(description="One row per option; row codes become part of "
                               "variable names q_<row>_<column>.")
    columns: list[GridColumn] = Field(min_length=1)
    row_relevant: str | None = Field(
        default=None, description="Expression per row: `row` is the row's code."
    )
    row_validation: list[Rule] = Field(
        default_factory=list,
        description="Rules per row; the column ids and `row` are names in them.",
    )

    def column(self, column_id: str) -> GridColumnType:
        """The column with this id."""
        for column in self.columns:
            if column.id == column_id:
                return column
        raise KeyError(f"grid {self.id!r} has no column {column_id!r}")


class NoteQuestion(_QuestionBase):
    """Text shown to the respondent; no answer."""

    type: Literal["note"]
    text: NonEmptyText
    help: str | None = None


class CalculatedQuestion(_QuestionBase):
    """A value computed on the server from other answers; never shown."""

    type: Literal["calculated"]
    expression: NonEmptyText = Field(description="Expression computing the value.")
    value_type: Literal["text", "integer", "decimal"]
    label: str | None = None
    profile: ProfileRole | None = None


Question = Annotated[
    SingleChoiceQuestion
    | MultipleChoiceQuestion
    | IntegerQuestion
    | DecimalQuestion
    | PercentageQuestion
    | TextQuestion
    | ScaleQuestion
    | GridQuestion
    | NoteQuestion
    | CalculatedQuestion,
    Field(discriminator="type"),
]

#: Any question model (the plain union, for annotations and isinstance checks).
QuestionType = (
    SingleChoiceQuestion
    | MultipleChoiceQuestion
    | IntegerQuestion
    | DecimalQuestion
    | PercentageQuestion
    | TextQuestion
    | ScaleQuestion
    | GridQuestion
    | NoteQuestion
    | CalculatedQuestion
)
#: Any grid column model.
GridColumnType = (
    SingleChoiceColumn | ScaleColumn | IntegerColumn | DecimalColumn | PercentageColumn | TextColumn
)
ChoiceQuestion = SingleChoiceQuestion | MultipleChoiceQuestion


class Section(_Frozen):
    """A page of the survey."""

    id: Identifier
    title: NonEmptyText
    intro: str | None = None
    relevant: str | None = None
    questions: list[Question] = Field(min_length=1)
    validation: list[Rule] = Field(default_factory=list)


class Questionnaire(_Frozen):
    """A questionnaire: structure, scales, rules and source-language texts of one version."""

    id: Annotated[str, StringConstraints(pattern=QUESTIONNAIRE_ID_PATTERN)]
    version: NonEmptyText
    source_language: Language
    languages: list[Language] = Field(min_length=1)
    title: NonEmptyText
    description: str | None = None
    option_lists: dict[Identifier, OptionListSpec] = Field(default_factory=dict)
    scales: dict[Identifier, Scale] = Field(default_factory=dict)
    sections: list[Section] = Field(min_length=1)

    _translations: dict[str, dict[str, str]] = PrivateAttr(default_factory=dict)

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_text(cls, value: Any) -> Any:
        # `version: 1.10` would silently become 1.1; a version is a label, not a number.
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(
                f"version is written as a number (YAML reads {value!r}); quote it, "
                'e.g. version: "1.0.0"'
            )
        return value

    # ------------------------------------------------------------------ translations

    @property
    def translations(self) -> dict[str, dict[str, str]]:
        """Loaded translations: language -> text key -> text (the source language excluded)."""
        return self._translations

    def with_translations(self, translations: dict[str, dict[str, str]]) -> Questionnaire:
        """A copy of this questionnaire carrying these translations."""
        copy = self.model_copy()
        copy._translations = {lang: dict(texts) for lang, texts in translations.items()}
        return copy

    # ------------------------------------------------------------------ lookups

    def section(self, section_id: str) -> Section:
        """The section with this id."""
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(f"questionnaire {self.id!r} has no section {section_id!r}")

    def question(self, question_id: str) -> QuestionType:
        """The question with this id."""
        for section in self.sections:
            for question in section.questions:
                if question.id == question_id:
                    return question
        raise KeyError(f"questionnaire {self.id!r} has no question {question_id!r}")

    def section_of(self, question_id: str) -> Section:
        """The section holding the question with this id."""
        for section in self.sections:
            if any(question.id == question_id for question in section.questions):
                return section
        raise KeyError(f"questionnaire {self.id!r} has no question {question_id!r}")

    def iter_questions(self) -> Iterator[QuestionType]:
        """Every question in questionnaire order."""
        for section in self.sections:
            yield from section.questions

    def option_list(self, name: str) -> OptionList:
        """The named option list, in its object form."""
        try:
            spec = self.option_lists[name]
        except KeyError:
            raise KeyError(f"questionnaire {self.id!r} has no option list {name!r}") from None
        return _as_option_list(spec)

    def option_source(
        self, question: QuestionType, column: GridColumnType | None = None
    ) -> tuple[str, OptionList]:
        """The text-key list name and the options of a choice question, grid column or grid rows.

        For a grid without ``column`` this is its rows. Inline lists are named after the
        question (``<qid>``), inline options of a grid column ``<qid>.<cid>``.
        """
        if column is not None:
            if not isinstance(column, SingleChoiceColumn):
                raise TypeError(f"column {column.id!r} of {question.id!r} has no options")
            source = column.options
            inline_name = f"{question.id}.{column.id}"
        elif isinstance(question, GridQuestion):
            source = question.rows
            inline_name = question.id
        elif isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion):
            source = question.options
            inline_name = question.id
        else:
            raise TypeError(f"question {question.id!r} of type {question.type!r} has no options")
        if isinstance(source, str):
            return source, self.option_list(source)
        return inline_name, _as_option_list(source)

    def options_for(
        self, question: QuestionType | str, column: GridColumnType | str | None = None
    ) -> list[Option]:
        """The options of a choice question or grid column, or the rows of a grid."""
        q = self.question(question) if isinstance(question, str) else question
        col = column
        if isinstance(column, str) and isinstance(q, GridQuestion):
            col = q.column(column)
        if isinstance(col, str):
            raise TypeError(f"question {q.id!r} is not a grid; it has no column {col!r}")
        return self.option_source(q, col)[1].options

    def scale_for(
        self, question: QuestionType | GridColumnType | str, column: str | None = None
    ) -> Scale:
        """The scale of a scale question or scale column (``column`` names a grid column)."""
        item: QuestionType | GridColumnType = (
            self.question(question) if isinstance(question, str) else question
        )
        if column is not None:
            if not isinstance(item, GridQuestion):
                raise TypeError(f"question {item.id!r} is not a grid; it has no column {column!r}")
            item = item.column(column)
        if not isinstance(item, ScaleQuestion | ScaleColumn):
            raise TypeError(f"{item.id!r} is of type {item.type!r}, not a scale")
        try:
            return self.scales[item.scale]
        except KeyError:
            raise KeyError(f"questionnaire {self.id!r} has no scale {item.scale!r}") from None

    def profile_questions(self) -> dict[str, QuestionType]:
        """The company-profile questions by role."""
        roles: dict[str, QuestionType] = {}
        for question in self.iter_questions():
            role = getattr(question, "profile", None)
            if role is not None and role not in roles:
                roles[role] = question
        return roles

    # ------------------------------------------------------------------ texts and hash

    def text_keys(self) -> dict[str, str]:
        """Every translatable text key and its source text (``translate: false`` lists left out)."""
        return {key: text for key, text, translatable in self.iter_texts() if translatable}

    def iter_texts(self) -> Iterator[tuple[str, str, bool]]:
        """Every text of the questionnaire as (key, source text, translatable)."""
        yield "title", self.title, True
        if self.description:
            yield "description", self.description, True
        for name, spec in self.option_lists.items():
            yield from _option_texts(name, _as_option_list(spec))
        for scale_id, scale in self.scales.items():
            for level in scale.levels:
                yield f"scale.{scale_id}.{level.value}.label", level.label, True
                if level.description:
                    yield f"scale.{scale_id}.{level.value}.description", level.description, True
        for section in self.sections:
            prefix = f"section.{section.id}"
            yield f"{prefix}.title", section.title, True
            if section.intro:
                yield f"{prefix}.intro", section.intro, True
            for rule in section.validation:
                yield f"{prefix}.validation.{rule.id}", rule.message, True
            for question in section.questions:
                yield from _question_texts(question)

    def content_hash(self) -> str:
        """SHA-256 of a canonical JSON of the structure and translations (key order ignored)."""
        # Defaults are left out so that a key written with its default value, or a new
        # optional key added to the format later, does not change the hash.
        payload = {
            "questionnaire": self.model_dump(mode="json", exclude_defaults=True),
            "translations": self._translations,
        }
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _as_option_list(spec: list[Option] | OptionList) -> OptionList:
    """The object form of an option list written either way."""
    if isinstance(spec, OptionList):
        return spec
    return OptionList(options=list(spec))


def _option_texts(name: str, options: OptionList) -> Iterator[tuple[str, str, bool]]:
    for option in options.options:
        yield f"option.{name}.{option.code}", option.label, options.translate
        if option.description:
            yield f"option.{name}.{option.code}.description", option.description, options.translate


def _question_texts(question: QuestionType) -> Iterator[tuple[str, str, bool]]:
    prefix = f"question.{question.id}"
    if isinstance(question, CalculatedQuestion):
        if question.label:
            yield f"{prefix}.label", question.label, True
        return
    yield f"{prefix}.text", question.text, True
    if question.help:
        yield f"{prefix}.help", question.help, True
    if isinstance(question, NoteQuestion):
        return
    unit = getattr(question, "unit", None)
    if unit:
        yield f"{prefix}.unit", unit, True
    if isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion):
        if question.other_label:
            yield f"{prefix}.other_label", question.other_label, True
        if not isinstance(question.options, str):
            yield from _option_texts(question.id, _as_option_list(question.options))
    for rule in question.validation:
        yield f"{prefix}.validation.{rule.id}", rule.message, True
    if isinstance(question, GridQuestion):
        if not isinstance(question.rows, str):
            yield from _option_texts(question.id, _as_option_list(question.rows))
        for column in question.columns:
            column_prefix = f"{prefix}.column.{column.id}"
            yield f"{column_prefix}.text", column.text, True
            if column.help:
                yield f"{column_prefix}.help", column.help, True
            column_unit = getattr(column, "unit", None)
            if column_unit:
                yield f"{column_prefix}.unit", column_unit, True
            if isinstance(column, SingleChoiceColumn) and not isinstance(column.options, str):
                yield from _option_texts(
                    f"{question.id}.{column.id}", _as_option_list(column.options)
                )
        for rule in question.row_validation:
            yield f"{prefix}.validation.{rule.id}", rule.message, True
