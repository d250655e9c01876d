"""Edit paths: ``[N:]key.key[3].key`` parsed into a YamlPath and formatted back.

A key step written in a path is text: it names the mapping key that reads as that text,
or as that plain scalar (``80`` names ``80:`` and ``"80":``, see ``keys``). Keys that hold
``.``, ``[``, ``]`` or quotes are written in quotes: ``"app.kubernetes.io/name"``,
``'it''s'``, ``"say \\"hi\\""``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import YamlEditError


@dataclass(frozen=True)
class DataKey:
    """A key given as data rather than text (an overlay's keys): it names only the mapping
    key equal to it, type included, so the overlay ``{80: x}`` never edits ``"80":``."""

    value: Any


Step = str | int | DataKey


class Index(int):
    """A list position in a path of data keys, told apart from an int mapping key (80:)."""


@dataclass(frozen=True)
class YamlPath:
    """Where to edit: a document index (the ``N:`` prefix) and keys / list indices."""

    document: int
    steps: tuple[Step, ...]

    def __str__(self) -> str:
        prefix = f"{self.document}:" if self.document else ""
        return prefix + format_steps(self.steps)


_PLAIN_PATH_KEY = re.compile(r"[^.\[\]\"':\s](?:[^.\[\]\"':]*[^.\[\]\"':\s])?")


def format_steps(steps: Sequence[Step]) -> str:
    out: list[str] = []
    for i, step in enumerate(steps):
        if isinstance(step, int):
            out.append(f"[{step}]")
            continue
        text = key_text(step.value) if isinstance(step, DataKey) else step
        key = text if _PLAIN_PATH_KEY.fullmatch(text) else _quote_path_key(text)
        out.append(key if i == 0 else "." + key)
    return "".join(out)


def key_text(key: Any) -> str:
    """A data key as a path names it (true, null, 80), for messages."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return key if isinstance(key, str) else str(key)


def _quote_path_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_path(text: str) -> YamlPath:
    """Parse ``[N:]key.key[3].key`` (keys may be quoted with ' or ") into a YamlPath."""
    if not isinstance(text, str):
        raise YamlEditError(f"path must be a string, not {type(text).__name__}")
    doc = 0
    i = 0
    prefix = re.match(r"(\d+):", text)
    if prefix:
        doc = int(prefix.group(1))
        i = prefix.end()
    if i == len(text):
        raise YamlEditError(f"{text!r}: the path is empty")
    steps: list[Step] = []
    while True:
        step, i = _read_step(text, i)
        steps.append(step)
        if i == len(text):
            return YamlPath(doc, tuple(steps))
        if text[i] == ".":
            i += 1
            if i == len(text) or text[i] in ".[":
                raise YamlEditError(f"{text!r}: expected a key after '.' at offset {i}")
        elif text[i] != "[":
            raise YamlEditError(f"{text!r}: unexpected {text[i]!r} at offset {i}")


def _read_step(text: str, i: int) -> tuple[str | int, int]:
    c = text[i]
    if c == "[":
        close = text.find("]", i)
        if close == -1:
            raise YamlEditError(f"{text!r}: unclosed '[' at offset {i}")
        digits = text[i + 1 : close]
        if not (digits.isascii() and digits.isdigit()):
            raise YamlEditError(f"{text!r}: list index at offset {i} must be a number >= 0")
        return int(digits), close + 1
    if c in "\"'":
        return _read_quoted_key(text, i)
    j = i
    while j < len(text) and text[j] not in ".[]\"'":
        j += 1
    if j == i:
        raise YamlEditError(f"{text!r}: empty key at offset {i}")
    return text[i:j], j


def _read_quoted_key(text: str, i: int) -> tuple[str, int]:
    quote = text[i]
    out: list[str] = []
    j = i + 1
    while j < len(text):
        c = text[j]
        if quote == '"' and c == "\\" and j + 1 < len(text):
            out.append(text[j + 1])
            j += 2
        elif c == quote and quote == "'" and text.startswith("''", j):
            out.append("'")
            j += 2
        elif c == quote:
            return "".join(out), j + 1
        else:
            out.append(c)
            j += 1
    raise YamlEditError(f"{text!r}: unterminated quoted key at offset {i}")


def as_path(path: YamlPath | str) -> tuple[YamlPath, str]:
    """The parsed path and its label for messages (as the user wrote it)."""
    if isinstance(path, YamlPath):
        return path, str(path)
    return parse_path(path), path
