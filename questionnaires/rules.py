"""The answer rules of a questionnaire: relevance, option filters, calculated values, validation.

The survey app and the analysis both call this module, and it evaluates every expression with
the one evaluator of :mod:`questionnaires.expressions`.

The answers of one response are a dict keyed by question id:

==================  =========================================================================
single_choice       a code (``str``); with ``other: true`` the code ``other`` plus the text in
                    ``"<qid>_other"``
multiple_choice     a list of codes; ``other`` and ``"<qid>_other"`` as for single choice
integer             ``int``
decimal/percentage  ``float`` (an ``int`` is accepted)
text                ``str``
scale               the ``int`` value of a level, or ``"na"`` where the scale has
                    ``not_applicable: true``
grid                ``{row_code: {column_id: value}}``, each cell as the column's type
calculated          computed by :func:`compute_calculated`
==================  =========================================================================

A key that is absent, ``None``, a blank text or an empty list is unanswered.

How answers become expression values (:func:`expression_env`): a multiple-choice question is the
list of its codes, and also ``<qid>_<code>`` (1/0) per option as in the analysis variables; a
grid cell is ``<qid>_<row>_<column>`` and the grid itself the list of rows with an answered
cell; a value of the wrong type for its question (text where a number belongs, an unknown scale
level) is ``null``, so a bad answer cannot break relevance (validation reports it).

Relevance is resolved in questionnaire order: a page, question or grid row that is not
relevant has its answers set to ``null`` before anything after it is decided, so an answer
left behind on a skipped page never shows a later question.  Calculated questions are computed
in the same pass, each seeing the values before it.

Questionnaire rules (``validation`` of a question, a section, ``row_validation`` of a grid) must
evaluate to ``true``; ``false`` or ``null`` is a violation.  Following the format, "a rule about
an unanswered question does not fire": a rule is checked only when every variable it uses
outside null tests (``x == null``, ``x != null``) and the null-tolerant functions (``answered``,
``coalesce``, ``count``, ``sum``, ``min``, ``max``) is answered (see
:attr:`Expression.strict_names`), and a question's own rules only when the question is answered.
So ``trained <= employees`` waits for both answers, ``sum(a, b) <= 100`` counts what is there,
and ``current == null or target != null`` is always checked.  Calculated questions follow the
same principle: one whose strict inputs are not all answered is ``null``.
Answers to questions, rows and pages that are not relevant are ignored by validation and
dropped by :func:`prune_irrelevant`.  An expression that fails at run time (a type mismatch, a
division by zero) is a fault of the questionnaire and raises :class:`ExpressionEvalError`
naming where it sits; it is never turned into a violation or ignored.
"""

from __future__ import annotations

import math
from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal
from functools import lru_cache
from typing import Final

from questionnaires.errors import ExpressionEvalError
from questionnaires.expressions import MAX_MAGNITUDE, Expression, parse
from questionnaires.model import (
    NOT_APPLICABLE,
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
    Option,
    PercentageColumn,
    PercentageQuestion,
    Questionnaire,
    QuestionType,
    Rule,
    ScaleColumn,
    ScaleQuestion,
    Section,
    SingleChoiceColumn,
    SingleChoiceQuestion,
    TextColumn,
    TextQuestion,
)
from questionnaires.variables import (
    cell_variable_name,
    flag_variable_name,
    other_text_name,
    question_variable_names,
)

__all__ = [
    "NOT_APPLICABLE",
    "OTHER_CODE",
    "RuleViolation",
    "compute_calculated",
    "env_from_flat",
    "expression_env",
    "flatten_answers",
    "prune_irrelevant",
    "question_relevant",
    "relevant_rows",
    "section_relevant",
    "validate_response",
    "validate_section",
    "visible_options",
]

OTHER_TEXT_MAX_LENGTH: Final = 2000

#: English messages of the built-in checks, by code; the app translates them by ``text_key``.
BUILTIN_MESSAGES: Final[Mapping[str, str]] = {
    "required": "This question needs an answer.",
    "not_a_number": "Enter a number.",
    "not_an_integer": "Enter a whole number.",
    "not_text": "Enter text.",
    "not_a_choice": "Choose from the options offered.",
    "unknown_option": "The option {option} is not available.",
    "unknown_level": "The value {value} is not a level of this scale.",
    "unknown_row": "There is no row {row} in this table.",
    "unknown_column": "There is no column {column} in this table.",
    "min": "The value must be at least {min}.",
    "max": "The value must be at most {max}.",
    "decimals": "Use at most {decimals} decimal places.",
    "max_length": "Use at most {max_length} characters.",
    "min_selected": "Choose at least {min_selected} options.",
    "max_selected": "Choose at most {max_selected} options.",
    "exclusive": "{option} cannot be combined with other options.",
    "other_text": "Please specify the other answer.",
}


