"""Reading a file back as data, independently of the editor, to verify what it wrote.

The editor finds its way with its own node tree (``tree``); the check reads the result
with ruamel.yaml's composer instead, so a mistake in the tree cannot hide itself. The
reading is strict where YAML readers disagree: a key twice in one mapping (ruamel refuses
the file, Go's yaml.v3 too, older readers keep either value) is a problem, never resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .path import Step, format_steps, key_text
from .tree import yaml_error_text
from .values import MAX_ALIAS_GROWTH, alias_growth, hashable, key_identity, scalar_data

MERGE_TAG = "tag:yaml.org,2002:merge"


class Unreadable(Exception):
    """Why a text does not read as YAML data; the message names lines, never values."""


@dataclass(frozen=True)
class Duplicate:
    """A key written twice in one mapping: where the mapping is and both lines."""

    where: tuple[Step, ...]
    key: str
    first: str  # "line 3", or "an alias of line 1" for an alias key
    second: str

    def __str__(self) -> str:
        place = format_steps(self.where) or "the document root"
        return (
            f"the key {self.key!r} is in {place} twice ({self.first} and {self.second}); "
            "YAML readers disagree on which value it has"
        )


def read_documents(text: str) -> list[Any]:
    """Every document of ``text`` as data. Raises Unreadable."""
    try:
        roots = list(YAML(typ="safe", pure=True).compose_all(text))
    except YAMLError as exc:
        raise Unreadable(f"not valid YAML: {yaml_error_text(exc)}") from None
    out = []
    for number, root in enumerate(roots, 1):
        where = f"document {number}: " if len(roots) > 1 else ""
        try:
            growth = alias_growth(root, _kids)
        except ValueError:  # an alias inside the node it names
            raise Unreadable(f"{where}an alias refers to a node that contains it") from None
        if growth > MAX_ALIAS_GROWTH:
            raise Unreadable(f"{where}aliases expand it by more than {MAX_ALIAS_GROWTH} nodes")
        duplicate = find_duplicate(root)
        if duplicate is not None:
            raise Unreadable(f"{where}{duplicate}")
        out.append(_data(root))
    return out


def yaml_problem(text: str) -> str | None:
    """Why ``text`` does not read as YAML data, or None when it does."""
    try:
        read_documents(text)
    except Unreadable as exc:
        return str(exc)
    return None


def _kids(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _data(node: Node) -> Any:
    if isinstance(node, ScalarNode):
        return scalar_data(node.tag, node.value)
    if isinstance(node, SequenceNode):
        return [_data(item) for item in node.value]
    assert isinstance(node, MappingNode)
    out: dict[Any, Any] = {}
    merged: list[dict[Any, Any]] = []
    for key, value in node.value:
        if key.tag == MERGE_TAG:
            for src in value.value if isinstance(value, SequenceNode) else [value]:
                data = _data(src)
                if isinstance(data, dict):
                    merged.append(data)
        else:
            out[hashable(_data(key))] = _data(value)
    for data in merged:  # as YAML merges: local keys win, then earlier sources
        for k, v in data.items():
            out.setdefault(k, v)
    return out


def _line(mapping: Node, key: Node) -> str:
    # The composer gives an alias key its anchor's position, which is before the mapping.
    line = key.start_mark.line + 1
    return (
        f"an alias of line {line}"
        if key.start_mark.index < mapping.start_mark.index
        else f"line {line}"
    )


def find_duplicate(root: Node) -> Duplicate | None:
    """The first key written twice in one mapping (two ``<<`` count), visiting each node
    once however many aliases refer to it."""
    seen: set[int] = set()
    stack: list[tuple[Node, tuple[Step, ...]]] = [(root, ())]
    while stack:
        node, where = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            stack.extend((item, (*where, i)) for i, item in enumerate(node.value))
        elif isinstance(node, MappingNode):
            firsts: dict[Any, Node] = {}
            for key, value in node.value:
                data = "<<" if key.tag == MERGE_TAG else hashable(_data(key))
                ident = key_identity(data) if key.tag != MERGE_TAG else ("merge", "<<")
                if ident in firsts:
                    first, second = (_line(node, k) for k in (firsts[ident], key))
                    return Duplicate(where, key_text(data), first, second)
                firsts[ident] = key
                stack.append((value, (*where, key_text(data))))
    return None
