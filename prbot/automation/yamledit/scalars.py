"""Scalar text (plain, quoted, block scalars) and values written on one line."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import ScalarEvent
from ruamel.yaml.nodes import ScalarNode

from .tree import R11, R12, STR_TAG
from .values import is_collection

_INDICATORS = "-?:,[]{}#&*!|>'\"%@`"
_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\0": "\\0",
    "\x07": "\\a",
    "\b": "\\b",
    "\x0b": "\\v",
    "\x0c": "\\f",
    "\x1b": "\\e",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}


def _yaml_printable(c: str) -> bool:
    o = ord(c)
    if o < 0x20 or 0x7F <= o <= 0x9F or 0xD800 <= o <= 0xDFFF:
        return False
    return c not in "\ufeff\ufffe\uffff"


def _double_quoted(value: str) -> str:
    out = []
    for c in value:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif _yaml_printable(c):
            out.append(c)
        elif ord(c) <= 0xFF:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) <= 0xFFFF:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return '"' + "".join(out) + '"'


# Line breaks to YAML 1.1 readers only (and tab): escaped in double quotes, never written raw.
_ODD_BREAKS = "\t\x85\u2028\u2029"


def _single_quoted(value: str) -> str | None:
    if not all(_yaml_printable(c) and c not in _ODD_BREAKS for c in value):
        return None  # line breaks and control characters need double-quote escapes
    return "'" + value.replace("'", "''") + "'"


def _plain_ok(value: str, flow: bool) -> bool:
    """True when ``value`` written plain reads back as this same string everywhere."""
    if not value or value[0] in _INDICATORS or value[0] in " \t" or value[-1] in " \t:":
        return False
    if ": " in value or " #" in value or value.startswith(("---", "...")):
        return False
    if flow and any(c in value for c in ",[]{}"):
        return False
    if not all(_yaml_printable(c) and c not in _ODD_BREAKS for c in value):
        return False
    for resolver in (R11, R12):
        if str(resolver.resolve(ScalarNode, value, (True, False))) != STR_TAG:
            return False
    return _reads_back_plain(value, flow)


def _reads_back_plain(value: str, flow: bool) -> bool:
    snippet = f"[{value}]" if flow else f"k: {value}\n"
    try:
        events = list(YAML(typ="safe", pure=True).parse(snippet))
    except YAMLError:
        return False
    scalars = [e for e in events if isinstance(e, ScalarEvent)]
    return (
        len(scalars) == (1 if flow else 2)
        and scalars[-1].value == value
        and (scalars[-1].style is None)
    )


def _plain_non_str(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        mantissa, _, exponent = text.partition("e")
        if exponent and "." not in mantissa:  # YAML 1.1 floats need the dot
            text = f"{mantissa}.0e{exponent}"
        return text
    assert isinstance(value, dt.date)
    return value.isoformat()


def new_scalar(value: Any, flow: bool) -> str:
    """Text for a scalar in a new node: plain when that reads back the same, else quoted."""
    if isinstance(value, str):
        return value if _plain_ok(value, flow) else _double_quoted(value)
    return _plain_non_str(value)


def styled_scalar(value: Any, style: str | None, flow: bool) -> str:
    """Text for a scalar replacing one written in ``style`` (single-line forms only)."""
    if is_collection(value):
        return flow_text(value)
    if not isinstance(value, str):
        return _plain_non_str(value)
    if style == "'":
        single = _single_quoted(value)
        if single is not None:
            return single
    if style in ("'", '"'):
        return _double_quoted(value)
    return new_scalar(value, flow)


def block_scalar(value: str, indicator: str, content_col: int, nl: str) -> str | None:
    """A ``|``/``>`` block scalar holding value, or None when block style cannot hold it."""
    if not all((_yaml_printable(c) and c not in "\u2028\u2029") or c in "\n\t" for c in value):
        return None
    if value.endswith("\n\n") or not value.strip("\n"):
        return None  # would need keep chomping, which captures the blank lines that follow
    chomp = "" if value.endswith("\n") else "-"
    lines = (value[:-1] if value.endswith("\n") else value).split("\n")
    if indicator == ">":
        lines = _fold(lines)
    header = indicator + chomp
    check = "k: " + header + "\n" + "\n".join(f"  {ln}" if ln else "" for ln in lines) + "\n"
    if _load(check) != {"k": value}:
        return None
    pad = " " * content_col
    return header + nl + nl.join(pad + ln if ln else "" for ln in lines)


def _fold(lines: list[str]) -> list[str]:
    """Lines to write in a folded scalar so that it reads back as ``lines`` joined by \\n.

    Folding turns a single break between two text lines into a space, so such breaks need
    an extra empty line; breaks next to more-indented lines are kept as they are.
    """
    out = [lines[0]]
    prev_text = lines[0]
    empties = 0
    for line in lines[1:]:
        if line == "":
            empties += 1
            continue
        normal = not prev_text.startswith((" ", "\t")) and not line.startswith((" ", "\t"))
        out.extend([""] * (empties + (1 if normal and prev_text else 0)))
        out.append(line)
        prev_text, empties = line, 0
    out.extend([""] * empties)
    return out


def _load(snippet: str) -> Any:
    try:
        return YAML(typ="safe", pure=True).load(snippet)
    except YAMLError:
        return None


def inline_text(value: Any, flow: bool) -> str:
    """A scalar or an empty collection on one line."""
    return flow_text(value) if is_collection(value) else new_scalar(value, flow)


def flow_text(value: Any) -> str:
    if isinstance(value, Mapping):
        pairs = (f"{new_scalar(k, True)}: {flow_text(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow_text(v) for v in value) + "]"
    return new_scalar(value, True)
