"""The node tree: parser events composed into nodes that know where their text sits."""

from __future__ import annotations

import functools
from collections.abc import Iterator
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

from .errors import YamlEditError
from .positions import line_end, skip_props, skip_space

STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"
# Resolvers for both YAML versions: a plain scalar must mean the same thing to every
# consumer (Helm and kubectl use YAML 1.1 rules, ruamel and Flux 1.2 rules).
R11 = VersionedResolver(version=(1, 1))
R12 = VersionedResolver(version=(1, 2))


@dataclass(eq=False)
class Node:
    kind: str  # "scalar" | "map" | "seq" | "alias"
    start: int  # first character of the node's own text, after anchor/tag properties
    end: int
    value: str = ""  # scalar text as parsed (escapes decoded)
    style: str | None = None  # scalar style: None (plain), "'", '"', "|", ">"
    tag: str = STR_TAG
    flow: bool = False
    pairs: list[tuple[Node, Node]] = field(default_factory=list)
    items: list[Node] = field(default_factory=list)
    target: Node | None = field(default=None, repr=False)  # alias target (a repr would expand it)
    anchor: str | None = None
    props_end: int | None = None  # end of the anchor/tag properties, if any
    explicit_tag: str | None = None  # a tag written in the text (e.g. !!str)
    bare: bool = False  # a key without ':' (its null value has no text at all)
    aliased: bool = False  # an alias (a value, a key or a << source) refers to this node


@dataclass(frozen=True)
class Doc:
    root: Node | None
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


# Stands for an anchored collection while its own content is being read.
_OPEN = Node("open", 0, 0)


class _Invalid(Exception):
    """The text is not YAML we can edit (reported with the path by ``compose``)."""


def compose(text: str, label: str) -> tuple[Doc, ...]:
    try:
        return _compose_text(text)
    except _Invalid as exc:
        raise YamlEditError(f"{label}: {exc}") from None


# merge_overlay looks at a text and then edits it: remembering the last few trees saves
# parsing each text twice. Trees are never mutated after they are built.
@functools.lru_cache(maxsize=4)
def _compose_text(text: str) -> tuple[Doc, ...]:
    try:
        events = list(YAML(typ="safe", pure=True).parse(text))
    except YAMLError as exc:
        raise _Invalid(f"the file is not valid YAML: {yaml_error_text(exc)}") from None
    cur = _Events(events)
    cur.take()  # stream start
    docs: tuple[Doc, ...] = []
    while not isinstance(cur.peek(), StreamEndEvent):
        start = cur.take()
        assert isinstance(start, DocumentStartEvent)
        marker_end = start.end_mark.index if start.explicit else None
        root = _build(cur, text, {})
        if _is_empty(root) and root.props_end is None:
            root.start = root.end = marker_end if marker_end is not None else root.start
        cur.take()  # document end
        docs.append(Doc(root, marker_end))
    return tuple(docs)


def yaml_error_text(exc: YAMLError) -> str:
    """ruamel's problem and where it is, without the snippet of text it quotes (which
    may be a secret's value)."""
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    return (getattr(exc, "problem", None) or "parse error") + where