@dataclass(frozen=True)
class RuleViolation:
    """One failed check of an answer.

    ``field`` is where the message belongs: a question id, ``<qid>_other``, ``qid.row.column``
    for a grid cell, ``qid.row`` for a row rule, or the first of a section rule's ``fields``
    (``""``, the page itself, when it has none); ``fields`` lists every place to mark.
    ``rule_id`` is the id of a questionnaire rule or the code of a built-in check (``required``,
    ``min``, ...). ``text_key`` is the translation key of the message: ``question.<qid>.
    validation.<rule>`` or ``section.<sid>.validation.<rule>`` for questionnaire rules,
    ``validation.<code>`` for built-in checks; ``message`` is that message in the source
    language (built-in ones in English) with ``params`` filled in.
    """

    field: str
    rule_id: str
    text_key: str
    params: dict[str, object] = dataclass_field(default_factory=dict)
    message: str = ""
    fields: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# Expressions and values


@lru_cache(maxsize=4096)
def _compiled(text: str) -> Expression:
    # Expressions are immutable, so one parse per distinct text serves every response.
    return parse(text)


def _evaluate_rule_text(text: str, env: Mapping[str, object], where: str,
                        attributes: Mapping[str, str] | None = None) -> bool:
    try:
        return _compiled(text).is_true(env, attributes)
    except ExpressionEvalError as exc:
        raise ExpressionEvalError(f"{where}: {exc}") from None


def _holds(text: str | None, env: Mapping[str, object], where: str) -> bool:
    """Relevance: true when there is no expression or it gives ``true``."""
    return text is None or _evaluate_rule_text(text, env, where)


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | set | frozenset | dict):
        return len(value) == 0
    if type(value).__name__ == "NAType":  # pandas.NA, recognised without importing pandas
        return True
    return isinstance(value, float) and math.isnan(value)


def _has_content(value: object) -> bool:
    """Whether a grid row (or what stands in its place) holds anything but blanks."""
    if isinstance(value, Mapping):
        return any(not _is_blank(cell) for cell in value.values())
    return not _is_blank(value)


