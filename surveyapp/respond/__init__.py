"""The respondent journey: from an invitation or open link to exactly one submitted response."""

from surveyapp.respond.views import bp

__all__ = ["bp"]
