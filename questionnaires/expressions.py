"""The safe rule language of questionnaires: tokenizer, parser, immutable tree, printer, evaluator.

One language serves relevance (``relevant``, ``row_relevant``), option filters
(``choice_filter``), validation rules and calculated questions, both in the survey app and in
the analysis; this module is its only evaluator.  Text is tokenized and parsed by precedence
climbing into a tree of frozen dataclasses which is evaluated by walking it: nothing ever
reaches Python's ``eval``, ``compile`` or ``ast``.

Semantics (the choices the format leaves open are fixed here):

* ``null`` is the unanswered value.  Arithmetic and unary ``-`` with a ``null`` operand give
  ``null``.  A comparison with a ``null`` operand is ``false``, except the null tests
  ``x == null`` and ``x != null`` (the literal ``null`` on either side), so ``x != 5`` is
  ``false`` when ``x`` is unanswered.  ``in``/``not in`` with a ``null`` operand are ``false``.
* ``and``/``or``/``not`` and the condition of ``if`` are two-valued and short-circuit: ``null``
  counts as ``false`` (hence ``not null`` is ``true``) and the result is always ``true`` or
  ``false``.  Relevance shows a page, question, row or option only when its expression gives
  ``true``.  Any other operand (a number, a text) is an :class:`ExpressionEvalError`.
* Values have kinds: number (integer or decimal), text, boolean, list (a multiple-choice
  answer or a list literal).  Comparing or combining different kinds (``'5' == 5``,
  ``true + 1``) is an :class:`ExpressionEvalError` naming both operands, never a silent
  ``false``: such a rule is a bug in the questionnaire and must surface.  Two lists are equal
  when they hold the same elements in any order (a multiple-choice answer is a set).
* ``/`` is true division; division by zero and results beyond ``1e300`` are
  :class:`ExpressionEvalError` naming the expression.
* ``if`` and ``coalesce`` evaluate only the arguments they need; ``sum`` counts unanswered
  arguments as 0; ``min``/``max`` ignore unanswered arguments (``null`` when all are);
  ``count(q)`` is the number of selected options of a multiple-choice answer (0 when
  unanswered) and, with several arguments or a single non-list one, the number of answered
  arguments; ``answered(x)`` is false for ``null``, the empty text and the empty list;
  ``round(x, n)`` rounds half away from zero, as people do by hand.
* A name missing from the environment is unanswered (``null``); the loader has already checked
  every name against the questionnaire.  ``NaN`` (the missing value of pandas) is ``null``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Final, TypeAlias, TypeVar

from questionnaires.errors import ExpressionEvalError, ExpressionSyntaxError

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_MAGNITUDE",
    "MAX_NODES",
    "MAX_NUMBER_LENGTH",
    "NULL_TOLERANT_FUNCTIONS",
    "Attribute",
    "Binary",
    "Call",
    "Compare",
    "Expression",
    "ListLiteral",
    "Literal",
    "Logical",
    "Name",
    "Node",
    "Not",
    "Number",
    "Negate",
    "Value",
    "parse",
]

MAX_LENGTH: Final = 2000
"""Longest expression text, in characters."""
MAX_DEPTH: Final = 32
"""Deepest nesting of the tree (each operator, call or list adds a level)."""
MAX_NODES: Final = 400
"""Most nodes in one tree."""
MAX_NUMBER_LENGTH: Final = 32
"""Longest numeric literal, in characters (so no literal exceeds about 1e31)."""
MAX_MAGNITUDE: Final = 1e300
"""Largest magnitude of a computed number; beyond it evaluation fails instead of overflowing."""
MAX_ROUND_DIGITS: Final = 15
# The parser's own recursion guard: brackets that add no node ("((a))") still recurse, so it
# is looser than MAX_DEPTH, which bounds the tree itself.
_MAX_PARSER_NESTING: Final = 3 * MAX_DEPTH
_ROUNDING_CONTEXT: Final = Context(prec=400)

Value: TypeAlias = None | bool | int | float | str | list["Value"]
"""What an expression evaluates to (lists hold texts or numbers)."""

# Function name -> (fewest, most) arguments; None means no upper bound.
FUNCTIONS: Final[Mapping[str, tuple[int, int | None]]] = {
    "selected": (2, 2),
    "count": (1, None),
    "sum": (1, None),
    "answered": (1, 1),
    "min": (1, None),
    "max": (1, None),
    "abs": (1, 1),
    "round": (1, 2),
    "if": (3, 3),
    "coalesce": (1, None),
}

NULL_TOLERANT_FUNCTIONS: Final = frozenset({"answered", "coalesce", "count", "sum", "min", "max"})
"""Functions that give a meaningful result when arguments are unanswered."""

KEYWORDS: Final = frozenset({"and", "or", "not", "in", "true", "false", "null"})
COMPARISONS: Final = frozenset({"==", "!=", "<", "<=", ">", ">=", "in", "not in"})

# Binding power of the binary operators and of the prefix operators; higher binds tighter.
_PREC_OR: Final = 1
_PREC_AND: Final = 2
_PREC_NOT: Final = 3
_PREC_COMPARE: Final = 4
_PREC_ADD: Final = 5
_PREC_MUL: Final = 6
_PREC_NEGATE: Final = 7
_PREC_ATOM: Final = 8
_BINARY_PREC: Final[Mapping[str, int]] = {
    "or": _PREC_OR,
    "and": _PREC_AND,
    **{op: _PREC_COMPARE for op in COMPARISONS},
    "+": _PREC_ADD,
    "-": _PREC_ADD,
    "*": _PREC_MUL,
    "/": _PREC_MUL,
}


# --------------------------------------------------------------------------------------------
# The tree


@dataclass(frozen=True)
class Node:
    """A node of an expression tree; trees are immutable and compare structurally."""

    def children(self) -> tuple[Node, ...]:
        """The direct sub-expressions, left to right."""
        return ()

    def walk(self) -> Iterator[Node]:
        """This node and every node below it, depth first."""
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children()))


@dataclass(frozen=True)
class _Constant(Node):
    """What the literals share: equality by kind and value, so that ``true`` is not ``1``."""

    value: bool | str | int | float | None

    def __eq__(self, other: object) -> bool:
        """Equal when of the same node and value type and of equal value."""
        return (
            type(other) is type(self)
            and isinstance(other, _Constant)
            and type(self.value) is type(other.value)
            and self.value == other.value
        )

    def __hash__(self) -> int:
        """Hash consistent with equality."""
        return hash((type(self), type(self.value), self.value))


# eq=False: the subclasses keep the equality of _Constant instead of a generated one.
@dataclass(frozen=True, eq=False)
class Literal(_Constant):
    """``true``, ``false``, ``null`` or a text literal."""

    value: bool | str | None


@dataclass(frozen=True, eq=False)
class Number(_Constant):
    """A numeric literal; ``numeral`` is the digits as written, printed back unchanged."""

    value: int | float
    numeral: str = field(compare=False)


@dataclass(frozen=True)
class ListLiteral(Node):
    """``[a, b, ...]``."""

    items: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        """The list items."""
        return self.items


@dataclass(frozen=True)
class Name(Node):
    """A reference to a variable (an answer, a grid cell, ``row`` in row rules)."""

    name: str


@dataclass(frozen=True)
class Attribute(Node):
    """``@name``: an attribute of the option being filtered by a ``choice_filter``."""

    name: str


@dataclass(frozen=True)
class _PrefixOperation(Node):
    """What the prefix operators share: one operand."""

    operand: Node

    def children(self) -> tuple[Node, ...]:
        """The operand."""
        return (self.operand,)


@dataclass(frozen=True)
class Negate(_PrefixOperation):
    """Unary minus."""


@dataclass(frozen=True)
class Not(_PrefixOperation):
    """Logical negation."""


@dataclass(frozen=True)
class _InfixOperation(Node):
    """What the infix operators share: the operator and both operands."""

    op: str
    left: Node
    right: Node

    def children(self) -> tuple[Node, ...]:
        """Both operands."""
        return (self.left, self.right)


@dataclass(frozen=True)
class Binary(_InfixOperation):
    """Arithmetic: ``+ - * /``."""


@dataclass(frozen=True)
class Compare(_InfixOperation):
    """A comparison: ``== != < <= > >= in`` or ``not in``."""


@dataclass(frozen=True)
class Logical(_InfixOperation):
    """``and`` / ``or``."""


@dataclass(frozen=True)
class Call(Node):
    """A call of one of the whitelisted :data:`FUNCTIONS`."""

    function: str
    args: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        """The arguments."""
        return self.args


# --------------------------------------------------------------------------------------------
# Errors


def _syntax_error(what: str, text: str, position: int) -> ExpressionSyntaxError:
    # One-line message; ExpressionSyntaxError.caret() points at the fault for a terminal.
    return ExpressionSyntaxError(what, text, max(0, min(position, len(text))))


# --------------------------------------------------------------------------------------------
# Tokenizer


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "string", "name", "attribute", "keyword", "op", "end"
    value: str
    position: int


_SINGLE_CHAR_OPS: Final = frozenset("+-*/()[],")
_TWO_CHAR_OPS: Final = frozenset({"==", "!=", "<=", ">="})
_ESCAPES: Final[Mapping[str, str]] = {"'": "'", '"': '"', "\\": "\\"}
_WHITESPACE: Final = frozenset(" \t\r\n")


def _is_name_start(ch: str) -> bool:
    return ch.isascii() and (ch.isalpha() or ch == "_")


def _is_name_char(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def _tokenize(text: str) -> list[_Token]:
    """Split ``text`` into tokens; every problem is an :class:`ExpressionSyntaxError`."""
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _WHITESPACE:
            i += 1
        elif (ch.isascii() and ch.isdigit()) or (
            ch == "." and i + 1 < n and text[i + 1].isascii() and text[i + 1].isdigit()
        ):
            start = i
            while i < n and text[i].isascii() and text[i].isdigit():
                i += 1
            if i < n and text[i] == ".":
                i += 1
                if not (i < n and text[i].isascii() and text[i].isdigit()):
                    raise _syntax_error("a decimal point must be followed by digits", text, i)
                while i < n and text[i].isascii() and text[i].isdigit():
                    i += 1
            if i < n and (_is_name_char(text[i]) or text[i] == "."):
                raise _syntax_error(f"malformed number {text[start:i + 1]!r}", text, i)
            if i - start > MAX_NUMBER_LENGTH:
                raise _syntax_error(
                    f"number literal longer than {MAX_NUMBER_LENGTH} characters", text, start
                )
            tokens.append(_Token("number", text[start:i], start))
        elif ch in "'\"":
            token, i = _read_string(text, i)
            tokens.append(token)
        elif _is_name_start(ch):
            start = i
            while i < n and _is_name_char(text[i]):
                i += 1
            word = text[start:i]
            tokens.append(_Token("keyword" if word in KEYWORDS else "name", word, start))
        elif ch == "@":
            start = i
            i += 1
            if not (i < n and _is_name_start(text[i])):
                raise _syntax_error("'@' must be followed by an attribute name", text, start)
            while i < n and _is_name_char(text[i]):
                i += 1
            tokens.append(_Token("attribute", text[start + 1:i], start))
        elif text[i:i + 2] == "**":
            raise _syntax_error("there is no power operator", text, i)
        elif text[i:i + 2] in _TWO_CHAR_OPS:
            tokens.append(_Token("op", text[i:i + 2], i))
            i += 2
        elif ch in "<>":
            tokens.append(_Token("op", ch, i))
            i += 1
        elif ch in _SINGLE_CHAR_OPS:
            tokens.append(_Token("op", ch, i))
            i += 1
        else:
            raise _syntax_error(_describe_bad_char(text, i), text, i)
    tokens.append(_Token("end", "", n))
    return tokens


def _describe_bad_char(text: str, i: int) -> str:
    ch = text[i]
    hints = {
        ".": "attribute access ('.') is not allowed",
        "=": "'=' is not an operator; compare with '=='",
        "!": "'!' is not an operator; use 'not' or '!='",
        "&": "'&' is not an operator; use 'and'",
        "|": "'|' is not an operator; use 'or'",
        "%": "'%' is not an operator",
        "^": "'^' is not an operator (there is no power operator)",
        "$": "'$' is not allowed; write the variable name without '${...}'",
        "{": "'{' is not allowed; write the variable name without '${...}'",
        ":": "':' is not allowed",
        ";": "';' is not allowed",
        "#": "comments are not allowed",
    }
    if ch in hints:
        return hints[ch]
    if not ch.isprintable():
        return f"control character U+{ord(ch):04X} is not allowed"
    return f"unexpected character {ch!r}"


def _read_string(text: str, start: int) -> tuple[_Token, int]:
    """The string literal starting at ``start`` and the index just after its closing quote."""
    quote = text[start]
    i, n = start + 1, len(text)
    out: list[str] = []
    while True:
        if i >= n:
            raise _syntax_error("unterminated string", text, start)
        ch = text[i]
        if ch == quote:
            return _Token("string", "".join(out), start), i + 1
        if ch == "\\":
            nxt = text[i + 1] if i + 1 < n else ""
            if nxt not in _ESCAPES:
                raise _syntax_error(
                    "unknown escape in string (only \\', \\\" and \\\\ are allowed)", text, i
                )
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        if not ch.isprintable():
            raise _syntax_error(
                f"control character U+{ord(ch):04X} is not allowed in a string", text, i
            )
        out.append(ch)
        i += 1


# --------------------------------------------------------------------------------------------
# Parser


@dataclass(frozen=True)
class _Built:
    """A node with its depth, so limits are checked as the tree grows."""

    node: Node
    depth: int


class _Parser:
    """Precedence climbing over the token list, with the size limits enforced as it goes."""

    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0
        self.nodes = 0
        self.nesting = 0

    # -- helpers ---------------------------------------------------------------------------

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> _Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def error(self, what: str, position: int | None = None) -> ExpressionSyntaxError:
        return _syntax_error(
            what, self.text, self.current.position if position is None else position
        )

    def expect(self, value: str, context: str) -> _Token:
        token = self.current
        if token.kind == "op" and token.value == value:
            return self.advance()
        raise self.error(f"expected '{value}' {context}, found {_describe(token)}")

    def make(self, node: Node, *parts: _Built, position: int) -> _Built:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.error(f"expression has more than {MAX_NODES} parts", position)
        depth = 1 + max((part.depth for part in parts), default=0)
        if depth > MAX_DEPTH:
            raise self.error(f"expression is nested more than {MAX_DEPTH} levels deep", position)
        return _Built(node, depth)

    def enter(self, position: int) -> None:
        # Bounds the recursion of the parser itself before any node is built, so
        # "((((((..." fails cleanly long before Python's recursion limit.
        self.nesting += 1
        if self.nesting > _MAX_PARSER_NESTING:
            raise self.error(
                f"brackets and operators are nested more than {_MAX_PARSER_NESTING} levels deep",
                position,
            )

    def leave(self) -> None:
        self.nesting -= 1

    # -- grammar ---------------------------------------------------------------------------

    def parse(self) -> Node:
        if self.current.kind == "end":
            raise self.error("empty expression")
        built = self.expression(0)
        if self.current.kind != "end":
            raise self.error(f"unexpected {_describe(self.current)} after a complete expression")
        return built.node

    def binary_operator(self) -> str | None:
        token = self.current
        if token.kind == "op" and token.value in _BINARY_PREC:
            return token.value
        if token.kind == "keyword":
            if token.value in ("and", "or", "in"):
                return token.value
            if token.value == "not" and self.peek().kind == "keyword" and self.peek().value == "in":
                return "not in"
        return None

    def expression(self, min_prec: int) -> _Built:
        start = self.current.position
        self.enter(start)
        left = self.prefix()
        while True:
            op = self.binary_operator()
            if op is None:
                break
            prec = _BINARY_PREC[op]
            if prec <= min_prec:
                break
            op_token = self.advance()
            if op == "not in":
                self.advance()
            right = self.expression(prec)
            node: Node
            if prec == _PREC_COMPARE:
                node = Compare(op, left.node, right.node)
                following = self.binary_operator()
                if following is not None and _BINARY_PREC[following] == _PREC_COMPARE:
                    raise self.error(
                        "comparisons cannot be chained; combine them with 'and'"
                    )
            elif op in ("and", "or"):
                node = Logical(op, left.node, right.node)
            else:
                node = Binary(op, left.node, right.node)
            left = self.make(node, left, right, position=op_token.position)
        self.leave()
        return left

    def prefix(self) -> _Built:
        token = self.current
        if token.kind == "keyword" and token.value == "not":
            self.advance()
            operand = self.expression(_PREC_NOT - 1)
            return self.make(Not(operand.node), operand, position=token.position)
        if token.kind == "op" and token.value == "-":
            self.advance()
            operand = self.expression(_PREC_NEGATE)
            return self.make(Negate(operand.node), operand, position=token.position)
        return self.postfix_check(self.primary())

    def postfix_check(self, built: _Built) -> _Built:
        token = self.current
        if token.kind == "op" and token.value == "[":
            raise self.error("indexing ('[...]' after a value) is not allowed")
        if token.kind == "op" and token.value == "(":
            raise self.error("only the named functions can be called")
        if token.kind in ("number", "string", "name", "attribute") or (
            token.kind == "keyword" and token.value in ("true", "false", "null")
        ):
            raise self.error(f"missing operator before {_describe(token)}")
        return built

    def primary(self) -> _Built:
        token = self.current
        if token.kind == "number":
            self.advance()
            value: int | float = (
                float(token.value) if "." in token.value else int(token.value)
            )
            return self.make(Number(value, token.value), position=token.position)
        if token.kind == "string":
            self.advance()
            return self.make(Literal(token.value), position=token.position)
        if token.kind == "keyword" and token.value in ("true", "false", "null"):
            self.advance()
            constant = {"true": True, "false": False, "null": None}[token.value]
            return self.make(Literal(constant), position=token.position)
        if token.kind == "attribute":
            self.advance()
            return self.make(Attribute(token.value), position=token.position)
        if token.kind == "name":
            self.advance()
            if self.current.kind == "op" and self.current.value == "(":
                return self.call(token)
            return self.make(Name(token.value), position=token.position)
        if token.kind == "op" and token.value == "(":
            self.advance()
            inner = self.expression(0)
            self.expect(")", "to close the '(' at column " + str(token.position + 1))
            return inner
        if token.kind == "op" and token.value == "[":
            return self.list_literal()
        raise self.error(f"expected a value, found {_describe(token)}")

    def arguments(self, closer: str, opening: _Token) -> list[_Built]:
        self.advance()
        items: list[_Built] = []
        if self.current.kind == "op" and self.current.value == closer:
            self.advance()
            return items
        while True:
            items.append(self.expression(0))
            if self.current.kind == "op" and self.current.value == ",":
                self.advance()
                continue
            self.expect(closer, f"to close the '{opening.value}' at column {opening.position + 1}")
            return items

    def call(self, name: _Token) -> _Built:
        if name.value not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise self.error(f"unknown function {name.value!r} (known: {known})", name.position)
        opening = self.current
        args = self.arguments(")", opening)
        low, high = FUNCTIONS[name.value]
        if len(args) < low or (high is not None and len(args) > high):
            if high is None:
                wanted = f"at least {low} argument{'s' if low != 1 else ''}"
            elif low == high:
                wanted = f"exactly {low} argument{'s' if low != 1 else ''}"
            else:
                wanted = f"{low} to {high} arguments"
            raise self.error(
                f"{name.value}() takes {wanted}, got {len(args)}", name.position
            )
        node = Call(name.value, tuple(arg.node for arg in args))
        return self.make(node, *args, position=name.position)

    def list_literal(self) -> _Built:
        opening = self.current
        items = self.arguments("]", opening)
        node = ListLiteral(tuple(item.node for item in items))
        return self.make(node, *items, position=opening.position)


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "the end of the expression"
    if token.kind == "string":
        return "a string"
    if token.kind == "number":
        return f"number {token.value}"
    if token.kind == "attribute":
        return f"'@{token.value}'"
    return f"'{token.value}'"


def parse(text: str) -> Expression:
    """Parse ``text`` into an :class:`Expression`; any problem is an ExpressionSyntaxError."""
    if not isinstance(text, str):
        raise ExpressionSyntaxError(
            f"an expression must be text, not {type(text).__name__}", "", None
        )
    if len(text) > MAX_LENGTH:
        raise ExpressionSyntaxError(
            f"expression is longer than {MAX_LENGTH} characters ({len(text)})",
            text[:MAX_LENGTH],
            MAX_LENGTH,
        )
    tokens = _tokenize(text)
    root = _Parser(text, tokens).parse()
    return Expression(text, root)


# --------------------------------------------------------------------------------------------
# Printer


def _precedence(node: Node) -> int:
    if isinstance(node, Logical):
        return _PREC_OR if node.op == "or" else _PREC_AND
    if isinstance(node, Not):
        return _PREC_NOT
    if isinstance(node, Compare):
        return _PREC_COMPARE
    if isinstance(node, Binary):
        return _PREC_ADD if node.op in "+-" else _PREC_MUL
    if isinstance(node, Negate):
        return _PREC_NEGATE
    return _PREC_ATOM


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def to_text(node: Node) -> str:
    """The canonical text of a tree: single quotes, single spaces, only the needed brackets."""
    if isinstance(node, Literal):
        if node.value is None:
            return "null"
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        return _quote(node.value)
    if isinstance(node, Number):
        return node.numeral
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Attribute):
        return "@" + node.name
    if isinstance(node, ListLiteral):
        return "[" + ", ".join(to_text(item) for item in node.items) + "]"
    if isinstance(node, Call):
        return node.function + "(" + ", ".join(to_text(arg) for arg in node.args) + ")"
    if isinstance(node, Negate):
        return "-" + _operand_text(node.operand, _PREC_NEGATE, strict=False)
    if isinstance(node, Not):
        return "not " + _operand_text(node.operand, _PREC_NOT, strict=False)
    if isinstance(node, Binary | Logical | Compare):
        prec = _precedence(node)
        # Comparisons do not chain, so both sides of one need brackets around a comparison.
        left = _operand_text(node.left, prec, strict=isinstance(node, Compare))
        right = _operand_text(node.right, prec, strict=True)
        return f"{left} {node.op} {right}"
    raise TypeError(f"not an expression node: {node!r}")


def _operand_text(node: Node, parent_prec: int, *, strict: bool) -> str:
    text = to_text(node)
    prec = _precedence(node)
    if prec < parent_prec or (strict and prec == parent_prec):
        return f"({text})"
    return text


# --------------------------------------------------------------------------------------------
# Evaluation


_Ordered = TypeVar("_Ordered", int | float, str)


def _kind(value: Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    return "list"


def _show(value: Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = _quote(value)
        return f"text {shown if len(shown) <= 40 else shown[:37] + '...'}"
    if isinstance(value, int | float):
        return f"number {value!r}" if abs(value) < 1e16 else f"number {value:.6g}"
    shown = "[" + ", ".join(_show(item) for item in value[:5])
    return f"list {shown}{', ...' if len(value) > 5 else ''}]"


def _normalise(value: object, where: str) -> Value:
    """Turn a value from the environment into a value of the language."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    # numpy.bool_ is neither bool nor a numbers.Number; recognised without importing numpy.
    if type(value).__name__ in ("bool_", "bool") and type(value).__module__ == "numpy":
        return bool(value)
    if isinstance(value, numbers.Integral):
        integer = int(value)
        if abs(integer) > MAX_MAGNITUDE:
            raise ExpressionEvalError(f"{where} is too large a number")
        return integer
    if isinstance(value, numbers.Real | Decimal):
        try:
            number = float(value)
        except OverflowError:
            raise ExpressionEvalError(f"{where} is too large a number") from None
        if math.isnan(number):
            return None  # the missing value of pandas and numpy
        if math.isinf(number) or abs(number) > MAX_MAGNITUDE:
            raise ExpressionEvalError(f"{where} is not a finite number ({value})")
        return number
    if type(value).__name__ == "NAType":  # pandas.NA, the other missing value of pandas
        return None
    if isinstance(value, list | tuple | set | frozenset):
        items: list[Value] = []
        for item in value:
            normal = _normalise(item, where)
            if isinstance(normal, list):
                raise ExpressionEvalError(f"{where} is a list of lists, which has no meaning here")
            if normal is not None:
                items.append(normal)
        if isinstance(value, set | frozenset):
            items.sort(key=lambda item: (_kind(item), str(item)))
        return items
    raise ExpressionEvalError(
        f"{where} has a value of type {type(value).__name__}, which expressions cannot use"
    )