def _as_number(value: object) -> int | float | None:
    """The value if it is a number expressions can use (finite, within their bound)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if abs(value) <= MAX_MAGNITUDE else None


def _as_integer(value: object) -> int | None:
    number = _as_number(value)
    if isinstance(number, float):
        return int(number) if number.is_integer() else None
    return number


def _codes(value: object) -> list[str] | None:
    """The codes of a multiple-choice answer, duplicates dropped; None if not a list of codes."""
    if not isinstance(value, list | tuple | set | frozenset):
        return None
    items = sorted(value) if isinstance(value, set | frozenset) else list(value)
    if not all(isinstance(item, str) for item in items):
        return None
    return list(dict.fromkeys(item for item in items if item.strip()))


Item = QuestionType | GridColumnType


def _scale_values(q: Questionnaire, item: ScaleQuestion | ScaleColumn) -> list[int]:
    return q.scales[item.scale].values()


def _typed(q: Questionnaire, item: Item, value: object) -> object:
    """The expression value of one answer: the answer if it has the right type, else None."""
    if _is_blank(value):
        return None
    if isinstance(item, SingleChoiceQuestion | SingleChoiceColumn):
        return value if isinstance(value, str) else None
    if isinstance(item, MultipleChoiceQuestion):
        return _codes(value) or None
    if isinstance(item, IntegerQuestion | IntegerColumn):
        return _as_integer(value)
    if isinstance(item, DecimalQuestion | DecimalColumn | PercentageQuestion | PercentageColumn):
        return _as_number(value)
    if isinstance(item, TextQuestion | TextColumn):
        return value if isinstance(value, str) else None
    if isinstance(item, ScaleQuestion | ScaleColumn):
        level = _as_integer(value)
        return level if level is not None and level in _scale_values(q, item) else None
    if isinstance(item, CalculatedQuestion):
        return _coerce_calculated(item, value, strict=False)
    return None


def _coerce_calculated(question: CalculatedQuestion, value: object, *, strict: bool) -> object:
    """A calculated value as its ``value_type``; a mismatch raises when ``strict``."""
    if value is None:
        return None
    result: object = None
    if question.value_type == "text":
        result = value if isinstance(value, str) else None
    elif question.value_type == "integer":
        result = _as_integer(value)
    else:
        number = _as_number(value)
        result = float(number) if number is not None else None
    if result is None and strict:
        wanted = {"text": "text", "integer": "a whole number", "decimal": "a number"}
        raise ExpressionEvalError(
            f"calculated question {question.id!r} must give {wanted[question.value_type]} "
            f"(value_type: {question.value_type}), but {question.expression!r} gave {value!r}"
        )
    return result


def _other_chosen(question: SingleChoiceQuestion | MultipleChoiceQuestion,
                  value: object) -> bool:
    if not question.other:
        return False
    if isinstance(question, SingleChoiceQuestion):
        return value == OTHER_CODE
    codes = _codes(value)
    return codes is not None and OTHER_CODE in codes


def _question_by(q: Questionnaire, question: QuestionType | str) -> QuestionType:
    return q.question(question) if isinstance(question, str) else question


# --------------------------------------------------------------------------------------------
# The environment and the resolution of relevance


def _answer_env(q: Questionnaire, answers: Mapping[str, object]) -> dict[str, object]:
    """Every variable an expression may name, from the answers as given."""
    env: dict[str, object] = {}
    for question in q.iter_questions():
        qid = question.id
        raw = answers.get(qid)
        if isinstance(question, NoteQuestion):
            continue
        if isinstance(question, GridQuestion):
            cells = raw if isinstance(raw, Mapping) else {}
            answered_rows: list[str] = []
            for row in q.options_for(question):
                row_answers = cells.get(row.code)
                row_answers = row_answers if isinstance(row_answers, Mapping) else {}
                for column in question.columns:
                    value = _typed(q, column, row_answers.get(column.id))
                    env[cell_variable_name(qid, row.code, column.id)] = value
                    if value is not None and row.code not in answered_rows:
                        answered_rows.append(row.code)
            env[qid] = answered_rows or None
            continue
        value = _typed(q, question, raw)
        if isinstance(question, MultipleChoiceQuestion) and isinstance(value, list):
            value = _in_option_order(q, question, value)
        env[qid] = value
        if isinstance(question, MultipleChoiceQuestion):
            codes = value if isinstance(value, list) else None
            for option in q.options_for(question):
                env[flag_variable_name(qid, option.code)] = (
                    None if codes is None else int(option.code in codes)
                )
        if isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion) and question.other:
            text = answers.get(other_text_name(qid))
            chosen = _other_chosen(question, value)
            given = chosen and isinstance(text, str) and bool(text.strip())
            env[other_text_name(qid)] = text if given else None
    return env


def _in_option_order(q: Questionnaire, question: MultipleChoiceQuestion,
                     codes: list[str]) -> list[str]:
    """Codes in the order of the option list (then unknown codes, then ``other``), so that a
    response gives the same environment however its answer list was ordered."""
    order = {option.code: index for index, option in enumerate(q.options_for(question))}
    order[OTHER_CODE] = len(order) + 1
    return sorted(codes, key=lambda code: order.get(code, len(order)))


def _row_env(env: dict[str, object], question: GridQuestion,
             row: str) -> ChainMap[str, object]:
    """The environment of one grid row: ``row`` and the row's own cells by column id."""
    bound: dict[str, object] = {"row": row}
    for column in question.columns:
        bound[column.id] = env.get(cell_variable_name(question.id, row, column.id))
    return ChainMap(bound, env)


@dataclass
class _Resolved:
    """The outcome of one pass over the questionnaire for one response."""

    env: dict[str, object]
    sections: dict[str, bool] = dataclass_field(default_factory=dict)
    questions: dict[str, bool] = dataclass_field(default_factory=dict)
    rows: dict[str, list[str]] = dataclass_field(default_factory=dict)


