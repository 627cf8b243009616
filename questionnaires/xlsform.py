"""Import of XLSForm workbooks (as authored for KoboToolbox and ODK) into the questionnaire format.

The importer reads the survey, choices and settings sheets, maps what the format can express,
lists what it cannot (with sheet, row and column), and writes ``questionnaire.yaml`` plus one
``translations/<lang>.yaml`` per further label language. The result is loaded with the loader
before it is moved into place, so an import never leaves an invalid questionnaire behind.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import yaml
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from questionnaires.errors import Problem, QuestionnaireError
from questionnaires.expressions import parse
from questionnaires.model import CODE_PATTERN, LANGUAGE_PATTERN, NAME_CODE_PATTERN, OTHER_CODE
from questionnaires.xpath import (
    TranslationContext,
    UnknownReferenceError,
    XPathTranslationError,
    references,
    translate,
)

# --------------------------------------------------------------------------- errors and report


@dataclass(frozen=True)
class Place:
    """Where something is in the workbook: sheet, row and column (as written, with its letter)."""

    sheet: str
    row: int | None = None
    column: str | None = None
    letter: str | None = None

    def __str__(self) -> str:
        """Render as ``survey row 12, column relevant (F)``."""
        text = self.sheet if self.row is not None or self.column else f"{self.sheet} sheet"
        if self.row is not None:
            text += f" row {self.row}"
        if self.column:
            text += f", column {self.column}"
            if self.letter:
                text += f" ({self.letter})"
        return text


class XLSFormError(QuestionnaireError):
    """The XLSForm cannot be imported; ``problems`` name the sheet, row and column of each."""


@dataclass(frozen=True)
class ReportItem:
    """One thing the import dropped or adjusted, and where it was in the workbook."""

    place: Place
    message: str

    def __str__(self) -> str:
        """Render as ``place: message``."""
        return f"{self.place}: {self.message}"


@dataclass
class ImportReport:
    """What an import wrote, and every item it dropped or adjusted."""

    out: Path
    questionnaire_id: str
    languages: list[str]
    items: list[ReportItem] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One human-readable line per dropped or adjusted item."""
        return [str(item) for item in self.items]


# --------------------------------------------------------------------------- vocabulary

# Metadata the survey app records itself (timestamps, devices): dropped with a report line,
# never a refusal, because nearly every KoboToolbox form carries `start` and `end`.
_METADATA_TYPES = frozenset({
    "start", "end", "today", "deviceid", "subscriberid", "simserial", "phonenumber",
    "username", "email", "audit", "uri:email", "uri:username", "uri:phonenumber",
    "uri:deviceid", "uri:subscriberid", "uri:simserial",
})

_UNSUPPORTED_TYPES: dict[str, str] = {
    "geopoint": "locations (geopoint) cannot be asked in this format",
    "geotrace": "locations (geotrace) cannot be asked in this format",
    "geoshape": "locations (geoshape) cannot be asked in this format",
    "start-geopoint": "locations (start-geopoint) cannot be recorded in this format",
    "image": "media answers (image) cannot be collected in this format",
    "audio": "media answers (audio) cannot be collected in this format",
    "background-audio": "media answers (background-audio) cannot be collected in this format",
    "video": "media answers (video) cannot be collected in this format",
    "file": "file uploads cannot be collected in this format",
    "barcode": "barcode scanning has no equivalent in this format",
    "date": "date questions have no equivalent in this format",
    "time": "time questions have no equivalent in this format",
    "datetime": "date-time questions have no equivalent in this format",
    "range": "range questions have no equivalent in this format",
    "rank": "rank questions have no equivalent in this format",
    "acknowledge": "acknowledge questions have no equivalent in this format",
    "hidden": "hidden questions have no equivalent in this format",
    "trigger": "trigger questions have no equivalent in this format",
    "xml-external": "external data files cannot be imported",
    "csv-external": "external data files cannot be imported",
    "select_one_from_file": "choices from an external file cannot be imported",
    "select_multiple_from_file": "choices from an external file cannot be imported",
    "select_one_external": "external choices cannot be imported",
    "select_multiple_external": "external choices cannot be imported",
    "begin_repeat": "repeat groups have no equivalent in this format",
    "begin_loop": "loops have no equivalent in this format",
}

_SIMPLE_TYPES = {
    "text": "text", "string": "text", "integer": "integer", "int": "integer",
    "decimal": "decimal", "note": "note", "calculate": "calculated",
}

#: Header spellings that mean the same column (older Kobo/ODK exports, pyxform aliases).
_HEADER_ALIASES = {
    "list name": "list_name",
    "constraint message": "constraint_message",
    "jr:constraintmsg": "constraint_message",
    "bind::jr:constraintmsg": "constraint_message",
    "required message": "required_message",
    "jr:requiredmsg": "required_message",
    "bind::jr:requiredmsg": "required_message",
    "choice filter": "choice_filter",
    "bind::relevant": "relevant",
    "bind::constraint": "constraint",
    "bind::required": "required",
    "bind::calculate": "calculation",
    "bind::readonly": "read_only",
    "readonly": "read_only",
    "control::appearance": "appearance",
    "caption": "label",
    "id_string": "form_id",
}

#: Columns that may carry a language (`label::English (en)`, `label:English`).
_TEXT_COLUMNS = frozenset({
    "label", "hint", "guidance_hint", "constraint_message", "required_message",
    "media", "image", "audio", "video", "big-image", "form_title",
})
_MEDIA_COLUMNS = frozenset({"media", "image", "audio", "video", "big-image"})

_SURVEY_MAPPED = frozenset({
    "type", "name", "label", "hint", "relevant", "constraint", "constraint_message",
    "required", "required_message", "choice_filter", "appearance", "calculation",
})
#: Survey columns we know and cannot map: each non-empty cell gets a report line.
_SURVEY_IGNORED = {
    "default": "default answers are not imported",
    "read_only": "read-only questions are not imported as such",
    "trigger": "triggers are not imported",
    "parameters": "parameters are not imported",
    "guidance_hint": "guidance hints are not imported",
    "body::accuracythreshold": "geopoint parameters are not imported",
}
_CHOICES_RESERVED = frozenset({"list_name", "name", "label"})

_SETTINGS_MAPPED = frozenset({"form_id", "form_title", "version", "default_language"})

_TRUE = frozenset({"yes", "true", "true()", "1"})
_FALSE = frozenset({"", "no", "false", "false()", "0"})

_RESERVED_IDS = frozenset({"and", "or", "not", "in", "true", "false", "null", "row"})

#: Language names as XLSForm authors write them in `label::<name>` without a code.
_LANGUAGE_NAMES = {
    "english": "en", "deutsch": "de", "german": "de", "français": "fr", "francais": "fr",
    "french": "fr", "español": "es", "espanol": "es", "spanish": "es", "italiano": "it",
    "italian": "it", "čeština": "cs", "cestina": "cs", "czech": "cs", "polski": "pl",
    "polish": "pl", "português": "pt", "portugues": "pt", "portuguese": "pt",
    "nederlands": "nl", "dutch": "nl", "svenska": "sv", "swedish": "sv", "dansk": "da",
    "danish": "da", "suomi": "fi", "finnish": "fi", "magyar": "hu", "hungarian": "hu",
    "română": "ro", "romana": "ro", "romanian": "ro", "slovenčina": "sk", "slovak": "sk",
    "slovenščina": "sl", "slovenian": "sl", "hrvatski": "hr", "croatian": "hr",
    "български": "bg", "bulgarian": "bg", "ελληνικά": "el", "greek": "el", "eesti": "et",
    "estonian": "et", "latviešu": "lv", "latvian": "lv", "lietuvių": "lt",
    "lithuanian": "lt", "malti": "mt", "maltese": "mt", "gaeilge": "ga", "irish": "ga",
    "norsk": "no", "norwegian": "no", "türkçe": "tr", "turkish": "tr", "русский": "ru",
    "russian": "ru", "українська": "uk", "ukrainian": "uk", "srpski": "sr", "serbian": "sr",
}

