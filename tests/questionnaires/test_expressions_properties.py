"""Property-based tests of the expression language: hostile input, round trips, evaluation."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from questionnaires.errors import ExpressionError, ExpressionEvalError, ExpressionSyntaxError
from questionnaires.expressions import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_MAGNITUDE,
    MAX_NODES,
    Attribute,
    Binary,
    Call,
    Compare,
    ListLiteral,
    Literal,
    Logical,
    Name,
    Negate,
    Node,
    Not,
    Number,
    parse,
    to_text,
)

# Wall-clock deadlines would be timed assertions; the limits of the language bound the work.
PROPERTY = settings(
    deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow]
)

NAMES = ["a", "b", "q", "x_1", "row", "count", "employees", "IF"]
CODES = ["a", "b", "oem", "10-49", "C29.10"]


def depth(node: Node) -> int:
    """Depth of a tree, leaves counting 1."""
    return 1 + max((depth(child) for child in node.children()), default=0)


# --- strategies -----------------------------------------------------------------------------

printable_text = st.text(st.characters(codec="utf-8"), max_size=12).filter(str.isprintable)


@st.composite
def numbers(draw: st.DrawFn) -> Number:
    """An integer or decimal literal as it could be written."""
    whole = draw(st.from_regex(r"[0-9]{1,12}", fullmatch=True))
    if draw(st.booleans()):
        fraction = draw(st.from_regex(r"[0-9]{1,8}", fullmatch=True))
        numeral = f"{whole}.{fraction}"
        return Number(float(numeral), numeral)
    return Number(int(whole), whole)


leaves: st.SearchStrategy[Node] = st.one_of(
    numbers(),
    st.builds(Literal, printable_text),
    st.sampled_from([Literal(True), Literal(False), Literal(None)]),
    st.builds(Name, st.sampled_from(NAMES)),
    st.builds(Attribute, st.sampled_from(["code", "country"])),
)


def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    """One level of operators, calls and lists above ``children``."""
    function_calls = st.sampled_from(sorted(FUNCTIONS)).flatmap(
        lambda name: st.builds(
            Call,
            st.just(name),
            st.lists(
                children,
                min_size=FUNCTIONS[name][0],
                max_size=FUNCTIONS[name][1] or FUNCTIONS[name][0] + 2,
            ).map(tuple),
        )
    )
    return st.one_of(
        st.builds(Binary, st.sampled_from(["+", "-", "*", "/"]), children, children),
        st.builds(
            Compare,
            st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"]),
            children,
            children,
        ),
        st.builds(Logical, st.sampled_from(["and", "or"]), children, children),
        st.builds(Not, children),
        st.builds(Negate, children),
        st.builds(ListLiteral, st.lists(children, max_size=3).map(tuple)),
        function_calls,
    )


trees = st.recursive(leaves, extend, max_leaves=25).filter(
    lambda node: depth(node) <= MAX_DEPTH
)


@st.composite
def written(draw: st.DrawFn, node: Node) -> str:
    """``node`` written as an author might: random spacing, quotes and extra brackets."""

    def space() -> str:
        return draw(st.sampled_from(["", " ", "  ", "\n", "\t"]))

    def text(n: Node) -> str:
        if isinstance(n, Literal) and isinstance(n.value, str) and draw(st.booleans()):
            body = n.value.replace("\\", "\\\\").replace('"', '\\"')
            out = f'"{body}"'
        elif isinstance(n, Binary | Compare | Logical):
            left, right = text(n.left), text(n.right)
            out = f"({left}){space()} {n.op} {space()}({right})"
        elif isinstance(n, Not):
            out = f"not{space()} ({text(n.operand)})"
        elif isinstance(n, Negate):
            out = f"-{space()}({text(n.operand)})"
        elif isinstance(n, ListLiteral):
            out = "[" + f"{space()},{space()}".join(text(i) for i in n.items) + "]"
        elif isinstance(n, Call):
            out = f"{n.function}({space()}" + ",".join(text(a) for a in n.args) + ")"
        else:
            out = to_text(n)
        return f"{space()}{out}{space()}"

    return text(node)


scalar_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from(CODES),
    st.text(max_size=5),
)
env_values = st.one_of(scalar_values, st.lists(st.sampled_from(CODES), max_size=4))
environments = st.fixed_dictionaries({}, optional={name: env_values for name in NAMES})
attribute_maps = st.one_of(
    st.none(), st.fixed_dictionaries({"code": st.sampled_from(CODES)}, optional={
        "country": st.sampled_from(["DE", "FR"])
    })
)


# --- hostile input --------------------------------------------------------------------------

HOSTILE = [
    "__import__('os')",
    "__import__('os').system('ls')",
    "a.b",
    "a.__class__",
    "().__class__.__bases__[0]",
    "x[0]",
    "lambda: 0",
    "lambda x: x",
    "f'{a}'",
    "f\"{__import__('os')}\"",
    "[x for x in a]",
    "open('/etc/passwd')",
    "exec('1')",
    "a if b else c",
    "a; b",
    "a := 1",
    "10**10**10",
    "9" * 40,
    "1" * 10_000,
    "(" * 10_000,
    "a" * 10_000,
    "\x00",
    "a\x00== 1",
    "'\x00'",
    "\ud800",
    "é == 'é'",
    "🙂",
    "a\u2028b",
    "a\u00a0== b",
    "１ + ２",
    "'",
    '"',
    "\\",
    "'\\",
    "@",
    "@@a",
    "not",
    "not in",
    "a not",
    "in a",
    "()",
    "(,)",
    "[,]",
    "sum(,)",
    "sum(a,,b)",
    "-",
    "1 +* 2",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_is_refused_with_an_expression_error(text: str) -> None:
    with pytest.raises(ExpressionSyntaxError):
        parse(text)


@PROPERTY
@given(st.text(max_size=MAX_LENGTH + 50))
@example("a" * 10_000)
@example("((((((((((" * 200)
@example("not " * 400 + "a")
def test_random_text_only_raises_expression_errors(text: str) -> None:
    try:
        expr = parse(text)
    except ExpressionError:
        return
    nodes = list(expr.root.walk())
    assert len(nodes) <= MAX_NODES
    assert depth(expr.root) <= MAX_DEPTH
    assert len(text) <= MAX_LENGTH


token_soup = st.lists(
    st.sampled_from(
        [
            "a", "b", "q", "1", "2.5", "0", "'x'", '"y"', "true", "null", "@code", "(", ")",
            "[", "]", ",", "+", "-", "*", "/", "==", "!=", "<", ">=", "and", "or", "not", "in",
            "sum(", "if(", "count(", "selected(", "round(", "abs(", " ", ".", "=", "**",
        ]
    ),
    max_size=120,
).map("".join)


@PROPERTY
@given(token_soup, environments)
def test_token_soup_parses_or_fails_cleanly_and_evaluates_cleanly(
    text: str, env: dict[str, object]
) -> None:
    try:
        expr = parse(text)
    except ExpressionSyntaxError as exc:
        assert exc.position is None or 0 <= exc.position <= len(text)
        return
    assert depth(expr.root) <= MAX_DEPTH
    assert parse(str(expr)) == expr
    try:
        expr.evaluate(env, {"code": "a"})
    except ExpressionEvalError:
        pass


# --- round trips ----------------------------------------------------------------------------


@PROPERTY
@given(trees)
def test_printed_trees_parse_back_to_the_same_tree(tree: Node) -> None:
    text = to_text(tree)
    assume(len(text) <= MAX_LENGTH)
    expr = parse(text)
    assert expr.root == tree
    assert str(expr) == text


@PROPERTY
@given(trees.flatmap(lambda tree: st.tuples(st.just(tree), written(tree))))
def test_any_spelling_parses_to_the_tree_and_prints_canonically(pair: tuple[Node, str]) -> None:
    tree, text = pair
    assume(len(text) <= MAX_LENGTH)
    try:
        expr = parse(text)
    except ExpressionSyntaxError as exc:
        # Redundant brackets may exceed the parser's own nesting guard; nothing else may fail.
        assert "nested more than" in str(exc)
        return
    assert expr.root == tree
    assert parse(str(expr)) == expr


# --- evaluation -----------------------------------------------------------------------------


@PROPERTY
@given(trees, environments, attribute_maps)
def test_evaluation_only_raises_evaluation_errors(
    tree: Node, env: dict[str, object], attributes: dict[str, str] | None
) -> None:
    expr = parse(to_text(tree))
    try:
        result = expr.evaluate(env, attributes)
    except ExpressionEvalError as exc:
        assert str(exc)
        return
    assert result is None or isinstance(result, bool | int | float | str | list)
    if isinstance(result, float):
        assert math.isfinite(result)


finite = st.one_of(
    st.integers(-(10**15), 10**15),
    st.floats(-1e150, 1e150, allow_nan=False, allow_infinity=False),
)


@PROPERTY
@given(finite, finite, st.sampled_from(["+", "-", "*", "/"]))
def test_arithmetic_agrees_with_python(a: int | float, b: int | float, op: str) -> None:
    expr = parse(f"a {op} b")
    env = {"a": a, "b": b}
    if op == "/" and b == 0:
        with pytest.raises(ExpressionEvalError, match="division by zero"):
            expr.evaluate(env)
        return
    expected = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else 0}[op]
    if abs(expected) > MAX_MAGNITUDE:
        with pytest.raises(ExpressionEvalError, match="number too large"):
            expr.evaluate(env)
        return
    result = expr.evaluate(env)
    assert result == expected
    assert type(result) is type(expected)


@PROPERTY
@given(finite, finite)
def test_comparisons_agree_with_python(a: int | float, b: int | float) -> None:
    env = {"a": a, "b": b}
    assert parse("a < b").evaluate(env) == (a < b)
    assert parse("a <= b").evaluate(env) == (a <= b)
    assert parse("a == b").evaluate(env) == (a == b)
    assert parse("a != b").evaluate(env) == (a != b)
    assert parse("-a").evaluate(env) == -a


@PROPERTY
@given(st.lists(st.one_of(st.none(), finite), min_size=1, max_size=6))
def test_sum_min_max_skip_unanswered(values: list[int | float | None]) -> None:
    names = [f"v{i}" for i in range(len(values))]
    env = dict(zip(names, values, strict=True))
    answered = [v for v in values if v is not None]
    args = ", ".join(names)
    assert parse(f"sum({args})").evaluate(env) == pytest.approx(sum(answered), rel=1e-12)
    assert parse(f"min({args})").evaluate(env) == (min(answered) if answered else None)
    assert parse(f"max({args})").evaluate(env) == (max(answered) if answered else None)
    assert parse(f"count({args})").evaluate(env) == len(answered)


@PROPERTY
@given(env_values, env_values)
def test_null_comparisons_are_false(x: object, y: object) -> None:
    env = {"x": x, "y": y}
    if x is None or y is None:
        for op in ["==", "!=", "<", "<=", ">", ">="]:
            try:
                assert parse(f"x {op} y").evaluate(env) is False
            except ExpressionEvalError:
                pytest.fail(f"comparison with null raised: x={x!r} {op} y={y!r}")
    assert parse("x == null").evaluate(env) is (x is None)
    assert parse("x != null").evaluate(env) is (x is not None)
