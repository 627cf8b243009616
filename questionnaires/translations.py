"""Translation files: reading, the completeness check, and text lookup with source fallback."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from questionnaires.errors import Problem
from questionnaires.model import LANGUAGE_PATTERN, Questionnaire
from questionnaires.yamlsource import YamlReadError, YamlSource, read_yaml, yaml_kind

TRANSLATIONS_FOLDER = "translations"


@dataclass(frozen=True)
class TranslationFile:
    """One ``translations/<lang>.yaml``: its language, texts, and where each key is written."""

    language: str
    texts: dict[str, str]
    source: YamlSource

    @property
    def file(self) -> str:
        """The file name used in problems, e.g. ``translations/de.yaml``."""
        return self.source.file


def translation_path(folder: Path, lang: str) -> Path:
    """Where the translation into ``lang`` of the questionnaire in ``folder`` lives."""
    return folder / TRANSLATIONS_FOLDER / f"{lang}.yaml"


def read_translation(path: Path) -> tuple[TranslationFile | None, list[Problem]]:
    """Read a translation file; structural problems are returned, not raised.

    The language is taken from the file name (``de.yaml`` is German); a ``language:`` field
    that disagrees is a problem. Texts that are not strings are left out and reported.
    """
    name = f"{TRANSLATIONS_FOLDER}/{path.name}"
    lang = path.stem
    try:
        source, problems = read_yaml(path, name)
    except YamlReadError as exc:
        return None, list(exc.problems)
    if not re.match(LANGUAGE_PATTERN, lang):
        problems.append(source.problem((), f"file name {path.name!r} is not <language code>.yaml"))
    translation, content_problems = translation_from_source(source, lang)
    return translation, problems + content_problems


def translation_from_source(
    source: YamlSource, lang: str
) -> tuple[TranslationFile | None, list[Problem]]:
    """Check the parsed content of a translation into ``lang`` (``{language, texts}``)."""
    problems: list[Problem] = []
    data = source.data
    file_name = source.file.rsplit("/", 1)[-1]
    if not isinstance(data, dict):
        problems.append(source.problem((), "a translation file must be a mapping with "
                                            "'language' and 'texts'"))
        return None, problems
    for key in data:
        if key not in ("language", "texts"):
            problems.append(
                source.problem((key,), f"unknown key {key!r} (allowed: language, texts)")
            )
    declared = data.get("language")
    if declared is None:
        problems.append(source.problem((), f"missing 'language: {lang}'"))
    elif declared != lang:
        problems.append(source.problem(("language",),
                                       f"language is {declared!r} but the file is {file_name}"))
    raw_texts: Any = data.get("texts")
    texts: dict[str, str] = {}
    if raw_texts is None:
        problems.append(source.problem((), "missing 'texts'"))
    elif not isinstance(raw_texts, dict):
        problems.append(source.problem(("texts",), "texts must be a mapping of text key to text"))
    else:
        for key, text in raw_texts.items():
            where = ("texts", key)
            if not isinstance(key, str):
                problems.append(source.problem(
                    where, f"this text key is read by YAML as {yaml_kind(key)}, not as text; "
                           "quote it"))
            elif text is None or (isinstance(text, str) and not text.strip()):
                problems.append(source.problem(where, f"empty text for {key!r}"))
            elif not isinstance(text, str):
                problems.append(source.problem(where, f"text for {key!r} must be a string, "
                                                      f"not {yaml_kind(text)}; quote it"))
            else:
                texts[key] = text
    return TranslationFile(lang, texts, source), problems


def check_translation(questionnaire: Questionnaire, translation: TranslationFile,
                      *, complete: bool = True) -> list[Problem]:
    """Missing keys (when ``complete``) and orphaned keys of a translation, one problem each."""
    source_keys = questionnaire.text_keys()
    untranslated = {key for key, _, translatable in questionnaire.iter_texts() if not translatable}
    problems: list[Problem] = []
    data = translation.source.data
    raw = data.get("texts") if isinstance(data, dict) else None
    written = set(raw) if isinstance(raw, dict) else set()
    unwritten = [key for key in source_keys if key not in written]
    for key in sorted(written, key=str):
        if not isinstance(key, str):
            continue
        if key in untranslated:
            problems.append(translation.source.problem(
                ("texts", key),
                f"orphaned key {key!r}: its option list is marked translate: false"))
        elif key not in source_keys:
            close = difflib.get_close_matches(key, unwritten, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(translation.source.problem(
                ("texts", key), f"orphaned key {key!r}: no such text in the questionnaire{hint}"))
    if complete:
        for key in source_keys:
            if key not in written:
                problems.append(translation.source.problem(
                    ("texts",), f"missing key {key!r} (source: {_shorten(source_keys[key])!r})"))
    return problems


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TextCatalog(Mapping[str, str]):
    """The texts of a questionnaire in one language; a missing text falls back to the source."""

    def __init__(self, questionnaire: Questionnaire, lang: str | None = None) -> None:
        self.questionnaire = questionnaire
        self.language = lang or questionnaire.source_language
        self._source = {key: text for key, text, _ in questionnaire.iter_texts()}
        self._translatable = {key for key, _, translatable in questionnaire.iter_texts()
                              if translatable}
        if self.language == questionnaire.source_language:
            self._translated: dict[str, str] = {}
        else:
            self._translated = questionnaire.translations.get(self.language, {})

    def __getitem__(self, key: str) -> str:
        """The text for ``key`` in this language, else in the source language."""
        if key in self._translatable:
            text = self._translated.get(key)
            if text is not None and text.strip():
                return text
        return self._source[key]

    def get_text(self, key: str, default: str | None = None) -> str | None:
        """The text for ``key``, or ``default`` when the questionnaire has no such text."""
        return self[key] if key in self._source else default

    def is_translated(self, key: str) -> bool:
        """Whether ``key`` has its own text in this language (not a fallback)."""
        return key in self._translatable and key in self._translated

    def __iter__(self) -> Iterator[str]:
        """Iterate over every text key of the questionnaire."""
        return iter(self._source)

    def __len__(self) -> int:
        """The number of texts of the questionnaire."""
        return len(self._source)


def texts(questionnaire: Questionnaire, lang: str | None = None) -> TextCatalog:
    """The texts of ``questionnaire`` in ``lang`` (source language when None) with fallback."""
    return TextCatalog(questionnaire, lang)