#: Messages for a constraint or a conditional `required` that has no message of its own.
_CONSTRAINT_DEFAULT = {
    "en": "This answer is not valid.",
    "de": "Diese Antwort ist nicht gültig.",
    "fr": "Cette réponse n'est pas valide.",
    "es": "Esta respuesta no es válida.",
    "it": "Questa risposta non è valida.",
    "cs": "Tato odpověď není platná.",
    "pl": "Ta odpowiedź jest nieprawidłowa.",
    "pt": "Esta resposta não é válida.",
    "nl": "Dit antwoord is niet geldig.",
}
_REQUIRED_DEFAULT = {
    "en": "This question must be answered.",
    "de": "Diese Frage muss beantwortet werden.",
    "fr": "Il faut répondre à cette question.",
    "es": "Esta pregunta debe responderse.",
    "it": "È necessario rispondere a questa domanda.",
    "cs": "Tuto otázku je nutné zodpovědět.",
    "pl": "Na to pytanie należy odpowiedzieć.",
    "pt": "Esta pergunta tem de ser respondida.",
    "nl": "Deze vraag moet worden beantwoord.",
}

_SELECT_ONE_DROPDOWN = frozenset({"minimal", "autocomplete"})
_SECTION_APPEARANCES = frozenset({"field-list"})


# --------------------------------------------------------------------------- reading sheets


@dataclass(frozen=True)
class _Column:
    """A column of a sheet: its header as written, its key and its language."""

    index: int
    header: str
    key: str
    lang: str | None  # the language as written after `::` or `:`, None for a plain column

    @property
    def letter(self) -> str:
        """The spreadsheet letter of the column (A, B, ...)."""
        return get_column_letter(self.index)


@dataclass
class _Sheet:
    """A sheet read into memory: its columns and its non-empty rows."""

    name: str
    columns: list[_Column]
    rows: list[tuple[int, dict[int, str]]]

    def column(self, key: str) -> _Column | None:
        """The column of ``key`` without a language, if the sheet has one."""
        for column in self.columns:
            if column.key == key and column.lang is None:
                return column
        return None

    def has(self, key: str) -> bool:
        """Whether the sheet has a column of ``key`` (in any language)."""
        return any(column.key == key for column in self.columns)

    def get(self, values: Mapping[int, str], key: str) -> str:
        """The text of a row in the column of ``key`` (empty when absent)."""
        column = self.column(key)
        return values.get(column.index, "") if column else ""

    def place(self, row: int | None, key: str | None = None) -> Place:
        """The place of a row, and of the column of ``key`` when given."""
        column = self.column(key) if key else None
        if column is None and key:
            column = next((c for c in self.columns if c.key == key), None)
        if column is None:
            return Place(self.name, row, key)
        return Place(self.name, row, column.header, column.letter)


def _cell_text(value: Any) -> str:
    """A cell's content as the text the author typed (numbers without a spurious `.0`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value).strip()


def _split_header(raw: str) -> tuple[str, str | None]:
    """The column key and the language written in a header (`label::English (en)`)."""
    lowered = " ".join(raw.split()).lower()
    if lowered in _HEADER_ALIASES:
        return _HEADER_ALIASES[lowered], None
    for separator in ("::", ":"):
        if separator in raw:
            base, _, lang = raw.partition(separator)
            key = base.strip().lower()
            key = _HEADER_ALIASES.get(key, key)
            if key in _TEXT_COLUMNS:
                if separator == "::" and key in _MEDIA_COLUMNS and "::" in lang:
                    # media::image::English (en)
                    _, _, lang = lang.partition("::")
                return key, lang.strip() or None
            return lowered, None
    return lowered, None


def _read_sheet(worksheet: Any, errors: list[tuple[Place, str]]) -> _Sheet:
    """Read a worksheet: the first row is the header; empty rows are skipped."""
    name = str(worksheet.title)
    # The sheet's declared dimension (say A1:XFD1048576) would pad every row to its width;
    # without it, a row holds only the cells the file has.
    worksheet.reset_dimensions()
    rows_iter = worksheet.iter_rows(values_only=True)
    header_row = next(rows_iter, None) or ()
    columns: list[_Column] = []
    seen: dict[tuple[str, str | None], _Column] = {}
    for index, value in enumerate(header_row, start=1):
        header = _cell_text(value)
        if not header:
            continue
        key, lang = _split_header(header)
        column = _Column(index, header, key, lang)
        duplicate = seen.get((key, lang.lower() if lang else None))
        if duplicate is not None:
            errors.append((Place(name, 1, header, column.letter),
                           f"the column appears twice (also {duplicate.letter})"))
            continue
        seen[(key, lang.lower() if lang else None)] = column
        columns.append(column)
    rows: list[tuple[int, dict[int, str]]] = []
    for number, values in enumerate(rows_iter, start=2):
        cells = {
            column.index: text
            for column in columns
            if column.index <= len(values) and (text := _cell_text(values[column.index - 1]))
        }
        if cells:
            rows.append((number, cells))
    return _Sheet(name, columns, rows)


#: Largest workbook accepted, unpacked (an .xlsx is a zip archive). Forms of a few thousand
#: rows unpack to a few MB; the bound refuses a zip bomb before anything is decompressed.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024

#: What a damaged workbook raises while it is read: a broken archive, compressed data or XML.
_DAMAGED = (InvalidFileException, zipfile.BadZipFile, zlib.error, ElementTree.ParseError,
            EOFError, KeyError, OSError, ValueError)


def _unreadable(file: Path, reason: object) -> XLSFormError:
    """The error for a file that is not a readable workbook, saying what is damaged."""
    if isinstance(reason, ElementTree.ParseError):
        reason = f"damaged XML inside the file ({reason})"
    elif isinstance(reason, zlib.error):
        reason = f"damaged compressed data ({reason})"
    hint = " (save .xls files as .xlsx first)" if file.suffix.lower() == ".xls" else ""
    return XLSFormError([Problem(file.name, "", None,
                                 f"not a readable .xlsx workbook{hint}: {reason}")])


def _read_workbook(file: Path) -> dict[str, _Sheet]:
    """The sheets of the workbook by lower-case name; raises XLSFormError when unreadable."""
    if file.exists() and not file.is_file():
        # A named pipe or a device would block the import or never end.
        raise _unreadable(file, "not a regular file")
    errors: list[tuple[Place, str]] = []
    try:
        # Opened here, not by openpyxl: it leaves its file open when a damaged workbook fails.
        with file.open("rb") as stream:
            with zipfile.ZipFile(stream) as archive:
                # Sizes from the archive's directory; zipfile never reads past a member's size.
                unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > MAX_UNPACKED_BYTES:
                raise XLSFormError([Problem(
                    file.name, "", None, "the workbook unpacks to more than "
                    f"{MAX_UNPACKED_BYTES // (1024 * 1024)} MB; refused")])
            stream.seek(0)
            workbook = load_workbook(stream, read_only=True, data_only=True)
            try:
                sheets = {ws.title.strip().lower(): _read_sheet(ws, errors)
                          for ws in workbook.worksheets}
            finally:
                workbook.close()
    except _DAMAGED as exc:
        raise _unreadable(file, exc) from exc
    if errors:
        raise XLSFormError([Problem(file.name, str(place), None, message)
                            for place, message in errors])
    return sheets


# --------------------------------------------------------------------------- names and codes


def _ascii(text: str) -> str:
    """Text with accents taken off letters (`Größe` -> `Große`, `café` -> `cafe`)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _normalise_id(name: str) -> str:
    """A deterministic identifier ([a-z][a-z0-9_]*) for an XLSForm name."""
    text = re.sub(r"[^a-z0-9_]+", "_", _ascii(name).strip().lower()).strip("_")
    text = re.sub(r"_{2,}", "_", text)
    if not text:
        text = "q"
    if not text[0].isalpha():
        text = f"q_{text}"
    if text in _RESERVED_IDS:
        text = f"{text}_q"
    return text


