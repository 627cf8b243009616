"""The analyst's codebook of a questionnaire: an .xlsx workbook of its variables and values."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from questionnaires.errors import Problem, QuestionnaireError
from questionnaires.loader import load_questionnaire
from questionnaires.model import NOT_APPLICABLE, Questionnaire
from questionnaires.variables import Variable, questionnaire_variables

#: Cell value types the codebook writes.
CellValue = str | int | float | datetime | None

#: Text starting with one of these is read as a formula by spreadsheet programs.
_FORMULA_STARTS = ("=", "+", "-", "@")

_KIND_DESCRIPTIONS = {
    "categorical": "categorical (option code)",
    "multiple_flag": "0/1 flag (option selected)",
    "integer": "integer",
    "decimal": "decimal",
    "text": "text",
    "ordinal": "ordinal (scale level)",
}

VARIABLE_COLUMNS: tuple[tuple[str, int], ...] = (
    ("variable", 28),
    ("label", 50),
    ("type", 22),
    ("values and labels", 45),
    ("unit", 12),
    ("relevance", 40),
    ("row relevance", 30),
    ("question", 20),
    ("section", 18),
    ("grid row", 14),
    ("grid column", 14),
    ("option", 14),
    ("scale", 14),
    ("profile role", 14),
)
VALUE_COLUMNS: tuple[tuple[str, int], ...] = (("variable", 28), ("value", 12), ("label", 50))
_WRAPPED = frozenset({"label", "values and labels", "relevance", "row relevance"})


def value_labels(variable: Variable) -> list[tuple[str | int, str]]:
    """The (value, label) pairs of a variable, in the order the codebook lists them."""
    pairs = list(variable.value_labels.items())
    if variable.not_applicable:
        pairs.append((NOT_APPLICABLE, "don't know / not applicable"))
    return pairs


#: Longer value lists are left to the values sheet; a cell that long helps no one.
MAX_INLINE_VALUES = 20


def _describe_values(variable: Variable) -> str:
    """The values of a variable in one cell: `code = label; ...`."""
    pairs = value_labels(variable)
    if len(pairs) > MAX_INLINE_VALUES:
        return f"{len(pairs)} values: see sheet 'values'"
    return "; ".join(f"{value} = {label}" for value, label in pairs)


def _safe_text(text: str) -> str:
    """Text without the control characters a worksheet cannot hold."""
    # openpyxl refuses control characters that XML cannot hold; drop them rather than fail.
    return ILLEGAL_CHARACTERS_RE.sub("", text)


def _set(cell: Cell, value: CellValue) -> None:
    """Write one cell; text always stays text, never a formula."""
    if isinstance(value, str):
        text = _safe_text(value)
        cell.value = text
        # Assigning "=..." makes openpyxl store a formula; force the string type back.
        cell.data_type = "s"
        if text.startswith(_FORMULA_STARTS):
            # Excel also re-reads such text as a formula when the cell is edited; the quote
            # prefix keeps it text there too.
            cell.quotePrefix = True
    else:
        cell.value = value


def _append(sheet: Worksheet, values: Sequence[CellValue]) -> None:
    """Write ``values`` into the next free row of ``sheet``."""
    row = sheet.max_row + 1 if sheet.max_row > 1 or sheet.cell(1, 1).value is not None else 1
    for index, value in enumerate(values, start=1):
        _set(sheet.cell(row=row, column=index), value)


def _table(sheet: Worksheet, columns: Sequence[tuple[str, int]],
           rows: Iterable[Sequence[CellValue]]) -> None:
    """A header row plus data rows: bold frozen header, autofilter, widths, wrapped text."""
    _append(sheet, [name for name, _ in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for values in rows:
        _append(sheet, values)
    sheet.freeze_panes = "A2"
    last = get_column_letter(len(columns))
    sheet.auto_filter.ref = f"A1:{last}{max(sheet.max_row, 1)}"
    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    for index, (name, width) in enumerate(columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = width
        alignment = wrap if name in _WRAPPED else top
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            cell.alignment = alignment


def _variable_row(variable: Variable) -> list[CellValue]:
    """The row of a variable on the variables sheet."""
    return [
        variable.name,
        variable.label,
        _KIND_DESCRIPTIONS.get(variable.kind, variable.kind),
        _describe_values(variable) or None,
        variable.unit,
        variable.relevance,
        variable.row_relevance,
        variable.question_id,
        variable.section_id,
        variable.row,
        variable.column,
        variable.option,
        variable.scale,
        variable.profile,
    ]


def _value_rows(variables: Iterable[Variable]) -> Iterable[list[CellValue]]:
    """The rows of the values sheet: one per variable, value and label."""
    for variable in variables:
        for value, label in value_labels(variable):
            yield [variable.name, value, label]


def _about(sheet: Worksheet, questionnaire: Questionnaire, lang: str, source: Path,
           variables: Sequence[Variable], written: datetime) -> None:
    """The cover sheet: which questionnaire, version, content hash, language, when."""
    rows: list[tuple[str, CellValue]] = [
        ("questionnaire id", questionnaire.id),
        ("title", questionnaire.title),
        ("version", questionnaire.version),
        ("content hash (SHA-256)", questionnaire.content_hash()),
        ("language of labels", lang),
        ("source language", questionnaire.source_language),
        ("languages", ", ".join(questionnaire.languages)),
        ("variables", len(variables)),
        ("source folder", str(source)),
        ("written (UTC)", written),
        ("how to read", "Sheet 'variables' lists every analysis variable in questionnaire "
                        "order; sheet 'values' lists the value labels, one row per value. "
                        "A variable is asked only where its relevance holds; otherwise it is "
                        "empty (not zero)."),
    ]
    _table(sheet, (("item", 26), ("value", 80)), rows)
    for (cell,) in sheet.iter_rows(min_row=2, min_col=2, max_col=2):
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if isinstance(cell.value, datetime):
            cell.number_format = "yyyy-mm-dd hh:mm:ss"


def write_codebook(path: Path, out: Path, *, lang: str | None = None) -> None:
    """Write the codebook of the questionnaire folder ``path`` to the workbook ``out``.

    Raises QuestionnaireError when the questionnaire is invalid or has no ``lang`` texts.
    """
    path, out = Path(path), Path(out)
    questionnaire = load_questionnaire(path)
    language = lang or questionnaire.source_language
    available = [questionnaire.source_language, *sorted(questionnaire.translations)]
    if language not in available:
        raise QuestionnaireError([Problem(
            str(path), "", None,
            f"no texts in language {language!r} (available: {', '.join(available)})",
        )])
    variables = questionnaire_variables(questionnaire, language)
    workbook = Workbook()
    about = workbook.active
    about.title = "about"
    # Naive UTC: spreadsheet cells cannot hold a time zone; the row label says UTC.
    written = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    _about(about, questionnaire, language, path, variables, written)
    _table(workbook.create_sheet("variables"), VARIABLE_COLUMNS,
           (_variable_row(variable) for variable in variables))
    _table(workbook.create_sheet("values"), VALUE_COLUMNS, _value_rows(variables))
    out.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(out)