def _resolve(q: Questionnaire, answers: Mapping[str, object]) -> _Resolved:
    """Decide every relevance and compute calculated values, in questionnaire order."""
    if not isinstance(answers, Mapping):
        raise TypeError(f"answers must be a mapping of question id to answer, "
                        f"not {type(answers).__name__}")
    resolved = _Resolved(_answer_env(q, answers))
    env = resolved.env
    for section in q.sections:
        section_on = _holds(section.relevant, env, f"relevant of section {section.id!r}")
        resolved.sections[section.id] = section_on
        for question in section.questions:
            qid = question.id
            on = section_on and _holds(question.relevant, env, f"relevant of question {qid!r}")
            resolved.questions[qid] = on
            if isinstance(question, CalculatedQuestion):
                env[qid] = _calculate(question, env) if on else None
                continue
            if isinstance(question, NoteQuestion):
                continue
            if not on:
                for name in _env_names(q, question):
                    env[name] = None
                if isinstance(question, GridQuestion):
                    resolved.rows[qid] = []
                continue
            if isinstance(question, GridQuestion):
                resolved.rows[qid] = _resolve_rows(q, question, env)
    return resolved


def _resolve_rows(q: Questionnaire, question: GridQuestion, env: dict[str, object]) -> list[str]:
    relevant: list[str] = []
    for row in q.options_for(question):
        on = question.row_relevant is None or _evaluate_rule_text(
            question.row_relevant, _row_env(env, question, row.code),
            f"row_relevant of question {question.id!r} (row {row.code!r})",
        )
        if on:
            relevant.append(row.code)
        else:
            for column in question.columns:
                env[cell_variable_name(question.id, row.code, column.id)] = None
    answered = [
        row for row in relevant
        if any(env.get(cell_variable_name(question.id, row, column.id)) is not None
               for column in question.columns)
    ]
    env[question.id] = answered or None
    return relevant


def _env_names(q: Questionnaire, question: QuestionType) -> list[str]:
    """The names a question puts into the environment (its variables and its own id)."""
    names = question_variable_names(q, question)
    return names if question.id in names else [question.id, *names]


def _calculate(question: CalculatedQuestion, env: Mapping[str, object]) -> object:
    expression = _compiled(question.expression)
    if not _inputs_answered(expression, env):
        return None
    try:
        value = expression.evaluate(env)
    except ExpressionEvalError as exc:
        raise ExpressionEvalError(f"expression of calculated question {question.id!r}: {exc}") \
            from None
    return _coerce_calculated(question, value, strict=True)


# --------------------------------------------------------------------------------------------
# Relevance, options and calculated values


def expression_env(q: Questionnaire, answers: Mapping[str, object]) -> dict[str, object]:
    """The name -> value mapping expressions are evaluated against, for one response.

    Answers to pages, questions and rows that are not relevant are ``null`` in it, and
    calculated questions hold their computed values.
    """
    return dict(_resolve(q, answers).env)


def section_relevant(q: Questionnaire, section_id: str, answers: Mapping[str, object]) -> bool:
    """Whether the page ``section_id`` is shown."""
    q.section(section_id)  # a clear KeyError for an unknown id
    return _resolve(q, answers).sections[section_id]


def question_relevant(q: Questionnaire, question: QuestionType | str,
                      answers: Mapping[str, object]) -> bool:
    """Whether a question is asked: its page and the question itself are relevant."""
    qid = _question_by(q, question).id
    q.question(qid)
    return _resolve(q, answers).questions[qid]


def relevant_rows(q: Questionnaire, grid_question: GridQuestion | str,
                  answers: Mapping[str, object]) -> list[str]:
    """The codes of the rows of a grid that are asked (none when the grid is not relevant).

    ``row_relevant`` is evaluated once per row with ``row`` bound to the row's code and each
    column id to that row's cell.
    """
    question = _question_by(q, grid_question)
    if not isinstance(question, GridQuestion):
        raise TypeError(f"question {question.id!r} is of type {question.type!r}, not a grid")
    return list(_resolve(q, answers).rows[question.id])


def visible_options(q: Questionnaire, question: SingleChoiceQuestion | MultipleChoiceQuestion | str,
                    answers: Mapping[str, object]) -> list[Option]:
    """The options of a choice question its ``choice_filter`` lets through, in order.

    The filter is evaluated once per option with ``@name`` bound to the option's attributes
    and ``@code`` to its code.  "Other" is not an option of the list and is not filtered.
    """
    item = _question_by(q, question)
    if not isinstance(item, SingleChoiceQuestion | MultipleChoiceQuestion):
        raise TypeError(f"question {item.id!r} is of type {item.type!r}, not a choice question")
    options = q.options_for(item)
    if item.choice_filter is None:
        return list(options)
    env = _resolve(q, answers).env
    return _filter_options(item, options, env)


