"""YAML reading that remembers the line of every key and item, for error messages."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from questionnaires.errors import Problem

PathKey = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(path: Sequence[str | int]) -> str:
    """Render a location as ``sections[2].questions[4].scale``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _PLAIN_KEY.match(part):
            # Text keys contain dots; quoting keeps the path readable as one step.
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
        elif out:
            out += f".{part}"
        else:
            out = str(part)
    return out


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


def read_yaml(path: Path, display_name: str | None = None) -> tuple[YamlSource, list[Problem]]:
    """Parse a YAML file into data and line index; also return duplicate-key problems."""
    name = display_name or path.name
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlReadError([Problem(name, "", None, f"not UTF-8 text: {exc.reason}")]) from exc
    except OSError as exc:
        raise YamlReadError([Problem(name, "", None, f"cannot read file: {exc.strerror}")]) from exc
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> tuple[YamlSource, list[Problem]]:
    """Parse YAML text into data and line index; also return duplicate-key problems."""
    loader = yaml.SafeLoader(text)
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
            key: Any = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                continue
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
