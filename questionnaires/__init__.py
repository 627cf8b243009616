"""Questionnaire model, loader, expression language and import/export of questionnaires."""