def _normalise_code(name: str, strict: bool) -> str:
    """A deterministic option code; ``strict`` codes become part of variable names."""
    if strict:
        text = re.sub(r"[^a-z0-9_]+", "_", _ascii(name).strip().lower()).strip("_")
    else:
        text = re.sub(r"[^A-Za-z0-9_.\-]+", "_", _ascii(name).strip())
        text = re.sub(r"^[^A-Za-z0-9]+", "", text)
    return text or "code"


def _unique(candidate: str, taken: set[str]) -> str:
    """``candidate``, or with the first free `_2`, `_3`, ... suffix."""
    if candidate not in taken:
        return candidate
    number = 2
    while f"{candidate}_{number}" in taken:
        number += 1
    return f"{candidate}_{number}"


def _language_code(spec: str) -> str | None:
    """The language code of `English (en)`, `en`, `English`; None when it cannot be told."""
    match = re.fullmatch(r"(.*?)\s*\(\s*([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)\s*\)\s*", spec)
    if match:
        primary, _, rest = match.group(2).partition("-")
        return primary.lower() + (f"-{rest}" if rest else "")
    lowered = spec.strip().lower()
    if lowered in _LANGUAGE_NAMES:
        return _LANGUAGE_NAMES[lowered]
    if re.fullmatch(LANGUAGE_PATTERN, lowered):
        return lowered
    return None


# --------------------------------------------------------------------------- survey items


@dataclass
class _Item:
    """One survey row, with what the importer learns about it on the way."""

    row: int
    values: dict[int, str]
    type_text: str
    kind: str  # question, begin_group, end_group, metadata, unsupported
    qtype: str | None = None
    list_name: str | None = None
    or_other: bool = False
    reason: str = ""
    name: str = ""
    ident: str = ""
    groups: list[_Item] = field(default_factory=list)  # enclosing groups, outermost first
    end_row: int | None = None
    #: "group" or "repeat" for a row that opens one (kept when the row itself is unsupported).
    block: str = ""
    dropped: bool = False
    #: Translated expressions by column (relevant, constraint, calculation, choice_filter,
    #: required), each with the XLSForm names it refers to.
    expressions: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    value_type: str = "text"
    #: Inclusive bounds of a numeric question, when its constraint is only bounds.
    bounds: tuple[str | None, str | None] | None = None
    required: bool = False
    other_text_of: _Item | None = None
    other_text: _Item | None = None


@dataclass
class _Choice:
    """One row of the choices sheet."""

    row: int
    name: str
    labels: dict[str, str]
    attributes: dict[str, str]
    code: str = ""


@dataclass
class _List:
    """A choice list, with its id and codes in our format."""

    name: str
    row: int
    choices: list[_Choice] = field(default_factory=list)
    ident: str = ""
    strict: bool = False
    renamed: dict[str, str] = field(default_factory=dict)
    used: bool = False


def _parse_type(raw: str) -> tuple[str, str | None, str | None, bool, str]:
    """Classify a type cell: (kind, our type, list name, or_other, reason if unsupported)."""
    tokens = raw.split()
    lowered = [token.lower() for token in tokens]
    joined = " ".join(lowered)
    if joined in ("begin group", "begin_group"):
        return "begin_group", None, None, False, ""
    if joined in ("end group", "end_group"):
        return "end_group", None, None, False, ""
    if joined in ("begin repeat", "begin_repeat"):
        return "begin_repeat", None, None, False, _UNSUPPORTED_TYPES["begin_repeat"]
    if joined in ("end repeat", "end_repeat"):
        return "end_repeat", None, None, False, ""
    if joined in ("begin loop", "begin_loop"):
        return "begin_repeat", None, None, False, _UNSUPPORTED_TYPES["begin_loop"]
    if joined in ("end loop", "end_loop"):
        return "end_repeat", None, None, False, ""
    head = lowered[0]
    if lowered[:3] in (["select", "one", "from"], ["select", "multiple", "from"]):
        head = "select_one" if lowered[1] == "one" else "select_multiple"
        tokens, lowered = [head, *tokens[3:]], [head, *lowered[3:]]
    if head in ("select_one", "select_multiple"):
        if len(tokens) < 2:
            return "error", None, None, False, f"{head} needs a list name ({head} LIST)"
        rest = lowered[2:]
        if rest in ([], ["or_other"], ["or", "specify", "other"]):
            qtype = "single_choice" if head == "select_one" else "multiple_choice"
            return "question", qtype, tokens[1], bool(rest), ""
        return "error", None, None, False, f"cannot read the type {raw!r}"
    if head in _UNSUPPORTED_TYPES:
        return "unsupported", None, None, False, _UNSUPPORTED_TYPES[head]
    if len(tokens) == 1:
        if head in _METADATA_TYPES:
            return "metadata", None, None, False, ""
        if head in _SIMPLE_TYPES:
            return "question", _SIMPLE_TYPES[head], None, False, ""
    return "unsupported", None, None, False, f"the type {raw!r} is not known to the importer"


# --------------------------------------------------------------------------- the importer


class _Texts:
    """Texts of the form by language: source texts inline, the others for translation files."""

    def __init__(self, source: str, languages: list[str]) -> None:
        self.source = source
        self.languages = languages
        self.translations: dict[str, dict[str, str]] = {lang: {} for lang in languages
                                                         if lang != source}
        self.missing: dict[str, list[tuple[str, Place]]] = {lang: [] for lang in
                                                              self.translations}

    def forget(self, prefix: str) -> None:
        """Drop the texts whose keys start with ``prefix`` (their part was not imported)."""
        for lang, table in self.translations.items():
            for key in [key for key in table if key.startswith(prefix)]:
                del table[key]
            self.missing[lang] = [(key, place) for key, place in self.missing[lang]
                                  if not key.startswith(prefix)]

    def add(self, key: str, texts: Mapping[str, str], place: Place) -> None:
        """Add the translations of one text; note the languages that lack it."""
        for lang, table in self.translations.items():
            text = texts.get(lang, "")
            if text:
                table[key] = text
            else:
                self.missing[lang].append((key, place))


