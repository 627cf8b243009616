"""Validation messages in the respondent's language.

A questionnaire rule's message comes from the questionnaire's own translations (its text key);
the built-in checks of `questionnaires.rules` are translated here through Flask-Babel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from babel.numbers import format_decimal
from flask_babel import get_locale
from flask_babel import gettext as _

from questionnaires.rules import RuleViolation
from questionnaires.translations import TextCatalog


def _number(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(format_decimal(value, locale=get_locale(), decimal_quantization=False))
    return str(value)


#: Built-in check code -> message maker (params of the violation in, translated text out).
BUILTIN: Mapping[str, Callable[[Mapping[str, object]], str]] = {
    "required": lambda p: _("This question needs an answer."),
    "not_a_number": lambda p: _("Enter a number."),
    "not_an_integer": lambda p: _("Enter a whole number."),
    "not_text": lambda p: _("Enter text."),
    "not_a_choice": lambda p: _("Choose from the options offered."),
    "unknown_option": lambda p: _("The option %(option)s is not available.",
                                  option=str(p.get("option", ""))),
    "unknown_level": lambda p: _("The value %(value)s is not a level of this scale.",
                                 value=str(p.get("value", ""))),
    "unknown_row": lambda p: _("There is no row %(row)s in this table.", row=str(p.get("row", ""))),
    "unknown_column": lambda p: _("There is no column %(column)s in this table.",
                                  column=str(p.get("column", ""))),
    "min": lambda p: _("The value must be at least %(min)s.", min=_number(p.get("min"))),
    "max": lambda p: _("The value must be at most %(max)s.", max=_number(p.get("max"))),
    "decimals": lambda p: _("Use at most %(decimals)s decimal places.",
                            decimals=_number(p.get("decimals"))),
    "max_length": lambda p: _("Use at most %(max_length)s characters.",
                              max_length=_number(p.get("max_length"))),
    "min_selected": lambda p: _("Choose at least %(count)s of the options.",
                                count=_number(p.get("min_selected"))),
    "max_selected": lambda p: _("Choose at most %(count)s of the options.",
                                count=_number(p.get("max_selected"))),
    "exclusive": lambda p: _("“%(option)s” cannot be combined with other options.",
                             option=str(p.get("label", p.get("option", "")))),
    "other_text": lambda p: _("Please specify the other answer."),
}


def violation_message(violation: RuleViolation, catalog: TextCatalog) -> str:
    """The message of a violation in the catalog's language (English built-ins as a last resort)."""
    text = catalog.get_text(violation.text_key)
    if text is not None:
        return text
    maker = BUILTIN.get(violation.rule_id)
    if maker is not None:
        return maker(violation.params)
    return violation.message or _("This answer is not valid.")
