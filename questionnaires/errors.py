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
        """Name the column (1-based) where parsing failed, when it is known."""
        if self.position is None:
            return self.message
        return f"{self.message} (at column {self.position + 1})"


class ExpressionEvalError(ExpressionError):
    """An expression failed while it was evaluated (e.g. a type mismatch, division by zero)."""