class _Importer:
    """One import: reads the sheets, maps them, and collects errors, drops and report lines."""

    def __init__(self, file: Path, sheets: dict[str, _Sheet], skip_unsupported: bool) -> None:
        self.file = file
        self.sheets = sheets
        self.skip_unsupported = skip_unsupported
        self.errors: list[tuple[Place, str]] = []
        #: What cannot be mapped: where, why, and what --skip-unsupported drops for it.
        self.unsupported: list[tuple[Place, str, str]] = []
        self.report: list[ReportItem] = []
        self.source = "en"
        self.languages: list[str] = []
        self.lang_codes: dict[str, str] = {}  # language as written -> code
        self.attribute_names: dict[str, str] = {}  # choices column key -> attribute name

    # ---------------------------------------------------------------- helpers

    def error(self, place: Place, message: str) -> None:
        """Record a problem that makes the import refuse, whatever the options."""
        self.errors.append((place, message))

    def note(self, place: Place, message: str) -> None:
        """Record a report line: something adjusted or not imported."""
        self.report.append(ReportItem(place, message))

    def texts(self, sheet: _Sheet, values: Mapping[int, str], key: str) -> dict[str, str]:
        """The texts of a column family (label, hint, ...) by language code."""
        found: dict[str, str] = {}
        plain = ""
        for column in sheet.columns:
            if column.key != key:
                continue
            text = values.get(column.index, "")
            if column.lang is None:
                plain = text
            elif text and column.lang in self.lang_codes:
                found[self.lang_codes[column.lang]] = text
        if plain and not found.get(self.source):
            found[self.source] = plain
        return found

    # ---------------------------------------------------------------- languages and settings

    def resolve_languages(self, settings: dict[str, str]) -> None:
        """Find the language code of every text column and the source language."""
        written: list[tuple[_Sheet, _Column]] = []
        plain: Place | None = None
        for key in ("survey", "choices", "settings"):
            sheet = self.sheets.get(key)
            if sheet is None:
                continue
            for column in sheet.columns:
                if column.key not in _TEXT_COLUMNS or column.key in _MEDIA_COLUMNS:
                    continue
                if column.lang is None:
                    if plain is None and column.key in ("label", "hint"):
                        plain = Place(sheet.name, 1, column.header, column.letter)
                else:
                    written.append((sheet, column))
        for sheet, column in written:
            lang = column.lang or ""
            code = _language_code(lang)
            if code is None:
                self.error(Place(sheet.name, 1, column.header, column.letter),
                           f"cannot tell the language code of {lang!r}; write it as "
                           f"'{column.key}::{lang} (xx)' with the ISO 639 code")
                continue
            self.lang_codes[lang] = code
            if code not in self.languages:
                self.languages.append(code)
        default = settings.get("default_language", "")
        settings_sheet = self.sheets.get("settings")
        if default:
            code = self.lang_codes.get(default) or _language_code(default)
            if code is None:
                place = (settings_sheet.place(2, "default_language") if settings_sheet
                         else Place("settings"))
                self.error(place, f"cannot tell the language code of {default!r}")
                return
            self.source = code
        elif self.languages and plain is not None:
            self.error(plain, "the form has plain text columns and language columns, but "
                              "settings names no default_language: say which language the "
                              "plain columns are in")
            return
        elif self.languages:
            self.source = self.languages[0]
        else:
            self.source = "en"
            self.note(Place("settings"), "no label language is named; the labels are taken "
                                         "as English (en)")
        if self.source in self.languages:
            self.languages.remove(self.source)
        self.languages.insert(0, self.source)

    def read_settings(self) -> dict[str, str]:
        """The mapped settings of the first settings row; other settings are reported."""
        sheet = self.sheets.get("settings")
        if sheet is None or not sheet.rows:
            return {}
        number, values = sheet.rows[0]
        settings: dict[str, str] = {}
        for column in sheet.columns:
            text = values.get(column.index, "")
            if not text:
                continue
            if column.key in _SETTINGS_MAPPED and column.lang is None:
                settings[column.key] = text
            elif column.key != "form_title":
                self.note(Place(sheet.name, number, column.header, column.letter),
                          f"the setting {column.header!r} is not imported")
        for extra_number, _ in sheet.rows[1:]:
            self.note(Place(sheet.name, extra_number), "only the first settings row is read; "
                                                        "this row is ignored")
        return settings

    # ---------------------------------------------------------------- survey rows

    def read_items(self, survey: _Sheet) -> list[_Item]:
        """One item per survey row that has a type, classified by that type."""
        for required_key in ("type", "name"):
            if survey.column(required_key) is None:
                self.error(Place(survey.name, 1),
                           f"the survey sheet has no {required_key!r} column")
        if self.errors:
            return []
        items: list[_Item] = []
        for number, values in survey.rows:
            type_text = survey.get(values, "type")
            name = survey.get(values, "name")
            if not type_text:
                if name or any(values.get(c.index) for c in survey.columns if c.key == "label"):
                    self.error(survey.place(number, "type"), f"the row {name!r} has no type")
                continue
            kind, qtype, list_name, or_other, reason = _parse_type(type_text)
            if kind == "error":
                self.error(survey.place(number, "type"), reason)
                continue
            item = _Item(number, values, type_text, kind, qtype, list_name, or_other, reason, name)
            items.append(item)
        return items

    def structure(self, survey: _Sheet, items: list[_Item]) -> None:
        """Check groups and repeats are balanced; record each item's enclosing groups."""
        stack: list[_Item] = []
        for item in items:
            if item.kind in ("end_group", "end_repeat"):
                what = "group" if item.kind == "end_group" else "repeat"
                if not stack or stack[-1].block != what:
                    opened = f"; the open one is {stack[-1].name!r} (row {stack[-1].row})" \
                        if stack else ""
                    self.error(survey.place(item.row, "type"),
                               f"'end {what}' without a matching 'begin {what}'{opened}")
                    continue
                opener = stack.pop()
                opener.end_row = item.row
                if item.name and item.name != opener.name:
                    self.error(survey.place(item.row, "name"),
                               f"ends {item.name!r}, but the open {what} is {opener.name!r} "
                               f"(row {opener.row})")
                continue
            item.groups = list(stack)
            if item.kind in ("begin_group", "begin_repeat"):
                item.block = "group" if item.kind == "begin_group" else "repeat"
            repeat = next((g for g in reversed(stack) if g.block == "repeat"), None)
            if repeat is not None and item.kind != "metadata":
                item.kind = "unsupported"
                item.reason = f"inside the repeat {repeat.name!r} (row {repeat.row})"
            if item.block:
                stack.append(item)
        for opener in stack:
            self.error(survey.place(opener.row, "type"),
                       f"'begin {opener.block}' {opener.name!r} is never closed with "
                       f"'end {opener.block}'")

    def assign_names(self, survey: _Sheet, items: list[_Item]) -> dict[str, _Item]:
        """Check names are present and unique; give each item its id in our format."""
        by_name: dict[str, _Item] = {}
        taken: set[str] = set()
        for item in items:
            if item.kind in ("end_group", "end_repeat"):
                continue
            if not item.name:
                self.error(survey.place(item.row, "name"),
                           f"the {item.type_text!r} row has no name")
                continue
            previous = by_name.get(item.name)
            if previous is not None:
                self.error(survey.place(item.row, "name"),
                           f"the name {item.name!r} is already used in row {previous.row}")
                continue
            by_name[item.name] = item
            ident = _unique(_normalise_id(item.name), taken)
            taken.add(ident)
            item.ident = ident
            if ident != item.name and item.kind not in ("metadata",):
                self.note(survey.place(item.row, "name"),
                          f"the name {item.name!r} is not a valid id; imported as {ident!r}")
        return by_name

    # ---------------------------------------------------------------- choices

    def read_choices(self, survey: _Sheet, items: list[_Item]) -> dict[str, _List]:
        """The option lists used by select questions, with codes checked and normalised."""
        selects = [item for item in items if item.list_name]
        if not selects:
            return {}
        sheet = self.sheets.get("choices")
        if sheet is None:
            first = selects[0]
            self.error(survey.place(first.row, "type"),
                       f"uses the list {first.list_name!r}, but the workbook has no choices sheet")
            return {}
        if sheet.column("list_name") is None or sheet.column("name") is None:
            missing = "list_name" if sheet.column("list_name") is None else "name"
            self.error(Place(sheet.name, 1), f"the choices sheet has no {missing!r} column")
            return {}
        attribute_columns: dict[str, _Column] = {}
        for column in sheet.columns:
            if column.lang is not None or column.key in _CHOICES_RESERVED:
                continue
            if column.key in _TEXT_COLUMNS or column.key.startswith("$"):
                continue
            attribute = _normalise_id(column.key)
            if attribute == "code":
                attribute = "code_attribute"
            if attribute != column.key:
                self.note(Place(sheet.name, 1, column.header, column.letter),
                          f"the column name is not a valid attribute name; imported as "
                          f"{attribute!r}")
            attribute_columns[attribute] = column
        lists: dict[str, _List] = {}
        for number, values in sheet.rows:
            list_name = sheet.get(values, "list_name")
            name = sheet.get(values, "name")
            if not list_name:
                self.error(sheet.place(number, "list_name"), "the choice has no list_name")
                continue
            if not name:
                self.error(sheet.place(number, "name"),
                           f"the choice of list {list_name!r} has no name")
                continue
            options = lists.setdefault(list_name, _List(list_name, number))
            previous = next((c for c in options.choices if c.name == name), None)
            if previous is not None:
                self.error(sheet.place(number, "name"),
                           f"the choice {name!r} is already in list {list_name!r} "
                           f"(row {previous.row})")
                continue
            attributes = {
                attribute: values[column.index]
                for attribute, column in attribute_columns.items()
                if values.get(column.index)
            }
            options.choices.append(_Choice(number, name, self.texts(sheet, values, "label"),
                                           attributes))
            for column in sheet.columns:
                if column.key in _MEDIA_COLUMNS and values.get(column.index):
                    self.note(sheet.place(number, column.key),
                              "media in choice labels are not imported")
        for item in selects:
            if item.list_name not in lists:
                self.error(survey.place(item.row, "type"),
                           f"the list {item.list_name!r} is not on the choices sheet")
            elif item.qtype == "multiple_choice":
                lists[item.list_name].strict = True
        self.attribute_names = {column.key: attribute
                                for attribute, column in attribute_columns.items()}
        taken: set[str] = set()
        for options in lists.values():
            options.ident = _unique(_normalise_id(options.name), taken)
            taken.add(options.ident)
            if options.ident != options.name:
                self.note(sheet.place(options.row, "list_name"),
                          f"the list name {options.name!r} is not a valid id; imported as "
                          f"{options.ident!r}")
            self.assign_codes(sheet, options)
        return lists

    def assign_codes(self, sheet: _Sheet, options: _List) -> None:
        """Give each choice a valid, unique code; report every one that changes."""
        pattern = NAME_CODE_PATTERN if options.strict else CODE_PATTERN
        taken: set[str] = set()
        for choice in options.choices:
            code = choice.name
            if not re.match(pattern, code):
                code = _normalise_code(code, options.strict)
            code = _unique(code, taken)
            taken.add(code)
            choice.code = code
            if code != choice.name:
                options.renamed[choice.name] = code
                why = ("its codes become part of variable names of a multiple choice, so they "
                       "must be lower-case letters, digits and _") if options.strict else \
                    "codes are letters, digits, _ . -"
                self.note(sheet.place(choice.row, "name"),
                          f"the choice name {choice.name!r} of list {options.name!r} is not a "
                          f"valid code ({why}); imported as {code!r}")

    # ---------------------------------------------------------------- expressions

    def translate_all(self, survey: _Sheet, items: list[_Item], by_name: dict[str, _Item],
                      lists: dict[str, _List]) -> None:
        """Translate every expression of the form; record errors and what cannot map."""
        names = {name: item.ident for name, item in by_name.items()
                 if item.kind not in ("begin_group", "begin_repeat")}
        codes = {item.ident: lists[item.list_name].renamed for item in items
                 if item.list_name in lists and lists[item.list_name].renamed}
        value_types = {item.ident: item.qtype for item in items
                       if item.qtype in ("integer", "decimal")}
        for item in items:
            if item.kind not in ("question", "begin_group") or not item.ident:
                continue
            is_question = item.kind == "question"
            current = item.ident if is_question else None
            columns = ["relevant"]
            if is_question:
                columns += ["constraint", "required"]
                if item.qtype == "calculated":
                    columns.append("calculation")
                if item.list_name:
                    columns.append("choice_filter")
            for column in columns:
                text = survey.get(item.values, column)
                if column == "required":
                    lowered = text.strip().lower()
                    if lowered in _TRUE:
                        item.required = True
                        continue
                    if lowered in _FALSE:
                        continue
                if column == "calculation" and not text:
                    self.error(survey.place(item.row, "calculation"),
                               f"the calculate {item.name!r} has no calculation")
                    continue
                if not text:
                    continue
                context = TranslationContext(
                    names=names, current=current, choice_filter=column == "choice_filter",
                    attributes=self.attribute_names, codes=codes, value_types=value_types,
                )
                place = survey.place(item.row, column)
                try:
                    translation = translate(text, context)
                except UnknownReferenceError as exc:
                    self.error(place, f"{text!r} {exc}")
                    continue
                except XPathTranslationError as exc:
                    self.refuse_expression(item, column, place, f"{text!r}: {exc}")
                    continue
                notes = sorted(name for name in translation.references
                               if by_name[name].qtype == "note")
                if notes:
                    note = by_name[notes[0]]
                    self.refuse_expression(item, column, place,
                                           f"{text!r} refers to ${{{note.name}}} (row "
                                           f"{note.row}), a note, which has no answer")
                    continue
                item.expressions[column] = (translation.text, translation.references)
                if column == "constraint":
                    item.bounds = translation.bounds
                if column == "calculation":
                    item.value_type = translation.value_type
                    if item.value_type != "text":
                        # Later calculations that use this one know it is a number.
                        value_types[item.ident] = item.value_type

    def refuse_expression(self, item: _Item, column: str, place: Place, message: str) -> None:
        """Record an expression that cannot be mapped, and what skipping it drops."""
        if column in ("constraint", "required"):
            # Losing a validation rule keeps the question asked as before: only the rule goes.
            self.unsupported.append((place, message, "the rule is dropped"))
            return
        self.unsupported.append((place, message, "the row is dropped"))
        item.dropped = True

    def cascade(self, survey: _Sheet, items: list[_Item], by_name: dict[str, _Item]) -> None:
        """Drop what depends on something dropped, reporting each, until nothing changes."""
        for item in items:
            if item.kind in ("unsupported", "metadata", "begin_repeat"):
                item.dropped = True
        changed = True
        while changed:
            changed = False
            for item in items:
                if item.dropped or item.kind not in ("question", "begin_group"):
                    continue
                dropped_group = next((g for g in item.groups if g.dropped), None)
                if dropped_group is not None:
                    item.dropped = True
                    changed = True
                    self.unsupported.append((survey.place(item.row),
                                             f"inside the group {dropped_group.name!r} (row "
                                             f"{dropped_group.row}), which cannot be imported",
                                             "the row is dropped"))
                    continue
                for column, (_text, refs) in list(item.expressions.items()):
                    gone = sorted(name for name in refs if by_name[name].dropped)
                    if not gone:
                        continue
                    target = by_name[gone[0]]
                    why = (f"its {column} refers to ${{{gone[0]}}} (row {target.row}), which "
                           "cannot be imported")
                    if column in ("constraint", "required"):
                        del item.expressions[column]
                        self.unsupported.append((survey.place(item.row, column), why,
                                                 "the rule is dropped"))
                        continue
                    item.dropped = True
                    changed = True
                    self.unsupported.append((survey.place(item.row, column), why,
                                             "the row is dropped"))
                    break

    # ---------------------------------------------------------------- building the questionnaire

    def column_notes(self, survey: _Sheet, items: list[_Item]) -> None:
        """Report cells of columns that are not imported (once per unknown column)."""
        kept = [item for item in items if not item.dropped]
        for column in survey.columns:
            if column.key in _SURVEY_MAPPED or column.key.startswith("$"):
                continue
            rows = [item.row for item in kept if item.values.get(column.index)]
            if not rows:
                continue
            if column.key in _MEDIA_COLUMNS:
                for row in rows:
                    self.note(Place(survey.name, row, column.header, column.letter),
                              "media in labels are not imported")
            elif column.key in _SURVEY_IGNORED:
                for row in rows:
                    self.note(Place(survey.name, row, column.header, column.letter),
                              _SURVEY_IGNORED[column.key])
            else:
                shown = ", ".join(str(row) for row in rows[:5]) + (", ..." if len(rows) > 5
                                                                    else "")
                self.note(Place(survey.name, None, column.header, column.letter),
                          f"not an XLSForm column the importer maps; its values (rows {shown}) "
                          "are not imported")

    def label_notes(self, survey: _Sheet, item: _Item, texts: Mapping[str, str]) -> None:
        """Report labels that pipe answers in with ${name}, which the format shows as written."""
        for lang, text in texts.items():
            refs = references(text)
            if refs:
                self.note(survey.place(item.row, "label"),
                          f"the {lang} label refers to ${{{refs[0]}}}; labels are shown as "
                          "written (no piping of answers)")
                return

    def question(self, survey: _Sheet, item: _Item, lists: dict[str, _List],
                 texts: _Texts, relevance: list[str]) -> dict[str, Any] | None:
        """The question of a survey row, as written in questionnaire.yaml."""
        labels = self.texts(survey, item.values, "label")
        hints = self.texts(survey, item.values, "hint")
        self.label_notes(survey, item, labels)
        qid = item.ident
        data: dict[str, Any] = {"id": qid, "type": item.qtype}
        label = labels.get(self.source, "")
        if item.qtype == "calculated":
            if hints:
                self.note(survey.place(item.row, "hint"),
                          "a calculation is never shown; its hint is not imported")
            data["expression"] = item.expressions["calculation"][0]
            data["value_type"] = item.value_type
            if label:
                data["label"] = label
                texts.add(f"question.{qid}.label", labels, survey.place(item.row, "label"))
        else:
            if not label:
                self.error(survey.place(item.row, "label"),
                           f"{item.name!r} has no label in the source language {self.source!r}")
                return None
            data["text"] = label
            texts.add(f"question.{qid}.text", labels, survey.place(item.row, "label"))
            if hints.get(self.source):
                data["help"] = hints[self.source]
                texts.add(f"question.{qid}.help", hints, survey.place(item.row, "hint"))
            elif hints:
                self.note(survey.place(item.row, "hint"),
                          f"the hint has no text in the source language {self.source!r}; "
                          "not imported")
        self.appearance(survey, item, data)
        if item.list_name:
            options = lists[item.list_name]
            options.used = True
            data["options"] = options.ident
            if item.or_other:
                data["other"] = True
                if item.other_text is not None:
                    other_labels = self.texts(survey, item.other_text.values, "label")
                    if other_labels.get(self.source):
                        data["other_label"] = other_labels[self.source]
                        texts.add(f"question.{qid}.other_label", other_labels,
                                  survey.place(item.other_text.row, "label"))
            if "choice_filter" in item.expressions:
                data["choice_filter"] = item.expressions["choice_filter"][0]
        if item.qtype in ("integer", "decimal") and "constraint" in item.expressions:
            data.update(_numeric_bounds(item.qtype, item.bounds))
        if item.qtype not in ("note", "calculated"):
            if item.required:
                data["required"] = True
        conditions = [*relevance]
        if "relevant" in item.expressions:
            conditions.append(item.expressions["relevant"][0])
        if conditions:
            data["relevant"] = _conjunction(conditions)
        if item.qtype not in ("note", "calculated"):
            rules = self.rules(survey, item, texts)
            if rules:
                data["validation"] = rules
        elif "constraint" in item.expressions or "required" in item.expressions:
            self.note(survey.place(item.row, "constraint"),
                      f"a {item.type_text} has no answer to check; its constraint and "
                      "required are not imported")
        if (self.texts(survey, item.values, "constraint_message")
                and not survey.get(item.values, "constraint")):
            self.note(survey.place(item.row, "constraint_message"),
                      "a constraint_message without a constraint is not imported")
        return data

    def rules(self, survey: _Sheet, item: _Item, texts: _Texts) -> list[dict[str, Any]]:
        """The validation rules of a question: its constraint and a conditional required."""
        rules: list[dict[str, Any]] = []
        qid = item.ident
        if "constraint" in item.expressions:
            messages = self.texts(survey, item.values, "constraint_message")
            if not messages:
                messages = {lang: _CONSTRAINT_DEFAULT[lang] for lang in self.languages
                            if lang in _CONSTRAINT_DEFAULT}
                messages.setdefault(self.source, _CONSTRAINT_DEFAULT["en"])
                self.note(survey.place(item.row, "constraint"),
                          "the constraint has no constraint_message; a standard message is used")
            if not messages.get(self.source):
                self.error(survey.place(item.row, "constraint_message"),
                           f"the constraint message has no text in the source language "
                           f"{self.source!r}")
            else:
                rules.append({"id": "constraint", "rule": item.expressions["constraint"][0],
                              "message": messages[self.source]})
                texts.add(f"question.{qid}.validation.constraint", messages,
                          survey.place(item.row, "constraint_message"))
        if "required" in item.expressions:
            condition = item.expressions["required"][0]
            messages = self.texts(survey, item.values, "required_message")
            if not messages.get(self.source):
                messages = {lang: _REQUIRED_DEFAULT[lang] for lang in self.languages
                            if lang in _REQUIRED_DEFAULT}
                messages.setdefault(self.source, _REQUIRED_DEFAULT["en"])
            rule = str(parse(f"answered({qid}) or not ({condition})"))
            rules.append({"id": "required", "rule": rule, "message": messages[self.source]})
            texts.add(f"question.{qid}.validation.required", messages,
                      survey.place(item.row, "required_message"))
            self.note(survey.place(item.row, "required"),
                      f"required only when {condition}: imported as the validation rule {rule!r}")
        elif item.required and self.texts(survey, item.values, "required_message"):
            self.note(survey.place(item.row, "required_message"),
                      "the format shows its own message for required questions; "
                      "required_message is not imported")
        return rules

    def appearance(self, survey: _Sheet, item: _Item, data: dict[str, Any]) -> None:
        """Map the appearances the format has (dropdown, multiline); report the rest."""
        appearance = survey.get(item.values, "appearance")
        if not appearance:
            return
        ignored: list[str] = []
        for token in appearance.split():
            lowered = token.lower()
            if item.qtype == "single_choice" and lowered in _SELECT_ONE_DROPDOWN:
                data["display"] = "dropdown"
            elif item.qtype == "text" and lowered == "multiline":
                data["multiline"] = True
            else:
                ignored.append(token)
        if ignored:
            self.note(survey.place(item.row, "appearance"),
                      f"the appearance {' '.join(ignored)!r} has no equivalent; ignored")

    def absorb_other_texts(self, survey: _Sheet, items: list[_Item],
                           lists: dict[str, _List]) -> None:
        """A `q_other` text question beside an `or_other` select is the format's own `q_other`."""
        by_ident = {item.ident: item for item in items if item.ident}
        for item in items:
            if not item.or_other or item.dropped:
                continue
            options = lists[item.list_name or ""]
            if any(choice.code == OTHER_CODE for choice in options.choices):
                item.or_other = False
                self.note(survey.place(item.row, "type"),
                          f"the list {options.name!r} has its own choice 'other'; or_other is "
                          "not imported")
                continue
            other = by_ident.get(f"{item.ident}_other")
            if other is None:
                continue
            if other.kind != "question" or other.qtype != "text":
                self.error(survey.place(other.row, "name"),
                           f"the name {other.name!r} clashes with the 'other, specify' answer "
                           f"of {item.name!r} (row {item.row})")
                continue
            item.other_text = other
            other.other_text_of = item
            self.note(survey.place(other.row),
                      f"{other.name!r} is the 'other, specify' answer of {item.name!r} (row "
                      f"{item.row}), which the format provides itself; its label becomes the "
                      "other_label")

    def build(self, survey: _Sheet, items: list[_Item], lists: dict[str, _List],
              settings: dict[str, str], texts: _Texts) -> tuple[dict[str, Any], _RowMap]:
        """questionnaire.yaml as a mapping, and where each of its parts came from."""
        rows = _RowMap(survey.name, self.sheets["choices"].name if "choices" in self.sheets
                       else "choices")
        settings_sheet = self.sheets.get("settings")

        def settings_place(key: str) -> Place:
            if settings_sheet is None or not settings_sheet.has(key):
                return Place(settings_sheet.name if settings_sheet else "settings")
            return settings_sheet.place(2, key)

        raw_id = settings.get("form_id", "")
        form_id = re.sub(r"[^a-z0-9-]+", "-", (raw_id or self.file.stem).lower()).strip("-")
        form_id = form_id or "imported-form"
        if not raw_id:
            self.note(settings_place("form_id"),
                      f"no form_id; the questionnaire id is {form_id!r} (from the file name)")
        elif form_id != raw_id:
            self.note(settings_place("form_id"),
                      f"the form_id {raw_id!r} is not a valid questionnaire id; imported as "
                      f"{form_id!r}")
        version = settings.get("version", "")
        if not version:
            version = "1"
            self.note(settings_place("version"), "no version; the version is '1'")
        titles: dict[str, str] = {}
        if settings_sheet is not None and settings_sheet.rows:
            titles = self.texts(settings_sheet, settings_sheet.rows[0][1], "form_title")
        if not titles.get(self.source):
            titles[self.source] = settings.get("form_title") or form_id
            if not settings.get("form_title"):
                self.note(settings_place("form_title"),
                          f"no form_title; the title is {titles[self.source]!r}")
        for lang in self.languages[1:]:
            if not titles.get(lang):
                titles[lang] = titles[self.source]
                self.note(settings_place("form_title"),
                          f"no {lang} form title; the {self.source} title is used")
        texts.add("title", titles, settings_place("form_title"))

        sections: list[dict[str, Any]] = []
        by_group: dict[int, dict[str, Any]] = {}
        current: dict[str, Any] | None = None
        current_ungrouped = False
        taken = {item.ident for item in items if item.ident}
        for item in items:
            if item.dropped or item.other_text_of is not None:
                continue
            if item.kind == "begin_group":
                group_labels = self.texts(survey, item.values, "label")
                if item.groups:
                    if group_labels:
                        self.note(survey.place(item.row),
                                  f"the nested group {item.name!r} is merged into the section "
                                  f"of {item.groups[0].name!r}; its label is not shown")
                    self.group_appearance(survey, item)
                    continue
                section: dict[str, Any] = {"id": item.ident}
                title = group_labels.get(self.source, "")
                if not title:
                    title = item.name
                    group_labels = {lang: item.name for lang in self.languages}
                    self.note(survey.place(item.row, "label"),
                              f"the group {item.name!r} has no label; its name is the page title")
                section["title"] = title
                texts.add(f"section.{item.ident}.title", group_labels,
                          survey.place(item.row, "label"))
                hints = self.texts(survey, item.values, "hint")
                if hints.get(self.source):
                    section["intro"] = hints[self.source]
                    texts.add(f"section.{item.ident}.intro", hints,
                              survey.place(item.row, "hint"))
                if "relevant" in item.expressions:
                    section["relevant"] = item.expressions["relevant"][0]
                section["questions"] = []
                self.group_appearance(survey, item)
                by_group[item.row] = section
                sections.append(section)
                rows.sections[id(section)] = item.row
                current, current_ungrouped = section, False
                continue
            if item.kind != "question":
                continue
            if item.groups:
                target = by_group[item.groups[0].row]
            else:
                if current is None or not current_ungrouped:
                    sid = _unique("general", taken)
                    taken.add(sid)
                    current = {"id": sid, "title": titles[self.source], "questions": []}
                    texts.add(f"section.{sid}.title", titles, Place(survey.name, item.row))
                    sections.append(current)
                    rows.sections[id(current)] = item.row
                    current_ungrouped = True
                    self.note(survey.place(item.row),
                              f"questions outside any group form the section {sid!r}, titled "
                              "with the form title")
                target = current
            relevance = [group.expressions["relevant"][0] for group in item.groups[1:]
                         if "relevant" in group.expressions]
            question = self.question(survey, item, lists, texts, relevance)
            if question is not None:
                target["questions"].append(question)
                rows.questions[id(question)] = item.row
        kept: list[dict[str, Any]] = []
        for section in sections:
            if section["questions"]:
                kept.append(section)
            else:
                self.note(Place(survey.name, rows.sections[id(section)]),
                          f"the group {section['id']!r} has no questions left; not imported")
                texts.forget(f"section.{section['id']}.")
        for position, section in enumerate(kept):
            rows.by_path[f"sections[{position}]"] = rows.sections[id(section)]
            for index, question in enumerate(section["questions"]):
                rows.by_path[f"sections[{position}].questions[{index}]"] = \
                    rows.questions[id(question)]
        option_lists: dict[str, Any] = {}
        choices_sheet = self.sheets.get("choices")
        for options in lists.values():
            if not options.used:
                if choices_sheet is not None:
                    self.note(Place(choices_sheet.name, options.row),
                              f"the list {options.name!r} is not used by any imported question; "
                              "not imported")
                continue
            written: list[dict[str, Any]] = []
            for index, choice in enumerate(options.choices):
                place = (choices_sheet.place(choice.row, "label") if choices_sheet
                         else Place("choices", choice.row))
                label = choice.labels.get(self.source, "")
                if not label:
                    self.error(place, f"the choice {choice.name!r} of list {options.name!r} "
                                      f"has no label in the source language {self.source!r}")
                    continue
                option: dict[str, Any] = {"code": choice.code, "label": label}
                if choice.attributes:
                    option["attributes"] = dict(choice.attributes)
                written.append(option)
                texts.add(f"option.{options.ident}.{choice.code}", choice.labels, place)
                rows.choices[f"option_lists.{options.ident}[{index}]"] = choice.row
            option_lists[options.ident] = written
        complete = [lang for lang in self.languages[1:] if not texts.missing[lang]]
        for lang in self.languages[1:]:
            missing = texts.missing[lang]
            if missing:
                shown = "; ".join(str(self.language_place(place, lang))
                                  for _, place in missing[:3])
                more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
                self.note(Place(survey.name),
                          f"{len(missing)} text(s) have no {lang} translation ({shown}{more}); "
                          f"translations/{lang}.yaml is written, but {lang} is not listed in "
                          "languages until it is complete")
        data: dict[str, Any] = {
            "id": form_id,
            "version": version,
            "source_language": self.source,
            "languages": [self.source, *complete],
            "title": titles[self.source],
        }
        if option_lists:
            data["option_lists"] = option_lists
        data["sections"] = kept
        if not kept:
            self.error(Place(survey.name), "no question is left to import")
        return data, rows

    def language_place(self, place: Place, lang: str) -> Place:
        """The cell where the ``lang`` text belongs, for a place naming another language's."""
        sheet = next((s for s in self.sheets.values() if s.name == place.sheet), None)
        column = next((c for c in sheet.columns if c.header == place.column), None) \
            if sheet else None
        if sheet is None or column is None:
            return place
        for candidate in sheet.columns:
            if (candidate.key == column.key and candidate.lang is not None
                    and self.lang_codes.get(candidate.lang) == lang):
                return Place(sheet.name, place.row, candidate.header, candidate.letter)
        return Place(sheet.name, place.row, f"{column.key}::{lang}")

    def group_appearance(self, survey: _Sheet, item: _Item) -> None:
        """Report group appearances other than field-list (every section is one page)."""
        appearance = survey.get(item.values, "appearance")
        ignored = [token for token in appearance.split() if token.lower()
                   not in _SECTION_APPEARANCES]
        if ignored:
            self.note(survey.place(item.row, "appearance"),
                      f"the group appearance {' '.join(ignored)!r} has no equivalent; ignored")

    # ---------------------------------------------------------------- the whole import

    def problems(self, entries: Iterable[tuple[Place, str]]) -> list[Problem]:
        """Problems in workbook order, naming the file and the place."""
        ordered = sorted(entries, key=lambda entry: (entry[0].sheet, entry[0].row or 0))
        return [Problem(self.file.name, str(place), None, message) for place, message in ordered]

    def run(self) -> tuple[dict[str, Any], dict[str, dict[str, str]], _RowMap]:
        """The whole mapping: questionnaire data, translations by language, and row map."""
        survey = self.sheets.get("survey")
        if survey is None:
            raise XLSFormError([Problem(self.file.name, "", None,
                                        "the workbook has no 'survey' sheet (sheets: "
                                        f"{', '.join(s.name for s in self.sheets.values())})")])
        settings = self.read_settings()
        self.resolve_languages(settings)
        items = self.read_items(survey)
        self.structure(survey, items)
        by_name = self.assign_names(survey, items)
        lists = self.read_choices(survey, items)
        if self.errors:
            raise XLSFormError(self.problems(self.errors))
        for item in items:
            if item.kind in ("unsupported", "begin_repeat"):
                self.unsupported.append((survey.place(item.row, "type"),
                                         f"{item.type_text!r}: {item.reason}",
                                         "the row is dropped"))
            elif item.kind == "metadata":
                self.note(survey.place(item.row, "type"),
                          f"the metadata field {item.type_text!r} is not imported (the survey "
                          "app records its own metadata)")
        self.translate_all(survey, items, by_name, lists)
        self.cascade(survey, items, by_name)
        self.absorb_other_texts(survey, items, lists)
        if self.errors:
            raise XLSFormError(self.problems(self.errors))
        if self.unsupported and not self.skip_unsupported:
            problems = self.problems((place, message) for place, message, _ in self.unsupported)
            problems.append(Problem(self.file.name, "", None,
                                    "nothing was written; use --skip-unsupported to drop these "
                                    "rows and import the rest"))
            raise XLSFormError(problems)
        self.report.extend(ReportItem(place, f"{message}; {consequence}")
                           for place, message, consequence in self.unsupported)
        self.column_notes(survey, items)
        texts = _Texts(self.source, self.languages)
        data, rows = self.build(survey, items, lists, settings, texts)
        if self.errors:
            raise XLSFormError(self.problems(self.errors))
        translations = {lang: table for lang, table in texts.translations.items() if table}
        order = {"survey": 0, "choices": 1, "settings": 2}
        self.report.sort(key=lambda item: (order.get(item.place.sheet.lower(), 3),
                                           item.place.row or 0))
        return data, translations, rows