def _filter_options(question: SingleChoiceQuestion | MultipleChoiceQuestion,
                    options: Iterable[Option], env: Mapping[str, object]) -> list[Option]:
    if question.choice_filter is None:
        return list(options)
    return [
        option for option in options
        if _evaluate_rule_text(
            question.choice_filter, env,
            f"choice_filter of question {question.id!r} (option {option.code!r})",
            attributes={**option.attributes, "code": option.code},
        )
    ]


def compute_calculated(q: Questionnaire, answers: Mapping[str, object]) -> dict[str, object]:
    """The value of every calculated question, in questionnaire order (``None`` if skipped)."""
    env = _resolve(q, answers).env
    return {
        question.id: env[question.id]
        for question in q.iter_questions()
        if isinstance(question, CalculatedQuestion)
    }


# --------------------------------------------------------------------------------------------
# Validation


def _builtin(where: str, code: str, **params: object) -> RuleViolation:
    return RuleViolation(
        field=where,
        rule_id=code,
        text_key=f"validation.{code}",
        params=dict(params),
        message=BUILTIN_MESSAGES[code].format(**params),
        fields=(where,),
    )


def validate_section(q: Questionnaire, section_id: str,
                     answers: Mapping[str, object]) -> list[RuleViolation]:
    """Every violation on the page ``section_id`` (none when the page is not relevant).

    ``answers`` are all answers of the response, since rules may name answers of other pages.
    """
    section = q.section(section_id)
    resolved = _resolve(q, answers)
    return _validate_section(q, section, answers, resolved)


def validate_response(q: Questionnaire, answers: Mapping[str, object]) -> list[RuleViolation]:
    """Every violation of a whole response, page by page (as checked when it is submitted)."""
    resolved = _resolve(q, answers)
    violations: list[RuleViolation] = []
    for section in q.sections:
        violations.extend(_validate_section(q, section, answers, resolved))
    return violations


def _validate_section(q: Questionnaire, section: Section, answers: Mapping[str, object],
                      resolved: _Resolved) -> list[RuleViolation]:
    if not resolved.sections[section.id]:
        return []
    violations: list[RuleViolation] = []
    env = resolved.env
    for question in section.questions:
        if not resolved.questions[question.id]:
            continue
        if isinstance(question, NoteQuestion | CalculatedQuestion):
            continue
        violations.extend(_validate_question(q, question, answers, resolved))
    for rule in section.validation:
        if not _inputs_answered(_compiled(rule.rule), env):
            continue
        where = f"rule {rule.id!r} of section {section.id!r}"
        if not _evaluate_rule_text(rule.rule, env, where):
            fields = tuple(rule.fields or ())
            violations.append(RuleViolation(
                field=fields[0] if fields else "",
                rule_id=rule.id,
                text_key=f"section.{section.id}.validation.{rule.id}",
                message=rule.message,
                fields=fields,
            ))
    return violations


def _inputs_answered(expression: Expression, env: Mapping[str, object]) -> bool:
    """Whether every strict input of an expression has a value (see the module docstring)."""
    return all(env.get(name) is not None for name in expression.strict_names)


def _validate_question(q: Questionnaire, question: QuestionType, answers: Mapping[str, object],
                       resolved: _Resolved) -> list[RuleViolation]:
    qid = question.id
    raw = answers.get(qid)
    env = resolved.env
    violations: list[RuleViolation] = []
    if isinstance(question, NoteQuestion | CalculatedQuestion):
        return violations
    if isinstance(question, GridQuestion):
        violations.extend(_validate_grid(q, question, raw, resolved))
    elif isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion):
        visible = _filter_options(question, q.options_for(question), env)
        violations.extend(_validate_choice(q, question, raw, answers, visible))
    else:
        violations.extend(_check_value(q, question, raw, qid, question.required))
    if env.get(qid) is None:
        return violations  # a question's own rules only judge an answer
    for rule in question.validation:
        if not _inputs_answered(_compiled(rule.rule), env):
            continue
        where = f"rule {rule.id!r} of question {qid!r}"
        if not _evaluate_rule_text(rule.rule, env, where):
            violations.append(_rule_violation(rule, f"question.{qid}.validation.{rule.id}",
                                              qid, tuple(rule.fields or (qid,))))
    return violations


