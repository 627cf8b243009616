"""YAML reading that remembers the line of every key and item, for error messages."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from questionnaires.errors import Problem

PathKey = tuple[str | int, ...]

#: Largest file read (bytes). The reference questionnaire is about 35 kB; 5 MB leaves room for
#: long code lists (NUTS regions, NACE classes) while refusing files no author writes by hand.
MAX_FILE_BYTES = 5 * 1024 * 1024
#: Deepest nesting of mappings and lists. The format needs about eight levels; PyYAML composes
#: nodes recursively, so an unbounded depth would end in a RecursionError.
MAX_DEPTH = 50

_MERGE_TAG = "tag:yaml.org,2002:merge"

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(path: Sequence[str | int]) -> str:
    """Render a location as ``sections[2].questions[4].scale``."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif not isinstance(part, str):
            # YAML keys may be null, booleans or floats (`~: x`, `1.5: x`): shown as YAML
            # spells them, so a bad key is reported rather than crashing the report.
            out += f"[{json.dumps(part, ensure_ascii=False, default=str)}]"
        elif not _PLAIN_KEY.match(part):
            # Text keys contain dots; quoting keeps the path readable as one step.
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
        elif out:
            out += f".{part}"
        else:
            out = str(part)
    return out


def yaml_kind(value: object) -> str:
    """What YAML made of a value, in an author's words (``a number``, ``null``, ``a list``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean (yes/no/true/false)"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, date):
        return "a date"
    return type(value).__name__


@dataclass
class YamlSource:
    """A parsed YAML document with the 1-based line of every key and list item."""

    file: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, or of its deepest ancestor that exists in the file."""
        key = tuple(path)
        while True:
            if key in self.lines:
                return self.lines[key]
            if not key:
                return None
            key = key[:-1]

    def problem(self, path: Sequence[str | int], message: str) -> Problem:
        """A problem located at ``path`` of this file."""
        return Problem(self.file, format_path(path), self.line(path), message)


class YamlReadError(Exception):
    """The file could not be read or parsed as YAML; ``problems`` says where."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(problem) for problem in problems))


class _RestrictedLoader(yaml.SafeLoader):
    """A safe loader for untrusted files that also refuses what the format never needs.

    Anchors and aliases (an alias bomb expands a small file into an enormous tree), merge keys
    (they hide keys from the line index), explicit tags, and nesting beyond ``MAX_DEPTH``.
    A value that cannot be constructed (``2024-13-45``, an integer of 5,000 digits) is a YAML
    error at its line, not a stray ``ValueError``.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        """Compose the next node, refusing anchors, aliases, tags, merge keys, deep nesting."""
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (&name, *name) are not allowed; write the "
                "content out where it is needed", event.start_mark)
        tag = getattr(event, "tag", None)
        if tag is not None:
            written = tag.replace("tag:yaml.org,2002:", "!!", 1)
            raise yaml.composer.ComposerError(
                None, None, f"tags such as {written!r} are not allowed; quote the value instead",
                event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.ScalarNode) and node.tag == _MERGE_TAG:
            raise yaml.composer.ComposerError(
                None, None, "merge keys (<<) are not allowed; write the keys out",
                node.start_mark)
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Construct a value; one that cannot be constructed is an error at its line."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:
            value = node.value if isinstance(node, yaml.ScalarNode) else ""
            shown = value if len(value) <= 40 else f"{value[:37]}..."
            # Python's own advice (e.g. "use sys.set_int_max_str_digits()") is not for authors.
            reason = str(exc).split(";", 1)[0]
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read the value {shown!r} ({reason}); quote it if it is "
                "text", node.start_mark) from exc


def read_yaml(path: Path, display_name: str | None = None) -> tuple[YamlSource, list[Problem]]:
    """Parse a YAML file into data and line index; also return duplicate-key problems."""
    name = display_name or path.name
    if path.exists() and not path.is_file() and not path.is_dir():
        # Opening a named pipe or a device would block or never end.
        raise YamlReadError([Problem(name, "", None, "not a regular file")])
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise YamlReadError([Problem(name, "", None, f"cannot read file: {reason}")]) from exc
    if len(raw) > MAX_FILE_BYTES:
        raise YamlReadError([Problem(name, "", None, "file is larger than "
                                     f"{MAX_FILE_BYTES // (1024 * 1024)} MB; refused")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise YamlReadError([Problem(name, "", line, f"not UTF-8 text: {exc.reason} "
                                     f"(byte {exc.start + 1})")]) from exc
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> tuple[YamlSource, list[Problem]]:
    """Parse YAML text into data and line index; also return duplicate-key problems."""
    if len(text) > MAX_FILE_BYTES:
        raise YamlReadError([Problem(name, "", None, "text is longer than "
                                     f"{MAX_FILE_BYTES // (1024 * 1024)} MB; refused")])
    try:
        loader = _RestrictedLoader(text)
    except yaml.reader.ReaderError as exc:
        # Raised for control characters before parsing starts; name the line, not the offset.
        at = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise YamlReadError([Problem(name, "", at, f"invalid YAML: the character "
                                     f"U+{code:04X} is not allowed in YAML text")]) from exc
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        context = exc.context or ""
        if context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
            # The cause often sits where the construct began, e.g. an unclosed `[`.
            context = f"{context} (begun on line {exc.context_mark.line + 1})"
        message = ": ".join(part for part in (context, exc.problem) if part)
        raise YamlReadError([Problem(name, "", line, f"invalid YAML: {message}")]) from exc
    except yaml.YAMLError as exc:
        raise YamlReadError([Problem(name, "", None, f"invalid YAML: {exc}")]) from exc
    finally:
        loader.dispose()
    source = YamlSource(name, data)
    duplicates: list[Problem] = []
    if node is not None:
        _index(node, (), source.lines, duplicates, name)
    return source, duplicates


def _scalar_key(node: yaml.ScalarNode) -> Any:
    """A mapping key as the data holds it (`1.5: x` is the float 1.5, `~: x` None)."""
    if node.tag == "tag:yaml.org,2002:str":
        return node.value
    # The document was constructed from these very nodes, so this cannot fail.
    return yaml.constructor.SafeConstructor().construct_object(node)


def _index(
    node: yaml.Node,
    path: PathKey,
    lines: dict[PathKey, int],
    duplicates: list[Problem],
    name: str,
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = _scalar_key(key_node)
            if key in seen:
                duplicates.append(
                    Problem(name, format_path((*path, key)), key_node.start_mark.line + 1,
                            f"duplicate key {key!r} (YAML keeps only the last one)")
                )
                continue
            seen.add(key)
            child = (*path, key)
            # A key's own line is where an author looks for it, even if its value starts below.
            lines[child] = key_node.start_mark.line + 1
            _index(value_node, child, lines, duplicates, name)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _index(item, (*path, position), lines, duplicates, name)
