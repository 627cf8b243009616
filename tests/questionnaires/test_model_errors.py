"""The problem and error types every part of the package reports with."""

from __future__ import annotations

import pickle

from questionnaires.errors import (
    ExpressionError,
    ExpressionEvalError,
    ExpressionSyntaxError,
    Problem,
    QuestionnaireError,
)


def test_problem_renders_file_line_path_and_message() -> None:
    problem = Problem("questionnaire.yaml", "sections[2].questions[4].scale", 57,
                      "unknown scale 'profficiency' (known: proficiency, relevance)")
    assert str(problem) == (
        "questionnaire.yaml:57: sections[2].questions[4].scale: unknown scale 'profficiency' "
        "(known: proficiency, relevance)"
    )
    assert str(Problem("translations/de.yaml", "", None, "missing file")) == (
        "translations/de.yaml: missing file"
    )


def test_questionnaire_error_lists_every_problem() -> None:
    problems = [Problem("questionnaire.yaml", "id", 1, "bad id"),
                Problem("questionnaire.yaml", "title", 5, "empty title")]
    error = QuestionnaireError(problems)
    assert error.problems == problems
    assert str(error) == (
        "2 problems found:\n"
        "  questionnaire.yaml:1: id: bad id\n"
        "  questionnaire.yaml:5: title: empty title"
    )
    assert str(QuestionnaireError(problems[:1])) == "questionnaire.yaml:1: id: bad id"


def test_errors_survive_pickling() -> None:
    error = pickle.loads(pickle.dumps(QuestionnaireError([Problem("q.yaml", "id", 1, "bad")])))
    assert error.problems == [Problem("q.yaml", "id", 1, "bad")]
    syntax = pickle.loads(pickle.dumps(ExpressionSyntaxError("unexpected ')'", "a + )", 4)))
    assert (syntax.text, syntax.position, str(syntax)) == (
        "a + )", 4, "unexpected ')' (at column 5)"
    )


def test_expression_errors_are_value_errors() -> None:
    assert issubclass(ExpressionSyntaxError, ExpressionError)
    assert issubclass(ExpressionEvalError, ExpressionError)
    assert issubclass(ExpressionError, ValueError)
