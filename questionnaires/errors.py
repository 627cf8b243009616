"""Exceptions of the questionnaires package: load problems and expression errors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a questionnaire: which file, where inside it, which line, what."""

    file: str
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        """Render as ``file:line: path: message`` (parts that are unknown are left out)."""
        where = self.file or "<questionnaire>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        if self.path:
            return f"{where}: {self.path}: {self.message}"
        return f"{where}: {self.message}"


class QuestionnaireError(Exception):
    """A questionnaire (or a translation of it) is invalid; ``problems`` lists every problem."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__(self._render())

    def _render(self) -> str:
        if not self.problems:
            return "invalid questionnaire"
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = [f"{len(self.problems)} problems found:"]
        lines.extend(f"  {problem}" for problem in self.problems)
        return "\n".join(lines)

    def __str__(self) -> str:
        """List every problem, one per line."""
        return self._render()

    def __reduce__(self) -> tuple[type[QuestionnaireError], tuple[list[Problem]]]:
        """Pickle with the problems (worker processes pass errors back to their parent)."""
        return (type(self), (self.problems,))


class ExpressionError(ValueError):
    """An expression of the rule language is invalid or cannot be evaluated."""


class ExpressionSyntaxError(ExpressionError):
    """An expression cannot be parsed; ``position`` is the 0-based column of the fault."""

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        self.message = message
        self.text = text
        self.position = position
        super().__init__(message)

    def __reduce__(
        self,
    ) -> tuple[type[ExpressionSyntaxError], tuple[str, str, int | None]]:
        """Pickle with the text and position."""
        return (type(self), (self.message, self.text, self.position))

    def __str__(self) -> str:
        """One line: the message and the column (1-based) where parsing failed, when known."""
        if self.position is None:
            return self.message
        return f"{self.message} (at column {self.position + 1})"

    def excerpt(self, radius: int = 40) -> str:
        """The expression around the fault, at most ``radius`` characters either side."""
        start, end = self._window(radius)
        shown = "".join(ch if ch.isprintable() else " " for ch in self.text[start:end])
        return f"{'...' if start > 0 else ''}{shown}{'...' if end < len(self.text) else ''}"

    def caret(self, radius: int = 40) -> str:
        """Three lines for a terminal or an editor: the message, the expression, a caret."""
        if self.position is None or not self.text:
            return str(self)
        start, _ = self._window(radius)
        offset = (3 if start > 0 else 0) + self.position - start
        return f"{self}\n    {self.excerpt(radius)}\n    {' ' * offset}^"

    def _window(self, radius: int) -> tuple[int, int]:
        position = min(max(self.position or 0, 0), len(self.text))
        return max(0, position - radius), min(len(self.text), position + radius)


class ExpressionEvalError(ExpressionError):
    """An expression failed while it was evaluated (e.g. a type mismatch, division by zero)."""
