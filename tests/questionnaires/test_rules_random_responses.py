"""Random responses to the shipped and fixture questionnaires through the whole rules engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from questionnaires.loader import load_questionnaire
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
    PercentageColumn,
    PercentageQuestion,
    Questionnaire,
    QuestionType,
    ScaleColumn,
    ScaleQuestion,
    SingleChoiceColumn,
    SingleChoiceQuestion,
    TextColumn,
    TextQuestion,
)
from questionnaires.rules import (
    NOT_APPLICABLE,
    OTHER_CODE,
    env_from_flat,
    expression_env,
    flatten_answers,
    prune_irrelevant,
    validate_response,
)
from questionnaires.variables import variable_names

HERE = Path(__file__).parent
QUESTIONNAIRES = {
    "automotive-skills": HERE.parents[1] / "questionnaires" / "automotive-skills",
    "rules_survey": HERE / "fixtures" / "rules_survey",
}


def random_value(
    q: Questionnaire, item: QuestionType | GridColumnType, rng: np.random.Generator,
    question: QuestionType,
) -> object:
    """A plausible answer of the right type (sometimes out of bounds, sometimes blank)."""
    if rng.random() < 0.2:
        return None
    if isinstance(item, SingleChoiceQuestion | SingleChoiceColumn):
        options = (
            q.options_for(question, item) if isinstance(item, SingleChoiceColumn)
            else q.options_for(item)
        )
        codes = [option.code for option in options]
        if isinstance(item, SingleChoiceQuestion) and item.other:
            codes.append(OTHER_CODE)
        return codes[int(rng.integers(len(codes)))]
    if isinstance(item, MultipleChoiceQuestion):
        codes = [option.code for option in q.options_for(item)]
        if item.other:
            codes.append(OTHER_CODE)
        size = int(rng.integers(0, min(4, len(codes)) + 1))
        return [str(code) for code in rng.choice(codes, size=size, replace=False)]
    if isinstance(item, IntegerQuestion | IntegerColumn):
        low = item.min if item.min is not None else 0
        high = min(item.max if item.max is not None else 10**6, low + 2000)
        return int(rng.integers(low - 1, high + 2))
    if isinstance(item, DecimalQuestion | DecimalColumn):
        return round(float(rng.uniform(-1, 1000)), int(rng.integers(0, 3)))
    if isinstance(item, PercentageQuestion | PercentageColumn):
        return round(float(rng.uniform(0, 100)), int(rng.integers(0, 2)))
    if isinstance(item, TextQuestion | TextColumn):
        return "text " * int(rng.integers(0, 4))
    if isinstance(item, ScaleQuestion | ScaleColumn):
        values: list[object] = list(q.scales[item.scale].values())
        if q.scales[item.scale].not_applicable:
            values.append(NOT_APPLICABLE)
        return values[int(rng.integers(len(values)))]
    raise AssertionError(f"no random answer for {item.type}")


def random_response(q: Questionnaire, rng: np.random.Generator) -> dict[str, Any]:
    """A random response to every question, as the survey app would store it."""
    answers: dict[str, Any] = {}
    for question in q.iter_questions():
        if isinstance(question, NoteQuestion | CalculatedQuestion):
            continue
        if isinstance(question, GridQuestion):
            answers[question.id] = {
                row.code: {
                    column.id: random_value(q, column, rng, question)
                    for column in question.columns
                }
                for row in q.options_for(question)
                if rng.random() < 0.7
            }
            continue
        answers[question.id] = random_value(q, question, rng, question)
        if isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion) and question.other:
            answers[f"{question.id}_other"] = "something else" if rng.random() < 0.7 else None
    return answers


@pytest.fixture(scope="module", params=sorted(QUESTIONNAIRES))
def questionnaire(request: pytest.FixtureRequest) -> Questionnaire:
    return load_questionnaire(QUESTIONNAIRES[request.param])


def test_random_responses_pass_through_every_function(questionnaire: Questionnaire) -> None:
    rng = np.random.default_rng(20261125)
    names = variable_names(questionnaire)
    for _ in range(40):
        answers = random_response(questionnaire, rng)
        violations = validate_response(questionnaire, answers)
        pruned = prune_irrelevant(questionnaire, answers)
        # Validation ignores exactly what pruning drops.
        assert validate_response(questionnaire, pruned) == violations
        assert prune_irrelevant(questionnaire, pruned) == pruned
        flat = flatten_answers(questionnaire, answers)
        assert list(flat) == names
        # "Other" chosen without its text has no analysis variable; it is a violation anyway.
        if not any(violation.rule_id == "other_text" for violation in violations):
            assert env_from_flat(questionnaire, flat) == expression_env(questionnaire, pruned)
        for violation in violations:
            assert violation.text_key
            assert violation.message


def test_empty_response_is_resolved(questionnaire: Questionnaire) -> None:
    flat = flatten_answers(questionnaire, {})
    calculated = {
        question.id for question in questionnaire.iter_questions()
        if isinstance(question, CalculatedQuestion)
    }
    assert all(value is None for name, value in flat.items() if name not in calculated)
    required = [v for v in validate_response(questionnaire, {}) if v.rule_id == "required"]
    assert required