def _rule_violation(rule: Rule, text_key: str, where: str, fields: tuple[str, ...],
                    **params: object) -> RuleViolation:
    return RuleViolation(field=where, rule_id=rule.id, text_key=text_key, params=dict(params),
                         message=rule.message, fields=fields)


def _check_value(q: Questionnaire, item: Item, raw: object, where: str,
                 required: bool) -> list[RuleViolation]:
    """Built-in checks of one value of a non-choice question or of a grid cell."""
    if _is_blank(raw):
        return [_builtin(where, "required")] if required else []
    if isinstance(item, TextQuestion | TextColumn):
        if not isinstance(raw, str):
            return [_builtin(where, "not_text")]
        if len(raw) > item.max_length:
            return [_builtin(where, "max_length", max_length=item.max_length)]
        return []
    if isinstance(item, ScaleQuestion | ScaleColumn):
        if raw == NOT_APPLICABLE and q.scales[item.scale].not_applicable:
            return []
        level = _as_integer(raw)
        if level is None or level not in _scale_values(q, item):
            return [_builtin(where, "unknown_level", value=raw)]
        return []
    if isinstance(item, IntegerQuestion | IntegerColumn | DecimalQuestion | DecimalColumn
                  | PercentageQuestion | PercentageColumn):
        return _check_number(item, raw, where)
    raise TypeError(f"{item.id!r} of type {item.type!r} is not checked as a single value")


def _check_number(
    item: IntegerQuestion | IntegerColumn | DecimalQuestion | DecimalColumn | PercentageQuestion
    | PercentageColumn,
    raw: object,
    where: str,
) -> list[RuleViolation]:
    number = _as_number(raw)
    if number is None:
        return [_builtin(where, "not_a_number")]
    low: float | None = None
    high: float | None = None
    decimals: int | None = None
    if isinstance(item, IntegerQuestion | IntegerColumn):
        if _as_integer(number) is None:
            return [_builtin(where, "not_an_integer")]
        low, high = item.min, item.max
    elif isinstance(item, DecimalQuestion | DecimalColumn):
        low, high, decimals = item.min, item.max, item.decimals
    else:
        low, high, decimals = 0, 100, item.decimals
    violations: list[RuleViolation] = []
    if low is not None and number < low:
        violations.append(_builtin(where, "min", min=low))
    if high is not None and number > high:
        violations.append(_builtin(where, "max", max=high))
    if decimals is not None and _decimal_places(number) > decimals:
        violations.append(_builtin(where, "decimals", decimals=decimals))
    return violations


def _decimal_places(number: int | float) -> int:
    # The shortest repr is what the respondent typed (0.1 has one place, not 55).
    exponent = Decimal(repr(number)).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _validate_choice(q: Questionnaire, question: SingleChoiceQuestion | MultipleChoiceQuestion,
                     raw: object, answers: Mapping[str, object],
                     visible: list[Option]) -> list[RuleViolation]:
    qid = question.id
    if _is_blank(raw):
        return [_builtin(qid, "required")] if question.required else []
    known = {option.code for option in q.options_for(question)}
    allowed = {option.code for option in visible}
    if question.other:
        known.add(OTHER_CODE)
        allowed.add(OTHER_CODE)
    if isinstance(question, SingleChoiceQuestion):
        if not isinstance(raw, str):
            return [_builtin(qid, "not_a_choice")]
        chosen = [raw]
    else:
        codes = _codes(raw)
        if codes is None:
            return [_builtin(qid, "not_a_choice")]
        chosen = codes
    violations = [
        _builtin(qid, "unknown_option", option=code) for code in chosen if code not in allowed
    ]
    if isinstance(question, MultipleChoiceQuestion):
        for code in question.exclusive:
            if code in chosen and len(chosen) > 1:
                violations.append(_builtin(qid, "exclusive", option=code))
        if question.min_selected is not None and len(chosen) < question.min_selected:
            violations.append(_builtin(qid, "min_selected", min_selected=question.min_selected))
        if question.max_selected is not None and len(chosen) > question.max_selected:
            violations.append(_builtin(qid, "max_selected", max_selected=question.max_selected))
    if _other_chosen(question, raw):
        text = answers.get(other_text_name(qid))
        other_field = other_text_name(qid)
        if _is_blank(text):
            violations.append(_builtin(other_field, "other_text"))
        elif not isinstance(text, str):
            violations.append(_builtin(other_field, "not_text"))
        elif len(text) > OTHER_TEXT_MAX_LENGTH:
            violations.append(_builtin(other_field, "max_length",
                                       max_length=OTHER_TEXT_MAX_LENGTH))
    return violations


