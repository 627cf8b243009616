"""Translation of XLSForm (XPath-style) expressions into the questionnaire expression language.

Only a small, well-defined subset of XPath is translated; everything else raises
`XPathTranslationError` naming the construct and its column, so the importer can report it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from questionnaires.errors import ExpressionError
from questionnaires.expressions import parse

#: Our expression language's own limits (questionnaires/README.md); longer input is refused early.
MAX_LENGTH = 2000
MAX_DEPTH = 32


class XPathTranslationError(ValueError):
    """An XPath expression is malformed or outside the translatable subset."""

    def __init__(self, message: str, position: int | None = None) -> None:
        self.message = message
        self.position = position
        super().__init__(message)

    def __str__(self) -> str:
        """Name the 1-based character position of the fault, when it is known."""
        if self.position is None:
            return self.message
        return f"{self.message} (at character {self.position + 1})"


class UnknownReferenceError(XPathTranslationError):
    """An expression refers to `${name}` where the form has no question of that name."""


@dataclass(frozen=True)
class TranslationContext:
    """What a translation needs to know about the form."""

    #: XLSForm question name -> question id in our format.
    names: Mapping[str, str]
    #: Question id that `.` stands for (None where `.` has no meaning).
    current: str | None = None
    #: Choice filters: bare names are columns of the choices sheet (`@attribute`, `name` = `@code`).
    choice_filter: bool = False
    #: Choices-sheet column -> attribute name, for choice filters.
    attributes: Mapping[str, str] = field(default_factory=dict)
    #: Question id -> {XLSForm choice name: our code}, where codes had to be normalised.
    codes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: Question id -> value type (integer, decimal) of numeric questions, for calculations.
    value_types: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Translation:
    """A translated expression and the XLSForm names it refers to."""

    text: str
    references: frozenset[str]
    #: The value type the expression yields (text, integer or decimal; text when unsure).
    value_type: str = "text"
    #: For a constraint that only bounds the question (`. >= 0 and . <= 100`): the inclusive
    #: lower and upper bound as written (None where there is none); else None.
    bounds: tuple[str | None, str | None] | None = None


# --------------------------------------------------------------------------- tokens

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<ref>\$\{\s*(?P<refname>[^}\s]*)\s*\})
  | (?P<number>\d+(?:\.\d*)?|\.\d+)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_.\-]*(?::[A-Za-z_][A-Za-z0-9_.\-]*)?)
  | (?P<op>!=|<=|>=|==|\.\.|[=<>+\-*(),./|\[\]@])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokenize(text: str) -> list[_Token]:
    """Split an XPath expression into tokens, ending with an `end` token."""
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if match is None:
            if text[position] in "'\"":
                raise XPathTranslationError("unterminated string", position)
            raise XPathTranslationError(f"unexpected character {text[position]!r}", position)
        kind = "ref" if match.group("ref") is not None else match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group(0), position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# --------------------------------------------------------------------------- tree


@dataclass(frozen=True)
class _Num:
    text: str


@dataclass(frozen=True)
class _Str:
    value: str


@dataclass(frozen=True)
class _Bool:
    value: bool


@dataclass(frozen=True)
class _Ref:
    xls_name: str  # "" for the current question (`.`)
    ident: str


@dataclass(frozen=True)
class _Attr:
    name: str


@dataclass(frozen=True)
class _Call:
    name: str
    args: tuple[_Node, ...]
    position: int = field(default=-1, compare=False)


@dataclass(frozen=True)
class _Not:
    operand: _Node


@dataclass(frozen=True)
class _Neg:
    operand: _Node


@dataclass(frozen=True)
class _Binary:
    op: str
    left: _Node
    right: _Node


_Node = _Num | _Str | _Bool | _Ref | _Attr | _Call | _Not | _Neg | _Binary

# Precedences of our language (higher binds tighter).
_PREC = {"or": 1, "and": 2, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
         "+": 5, "-": 5, "*": 6, "/": 6}
_NOT_PREC = 3
_NEG_PREC = 7
_ATOM_PREC = 8

# XPath precedences (XPath 1.0 section 3.4: equality binds looser than relational).
_XPATH_BINARY = {"or": 1, "and": 2, "=": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4,
                 "+": 5, "-": 5, "*": 6, "div": 6, "mod": 6}
_XPATH_TO_OURS = {"=": "==", "div": "/"}
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})

# XPath functions we translate, with their arity (min, max; None = unbounded).
_FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "selected": (2, 2),
    "count-selected": (1, 1),
    "not": (1, 1),
    "if": (3, 3),
    "coalesce": (2, None),
    "true": (0, 0),
    "false": (0, 0),
    "round": (1, 2),
    "abs": (1, 1),
    "min": (2, None),
    "max": (2, None),
    "string-length": (1, 1),
}


class _Parser:
    """A precedence-climbing parser of the XPath subset, resolving names as it goes."""

    def __init__(self, text: str, context: TranslationContext) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.context = context
        self.references: set[str] = set()

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        if self.token.text != text:
            found = self.token.text or "the end"
            raise XPathTranslationError(f"expected {text!r}, found {found!r}", self.token.position)
        self.advance()

    def parse(self) -> _Node:
        node = self.expression(0, 0)
        if self.token.kind != "end":
            raise XPathTranslationError(
                f"unexpected {self.token.text!r} after a complete expression", self.token.position
            )
        _refuse_leftover_string_length(node)
        return node

    def _binary_op(self) -> str | None:
        token = self.token
        if token.kind == "op" and token.text in _XPATH_BINARY:
            return token.text
        if token.kind == "name" and token.text in ("and", "or", "div", "mod"):
            return token.text
        return None

    def expression(self, min_prec: int, depth: int) -> _Node:
        if depth > MAX_DEPTH:
            raise XPathTranslationError(
                f"nested more than {MAX_DEPTH} levels deep", self.token.position
            )
        left = self.unary(depth)
        while True:
            op = self._binary_op()
            if op is None:
                if self.token.text == "==":
                    raise XPathTranslationError(
                        "'==' is not XPath; write '=' for equality", self.token.position
                    )
                if self.token.text == "|":
                    raise XPathTranslationError(
                        "node-set union '|' cannot be translated", self.token.position
                    )
                return left
            prec = _XPATH_BINARY[op]
            if prec < min_prec:
                return left
            position = self.advance().position
            if op == "mod":
                raise XPathTranslationError("'mod' (remainder) cannot be translated", position)
            right = self.expression(prec + 1, depth + 1)
            left = self.combine(op, left, right, position)

    def combine(self, op: str, left: _Node, right: _Node, position: int) -> _Node:
        ours = _XPATH_TO_OURS.get(op, op)
        if ours in _COMPARISONS:
            special = _answered_idiom(ours, left, right, position)
            if special is not None:
                return special
            left, right = self._map_code_literal(left, right), self._map_code_literal(right, left)
        return _Binary(ours, left, right)

    def _map_code_literal(self, node: _Node, other: _Node) -> _Node:
        # `${q} = 'DE'` where q's codes were normalised: compare with the normalised code.
        if isinstance(node, _Str) and isinstance(other, _Ref):
            codes = self.context.codes.get(other.ident, {})
            return _Str(codes.get(node.value, node.value))
        return node

    def unary(self, depth: int) -> _Node:
        token = self.token
        if depth > MAX_DEPTH:
            raise XPathTranslationError(f"nested more than {MAX_DEPTH} levels deep",
                                        token.position)
        if token.kind == "op" and token.text == "-":
            self.advance()
            return _Neg(self.unary(depth + 1))
        return self.primary(depth)

    def primary(self, depth: int) -> _Node:
        token = self.advance()
        if token.kind == "number":
            return _Num(_normalise_number(token.text))
        if token.kind == "string":
            return _Str(token.text[1:-1])
        if token.kind == "ref":
            return self.reference(token)
        if token.kind == "op":
            if token.text == "(":
                node = self.expression(0, depth + 1)
                self.expect(")")
                return node
            if token.text == ".":
                return self.current(token)
            if token.text == "..":
                raise XPathTranslationError("relative path '..' cannot be translated",
                                            token.position)
            if token.text == "/":
                raise XPathTranslationError(
                    "absolute paths cannot be translated; refer to questions as ${name}",
                    token.position,
                )
            raise XPathTranslationError(f"unexpected {token.text!r}", token.position)
        if token.kind == "name":
            if self.token.text == "(":
                return self.call(token, depth)
            return self.bare_name(token)
        raise XPathTranslationError("the expression ends too early", token.position)

    def reference(self, token: _Token) -> _Node:
        name = token.text[2:-1].strip()
        if not name:
            raise XPathTranslationError("empty reference ${}", token.position)
        ident = self.context.names.get(name)
        if ident is None:
            raise UnknownReferenceError(f"refers to ${{{name}}}, which is not a question "
                                        "of the form", token.position)
        self.references.add(name)
        return _Ref(name, ident)

    def current(self, token: _Token) -> _Node:
        if self.context.current is None:
            raise XPathTranslationError("'.' (the current question) has no meaning here",
                                        token.position)
        return _Ref("", self.context.current)

    def bare_name(self, token: _Token) -> _Node:
        if token.text in ("and", "or", "div", "mod"):
            raise XPathTranslationError(f"{token.text!r} needs an operand before it",
                                        token.position)
        if not self.context.choice_filter:
            raise XPathTranslationError(
                f"bare name {token.text!r} (an XPath path) cannot be translated; "
                f"refer to a question as ${{{token.text}}}",
                token.position,
            )
        if token.text == "name":
            return _Attr("code")
        attribute = self.context.attributes.get(token.text.lower())
        if attribute is None:
            raise XPathTranslationError(f"the choices sheet has no column {token.text!r}",
                                        token.position)
        return _Attr(attribute)

    def call(self, token: _Token, depth: int) -> _Node:
        name = token.text
        self.expect("(")
        args: list[_Node] = []
        if self.token.text != ")":
            args.append(self.expression(0, depth + 1))
            while self.token.text == ",":
                self.advance()
                args.append(self.expression(0, depth + 1))
        self.expect(")")
        arity = _FUNCTIONS.get(name)
        if arity is None:
            raise XPathTranslationError(f"function {name}() cannot be translated", token.position)
        low, high = arity
        if len(args) < low or (high is not None and len(args) > high):
            expected = str(low) if low == high else f"{low} or more" if high is None else \
                f"{low} to {high}"
            raise XPathTranslationError(
                f"{name}() takes {expected} argument(s), not {len(args)}", token.position
            )
        return self.function(name, args, token.position)

    def function(self, name: str, args: list[_Node], position: int) -> _Node:
        if name == "true":
            return _Bool(True)
        if name == "false":
            return _Bool(False)
        if name == "not":
            return _Not(args[0])
        if name == "count-selected":
            if not isinstance(args[0], _Ref):
                raise XPathTranslationError("count-selected() needs a question", position)
            return _Call("count", (args[0],))
        if name == "selected":
            subject, code = args
            if not isinstance(subject, _Ref):
                raise XPathTranslationError("selected() needs a question as first argument",
                                            position)
            if isinstance(code, _Str):
                codes = self.context.codes.get(subject.ident, {})
                code = _Str(codes.get(code.value, code.value))
            elif not isinstance(code, _Attr):
                raise XPathTranslationError("selected() needs a choice name as second argument",
                                            position)
            return _Call("selected", (subject, code))
        return _Call(name, tuple(args), position)


def _answered_idiom(op: str, left: _Node, right: _Node, position: int) -> _Node | None:
    """`string-length(x) > 0` and `x != ''` test whether x is answered: say so directly."""
    for subject, other, flipped in ((left, right, False), (right, left, True)):
        if isinstance(other, _Str) and other.value == "" and op in ("==", "!="):
            answered = _Call("answered", (subject,))
            return answered if op == "!=" else _Not(answered)
        if (
            isinstance(subject, _Call)
            and subject.name == "string-length"
            and isinstance(other, _Num)
        ):
            value = float(other.text)
            test = op if not flipped else _FLIP[op]
            arg = subject.args[0]
            if (test, value) in ((">", 0.0), (">=", 1.0), ("!=", 0.0)):
                return _Call("answered", (arg,))
            if (test, value) in (("==", 0.0), ("<", 1.0), ("<=", 0.0)):
                return _Not(_Call("answered", (arg,)))
            raise XPathTranslationError(_STRING_LENGTH_ONLY, position)
    return None


def _refuse_leftover_string_length(node: _Node) -> None:
    """string-length() survives only where it was not part of an answered/unanswered test."""
    if isinstance(node, _Call):
        if node.name == "string-length":
            raise XPathTranslationError(_STRING_LENGTH_ONLY, node.position)
        for arg in node.args:
            _refuse_leftover_string_length(arg)
    elif isinstance(node, _Not | _Neg):
        _refuse_leftover_string_length(node.operand)
    elif isinstance(node, _Binary):
        _refuse_leftover_string_length(node.left)
        _refuse_leftover_string_length(node.right)


_STRING_LENGTH_ONLY = (
    "string-length() is only translated as 'string-length(x) > 0' or "
    "'string-length(x) = 0' (answered or not)"
)

_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _normalise_number(text: str) -> str:
    """A number as our language writes it (`.5` -> `0.5`, `5.` -> `5`)."""
    if text.startswith("."):
        text = "0" + text
    if text.endswith("."):
        text = text[:-1]
    return text


# --------------------------------------------------------------------------- printing


def _precedence(node: _Node) -> int:
    """How tightly a node binds when printed in our language."""
    if isinstance(node, _Binary):
        return _PREC[node.op]
    if isinstance(node, _Not):
        return _NOT_PREC
    if isinstance(node, _Neg):
        return _NEG_PREC
    return _ATOM_PREC


def _emit(node: _Node, min_prec: int = 0) -> str:
    """Print a node, in brackets when it binds looser than ``min_prec``."""
    text = _emit_bare(node)
    return f"({text})" if _precedence(node) < min_prec else text


def _emit_bare(node: _Node) -> str:
    """Print a node in our language, without brackets around itself."""
    if isinstance(node, _Num):
        return node.text
    if isinstance(node, _Str):
        # XPath strings have no escapes; ours do, so a backslash or quote must be escaped.
        return "'" + node.value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(node, _Bool):
        return "true" if node.value else "false"
    if isinstance(node, _Ref):
        return node.ident
    if isinstance(node, _Attr):
        return f"@{node.name}"
    if isinstance(node, _Call):
        return f"{node.name}({', '.join(_emit(arg) for arg in node.args)})"
    if isinstance(node, _Not):
        # Always parenthesise: `not (a == b)` reads the same under any precedence of `not`.
        operand = _emit(node.operand)
        if _precedence(node.operand) < _ATOM_PREC:
            operand = f"({operand})"
        return f"not {operand}"
    if isinstance(node, _Neg):
        return f"-{_emit(node.operand, _NEG_PREC)}"
    prec = _PREC[node.op]
    # Comparisons do not chain: both sides of one must bind tighter than it.
    left_min = prec + 1 if node.op in _COMPARISONS else prec
    return f"{_emit(node.left, left_min)} {node.op} {_emit(node.right, prec + 1)}"


def translate(text: str, context: TranslationContext) -> Translation:
    """Translate one XPath-style expression of an XLSForm into our expression language."""
    stripped = text.strip()
    if not stripped:
        raise XPathTranslationError("the expression is empty")
    if len(stripped) > MAX_LENGTH:
        raise XPathTranslationError(f"longer than {MAX_LENGTH} characters")
    parser = _Parser(stripped, context)
    node = parser.parse()
    try:
        # Our own parser has the last word: what it reads is valid, and its text is canonical.
        canonical = str(parse(_emit(node)))
    except ExpressionError as exc:
        raise XPathTranslationError(f"not expressible in the rule language: {exc}") from exc
    return Translation(canonical, frozenset(parser.references),
                       _value_type(node, context.value_types), _bounds(node))


def _bounds(node: _Node) -> tuple[str | None, str | None] | None:
    """Inclusive bounds when the expression is only `.` compared with numbers (>=, <=)."""
    lower: str | None = None
    upper: str | None = None
    pending = [node]
    while pending:
        part = pending.pop()
        if isinstance(part, _Binary) and part.op == "and":
            pending.extend((part.left, part.right))
            continue
        if not isinstance(part, _Binary) or part.op not in (">=", "<="):
            return None
        op, left, right = part.op, part.left, part.right
        if isinstance(left, _Num | _Neg) and isinstance(right, _Ref):
            op, left, right = _FLIP[op], right, left
        if not (isinstance(left, _Ref) and left.xls_name == ""):
            return None
        number = _number_text(right)
        if number is None:
            return None
        if op == ">=":
            if lower is not None:
                return None
            lower = number
        else:
            if upper is not None:
                return None
            upper = number
    return lower, upper


def _number_text(node: _Node) -> str | None:
    """The text of a number literal, negative ones included; None for anything else."""
    if isinstance(node, _Num):
        return node.text
    if isinstance(node, _Neg) and isinstance(node.operand, _Num):
        return f"-{node.operand.text}"
    return None


def references(text: str) -> list[str]:
    """The `${name}` references of an expression or label, in order of appearance."""
    return [match.group(1).strip() for match in re.finditer(r"\$\{([^}]*)\}", text)]


def _value_type(node: _Node, types: Mapping[str, str]) -> str:
    """The value type (text, integer, decimal) an expression yields; text when unsure."""
    if isinstance(node, _Ref):
        return types.get(node.ident, "text")
    if isinstance(node, _Num):
        return "decimal" if "." in node.text else "integer"
    if isinstance(node, _Neg):
        return _value_type(node.operand, types)
    if isinstance(node, _Binary) and node.op in ("+", "-", "*", "/"):
        kinds = {_value_type(node.left, types), _value_type(node.right, types)}
        return "integer" if kinds == {"integer"} and node.op != "/" else "decimal"
    if isinstance(node, _Call):
        if node.name == "count":
            return "integer"
        if node.name in ("abs", "round", "min", "max"):
            return "decimal"
        if node.name in ("if", "coalesce"):
            branches = node.args[1:] if node.name == "if" else node.args
            kinds = {_value_type(branch, types) for branch in branches}
            return kinds.pop() if len(kinds) == 1 else "decimal" if kinds <= {
                "integer", "decimal"} else "text"
    return "text"
