"""Comment-preserving, byte-surgical YAML edits.

A ruamel.yaml round-trip reformats files (quotes, indentation, comments, blank lines), so a
one-value bump would show up in review as a rewrite of the whole file. Instead we only use
ruamel.yaml's *parser* to learn where every node sits in the raw text (its events carry
character offsets, CRLF and BOM included) and then splice new text into the original
string. Everything outside the value being set keeps its exact bytes.

Public API: ``parse_path``, ``YamlPath``, ``set_value``, ``append_items``,
``merge_overlay`` and ``YamlEditError``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

__all__ = ["YamlEditError", "YamlPath", "append_items", "merge_overlay", "parse_path", "set_value"]


class YamlEditError(ValueError):
    """An edit that cannot be made. The message names the path and never carries a value."""


# --------------------------------------------------------------------------- paths


@dataclass(frozen=True)
class YamlPath:
    """Where to edit: a document index (the ``N:`` prefix) and keys / list indices."""

    document: int
    steps: tuple[str | int, ...]

    def __str__(self) -> str:
        prefix = f"{self.document}:" if self.document else ""
        return prefix + _format_steps(self.steps)


_PLAIN_PATH_KEY = re.compile(r"[^.\[\]\"':\s](?:[^.\[\]\"':]*[^.\[\]\"':\s])?")


def _format_steps(steps: Sequence[str | int]) -> str:
    out: list[str] = []
    for i, step in enumerate(steps):
        if isinstance(step, int):
            out.append(f"[{step}]")
            continue
        key = step if _PLAIN_PATH_KEY.fullmatch(step) else _quote_path_key(step)
        out.append(key if i == 0 else "." + key)
    return "".join(out)


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
    steps: list[str | int] = []
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


def _as_path(path: YamlPath | str) -> tuple[YamlPath, str]:
    """The parsed path and its label for messages (as the user wrote it)."""
    if isinstance(path, YamlPath):
        return path, str(path)
    return parse_path(path), path


# --------------------------------------------------------------------------- node tree

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
# Resolvers for both YAML versions: a plain scalar must mean the same thing to every
# consumer (Helm and kubectl use YAML 1.1 rules, ruamel and Flux 1.2 rules).
_R11 = VersionedResolver(version=(1, 1))
_R12 = VersionedResolver(version=(1, 2))


@dataclass(eq=False)
class _Node:
    kind: str  # "scalar" | "map" | "seq" | "alias"
    start: int  # first character of the node's own text, after anchor/tag properties
    end: int
    value: str = ""  # scalar text as parsed (escapes decoded)
    style: str | None = None  # scalar style: None (plain), "'", '"', "|", ">"
    tag: str = _STR
    flow: bool = False
    pairs: list[tuple[_Node, _Node]] = field(default_factory=list)
    items: list[_Node] = field(default_factory=list)
    target: _Node | None = None  # alias target
    anchor: str | None = None
    props_end: int | None = None  # end of the anchor/tag properties, if any
    explicit_tag: str | None = None  # a tag written in the text (e.g. !!str)
    bare: bool = False  # a flow-mapping key without ':' (its null value has no text at all)


@dataclass(frozen=True)
class _Doc:
    root: _Node | None
    marker_end: int | None  # end of an explicit '---'


class _Events:
    """A cursor over parser events (the composer's job, keeping alias positions)."""

    def __init__(self, events: list[Any]):
        self.events = events
        self.pos = 0

    def peek(self) -> Any:
        return self.events[self.pos]

    def take(self) -> Any:
        self.pos += 1
        return self.events[self.pos - 1]


class _Invalid(Exception):
    """The text is not YAML we can edit (reported with the path by ``_compose``)."""


def _compose(text: str, label: str) -> tuple[_Doc, ...]:
    try:
        return _compose_text(text)
    except _Invalid as exc:
        raise YamlEditError(f"{label}: {exc}") from None


# merge_overlay looks at a text and then edits it: remembering the last few trees saves
# parsing each text twice. Trees are never mutated after they are built.
@functools.lru_cache(maxsize=4)
def _compose_text(text: str) -> tuple[_Doc, ...]:
    try:
        events = list(YAML(typ="safe", pure=True).parse(text))
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "parse error"
        raise _Invalid(f"the file is not valid YAML: {problem}{where}") from None
    cur = _Events(events)
    cur.take()  # stream start
    docs: tuple[_Doc, ...] = []
    while not isinstance(cur.peek(), StreamEndEvent):
        start = cur.take()
        assert isinstance(start, DocumentStartEvent)
        marker_end = start.end_mark.index if start.explicit else None
        root = _build(cur, text, {})
        if _is_empty(root) and root.props_end is None:
            root.start = root.end = marker_end if marker_end is not None else root.start
        cur.take()  # document end
        docs.append(_Doc(root, marker_end))
    return tuple(docs)


def _build(cur: _Events, text: str, anchors: dict[str, _Node]) -> _Node:
    ev = cur.take()
    if isinstance(ev, AliasEvent):
        target = anchors.get(ev.anchor)
        if target is None:
            raise _Invalid(f"the file uses an undefined alias *{ev.anchor}")
        return _Node("alias", ev.start_mark.index, ev.end_mark.index, target=target)
    props_end = None
    start = ev.start_mark.index
    if ev.anchor is not None or ev.tag is not None:
        props_end = _skip_props(text, start)
        start = props_end
    if isinstance(ev, ScalarEvent):
        tag = ev.tag
        if tag is None or tag == "!":
            tag = str(_R12.resolve(ScalarNode, ev.value, ev.implicit))
        empty = ev.value == "" and ev.style is None
        if not empty and props_end is not None:
            start = _skip_space(text, props_end)
        node = _Node("scalar", start, start if empty else ev.end_mark.index, ev.value, ev.style)
        node.tag, node.props_end = tag, props_end
    elif isinstance(ev, SequenceStartEvent):
        node = _Node("seq", _skip_space(text, start), 0, flow=bool(ev.flow_style))
        node.props_end = props_end
        _fill_seq(cur, text, anchors, node)
    else:
        assert isinstance(ev, MappingStartEvent)
        node = _Node("map", _skip_space(text, start), 0, flow=bool(ev.flow_style))
        node.props_end = props_end
        _fill_map(cur, text, anchors, node)
    node.explicit_tag = ev.tag if ev.tag not in (None, "!") else None
    if ev.anchor is not None:
        node.anchor = ev.anchor
        anchors[ev.anchor] = node
    return node


def _fill_seq(cur: _Events, text: str, anchors: dict[str, _Node], node: _Node) -> None:
    while not _is_end(cur.peek()):
        item = _build(cur, text, anchors)
        if not node.flow and _is_empty(item) and item.props_end is None:
            # An empty item's event sits at some later token; its real place is after '-'.
            after = _content_end(text, node.items[-1]) if node.items else node.start
            dash = _skip_space(text, after)
            item.start = item.end = dash + 1
        node.items.append(item)
    node.end = cur.take().end_mark.index


def _fill_map(cur: _Events, text: str, anchors: dict[str, _Node], node: _Node) -> None:
    while not _is_end(cur.peek()):
        key = _build(cur, text, anchors)
        value = _build(cur, text, anchors)
        if _is_empty(value) and value.props_end is None:
            # An empty value's event sits at the next token (maybe lines later): anchor it
            # right after the ':' so that setting it edits the key's own line.
            colon = _skip_space(text, key.end)
            if colon < len(text) and text[colon] == ":":
                value.start = value.end = colon + 1
            else:
                value.start = value.end = key.end
                value.bare = True
        node.pairs.append((key, value))
    node.end = cur.take().end_mark.index


def _is_end(ev: Any) -> bool:
    return isinstance(ev, (SequenceEndEvent, MappingEndEvent))


def _is_empty(node: _Node) -> bool:
    return node.kind == "scalar" and node.value == "" and node.style is None


def _is_null(node: _Node) -> bool:
    return node.kind == "scalar" and node.tag == _NULL


def _skip_props(text: str, i: int) -> int:
    """End of the anchor/tag properties starting at i (they stay untouched by edits)."""
    n = len(text)
    while i < n and text[i] in "&!":
        if text.startswith("!<", i):
            i = text.index(">", i) + 1
        else:
            i += 1
            while i < n and text[i] not in " \t\r\n,[]{}":
                i += 1
        nxt = _skip_space(text, i)
        if nxt < n and text[nxt] in "&!":
            i = nxt
        else:
            break
    return i


def _skip_space(text: str, i: int) -> int:
    """Skip whitespace, line breaks and comments."""
    n = len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n\ufeff":
            i += 1
        elif c == "#":
            j = text.find("\n", i)
            i = n if j == -1 else j
        else:
            break
    return i


def _line_end(text: str, i: int) -> int:
    """Index of the line break (CR of a CRLF) ending the line that holds i."""
    j = text.find("\n", i)
    if j == -1:
        return len(text)
    return j - 1 if j > i and text[j - 1] == "\r" else j


def _line_start(text: str, i: int) -> int:
    start = text.rfind("\n", 0, i) + 1
    return 1 if start == 0 and text.startswith("\ufeff") else start


def _col(text: str, i: int) -> int:
    return i - _line_start(text, i)


def _first_on_line(text: str, i: int) -> bool:
    return text[_line_start(text, i) : i].strip(" \t") == ""


def _block_end(text: str, node: _Node) -> int:
    """End of a block scalar's last content line (its span runs on over trailing blanks)."""
    body = text[node.start : node.end]
    last = node.start + len(body.rstrip(" \t\r\n")) - 1
    return _line_end(text, last)


def _content_end(text: str, node: _Node) -> int:
    """Where a node's own text really ends.

    A block collection's end mark is the next token, past trailing comments and blank
    lines, so we descend into its last entry instead.
    """
    node = _last_leaf(node)
    if node.kind == "scalar" and node.style in ("|", ">"):
        return _block_end(text, node)
    return node.end


def _last_leaf(node: _Node) -> _Node:
    while node.kind in ("map", "seq") and not node.flow:
        node = node.pairs[-1][1] if node.kind == "map" else node.items[-1]
    return node


def _is_keep_block(text: str, node: _Node) -> bool:
    if node.kind != "scalar" or node.style not in ("|", ">"):
        return False
    header = text[node.start : _line_end(text, node.start)].split("#")[0]
    return "+" in header


def _iter_nodes(node: _Node | None) -> Iterator[_Node]:
    stack = [node] if node is not None else []
    while stack:
        cur = stack.pop()
        yield cur
        if cur.kind == "map":
            stack.extend(v for _, v in reversed(cur.pairs))
        elif cur.kind == "seq":
            stack.extend(reversed(cur.items))


# --------------------------------------------------------------------------- values


def _construct_scalar(node: _Node) -> Any:
    if node.tag == _STR:
        return node.value
    try:
        constructor = YAML(typ="safe", pure=True).constructor
        return constructor.construct_object(ScalarNode(node.tag, node.value), deep=True)
    except (YAMLError, ValueError, TypeError, KeyError):
        return node.value  # a custom tag: compare by text


def _to_python(node: _Node, depth: int = 0) -> Any:
    if depth > 200:  # a recursive alias; nothing sensible to compare
        return object()
    if node.kind == "alias":
        assert node.target is not None
        return _to_python(node.target, depth + 1)
    if node.kind == "scalar":
        return _construct_scalar(node)
    if node.kind == "seq":
        return [_to_python(item, depth + 1) for item in node.items]
    out: dict[Any, Any] = {}
    merged: list[dict[Any, Any]] = []
    for key, value in node.pairs:
        if _is_merge_key(key):
            sources = _deref(value)
            for src in sources.items if sources.kind == "seq" else [sources]:
                data = _to_python(src, depth + 1)
                if isinstance(data, dict):
                    merged.append(data)
        else:
            out[_hashable(_to_python(key, depth + 1))] = _to_python(value, depth + 1)
    for data in merged:  # local keys win, then earlier merge sources
        for k, v in data.items():
            out.setdefault(k, v)
    return out


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _deref(node: _Node) -> _Node:
    while node.kind == "alias" and node.target is not None:
        node = node.target
    return node


def _is_merge_key(key: _Node) -> bool:
    return key.kind == "scalar" and key.style is None and key.value == "<<"


def _same(a: Any, b: Any) -> bool:
    """Equal as data *and* of the same types (1 is not True, "1" is not 1)."""
    if isinstance(a, dict) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _check_value(value: Any, label: str) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not _is_scalar_value(k):
                raise YamlEditError(f"{label}: mapping keys must be scalars")
            _check_value(v, label)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_value(v, label)
    elif not _is_scalar_value(value):
        raise YamlEditError(f"{label}: cannot write a value of type {type(value).__name__}")


def _is_scalar_value(value: Any) -> bool:
    return value is None or isinstance(value, (str, bool, int, float, dt.date))


def _is_collection(value: Any) -> bool:
    return isinstance(value, (Mapping, list, tuple))


# --------------------------------------------------------------------------- scalar text

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
    for resolver in (_R11, _R12):
        if str(resolver.resolve(ScalarNode, value, (True, False))) != _STR:
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


def _new_scalar(value: Any, flow: bool) -> str:
    """Text for a scalar in a new node: plain when that reads back the same, else quoted."""
    if isinstance(value, str):
        return value if _plain_ok(value, flow) else _double_quoted(value)
    return _plain_non_str(value)


def _styled_scalar(value: Any, style: str | None, flow: bool) -> str:
    """Text for a scalar replacing one written in ``style`` (single-line forms only)."""
    if _is_collection(value):
        return _flow_text(value)
    if not isinstance(value, str):
        return _plain_non_str(value)
    if style == "'":
        single = _single_quoted(value)
        if single is not None:
            return single
    if style in ("'", '"'):
        return _double_quoted(value)
    return _new_scalar(value, flow)


def _block_scalar(value: str, indicator: str, content_col: int, nl: str) -> str | None:
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


# --------------------------------------------------------------------------- dumping


@dataclass(frozen=True)
class _Fmt:
    nl: str
    step: int  # indentation of a mapping's children relative to its key
    seq_offset: int  # indentation of a block sequence's dashes relative to its key


def _block_lines(value: Any, col: int, fmt: _Fmt) -> list[str]:
    """A non-empty collection in block style, every line indented to ``col``."""
    pad = " " * col
    lines: list[str] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            head = f"{pad}{_new_scalar(k, False)}:"
            if _is_collection(v) and v:
                offset = fmt.step if isinstance(v, Mapping) else fmt.seq_offset
                lines.append(head)
                lines.extend(_block_lines(v, col + offset, fmt))
            else:
                lines.extend(_scalar_entry(head, v, col + fmt.step, fmt))
        return lines
    for item in value:
        if _is_collection(item) and item:
            sub = _block_lines(item, col + 2, fmt)
            lines.append(f"{pad}- {sub[0][col + 2 :]}")
            lines.extend(sub[1:])
        else:
            lines.extend(_scalar_entry(f"{pad}-", item, col + 2, fmt))
    return lines


def _scalar_entry(head: str, value: Any, content_col: int, fmt: _Fmt) -> list[str]:
    if isinstance(value, str) and "\n" in value:
        block = _block_scalar(value, "|", content_col, "\n")
        if block is not None:
            first, *rest = block.split("\n")
            return [f"{head} {first}", *rest]
    return [f"{head} {_inline_text(value, False)}"]


def _inline_text(value: Any, flow: bool) -> str:
    """A scalar or an empty collection on one line."""
    return _flow_text(value) if _is_collection(value) else _new_scalar(value, flow)


def _flow_text(value: Any) -> str:
    if isinstance(value, Mapping):
        pairs = (f"{_new_scalar(k, True)}: {_flow_text(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow_text(v) for v in value) + "]"
    return _new_scalar(value, True)


def _detect_fmt(text: str, docs: tuple[_Doc, ...], near: list[_Node]) -> _Fmt:
    """Indentation habits of the file, looking first around the edit, then everywhere."""
    step: int | None = None
    seq_offset: int | None = None
    candidates: list[Iterator[_Node]] = [iter(reversed(near))]
    candidates += [_iter_nodes(d.root) for d in docs]
    for nodes in candidates:
        for node in nodes:
            if node.kind != "map" or node.flow:
                continue
            for key, value in node.pairs:
                if value.kind not in ("map", "seq") or value.flow:
                    continue
                offset = _col(text, value.start) - _col(text, key.start)
                if value.kind == "map" and step is None and offset > 0:
                    step = offset
                if value.kind == "seq" and seq_offset is None and offset >= 0:
                    seq_offset = offset
            if step is not None and seq_offset is not None:
                break
        if step is not None and seq_offset is not None:
            break
    step = step or 2
    nl = "\r\n" if "\r\n" in text[: text.find("\n") + 1] else "\n"
    return _Fmt(nl, step, step if seq_offset is None else seq_offset)


# --------------------------------------------------------------------------- locating


@dataclass(frozen=True)
class _Slot:
    """A place that holds a node: a mapping value, a sequence item or a document root."""

    node: _Node | None
    kind: str  # "root" | "map" | "seq"
    parent: _Node | None = None
    key: _Node | None = None
    in_flow: bool = False  # inside a flow collection
    marker_end: int | None = None  # for roots: end of the document's '---'


@dataclass(frozen=True)
class _Spot:
    slot: _Slot  # the slot reached; when rest is non-empty its node is the parent to extend
    rest: tuple[str | int, ...]  # steps still missing
    trail: list[_Node]  # collections passed through, outermost first


def _locate(doc: _Doc, steps: tuple[str | int, ...], label: str) -> _Spot:
    slot = _Slot(doc.root, "root", marker_end=doc.marker_end)
    trail: list[_Node] = []
    for i, step in enumerate(steps):
        node = slot.node
        here = _format_steps(steps[:i]) or "the document root"
        if node is None or _is_null(node):
            return _Spot(slot, steps[i:], trail)
        if node.kind == "alias":
            raise YamlEditError(
                f"{label}: {here} is an alias; editing through it would change every use of "
                "its anchor (edit the anchored node instead)"
            )
        if node.kind == "scalar":
            raise YamlEditError(f"{label}: {here} is a scalar, cannot set {label}")
        trail = [*trail, node]
        in_flow = slot.in_flow or node.flow
        if node.kind == "map":
            if isinstance(step, int):
                raise YamlEditError(
                    f"{label}: {here} is a mapping, not a sequence: cannot use [{step}]"
                )
            pair = _find_key(node, step)
            if pair is None:
                if i + 1 < len(steps) and _merged_key(node, step):
                    raise YamlEditError(
                        f"{label}: {_format_steps(steps[: i + 1])} comes from a merge key (<<); "
                        "setting something inside it would replace the whole inherited value"
                    )
                return _Spot(slot, steps[i:], trail)
            slot = _Slot(pair[1], "map", node, pair[0], in_flow)
            continue
        if isinstance(step, str):
            raise YamlEditError(
                f"{label}: {here} is a sequence, not a mapping: cannot use key {step!r}"
            )
        if step > len(node.items):
            raise YamlEditError(
                f"{label}: index [{step}] is out of range: {here} has {len(node.items)} items"
            )
        if step == len(node.items):
            return _Spot(slot, steps[i:], trail)
        slot = _Slot(node.items[step], "seq", node, None, in_flow)
    return _Spot(slot, (), trail)


def _find_key(node: _Node, key: str) -> tuple[_Node, _Node] | None:
    for k, v in node.pairs:
        if k.kind == "scalar" and k.value == key and not _is_merge_key(k):
            return k, v
    return None


def _merged_key(node: _Node, key: str, depth: int = 0) -> bool:
    """Whether ``key`` reaches this mapping only through a ``<<`` merge."""
    if depth > 50:
        return False
    for k, v in node.pairs:
        if not _is_merge_key(k):
            continue
        src = _deref(v)
        for m in src.items if src.kind == "seq" else [src]:
            m = _deref(m)
            if m.kind == "map" and (_find_key(m, key) or _merged_key(m, key, depth + 1)):
                return True
    return False


def _pick_doc(docs: tuple[_Doc, ...], index: int, label: str) -> _Doc:
    if not docs and index == 0:
        return _Doc(None, None)  # an empty file: document 0 is empty
    if index >= len(docs):
        raise YamlEditError(
            f"{label}: document {index} does not exist (the file has {len(docs)} documents)"
        )
    return docs[index]


# --------------------------------------------------------------------------- planning edits

_Splice = tuple[int, int, str]


@dataclass
class _Ctx:
    text: str
    label: str
    docs: tuple[_Doc, ...]
    trail: list[_Node]
    _fmt: _Fmt | None = None

    def fmt(self) -> _Fmt:
        # Detection may walk the whole file: only done when an edit needs it, and once.
        if self._fmt is None:
            self._fmt = _detect_fmt(self.text, self.docs, self.trail)
        return self._fmt


def _apply(text: str, splices: list[_Splice]) -> str:
    if not splices:
        return text  # unchanged: the very same string
    out: list[str] = []
    pos = 0
    for start, end, new in sorted(splices):
        out.append(text[pos:start])
        out.append(new)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _space_before(text: str, pos: int, new: str) -> str:
    """Keep at least one space between an indicator (':', '-') and the new text."""
    return new if pos == 0 or text[pos - 1] in " \t\r\n[{," else " " + new


def _indicator_end(text: str, slot: _Slot) -> int:
    """Just past the ':' / '-' / '---' that introduces the slot's node."""
    node = slot.node
    assert node is not None
    if node.props_end is not None:
        return node.props_end
    if slot.kind == "map":
        assert slot.key is not None
        colon = _skip_space(text, slot.key.end)
        return colon + 1 if colon < len(text) and text[colon] == ":" else node.start
    if slot.kind == "seq" and slot.parent is not None and not slot.parent.flow:
        index = next(i for i, item in enumerate(slot.parent.items) if item is node)
        prev = slot.parent.items[index - 1] if index else None
        after = _content_end(text, prev) if prev is not None else slot.parent.start
        return _skip_space(text, after) + 1
    if slot.kind == "root" and slot.marker_end is not None:
        return slot.marker_end
    return node.start


def _slot_col(text: str, slot: _Slot) -> int:
    """Column where a block collection placed in this slot starts."""
    if slot.kind == "root":
        return 0
    if slot.kind == "seq":
        assert slot.parent is not None
        return _col(text, slot.parent.start) + 2
    return -1  # depends on the new value's kind: see _child_col


def _child_col(ctx: _Ctx, slot: _Slot, value: Any, fmt: _Fmt) -> int:
    if slot.kind != "map":
        return _slot_col(ctx.text, slot)
    assert slot.key is not None
    offset = fmt.step if isinstance(value, Mapping) else fmt.seq_offset
    return _col(ctx.text, slot.key.start) + offset


def _plan_set(ctx: _Ctx, slot: _Slot, value: Any) -> list[_Splice]:
    node = slot.node
    if node is None:
        return _plan_into_empty_stream(ctx, value)
    if _same(_to_python(node), value):
        return []
    _check_tag(ctx, node, value)
    if _is_collection(value) and value:
        return _plan_collection(ctx, slot, value)
    text = ctx.text
    if node.kind == "scalar":
        return [_plan_scalar(ctx, slot, value)]
    new = _inline_text(value, slot.in_flow)
    if node.kind == "alias" or node.flow:
        return [(node.start, node.end, new)]
    # A block collection becomes a scalar on the key's (or dash's) line, before any
    # comment that line has.
    start = _indicator_end(text, slot)
    tail = text[start : _line_end(text, start)]
    keep = tail if tail.strip().startswith("#") else ""
    return [(start, _content_end(text, node), " " + new + keep)]


_CORE_TAG = "tag:yaml.org,2002:"


def _natural_tag(value: Any) -> str:
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return _CORE_TAG + "bool"
    if isinstance(value, int):
        return _CORE_TAG + "int"
    if isinstance(value, float):
        return _CORE_TAG + "float"
    if isinstance(value, dt.date):
        return _CORE_TAG + "timestamp"
    if isinstance(value, Mapping):
        return _CORE_TAG + "map"
    if isinstance(value, (list, tuple)):
        return _CORE_TAG + "seq"
    return _STR


def _check_tag(ctx: _Ctx, node: _Node, value: Any) -> None:
    """An explicit core tag is kept with the value, so the new value must fit it."""
    tag = node.explicit_tag
    if tag and tag.startswith(_CORE_TAG) and tag != _natural_tag(value):
        short = "!!" + tag[len(_CORE_TAG) :]
        raise YamlEditError(
            f"{ctx.label}: the value is tagged {short}, which does not fit the new value's type"
        )


def _plan_scalar(ctx: _Ctx, slot: _Slot, value: Any) -> _Splice:
    text = ctx.text
    node = slot.node
    assert node is not None
    end = node.end
    if node.style in ("|", ">"):
        end = _block_end(text, node)
        if isinstance(value, str) and "\n" in value:
            block = _block_scalar(value, node.style, _block_content_col(ctx, slot), ctx.fmt().nl)
            if block is not None:
                return node.start, end, block
    new = _styled_scalar(value, node.style, slot.in_flow)
    if node.bare:
        return node.start, end, ": " + new
    if node.start == node.end:
        end = _blank_tail_end(text, end)
        return node.start, end, _space_before(text, node.start, new)
    return node.start, end, new


def _blank_tail_end(text: str, i: int) -> int:
    """Past blanks at i when only a line end or a flow indicator follows (no stray spaces)."""
    j = i
    while j < len(text) and text[j] in " \t":
        j += 1
    return j if j == _line_end(text, j) or text[j] in ",]}" else i


def _block_content_col(ctx: _Ctx, slot: _Slot) -> int:
    text = ctx.text
    node = slot.node
    assert node is not None
    for line in text[node.start : node.end].splitlines()[1:]:
        if line.strip():
            return len(line) - len(line.lstrip(" "))
    base = _col(text, slot.key.start) if slot.key is not None else _col(text, node.start)
    return base + ctx.fmt().step


def _plan_collection(ctx: _Ctx, slot: _Slot, value: Any) -> list[_Splice]:
    """Put a non-empty collection where ``slot.node`` is."""
    text = ctx.text
    node = slot.node
    assert node is not None
    empty_flow = node.kind in ("map", "seq") and node.flow and not (node.pairs or node.items)
    if slot.in_flow or (node.kind in ("map", "seq") and node.flow and not empty_flow):
        return [(node.start, node.end, _space_before(text, node.start, _flow_text(value)))]
    fmt = ctx.fmt()
    if node.kind in ("map", "seq") and not node.flow:
        same_kind = (node.kind == "map") == isinstance(value, Mapping)
        end = _content_end(text, node)
        if _first_on_line(text, node.start):
            col = _col(text, node.start) if same_kind else _child_col(ctx, slot, value, fmt)
            lines = _block_lines(value, col, fmt)
            return [(_line_start(text, node.start), end, fmt.nl.join(lines))]
        col = _col(text, node.start)
        lines = _block_lines(value, col, fmt)
        return [(node.start, end, fmt.nl.join([lines[0][col:], *lines[1:]]))]
    # A scalar, null, alias or empty flow collection in a block slot.
    if slot.kind == "seq":
        # Compact form on the dash's line: "- key: value".
        col = _col(text, node.start) + (0 if text[node.start - 1] in " \t" else 1)
        lines = _block_lines(value, col, fmt)
        first = _space_before(text, node.start, lines[0][col:])
        end = _blank_tail_end(text, node.end) if node.start == node.end else node.end
        return [(node.start, end, fmt.nl.join([first, *lines[1:]]))]
    col = _child_col(ctx, slot, value, fmt)
    lines = _block_lines(value, col, fmt)
    if slot.kind == "root" and slot.marker_end is None:
        return [(node.start, node.end, fmt.nl.join(lines))]
    # "key: old  # note" -> "key:  # note" + the block on the following lines.
    cut = node.start
    while cut > 0 and text[cut - 1] in " \t" and (node.props_end is None or cut > node.props_end):
        cut -= 1
    insert_at = _line_end(text, node.end)
    return [(cut, node.end, ""), (insert_at, insert_at, fmt.nl + fmt.nl.join(lines))]


def _plan_into_empty_stream(ctx: _Ctx, value: Any) -> list[_Splice]:
    fmt = ctx.fmt()
    text = ctx.text
    if not (_is_collection(value) and value):
        lines = [_inline_text(value, False)]
    else:
        lines = _block_lines(value, 0, fmt)
    sep = fmt.nl if text and not text.endswith("\n") else ""
    return [(len(text), len(text), sep + fmt.nl.join(lines) + fmt.nl)]


def _nest(steps: tuple[str | int, ...], value: Any, ctx: _Ctx, done: str) -> Any:
    """The value to create for missing ``steps`` below an existing node."""
    for i in range(len(steps) - 1, -1, -1):
        step = steps[i]
        if isinstance(step, str):
            value = {step: value}
        elif step == 0:
            value = [value]
        else:
            where = _join_steps(done, steps[:i]) or "the document root"
            raise YamlEditError(
                f"{ctx.label}: index [{step}] is out of range: {where} does not exist yet"
            )
    return value


def _join_steps(done: str, more: tuple[str | int, ...]) -> str:
    tail = _format_steps(more)
    if not done or not tail:
        return done or tail
    return done + tail if tail.startswith("[") else f"{done}.{tail}"


def _plan_create(ctx: _Ctx, spot: _Spot, done: str, value: Any) -> list[_Splice]:
    """Create the missing ``spot.rest`` below ``spot.slot.node`` holding ``value``."""
    text = ctx.text
    slot = spot.slot
    parent = slot.node
    if parent is not None and parent.kind == "seq":
        # The first missing step is the index one past the end: an appended item.
        new = [_nest(spot.rest[1:], value, ctx, _join_steps(done, spot.rest[:1]))]
    else:
        new = _nest(spot.rest, value, ctx, done)
    if parent is None:
        return _plan_into_empty_stream(ctx, new)
    fmt = ctx.fmt()
    in_flow = slot.in_flow or parent.flow
    if parent.kind == "map":
        if not parent.pairs:
            return _plan_set(ctx, slot, new)  # an empty {}
        ((key, inner),) = new.items()
        if in_flow:
            pos = _content_end(text, parent.pairs[-1][1])
            return [(pos, pos, f", {_new_scalar(key, True)}: {_flow_text(inner)}")]
        col = _col(text, parent.pairs[0][0].start)
        return [_insert_after(text, parent, _block_lines(new, col, fmt), fmt)]
    if parent.kind == "seq":
        if not parent.items:
            return _plan_set(ctx, slot, new)  # an empty []
        if in_flow:
            pos = _content_end(text, parent.items[-1])
            return [(pos, pos, ", " + ", ".join(_flow_text(v) for v in new))]
        col = _col(text, parent.start)
        return [_insert_after(text, parent, _block_lines(new, col, fmt), fmt)]
    return _plan_set(ctx, slot, new)  # a null becomes the new collection


def _insert_after(text: str, parent: _Node, lines: list[str], fmt: _Fmt) -> _Splice:
    """Add lines after the last entry of a block collection (before trailing comments)."""
    end = _content_end(text, parent)
    leaf = _last_leaf(parent)
    if _is_keep_block(text, leaf) and text[leaf.end - 1] == "\n":
        # A keep-chomped (|+) scalar owns the blank lines after it: insert past them.
        return leaf.end, leaf.end, fmt.nl.join(lines) + fmt.nl
    at = _line_end(text, end)
    return at, at, fmt.nl + fmt.nl.join(lines)


# --------------------------------------------------------------------------- public API


def _prepare(text: str, path: YamlPath | str) -> tuple[YamlPath, str, tuple[_Doc, ...], _Doc]:
    if not isinstance(text, str):
        raise YamlEditError("the YAML text must be a str")
    p, label = _as_path(path)
    docs = _compose(text, label)
    return p, label, docs, _pick_doc(docs, p.document, label)


def set_value(text: str, path: YamlPath | str, value: object) -> str:
    """Set the value at ``path``, changing only that value's characters in ``text``."""
    p, label, docs, doc = _prepare(text, path)
    _check_value(value, label)
    spot = _locate(doc, p.steps, label)
    ctx = _Ctx(text, label, docs, spot.trail)
    if spot.rest:
        done = _format_steps(p.steps[: len(p.steps) - len(spot.rest)])
        return _apply(text, _plan_create(ctx, spot, done, value))
    return _apply(text, _plan_set(ctx, spot.slot, value))


def append_items(text: str, path: YamlPath | str, items: list[object]) -> str:
    """Append ``items`` to the sequence at ``path`` (created as a block sequence if missing)."""
    p, label, docs, doc = _prepare(text, path)
    if not isinstance(items, (list, tuple)):
        raise YamlEditError(f"{label}: items to append must be a list")
    _check_value(list(items), label)
    spot = _locate(doc, p.steps, label)
    ctx = _Ctx(text, label, docs, spot.trail)
    node = spot.slot.node
    if not spot.rest and node is not None and not _is_null(node):
        if node.kind == "alias":
            raise YamlEditError(
                f"{label}: the value is an alias; appending through it would change every "
                "use of its anchor"
            )
        if node.kind != "seq":
            what = "a mapping" if node.kind == "map" else "a scalar"
            raise YamlEditError(f"{label}: the value is {what}, not a sequence: cannot append")
    if not items:
        return text
    if spot.rest:
        done = _format_steps(p.steps[: len(p.steps) - len(spot.rest)])
        return _apply(text, _plan_create(ctx, spot, done, list(items)))
    if node is None or _is_null(node) or not node.items:
        return _apply(text, _plan_set(ctx, spot.slot, list(items)))
    fmt = ctx.fmt()
    if spot.slot.in_flow or node.flow:
        pos = _content_end(text, node.items[-1])
        return _apply(text, [(pos, pos, ", " + ", ".join(_flow_text(v) for v in items))])
    lines = _block_lines(list(items), _col(text, node.start), fmt)
    return _apply(text, [_insert_after(text, node, lines, fmt)])


def merge_overlay(
    text: str, overlay: dict, *, list_merge: str = "overwrite", document: int = 0
) -> str:
    """Deep-merge ``overlay`` into a document, one leaf at a time so only changed lines change.

    Mappings merge recursively; lists replace the existing list (``"overwrite"``) or are
    appended to it (``"append"``).
    """
    if list_merge not in ("overwrite", "append"):
        raise YamlEditError(f"list_merge must be 'overwrite' or 'append', not {list_merge!r}")
    if not isinstance(overlay, Mapping):
        raise YamlEditError("the overlay must be a mapping")
    if not isinstance(document, int) or document < 0:
        raise YamlEditError("document must be an integer >= 0")
    return _merge(text, YamlPath(document, ()), overlay, list_merge)


def _merge(text: str, base: YamlPath, overlay: Mapping[Any, Any], mode: str) -> str:
    for key, value in overlay.items():
        path = YamlPath(base.document, (*base.steps, str(key)))
        kind = _kind_at(text, path)
        if isinstance(value, Mapping) and kind == "map":
            text = _merge(text, path, value, mode)
        elif isinstance(value, (list, tuple)) and mode == "append" and kind == "seq":
            text = append_items(text, path, list(value))
        elif kind == "alias" and _is_collection(value):
            # Merging into a shared anchor would change its other uses: this key gets the
            # merged data of its own instead.
            text = set_value(text, path, _deep_merge(_value_at(text, path), value, mode))
        else:
            text = set_value(text, path, value)
    return text


def _deep_merge(old: Any, overlay: Any, mode: str) -> Any:
    if isinstance(old, dict) and isinstance(overlay, Mapping):
        merged = dict(old)
        for k, v in overlay.items():
            merged[k] = _deep_merge(old[k], v, mode) if k in old else v
        return merged
    if isinstance(old, list) and isinstance(overlay, (list, tuple)) and mode == "append":
        return [*old, *overlay]
    return overlay


def _value_at(text: str, path: YamlPath) -> Any:
    p, label, _, doc = _prepare(text, path)
    spot = _locate(doc, p.steps, label)
    assert spot.slot.node is not None and not spot.rest
    return _to_python(spot.slot.node)


def _kind_at(text: str, path: YamlPath) -> str | None:
    """The kind of node at path ("map", "seq", ...) or None when it does not exist yet."""
    p, label, _, doc = _prepare(text, path)
    spot = _locate(doc, p.steps, label)
    if spot.rest or spot.slot.node is None:
        return None
    return spot.slot.node.kind
