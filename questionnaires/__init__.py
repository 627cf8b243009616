"""Questionnaire model, loader, expression language and import/export of questionnaires."""

from questionnaires.errors import (
    ExpressionError,
    ExpressionEvalError,
    ExpressionSyntaxError,
    Problem,
    QuestionnaireError,
)
from questionnaires.loader import (
    load_questionnaire,
    load_questionnaire_from_mapping,
    validate_folder,
)
from questionnaires.model import Questionnaire
from questionnaires.translations import TextCatalog, texts
from questionnaires.variables import Variable, questionnaire_variables

__all__ = [
    "ExpressionError",
    "ExpressionEvalError",
    "ExpressionSyntaxError",
    "Problem",
    "Questionnaire",
    "QuestionnaireError",
    "TextCatalog",
    "Variable",
    "load_questionnaire",
    "load_questionnaire_from_mapping",
    "questionnaire_variables",
    "texts",
    "validate_folder",
]
