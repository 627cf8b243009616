"""Property-based tests of the rules engine: any stored answers, however malformed, are judged."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from questionnaires.loader import load_questionnaire
from questionnaires.rules import (
    flatten_answers,
    prune_irrelevant,
    validate_response,
)
from questionnaires.variables import variable_names

QUESTIONNAIRE = load_questionnaire(Path(__file__).parent / "fixtures" / "rules_survey")
KEYS = [question.id for question in QUESTIONNAIRE.iter_questions()] + [
    "barriers_other",
    "not_a_question",
]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.sampled_from([10**400, -(10**400), 1e308, -1e308, 5e-324]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["DE", "FR", "DE11", "cost", "none", "other", "na", "batteries", "", " "]),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(["batteries", "software", "welding", "current", "target", "staff",
                             "plan", "x"]),
            children,
            max_size=4,
        ),
    ),
    max_leaves=12,
)
responses = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=len(KEYS))


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(responses)
def test_malformed_answers_become_violations_never_exceptions(answers: dict[str, object]) -> None:
    violations = validate_response(QUESTIONNAIRE, answers)
    pruned = prune_irrelevant(QUESTIONNAIRE, answers)
    assert validate_response(QUESTIONNAIRE, pruned) == violations
    flat = flatten_answers(QUESTIONNAIRE, answers)
    assert list(flat) == variable_names(QUESTIONNAIRE)
    for violation in violations:
        assert violation.rule_id
        assert violation.text_key.startswith(("validation.", "question.", "section."))