def _build(cur: _Events, text: str, anchors: dict[str, Node]) -> Node:
    ev = cur.take()
    if isinstance(ev, AliasEvent):
        target = anchors.get(ev.anchor)
        if target is None:
            raise _Invalid(f"the file uses an undefined alias *{ev.anchor}")
        if target is _OPEN:
            raise _Invalid(f"the alias *{ev.anchor} is inside the node it names (a loop)")
        target.aliased = True
        return Node("alias", ev.start_mark.index, ev.end_mark.index, target=target)
    props_end = None
    start = ev.start_mark.index
    if ev.anchor is not None or ev.tag is not None:
        props_end = skip_props(text, start)
        start = props_end
    if isinstance(ev, ScalarEvent):
        tag = ev.tag
        if tag is None or tag == "!":
            tag = str(R12.resolve(ScalarNode, ev.value, ev.implicit))
        empty = ev.value == "" and ev.style is None
        if not empty and props_end is not None:
            start = skip_space(text, props_end)
        node = Node("scalar", start, start if empty else ev.end_mark.index, ev.value, ev.style)
        node.tag, node.props_end = tag, props_end
    else:
        kind = "seq" if isinstance(ev, SequenceStartEvent) else "map"
        assert kind == "seq" or isinstance(ev, MappingStartEvent)
        node = Node(kind, skip_space(text, start), 0, flow=bool(ev.flow_style))
        node.props_end = props_end
        if ev.anchor is not None:
            anchors[ev.anchor] = _OPEN  # an alias to it from inside would be a loop
        (_fill_seq if kind == "seq" else _fill_map)(cur, text, anchors, node)
    node.explicit_tag = ev.tag if ev.tag not in (None, "!") else None
    if ev.anchor is not None:
        node.anchor = ev.anchor
        anchors[ev.anchor] = node
    return node


def _fill_seq(cur: _Events, text: str, anchors: dict[str, Node], node: Node) -> None:
    while not _is_end(cur.peek()):
        item = _build(cur, text, anchors)
        if not node.flow and _is_empty(item) and item.props_end is None:
            # An empty item's event sits at some later token; its real place is after '-'.
            after = content_end(text, node.items[-1]) if node.items else node.start
            dash = skip_space(text, after)
            item.start = item.end = dash + 1
        node.items.append(item)
    node.end = cur.take().end_mark.index


def _fill_map(cur: _Events, text: str, anchors: dict[str, Node], node: Node) -> None:
    while not _is_end(cur.peek()):
        key = _build(cur, text, anchors)
        value = _build(cur, text, anchors)
        if _is_empty(value) and value.props_end is None:
            # An empty value's event sits at the next token (maybe lines later): anchor it
            # right after the ':' so that setting it edits the key's own line.
            colon = skip_space(text, key.end)
            if colon < len(text) and text[colon] == ":":
                value.start = value.end = colon + 1
            else:
                value.start = value.end = key.end
                value.bare = True
        node.pairs.append((key, value))
    node.end = cur.take().end_mark.index


def _is_end(ev: Any) -> bool:
    return isinstance(ev, (SequenceEndEvent, MappingEndEvent))


def _is_empty(node: Node) -> bool:
    return node.kind == "scalar" and node.value == "" and node.style is None


def is_null(node: Node) -> bool:
    return node.kind == "scalar" and node.tag == NULL_TAG


def block_end(text: str, node: Node) -> int:
    """End of a block scalar's last content line (its span runs on over trailing blanks)."""
    body = text[node.start : node.end]
    last = node.start + len(body.rstrip(" \t\r\n")) - 1
    return line_end(text, last)


def content_end(text: str, node: Node) -> int:
    """Where a node's own text really ends.

    A block collection's end mark is the next token, past trailing comments and blank
    lines, so we descend into its last entry instead.
    """
    node = last_leaf(node)
    if node.kind == "scalar" and node.style in ("|", ">"):
        return block_end(text, node)
    return node.end


def last_leaf(node: Node) -> Node:
    while node.kind in ("map", "seq") and not node.flow:
        node = node.pairs[-1][1] if node.kind == "map" else node.items[-1]
    return node


def is_keep_block(text: str, node: Node) -> bool:
    if node.kind != "scalar" or node.style not in ("|", ">"):
        return False
    header = text[node.start : line_end(text, node.start)].split("#")[0]
    return "+" in header


def iter_nodes(node: Node | None) -> Iterator[Node]:
    stack = [node] if node is not None else []
    while stack:
        cur = stack.pop()
        yield cur
        if cur.kind == "map":
            stack.extend(v for _, v in reversed(cur.pairs))
        elif cur.kind == "seq":
            stack.extend(reversed(cur.items))