def _validate_grid(q: Questionnaire, question: GridQuestion, raw: object,
                   resolved: _Resolved) -> list[RuleViolation]:
    qid = question.id
    if _is_blank(raw):
        raw = {}
    if not isinstance(raw, Mapping):
        return [_builtin(qid, "not_a_choice")]
    row_codes = [row.code for row in q.options_for(question)]
    column_ids = {column.id for column in question.columns}
    violations: list[RuleViolation] = []
    for code, cells in raw.items():
        if code not in row_codes and _has_content(cells):
            violations.append(_builtin(qid, "unknown_row", row=code))
    relevant = resolved.rows[qid]
    for row in relevant:
        cells = raw.get(row)
        cells = cells if isinstance(cells, Mapping) else {}
        for column_id in cells:
            if column_id not in column_ids:
                violations.append(_builtin(f"{qid}.{row}", "unknown_column", column=column_id))
        for column in question.columns:
            where = f"{qid}.{row}.{column.id}"
            violations.extend(_check_cell(q, question, column, cells.get(column.id), where))
    env = resolved.env
    # Judged on the raw cells, so a grid answered "don't know" throughout counts as answered.
    answered = any(
        not _is_blank(value)
        for row in relevant
        if isinstance(raw.get(row), Mapping)
        for value in raw[row].values()
    )
    if question.required and not answered:
        violations.insert(0, _builtin(qid, "required"))
    for row in relevant:
        row_env = _row_env(env, question, row)
        for rule in question.row_validation:
            if not _inputs_answered(_compiled(rule.rule), row_env):
                continue
            where = f"rule {rule.id!r} of question {qid!r} (row {row!r})"
            if not _evaluate_rule_text(rule.rule, row_env, where):
                fields = tuple(
                    f"{qid}.{row}.{name}" if name in column_ids else name
                    for name in (rule.fields or ())
                ) or (f"{qid}.{row}",)
                violations.append(_rule_violation(
                    rule, f"question.{qid}.validation.{rule.id}", f"{qid}.{row}", fields, row=row
                ))
    return violations


def _check_cell(q: Questionnaire, question: GridQuestion, column: GridColumnType, raw: object,
                where: str) -> list[RuleViolation]:
    if isinstance(column, SingleChoiceColumn):
        if _is_blank(raw):
            return [_builtin(where, "required")] if column.required else []
        if not isinstance(raw, str):
            return [_builtin(where, "not_a_choice")]
        codes = {option.code for option in q.options_for(question, column)}
        return [] if raw in codes else [_builtin(where, "unknown_option", option=raw)]
    return _check_value(q, column, raw, where, column.required)


# --------------------------------------------------------------------------------------------
# Pruning and flattening


def prune_irrelevant(q: Questionnaire, answers: Mapping[str, object]) -> dict[str, object]:
    """The answers without those to pages, questions and grid rows that are not relevant.

    Also dropped: blank answers, an ``<qid>_other`` text whose "other" is not chosen, and keys
    that are not answers to a question of ``q``.  What is kept is kept as given.
    """
    resolved = _resolve(q, answers)
    pruned: dict[str, object] = {}
    for question in q.iter_questions():
        qid = question.id
        if isinstance(question, NoteQuestion) or not resolved.questions[qid]:
            continue
        raw = answers.get(qid)
        if isinstance(question, GridQuestion):
            if isinstance(raw, Mapping):
                rows: dict[object, object] = {}
                known = {row.code for row in q.options_for(question)}
                for row in resolved.rows[qid]:
                    cells = raw.get(row)
                    if isinstance(cells, Mapping):
                        kept = {cid: value for cid, value in cells.items()
                                if not _is_blank(value)}
                        if kept:
                            rows[row] = kept
                # A row the grid does not have is malformed, not skipped: kept as given so
                # that validation still reports it.
                rows.update((code, cells) for code, cells in raw.items()
                            if code not in known and _has_content(cells))
                if rows:
                    pruned[qid] = rows
            elif not _is_blank(raw):
                # Malformed, but kept as given so that validation still reports it.
                pruned[qid] = raw
            continue
        if _is_blank(raw):
            continue
        pruned[qid] = list(raw) if isinstance(raw, list | tuple) else raw
        if isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion):
            other = answers.get(other_text_name(qid))
            if _other_chosen(question, raw) and not _is_blank(other):
                pruned[other_text_name(qid)] = other
    return pruned


