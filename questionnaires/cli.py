"""The `skillsgap questionnaire ...` commands: validate, schema, import-xlsform, codebook."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.group("questionnaire")
def questionnaire_group() -> None:
    """Check, describe and import questionnaires (no server needed)."""


@questionnaire_group.command("validate")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--lang", "langs", multiple=True, help="Check only these translations (repeatable).")
def validate_command(path: Path, langs: tuple[str, ...]) -> None:
    """Validate the questionnaire folder PATH and its translations."""
    from questionnaires.loader import validate_folder

    problems = validate_folder(path, langs=list(langs) or None)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) found in {path}", err=True)
        sys.exit(1)
    click.echo(f"{path}: valid")


@questionnaire_group.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of questionnaire.yaml."""
    from questionnaires.schema import questionnaire_json_schema

    click.echo(json.dumps(questionnaire_json_schema(), indent=2, ensure_ascii=False))


@questionnaire_group.command("import-xlsform")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the questionnaire into.")
@click.option("--skip-unsupported", is_flag=True,
              help="Drop what cannot be mapped (and report it) instead of refusing.")
def import_xlsform_command(file: Path, out: Path, skip_unsupported: bool) -> None:
    """Import an XLSForm (.xlsx) into the questionnaire format."""
    from questionnaires.xlsform import XLSFormError, import_xlsform

    try:
        report = import_xlsform(file, out, skip_unsupported=skip_unsupported)
    except XLSFormError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    for line in report.lines():
        click.echo(line, err=True)
    click.echo(f"Wrote {out}")


@questionnaire_group.command("codebook")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", default=None, help="Language of labels (default: source language).")
def codebook_command(path: Path, out: Path, lang: str | None) -> None:
    """Write the analyst's codebook of the questionnaire at PATH as an .xlsx workbook."""
    from questionnaires.codebook import write_codebook
    from questionnaires.errors import QuestionnaireError

    try:
        write_codebook(path, out, lang=lang)
    except QuestionnaireError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"Wrote {out}")
