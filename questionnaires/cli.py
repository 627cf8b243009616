"""The `skillsgap questionnaire ...` commands: validate, schema, import-xlsform, codebook."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import click


@click.group("questionnaire")
def questionnaire_group() -> None:
    """Check, describe and import questionnaires (no server needed)."""


@questionnaire_group.command("validate")
# PATH may also name the folder's questionnaire.yaml, as load_questionnaire accepts it.
@click.argument("path", type=click.Path(exists=True, path_type=Path))
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
    except OSError as exc:
        _fail_to_write(out, exc)
    for line in report.lines():
        click.echo(line, err=True)
    click.echo(f"Wrote {out}")


@questionnaire_group.command("codebook")
# PATH may also name the folder's questionnaire.yaml, as load_questionnaire accepts it.
@click.argument("path", type=click.Path(exists=True, path_type=Path))
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
    except OSError as exc:
        _fail_to_write(out, exc)
    click.echo(f"Wrote {out}")


def _fail_to_write(out: Path, exc: OSError) -> NoReturn:
    """Report an output that cannot be written (the inputs were read without error) and exit 1."""
    blocking = _file_in_the_way(Path(exc.filename)) if exc.filename else None
    if isinstance(exc, FileExistsError | NotADirectoryError) and blocking is not None:
        # Raised when a folder is to be created where a file of that name exists.
        reason = f"{blocking} is a file, not a folder"
    else:
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(out) else ""
        reason = f"{exc.strerror or exc}{where}"
    click.echo(f"cannot write {out}: {reason}", err=True)
    sys.exit(1)


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest of ``path`` and its parents that exists and is not a folder, if any."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return None if candidate.is_dir() else candidate
    return None