def _truth(value: Value, what: str, context: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise ExpressionEvalError(f"{what} must be true, false or null, got {_show(value)} {context}")


def _check_number(value: int | float, node: Node) -> int | float:
    if isinstance(value, float) and not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise ExpressionEvalError(f"number too large in {to_text(node)!r}")
    return value


def _as_number(value: Value) -> int | float | None:
    """The value if it is a number (booleans are not), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _order(op: str, left: _Ordered, right: _Ordered) -> bool:
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def _equal(left: Value, right: Value, node: Node) -> bool:
    """Typed equality of two non-null values; different kinds are an error."""
    kind_left, kind_right = _kind(left), _kind(right)
    if kind_left != kind_right:
        raise ExpressionEvalError(
            f"cannot compare {_show(left)} with {_show(right)} in {to_text(node)!r}"
        )
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return False
        remaining = list(right)
        for item in left:
            for index, other in enumerate(remaining):
                if _kind(item) == _kind(other) and item == other:
                    del remaining[index]
                    break
            else:
                return False
        return True
    return left == right


class _Evaluator:
    """Walks one tree against one environment."""

    def __init__(
        self,
        expression: Expression,
        env: Mapping[str, object],
        attributes: Mapping[str, str] | None,
    ) -> None:
        self.expression = expression
        self.env = env
        self.attributes = attributes
        self.context = f"in expression {expression.text!r}"

    def fail(self, message: str) -> ExpressionEvalError:
        return ExpressionEvalError(f"{message} ({self.context})")

    def eval(self, node: Node) -> Value:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Number):
            return node.value
        if isinstance(node, Name):
            if node.name not in self.env:
                return None
            try:
                return _normalise(self.env[node.name], f"variable {node.name!r}")
            except ExpressionEvalError as exc:
                raise self.fail(str(exc)) from None
        if isinstance(node, Attribute):
            return self.attribute(node.name)
        if isinstance(node, ListLiteral):
            items: list[Value] = []
            for item in node.items:
                value = self.eval(item)
                if isinstance(value, list):
                    raise self.fail(f"a list cannot contain a list: {to_text(node)!r}")
                items.append(value)
            return items
        if isinstance(node, Negate):
            operand = self.eval(node.operand)
            if operand is None:
                return None
            number = _as_number(operand)
            if number is None:
                raise self.fail(f"cannot negate {_show(operand)} in {to_text(node)!r}")
            return -number
        if isinstance(node, Not):
            return not _truth(
                self.eval(node.operand), "the operand of 'not'", self.context
            )
        if isinstance(node, Logical):
            left = _truth(self.eval(node.left), f"the left side of {node.op!r}", self.context)
            if node.op == "and" and not left:
                return False
            if node.op == "or" and left:
                return True
            return _truth(self.eval(node.right), f"the right side of {node.op!r}", self.context)
        if isinstance(node, Binary):
            return self.arithmetic(node)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, Call):
            return self.call(node)
        raise self.fail(f"unknown node {type(node).__name__}")

    def attribute(self, name: str) -> Value:
        if self.attributes is None:
            raise self.fail(f"'@{name}' can only be used in a choice_filter")
        value = self.attributes.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"option attribute {name!r} must be text, not {type(value).__name__}")
        return value

    def arithmetic(self, node: Binary) -> Value:
        left = self.eval(node.left)
        right = self.eval(node.right)
        if left is None or right is None:
            return None
        a, b = _as_number(left), _as_number(right)
        if a is None or b is None:
            raise self.fail(
                f"cannot apply '{node.op}' to {_show(left)} and {_show(right)}"
                f" in {to_text(node)!r}"
            )
        try:
            if node.op == "+":
                result = a + b
            elif node.op == "-":
                result = a - b
            elif node.op == "*":
                result = a * b
            else:
                if b == 0:
                    raise self.fail(f"division by zero in {to_text(node)!r}")
                result = a / b
        except OverflowError:
            raise self.fail(f"number too large in {to_text(node)!r}") from None
        try:
            return _check_number(result, node)
        except ExpressionEvalError as exc:
            raise self.fail(str(exc)) from None

    def compare(self, node: Compare) -> bool:
        # Null tests are recognised from the literal `null` in the text, so that
        # `x != null` is true for an answered x while `x != 5` is false for an unanswered x.
        if node.op in ("==", "!=") and (_is_null(node.left) or _is_null(node.right)):
            other = node.right if _is_null(node.left) else node.left
            is_null = self.eval(other) is None
            return is_null if node.op == "==" else not is_null
        left = self.eval(node.left)
        right = self.eval(node.right)
        if left is None or right is None:
            return False
        if node.op in ("in", "not in"):
            return self.membership(node, left, right)
        if node.op in ("==", "!="):
            try:
                equal = _equal(left, right, node)
            except ExpressionEvalError as exc:
                raise self.fail(str(exc)) from None
            return equal if node.op == "==" else not equal
        a, b = _as_number(left), _as_number(right)
        if a is not None and b is not None:
            return _order(node.op, a, b)
        if isinstance(left, str) and isinstance(right, str):
            return _order(node.op, left, right)
        raise self.fail(f"cannot order {_show(left)} and {_show(right)} in {to_text(node)!r}")

    def membership(self, node: Compare, left: Value, right: Value) -> bool:
        if isinstance(left, list):
            raise self.fail(
                f"the left side of '{node.op}' must be a single value, got {_show(left)}"
                f" in {to_text(node)!r}"
            )
        if not isinstance(right, list):
            raise self.fail(
                f"the right side of '{node.op}' must be a list, got {_show(right)}"
                f" in {to_text(node)!r}"
            )
        found = False
        for item in right:
            if item is None:
                continue
            try:
                if _equal(left, item, node):
                    found = True
                    break
            except ExpressionEvalError as exc:
                raise self.fail(str(exc)) from None
        return found if node.op == "in" else not found

    def call(self, node: Call) -> Value:
        name, args = node.function, node.args
        if name == "if":
            condition = _truth(
                self.eval(args[0]), "the condition of if()", self.context
            )
            return self.eval(args[1] if condition else args[2])
        if name == "coalesce":
            for arg in args:
                value = self.eval(arg)
                if value is not None:
                    return value
            return None
        values = [self.eval(arg) for arg in args]
        handler = _FUNCTION_HANDLERS[name]
        return handler(self, node, values)

    def number_args(self, node: Call, values: list[Value]) -> list[int | float]:
        numbers_: list[int | float] = []
        for value in values:
            if value is None:
                continue
            number = _as_number(value)
            if number is None:
                raise self.fail(
                    f"{node.function}() needs numbers, got {_show(value)} in {to_text(node)!r}"
                )
            numbers_.append(number)
        return numbers_


def _is_null(node: Node) -> bool:
    return isinstance(node, Literal) and node.value is None


def _strict_names(root: Node) -> set[str]:
    """Names used outside null tests and the null-tolerant functions.

    When one of them is unanswered, the value of the expression comes from the null rules
    (a comparison is false, arithmetic is null) rather than from the answers; the rules engine
    uses this to leave a rule about an unanswered question unchecked.
    """
    found: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, Name):
            found.add(node.name)
        elif isinstance(node, Compare) and node.op in ("==", "!=") and (
            _is_null(node.left) or _is_null(node.right)
        ):
            continue
        elif isinstance(node, Call) and node.function in NULL_TOLERANT_FUNCTIONS:
            continue
        else:
            stack.extend(node.children())
    return found


def _fn_selected(ev: _Evaluator, node: Call, values: list[Value]) -> Value:
    answer, code = values
    if code is None:
        return False
    if isinstance(code, list) or isinstance(code, bool):
        raise ev.fail(f"selected() needs a single code, got {_show(code)} in {to_text(node)!r}")
    if answer is None:
        return False
    candidates = answer if isinstance(answer, list) else [answer]
    try:
        return any(_equal(item, code, node) for item in candidates)
    except ExpressionEvalError as exc:
        raise ev.fail(str(exc)) from None


def _fn_count(ev: _Evaluator, node: Call, values: list[Value]) -> Value:
    if len(values) == 1 and isinstance(values[0], list):
        return len(values[0])
    return sum(1 for value in values if _is_answered(value))


def _fn_sum(ev: _Evaluator, node: Call, values: list[Value]) -> Value:
    total: int | float = 0
    for value in ev.number_args(node, values):
        total += value
    try:
        return _check_number(total, node)
    except ExpressionEvalError as exc:
        raise ev.fail(str(exc)) from None


def _fn_answered(ev: _Evaluator, node: Call, values: list[Value]) -> Value:
    return _is_answered(values[0])


def _is_answered(value: Value) -> bool:
    return value is not None and value != "" and value != []


def _fn_min(ev: _Evaluator, node: Call, values: list[Value]) -> Value:
    numbers_ = ev.number_args(node, values)
    return min(numbers_) if numbers_ else None


def _fn_max(ev: _Evaluator, node: Call, values: list[Value]) -> Value:
    numbers_ = ev.number_args(node, values)
    return max(numbers_) if numbers_ else None


def _fn_abs(ev: _Evaluator, node: Call, values: list[Value]) -> Value:
    numbers_ = ev.number_args(node, values)
    return abs(numbers_[0]) if numbers_ else None


def _fn_round(ev: _Evaluator, node: Call, values: list[Value]) -> Value:
    if any(value is None for value in values):
        return None
    numbers_ = ev.number_args(node, values)
    digits = numbers_[1] if len(numbers_) == 2 else 0
    if digits != int(digits) or abs(digits) > MAX_ROUND_DIGITS:
        raise ev.fail(
            f"round() needs a whole number of digits between -{MAX_ROUND_DIGITS} and "
            f"{MAX_ROUND_DIGITS}, got {digits!r} in {to_text(node)!r}"
        )
    digits = int(digits)
    number = numbers_[0]
    if isinstance(number, int) and digits >= 0:
        return number
    # Decimal of the shortest repr rounds 2.675 to 2.68, as a person would, not to 2.67.
    rounded = Decimal(repr(number)).quantize(
        Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP, context=_ROUNDING_CONTEXT
    )
    if digits <= 0:
        return int(rounded)
    return float(rounded)


_FUNCTION_HANDLERS: Final[Mapping[str, Callable[[_Evaluator, Call, list[Value]], Value]]] = {
    "selected": _fn_selected,
    "count": _fn_count,
    "sum": _fn_sum,
    "answered": _fn_answered,
    "min": _fn_min,
    "max": _fn_max,
    "abs": _fn_abs,
    "round": _fn_round,
}


# --------------------------------------------------------------------------------------------
# The public object


@dataclass(frozen=True, eq=False)
class Expression:
    """A parsed expression: its source ``text``, its tree ``root`` and what it refers to.

    ``names`` are the variables it reads, ``attributes`` the ``@name`` option attributes,
    ``functions`` the functions it calls, and ``strict_names`` the variables it uses outside
    null tests and :data:`NULL_TOLERANT_FUNCTIONS`.  Two expressions are equal when their trees
    are; ``str()`` gives the canonical text, which parses back to an equal expression.
    """

    text: str
    root: Node
    names: frozenset[str] = field(init=False)
    attributes: frozenset[str] = field(init=False)
    functions: frozenset[str] = field(init=False)
    strict_names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        """Collect the names, attributes and functions the tree refers to."""
        nodes = list(self.root.walk())
        object.__setattr__(
            self, "names", frozenset(n.name for n in nodes if isinstance(n, Name))
        )
        object.__setattr__(
            self, "attributes", frozenset(n.name for n in nodes if isinstance(n, Attribute))
        )
        object.__setattr__(
            self, "functions", frozenset(n.function for n in nodes if isinstance(n, Call))
        )
        object.__setattr__(self, "strict_names", frozenset(_strict_names(self.root)))

    def __eq__(self, other: object) -> bool:
        """Equal when the trees are equal (spacing, quotes and brackets do not matter)."""
        return isinstance(other, Expression) and self.root == other.root

    def __hash__(self) -> int:
        """Hash of the tree."""
        return hash(self.root)

    def __str__(self) -> str:
        """The canonical text of the expression."""
        return to_text(self.root)

    def __repr__(self) -> str:
        """``Expression('<canonical text>')``."""
        return f"Expression({str(self)!r})"

    def evaluate(
        self, env: Mapping[str, object], attributes: Mapping[str, str] | None = None
    ) -> Value:
        """Evaluate against ``env`` (name -> answer) and, in a choice filter, an option's
        ``attributes``; a failure is an :class:`ExpressionEvalError` naming the expression."""
        try:
            return _Evaluator(self, env, attributes).eval(self.root)
        except ExpressionEvalError:
            raise
        except RecursionError:
            # Trees are at most MAX_DEPTH deep, so this only happens when the caller's own
            # stack is nearly exhausted; it must still surface as the declared error type.
            raise ExpressionEvalError(
                f"expression too deeply nested to evaluate: {self.text!r}"
            ) from None

    def is_true(
        self, env: Mapping[str, object], attributes: Mapping[str, str] | None = None
    ) -> bool:
        """True only when the expression gives ``true`` (``null`` counts as false).

        For relevance, filters and rules; a result that is not a boolean or ``null`` is an
        :class:`ExpressionEvalError`.
        """
        value = self.evaluate(env, attributes)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        raise ExpressionEvalError(
            f"expression {self.text!r} must give true or false, got {_show(value)}"
        )