@dataclass
class _RowMap:
    """Which workbook row each part of the written questionnaire came from."""

    survey: str = "survey"
    choices_sheet: str = "choices"
    sections: dict[int, int] = field(default_factory=dict)
    questions: dict[int, int] = field(default_factory=dict)
    choices: dict[str, int] = field(default_factory=dict)
    by_path: dict[str, int] = field(default_factory=dict)

    def place(self, path: str) -> Place | None:
        """The survey or choices row of a path such as ``sections[1].questions[2].relevant``."""
        match = re.match(r"sections\[\d+\]\.questions\[\d+\]", path) or re.match(
            r"sections\[\d+\]", path)
        if match and match.group(0) in self.by_path:
            return Place(self.survey, self.by_path[match.group(0)])
        match = re.match(r"option_lists\.\w+\[\d+\]", path)
        if match and match.group(0) in self.choices:
            return Place(self.choices_sheet, self.choices[match.group(0)])
        return None


def _numeric_bounds(qtype: str, bounds: tuple[str | None, str | None] | None) -> dict[str, Any]:
    """`min`/`max` of a numeric question from a constraint that only bounds it."""
    if bounds is None:
        return {}
    found: dict[str, Any] = {}
    for key, text in zip(("min", "max"), bounds, strict=True):
        if text is None:
            continue
        value = float(text)
        if qtype == "integer":
            if not value.is_integer():
                # An integer bounded by 1.5 has no exact integer bound of the same meaning.
                return {}
            found[key] = int(value)
        else:
            found[key] = value
    return found