def flatten_answers(q: Questionnaire, answers: Mapping[str, object]) -> dict[str, object]:
    """One response as analysis variables, named and ordered as in the codebook.

    Multiple choice gives 0/1 per option for an answered question and ``None`` for every
    option when it was not answered or not relevant; the "don't know / not applicable" answer
    of a scale stays :data:`NOT_APPLICABLE` (as the codebook lists it); answers of the wrong
    type are ``None``; calculated questions are computed.
    """
    pruned = prune_irrelevant(q, answers)
    env = _resolve(q, pruned).env
    flat = {
        name: env.get(name)
        for question in q.iter_questions()
        for name in question_variable_names(q, question)
    }
    for name in _not_applicable_answers(q, pruned):
        flat[name] = NOT_APPLICABLE
    return flat


def _not_applicable_answers(q: Questionnaire, answers: Mapping[str, object]) -> list[str]:
    """The variables answered "don't know / not applicable" (on scales that offer it)."""
    found: list[str] = []
    for question in q.iter_questions():
        if isinstance(question, ScaleQuestion):
            if answers.get(question.id) == NOT_APPLICABLE and _offers_na(q, question):
                found.append(question.id)
        elif isinstance(question, GridQuestion):
            cells = answers.get(question.id)
            if not isinstance(cells, Mapping):
                continue
            for row, row_cells in cells.items():
                if not isinstance(row_cells, Mapping):
                    continue
                for column in question.columns:
                    if (isinstance(column, ScaleColumn) and _offers_na(q, column)
                            and row_cells.get(column.id) == NOT_APPLICABLE):
                        found.append(cell_variable_name(question.id, row, column.id))
    return found


def _scale_variable_names(q: Questionnaire) -> set[str]:
    names: set[str] = set()
    for question in q.iter_questions():
        if isinstance(question, ScaleQuestion):
            names.add(question.id)
        elif isinstance(question, GridQuestion):
            names.update(
                cell_variable_name(question.id, row.code, column.id)
                for row in q.options_for(question)
                for column in question.columns
                if isinstance(column, ScaleColumn)
            )
    return names


def _offers_na(q: Questionnaire, item: ScaleQuestion | ScaleColumn) -> bool:
    return q.scales[item.scale].not_applicable


def env_from_flat(q: Questionnaire, row: Mapping[str, object]) -> dict[str, object]:
    """The expression environment of one row of flattened data (e.g. a microdata row).

    Rebuilds what flattening spread out, so the analysis can evaluate the questionnaire's
    expressions on its data: the list of codes of a multiple-choice question from its 0/1
    variables (with ``other`` when ``<qid>_other`` holds text) and the answered rows of a grid.
    Missing values (``None``, ``NaN``) and :data:`NOT_APPLICABLE` are unanswered.
    """
    env: dict[str, object] = {}
    scale_names = _scale_variable_names(q)
    for question in q.iter_questions():
        names = question_variable_names(q, question)
        for name in names:
            value = row.get(name)
            missing = _is_blank(value) or (name in scale_names and value == NOT_APPLICABLE)
            env[name] = None if missing else value
        qid = question.id
        if isinstance(question, MultipleChoiceQuestion):
            flags = {option.code: env.get(flag_variable_name(qid, option.code))
                     for option in q.options_for(question)}
            other = env.get(other_text_name(qid))
            if all(flag is None for flag in flags.values()) and other is None:
                env[qid] = None
            else:
                codes = [code for code, flag in flags.items() if flag is not None and flag == 1]
                if question.other and other is not None:
                    codes.append(OTHER_CODE)
                env[qid] = codes
        elif isinstance(question, GridQuestion):
            answered = [
                option.code for option in q.options_for(question)
                if any(env.get(cell_variable_name(qid, option.code, column.id)) is not None
                       for column in question.columns)
            ]
            env[qid] = answered or None
    return env
