"""Unit tests of the expression language: parsing, printing, semantics and error messages."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from questionnaires.errors import ExpressionError, ExpressionEvalError, ExpressionSyntaxError
from questionnaires.expressions import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NODES,
    Attribute,
    Binary,
    Call,
    Compare,
    Expression,
    ListLiteral,
    Literal,
    Logical,
    Name,
    Negate,
    Not,
    Number,
    parse,
)

ENV: dict[str, object] = {
    "employees": 120,
    "staff": 30,
    "share_ice": 60,
    "share_bev": 30.5,
    "country": "DE",
    "size_class": "50-249",
    "barriers": ["cost", "time"],
    "training": "yes",
    "level": 3,
    "zero": 0,
    "flag": True,
    "empty_text": "",
    "nothing": None,
}


def value(text: str, env: dict[str, object] | None = None) -> object:
    """Evaluate ``text`` against ENV (or ``env``)."""
    return parse(text).evaluate(ENV if env is None else env)


# --- parsing --------------------------------------------------------------------------------


def test_precedence_builds_the_expected_tree() -> None:
    tree = parse("a or b and not c == d + e * -f").root
    expected = Logical(
        "or",
        Name("a"),
        Logical(
            "and",
            Name("b"),
            Not(
                Compare(
                    "==",
                    Name("c"),
                    Binary("+", Name("d"), Binary("*", Name("e"), Negate(Name("f")))),
                )
            ),
        ),
    )
    assert tree == expected


def test_arithmetic_is_left_associative() -> None:
    assert parse("a - b - c").root == Binary("-", Binary("-", Name("a"), Name("b")), Name("c"))
    assert parse("a / b * c").root == Binary("*", Binary("/", Name("a"), Name("b")), Name("c"))


def test_literals_calls_lists_and_attributes() -> None:
    tree = parse("if(@country == 'DE', [1, 2.5, \"x\", true, false, null], coalesce(q))").root
    assert tree == Call(
        "if",
        (
            Compare("==", Attribute("country"), Literal("DE")),
            ListLiteral(
                (
                    Number(1, "1"),
                    Number(2.5, "2.5"),
                    Literal("x"),
                    Literal(True),
                    Literal(False),
                    Literal(None),
                )
            ),
            Call("coalesce", (Name("q"),)),
        ),
    )


def test_true_is_not_the_number_one() -> None:
    assert parse("true") != parse("1")
    assert parse("1") != parse("1.0")
    assert parse("1.50") == parse("1.5")


def test_not_in_is_one_operator() -> None:
    expected = Compare("not in", Name("x"), ListLiteral((Literal("a"),)))
    assert parse("x not in ['a']").root == expected


def test_names_attributes_and_functions_are_collected() -> None:
    expr = parse("selected(barriers, 'cost') and count(q) > n or @region == region")
    assert expr.names == frozenset({"barriers", "q", "n", "region"})
    assert expr.attributes == frozenset({"region"})
    assert expr.functions == frozenset({"selected", "count"})
    assert expr.text == "selected(barriers, 'cost') and count(q) > n or @region == region"


@pytest.mark.parametrize(
    ("text", "strict"),
    [
        ("trained <= employees", {"trained", "employees"}),
        ("staff == null or staff <= employees", {"staff", "employees"}),
        ("current == null or target != null", set()),
        ("null != a + b", set()),
        ("sum(a, b) <= 100", set()),
        ("hard == null or hard <= coalesce(total, 0)", {"hard"}),
        ("answered(a) or count(q) > 0 or min(x) > max(y)", set()),
        ("if(a > 0, b, c)", {"a", "b", "c"}),
        ("selected(q, 'x')", {"q"}),
        ("1 < 2", set()),
    ],
)
def test_strict_names(text: str, strict: set[str]) -> None:
    assert parse(text).strict_names == frozenset(strict)


def test_function_names_are_ordinary_names_when_not_called() -> None:
    assert parse("count + 1").names == frozenset({"count"})


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("a+b*c", "a + b * c"),
        ("(a+b)*c", "(a + b) * c"),
        ("a-(b-c)", "a - (b - c)"),
        ("((a))", "a"),
        ('"it\'s"', "'it\\'s'"),
        ("'back\\\\slash'", "'back\\\\slash'"),
        ("not(a and b)", "not (a and b)"),
        ("-(-a)", "--a"),
        ("(a == b) == c", "(a == b) == c"),
        ("a == (b == c)", "a == (b == c)"),
        ("x  not   in[ 'a' ,'b' ]", "x not in ['a', 'b']"),
        ("SUM", "SUM"),
        ("round( x ,2 )", "round(x, 2)"),
        ("\n a\t>\r\n1", "a > 1"),
    ],
)
def test_canonical_printer(text: str, canonical: str) -> None:
    expr = parse(text)
    assert str(expr) == canonical
    assert parse(str(expr)) == expr
    assert repr(expr) == f"Expression({canonical!r})"


def test_expressions_are_hashable_and_compare_by_tree() -> None:
    assert len({parse("a+b"), parse("a + b"), parse("(a) + (b)"), parse("b + a")}) == 2
    assert parse("a") != "a"
    assert isinstance(parse("a"), Expression)


# --- syntax errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment", "position"),
    [
        ("", "empty expression", 0),
        ("   ", "empty expression", 3),
        ("a +", "expected a value", 3),
        ("a.b", "attribute access", 1),
        ("x[0]", "indexing", 1),
        ("[1][0]", "indexing", 3),
        ("__import__('os')", "unknown function '__import__'", 0),
        ("eval('1')", "unknown function 'eval'", 0),
        ("lambda: 1", "':' is not allowed", 6),
        ("f'x'", "missing operator", 1),
        ("(a)(b)", "only the named functions", 3),
        ("a b", "missing operator", 2),
        ("1e5", "malformed number", 1),
        ("1.", "decimal point", 2),
        ("1.2.3", "malformed number", 3),
        ("a ** 2", "no power operator", 2),
        ("a = 1", "'=='", 2),
        ("a & b", "'and'", 2),
        ("${q} > 5", "${...}", 0),
        ("a == b == c", "cannot be chained", 7),
        ("a < b > c", "cannot be chained", 6),
        ("'abc", "unterminated string", 0),
        ("'a\\nb'", "unknown escape", 2),
        ("'a\x00b'", "control character U+0000", 2),
        ("a \x00", "control character U+0000", 2),
        ("émployees", "unexpected character 'é'", 0),
        ("@", "attribute name", 0),
        ("@ x", "attribute name", 0),
        ("round()", "round() takes 1 to 2 arguments, got 0", 0),
        ("selected(q)", "selected() takes exactly 2 arguments, got 1", 0),
        ("if(a, b)", "if() takes exactly 3 arguments", 0),
        ("abs(1, 2)", "abs() takes exactly 1 argument, got 2", 0),
        ("sum()", "sum() takes at least 1 argument, got 0", 0),
        ("sum(a,", "expected a value", 6),
        ("sum(a b)", "missing operator", 6),
        ("(a + b", "expected ')' to close the '(' at column 1", 6),
        ("[1, 2", "expected ']'", 5),
        ("a not b", "unexpected 'not'", 2),
        ("a)", "unexpected ')'", 1),
        ("9" * 33, "number literal longer than 32", 0),
        ("# comment", "comments", 0),
    ],
)
def test_syntax_errors_name_the_problem_and_the_column(
    text: str, fragment: str, position: int
) -> None:
    with pytest.raises(ExpressionSyntaxError) as info:
        parse(text)
    error = info.value
    assert fragment in str(error)
    assert error.position == position
    assert error.text == text
    assert f"(at column {position + 1})" in str(error)


def test_syntax_error_shows_a_caret_under_the_fault() -> None:
    with pytest.raises(ExpressionSyntaxError) as info:
        parse("employees > 10 and and staff")
    assert "\n" not in str(info.value)
    lines = info.value.caret().splitlines()
    assert lines[0] == str(info.value)
    assert lines[1].strip() == "employees > 10 and and staff"
    assert lines[2].index("^") == lines[1].index("and and") + 4


def test_caret_of_a_long_expression_shows_a_window() -> None:
    text = "sum(" + "a, " * 100 + ")"
    with pytest.raises(ExpressionSyntaxError) as info:
        parse(text)
    lines = info.value.caret().splitlines()
    assert len(lines[1]) < 100
    assert lines[1].startswith("    ...")
    assert lines[1][lines[2].index("^")] == ")"
    assert info.value.excerpt(radius=5) == "..., a, )"


def test_non_text_is_a_syntax_error() -> None:
    with pytest.raises(ExpressionSyntaxError, match="must be text, not int"):
        parse(5)  # type: ignore[arg-type]


def test_length_limit() -> None:
    parse("a" * MAX_LENGTH)
    with pytest.raises(ExpressionSyntaxError, match="longer than 2000 characters"):
        parse("a" * (MAX_LENGTH + 1))


def test_depth_limit() -> None:
    def chain(n: int) -> str:
        return " + ".join(["a"] * n)

    # A chain of n terms is a left-deep tree of n - 1 operators above a leaf: depth n.
    assert parse(chain(MAX_DEPTH)).names == frozenset({"a"})
    with pytest.raises(ExpressionSyntaxError, match="nested more than 32 levels"):
        parse(chain(MAX_DEPTH + 1))
    with pytest.raises(ExpressionSyntaxError, match="nested more than 32 levels"):
        parse("abs(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH)


def test_node_limit() -> None:
    flat = "sum(" + ", ".join(["a"] * (MAX_NODES - 1)) + ")"
    assert len(list(parse(flat).root.walk())) == MAX_NODES
    too_many = "sum(" + ", ".join(["a"] * MAX_NODES) + ")"
    with pytest.raises(ExpressionSyntaxError, match="more than 400 parts"):
        parse(too_many)


@pytest.mark.parametrize(
    "text",
    [
        "(" * 1000 + "a" + ")" * 1000,
        "(" * 1999,
        "[" * 1999,
        "not " * 499 + "a",
        "-" * 1999 + "a",
        "abs(" * 400,
        "if(" * 600,
        "a" + "+a" * 999,
        "[" + ",".join(["1"] * 999) + "]",
    ],
)
def test_hostile_nesting_fails_cleanly(text: str) -> None:
    with pytest.raises(ExpressionSyntaxError):
        parse(text)


# --- semantics ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("employees + staff * 2", 180),
        ("employees / 8", 15.0),
        ("7 / 2", 3.5),
        ("-staff", -30),
        ("share_ice + share_bev", 90.5),
        ("employees > 100 and staff <= employees", True),
        ("country == 'DE'", True),
        ("country != 'FR'", True),
        ("country < 'FR'", True),
        ("size_class in ['10-49', '50-249']", True),
        ("size_class not in ['10-49', '50-249']", False),
        ("'cost' in barriers", True),
        ("'none' not in barriers", True),
        ("level in [1, 2, 3.0]", True),
        ("selected(barriers, 'time')", True),
        ("selected(barriers, 'none')", False),
        ("selected(training, 'yes')", True),
        ("selected(nothing, 'yes')", False),
        ("count(barriers)", 2),
        ("count(nothing)", 0),
        ("count(staff, nothing, country)", 2),
        ("count(empty_text)", 0),
        ("sum(share_ice, share_bev, nothing)", 90.5),
        ("sum(nothing)", 0),
        ("answered(staff)", True),
        ("answered(nothing)", False),
        ("answered(missing_name)", False),
        ("answered(empty_text)", False),
        ("min(staff, employees, nothing)", 30),
        ("max(staff, employees)", 120),
        ("min(nothing)", None),
        ("abs(-3.5)", 3.5),
        ("abs(nothing)", None),
        ("round(2.675, 2)", 2.68),
        ("round(2.5)", 3),
        ("round(-2.5)", -3),
        ("round(1234, -2)", 1200),
        ("round(7, 2)", 7),
        ("round(nothing, 2)", None),
        ("if(employees < 10, '1-9', if(employees < 50, '10-49', '50+'))", "50+"),
        ("if(nothing > 1, 'a', 'b')", "b"),
        ("if(zero == 0, 0, staff / zero)", 0),
        ("coalesce(nothing, staff, 1 / zero)", 30),
        ("coalesce(nothing)", None),
        ("barriers == ['time', 'cost']", True),
        ("barriers == ['time']", False),
        ("[1, 1, 2] == [2, 1, 1]", True),
        ("[1, 1, 2] == [1, 2, 2]", False),
        ("flag and not false", True),
        ("[]", []),
    ],
)
def test_values(text: str, expected: object) -> None:
    result = value(text)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nothing + 1", None),
        ("-nothing", None),
        ("nothing * 0", None),
        ("nothing / zero", None),
        ("nothing > 1", False),
        ("nothing <= 1", False),
        ("nothing == 1", False),
        ("nothing != 1", False),
        ("nothing == nothing", False),
        ("nothing == null", True),
        ("null == nothing", True),
        ("nothing != null", False),
        ("staff != null", True),
        ("staff == null", False),
        ("null == null", True),
        ("nothing in ['a']", False),
        ("nothing not in ['a']", False),
        ("'a' in nothing", False),
        ("not nothing", True),
        ("not (nothing > 1)", True),
        ("nothing and true", False),
        ("nothing or true", True),
        ("missing_name == null", True),
        ("staff == null or staff <= employees", True),
    ],
)
def test_null_semantics(text: str, expected: object) -> None:
    assert value(text) == expected


def test_and_or_short_circuit() -> None:
    # The right side would fail (a number is not a truth value, division by zero)...
    assert value("false and 1 / zero > 1") is False
    assert value("true or staff") is True
    # ...and does fail when it has to be evaluated.
    with pytest.raises(ExpressionEvalError, match="division by zero"):
        value("true and 1 / zero > 1")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("staff / zero", "division by zero in 'staff / zero'"),
        ("country == 5", "cannot compare text 'DE' with number 5"),
        ("country > 5", "cannot order text 'DE' and number 5"),
        ("level in ['1', '2']", "cannot compare number 3 with text '1'"),
        ("country + 1", "cannot apply '+' to text 'DE' and number 1"),
        ("flag + 1", "cannot apply '+' to true and number 1"),
        ("-country", "cannot negate text 'DE'"),
        ("staff and true", "left side of 'and' must be true, false or null, got number 30"),
        ("true and country", "right side of 'and'"),
        ("not staff", "operand of 'not'"),
        ("if(staff, 1, 2)", "condition of if()"),
        ("barriers in ['a']", "left side of 'in' must be a single value"),
        ("'a' in country", "right side of 'in' must be a list"),
        ("sum(staff, country)", "sum() needs numbers, got text 'DE'"),
        ("max(barriers)", "max() needs numbers"),
        ("round(staff, 1.5)", "whole number of digits"),
        ("round(staff, 99)", "whole number of digits"),
        ("selected(barriers, ['a'])", "selected() needs a single code"),
        ("[barriers]", "a list cannot contain a list"),
        ("@country == 'DE'", "'@country' can only be used in a choice_filter"),
        ("barriers < barriers", "cannot order"),
    ],
)
def test_evaluation_errors_name_the_operands(text: str, fragment: str) -> None:
    with pytest.raises(ExpressionEvalError) as info:
        value(text)
    assert fragment in str(info.value)
    assert text in str(info.value)


def test_huge_numbers_fail_instead_of_overflowing() -> None:
    big = "9" * 30
    product = " * ".join([big] * 11)
    with pytest.raises(ExpressionEvalError, match="number too large"):
        value(product)
    with pytest.raises(ExpressionEvalError, match="number too large"):
        value(f"{product} / 3")
    with pytest.raises(ExpressionEvalError, match="number too large"):
        value("x * x", {"x": 1e200})


def test_attributes_of_a_choice_filter() -> None:
    expr = parse("@country == country and @code != 'x'")
    assert expr.evaluate(ENV, {"country": "DE", "code": "de1"}) is True
    assert expr.evaluate(ENV, {"country": "FR", "code": "fr1"}) is False
    # An option without the attribute is not shown by a comparison with it.
    assert expr.evaluate(ENV, {"code": "any"}) is False


def test_environment_values_are_normalised() -> None:
    numpy = pytest.importorskip("numpy")
    env = {
        "i": numpy.int64(4),
        "f": numpy.float64(0.5),
        "nan": float("nan"),
        "npnan": numpy.float64("nan"),
        "b": numpy.bool_(True),
        "t": ("x", "y"),
        "s": frozenset({"y", "x"}),
    }
    assert parse("i + f").evaluate(env) == 4.5
    assert parse("nan == null and npnan == null").evaluate(env) is True
    assert parse("b and true").evaluate(env) is True
    assert parse("t == s and 'x' in t").evaluate(env) is True


def test_decimal_and_fraction_values_are_numbers() -> None:
    env = {"d": Decimal("2.5"), "f": Fraction(1, 4)}
    assert parse("d + f").evaluate(env) == 2.75


def test_pandas_missing_values_are_null() -> None:
    pandas = pytest.importorskip("pandas")
    assert parse("x == null").evaluate({"x": pandas.NA}) is True


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"x": math.inf}, "not a finite number"),
        ({"x": 10**400}, "too large a number"),
        ({"x": Fraction(10**400, 3)}, "too large a number"),
        ({"x": Decimal("1e400")}, "not a finite number"),
        ({"x": {"a": 1}}, "type dict"),
        ({"x": [["a"]]}, "list of lists"),
        ({"x": object()}, "type object"),
    ],
)
def test_unusable_environment_values(env: dict[str, object], fragment: str) -> None:
    with pytest.raises(ExpressionEvalError, match=fragment):
        parse("x + 1").evaluate(env)


def test_is_true_accepts_only_booleans_and_null() -> None:
    assert parse("staff > 1").is_true(ENV) is True
    assert parse("nothing").is_true(ENV) is False
    assert parse("flag").is_true(ENV) is True
    with pytest.raises(ExpressionEvalError, match="must give true or false, got number 30"):
        parse("staff").is_true(ENV)


def test_every_error_is_an_expression_error_and_a_value_error() -> None:
    for cls in (ExpressionSyntaxError, ExpressionEvalError):
        assert issubclass(cls, ExpressionError)
        assert issubclass(cls, ValueError)