def _conjunction(conditions: list[str]) -> str:
    """Several conditions joined with `and`, in canonical form."""
    if len(conditions) == 1:
        return conditions[0]
    return str(parse(" and ".join(f"({condition})" for condition in conditions)))


def _dump(data: Any, path: Path) -> None:
    """Write ``data`` as YAML (UTF-8, keys in the order given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as stream:
        yaml.safe_dump(data, stream, sort_keys=False, allow_unicode=True, width=100)


def import_xlsform(file: Path, out: Path, *, skip_unsupported: bool = False) -> ImportReport:
    """Import the XLSForm ``file`` into the questionnaire folder ``out``.

    Raises XLSFormError (nothing written) when the form is malformed, or when it holds rows
    that cannot be mapped and ``skip_unsupported`` is false.
    """
    file, out = Path(file), Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise XLSFormError([Problem(str(out), "", None,
                                    "the output folder exists and is not empty; choose a new "
                                    "folder or empty it first")])
    importer = _Importer(file, _read_workbook(file), skip_unsupported)
    data, translations, rows = importer.run()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        _dump(data, staging / "questionnaire.yaml")
        for lang, texts in translations.items():
            _dump({"language": lang, "texts": texts}, staging / "translations" / f"{lang}.yaml")
        from questionnaires.loader import validate_folder

        problems = validate_folder(staging)
        if problems:
            raise XLSFormError([_mapped_problem(file, problem, rows) for problem in problems])
        if out.exists():
            out.rmdir()
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return ImportReport(out, str(data["id"]), list(data["languages"]), importer.report)


def _mapped_problem(file: Path, problem: Problem, rows: _RowMap) -> Problem:
    """A loader problem of the written questionnaire, pointed back at the workbook row."""
    place = rows.place(problem.path)
    written = f"{problem.file}: {problem.path}" if problem.path else problem.file
    where = str(place) if place else ""
    return Problem(file.name, where, None, f"{problem.message} (in the imported {written})")
