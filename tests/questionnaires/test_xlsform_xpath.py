"""Translation of XLSForm XPath-style expressions into the rule language."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from questionnaires.expressions import parse
from questionnaires.xpath import (
    TranslationContext,
    UnknownReferenceError,
    XPathTranslationError,
    translate,
)

CONTEXT = TranslationContext(
    names={"age": "age", "q": "q", "Staff-Count": "staff_count", "b": "b", "State": "state"},
    current="q",
    codes={"q": {"DE": "de"}},
)
FILTER = TranslationContext(
    names={"State": "state", "areas": "areas"},
    choice_filter=True,
    attributes={"state": "state", "admin-1": "admin_1"},
)

TRANSLATED = [
    ("${age} > 5", "age > 5"),
    ("${Staff-Count} >= 1", "staff_count >= 1"),
    (". >= 0 and . <= 100", "q >= 0 and q <= 100"),
    ("selected(${q}, 'DE')", "selected(q, 'de')"),
    ("${q} = 'DE'", "q == 'de'"),
    ("selected(., 'x')", "selected(q, 'x')"),
    ("count-selected(${q}) <= 3", "count(q) <= 3"),
    ("not(${age} = 3)", "not age == 3"),
    ("not(${age}) = 3", "(not age) == 3"),
    ("${age} != 3 or ${b} = 'x'", "age != 3 or b == 'x'"),
    ("${age} div 2 + 1", "age / 2 + 1"),
    ("(${age} + 1) * 2", "(age + 1) * 2"),
    ("-${age} < -1.5", "-age < -1.5"),
    ("${age} - (1 - 2)", "age - (1 - 2)"),
    ("if(${age} > 10, 'big', 'small')", "if(age > 10, 'big', 'small')"),
    ("coalesce(${age}, 0)", "coalesce(age, 0)"),
    ("round(${age}, 1) = .5", "round(age, 1) == 0.5"),
    ("max(${age}, ${b}) > min(1, 2)", "max(age, b) > min(1, 2)"),
    ("string-length(${b}) > 0", "answered(b)"),
    ("string-length(${b}) = 0", "not answered(b)"),
    ("0 < string-length(${b})", "answered(b)"),
    ("${b} != ''", "answered(b)"),
    ("${b} = \"\"", "not answered(b)"),
    ("true() and not(false())", "true and not false"),
    ("${age} > 1 and (${age} < 5 or ${b} = 'y')", "age > 1 and (age < 5 or b == 'y')"),
    ("\"it's\" = ${b}", "'it\\'s' == b"),
    ("${b} = 'a\\b'", "b == 'a\\\\b'"),
]


@pytest.mark.parametrize(("xpath", "ours"), TRANSLATED)
def test_translation(xpath: str, ours: str) -> None:
    result = translate(xpath, CONTEXT)
    assert result.text == ours
    # The text is canonical: our own parser reads it back unchanged.
    assert str(parse(result.text)) == ours


def test_references_are_xlsform_names() -> None:
    result = translate("${Staff-Count} > ${age} and selected(., 'x')", CONTEXT)
    assert result.references == frozenset({"Staff-Count", "age"})


@pytest.mark.parametrize(("xpath", "ours"), [
    ("state=${State}", "@state == state"),
    ("name != 'x' and admin-1 = 'DE1'", "@code != 'x' and @admin_1 == 'DE1'"),
    ("selected(${areas}, name)", "selected(areas, @code)"),
])
def test_choice_filter(xpath: str, ours: str) -> None:
    assert translate(xpath, FILTER).text == ours


@pytest.mark.parametrize(("xpath", "value_type"), [
    ("count-selected(${q})", "integer"),
    ("${age} + 1", "decimal"),
    ("2 * 3", "integer"),
    ("${age} div 2", "decimal"),
    ("if(${age} > 1, 1, 2)", "integer"),
    ("if(${age} > 1, 'a', 'b')", "text"),
    ("${age}", "text"),
])
def test_value_type(xpath: str, value_type: str) -> None:
    assert translate(xpath, CONTEXT).value_type == value_type


def test_value_type_of_numeric_questions() -> None:
    context = TranslationContext(names={"n": "n", "x": "x"},
                                 value_types={"n": "integer", "x": "decimal"})
    assert translate("${n} * 2", context).value_type == "integer"
    assert translate("${n} + ${x}", context).value_type == "decimal"
    assert translate("${n} div 2", context).value_type == "decimal"


REFUSED = [
    ("now()", "function now() cannot be translated"),
    ("regex(., '^a')", "function regex() cannot be translated"),
    ("${age} mod 2", "'mod' (remainder) cannot be translated"),
    ("../age > 1", "relative path '..'"),
    ("/data/age > 1", "absolute paths cannot be translated"),
    ("age > 1", "bare name 'age'"),
    ("${age} == 1", "'==' is not XPath"),
    ("${age} | ${b}", "node-set union"),
    ("'abc", "unterminated string"),
    ("string-length(${b}) > 3", "string-length() is only translated"),
    ("if(1, 2)", "if() takes 3 argument(s), not 2"),
    ("selected('a', 'b')", "selected() needs a question"),
    ("(1", "expected ')'"),
    ("1 +", "the expression ends too early"),
    ("1 2", "unexpected '2' after a complete expression"),
    ("", "the expression is empty"),
    ("x" * 2001, "longer than 2000 characters"),
    ("(" * 40 + "1" + ")" * 40, "nested more than 32 levels deep"),
    ("-" * 1999 + "1", "nested more than 32 levels deep"),
    ("not(" * 300 + "1" + ")" * 300, "nested more than 32 levels deep"),
    ("jr:choice-name(${q}, '${q}')", "function jr:choice-name() cannot be translated"),
    ("# 1", "unexpected character '#'"),
]


@pytest.mark.parametrize(("xpath", "message"), REFUSED)
def test_refused(xpath: str, message: str) -> None:
    with pytest.raises(XPathTranslationError) as caught:
        translate(xpath, CONTEXT)
    assert message in str(caught.value)


def test_unknown_reference_has_its_own_type() -> None:
    with pytest.raises(UnknownReferenceError, match=r"refers to \$\{nope\}"):
        translate("${nope} > 1", CONTEXT)


def test_current_needs_a_question() -> None:
    context = TranslationContext(names={"age": "age"})
    with pytest.raises(XPathTranslationError, match="has no meaning here"):
        translate(". > 1", context)


def test_error_names_the_character() -> None:
    with pytest.raises(XPathTranslationError) as caught:
        translate("${age} > now()", CONTEXT)
    assert caught.value.position == 9
    assert str(caught.value).endswith("(at character 10)")


_PIECES = st.sampled_from([
    "${age}", "${q}", "${b}", ".", "1", "2.5", "'x'", "(", ")", ",", "=", "!=", "<", ">=",
    "+", "-", "*", " div ", " mod ", " and ", " or ", "not(", "selected(", "count-selected(",
    "if(", "coalesce(", "string-length(", "''", "${", "}", "/", "..", "|", "now()", "name",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join) | st.text(max_size=80))
def test_any_input_translates_or_fails_cleanly(text: str) -> None:
    try:
        result = translate(text, CONTEXT)
    except XPathTranslationError:
        return
    # Whatever is translated is valid in our language.
    assert str(parse(result.text)) == result.text


@pytest.mark.parametrize(("xpath", "bounds"), [
    (". >= 0 and . <= 100", ("0", "100")),
    ("-5 <= .", ("-5", None)),
    (". <= 2.5", (None, "2.5")),
    (". > 0", None),
    (". >= 0 and . >= 1", None),
    (". >= 0 or . <= 100", None),
    (". >= ${age}", None),
    ("${age} >= 0", None),
])
def test_bounds(xpath: str, bounds: tuple[str | None, str | None] | None) -> None:
    assert translate(xpath, CONTEXT).bounds == bounds
