"""Values: nodes read as Python data, comparing data, checking values to write."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import ScalarNode

from ..limits import LIMITS
from .errors import YamlEditError
from .tree import STR_TAG, Node

# A file being edited is repository content, as untrusted as a definition: its aliases may
# not add more nodes to a value read from it than a definition's document may hold.
MAX_ALIAS_GROWTH = LIMITS.max_alias_nodes


def _construct_scalar(node: Node) -> Any:
    if node.tag == STR_TAG:
        return node.value
    try:
        constructor = YAML(typ="safe", pure=True).constructor
        return constructor.construct_object(ScalarNode(node.tag, node.value), deep=True)
    except (YAMLError, ValueError, TypeError, KeyError):
        return node.value  # a custom tag: compare by text


def _alias_growth(root: Node) -> int:
    """How many nodes aliases add to ``root`` when expanded (computed once per node)."""
    cap = 1 << 62
    sizes: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, leaving = stack.pop()
        kids = _kids(node)
        if leaving:
            open_nodes.discard(id(node))
            sizes[id(node)] = min(cap + 1, 1 + sum(sizes.get(id(k), 1) for k in kids))
            continue
        if id(node) in sizes or id(node) in open_nodes:
            continue  # done, or a recursive alias (to_python cuts those off)
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in sizes and id(k) not in open_nodes)
    return sizes.get(id(root), 1)


def _kids(node: Node) -> list[Node]:
    if node.kind == "alias":
        return [node.target] if node.target is not None else []
    if node.kind == "seq":
        return list(node.items)
    if node.kind == "map":
        return [n for pair in node.pairs for n in pair]
    return []


def to_python(node: Node, depth: int = 0) -> Any:
    if depth == 0 and _alias_growth(node) > MAX_ALIAS_GROWTH:
        raise YamlEditError(
            f"aliases expand the value by more than {MAX_ALIAS_GROWTH} YAML nodes; "
            "refused before expanding"
        )
    if depth > 200:  # a recursive alias; nothing sensible to compare
        return object()
    if node.kind == "alias":
        assert node.target is not None
        return to_python(node.target, depth + 1)
    if node.kind == "scalar":
        return _construct_scalar(node)
    if node.kind == "seq":
        return [to_python(item, depth + 1) for item in node.items]
    out: dict[Any, Any] = {}
    merged: list[dict[Any, Any]] = []
    for key, value in node.pairs:
        if is_merge_key(key):
            sources = deref(value)
            for src in sources.items if sources.kind == "seq" else [sources]:
                data = to_python(src, depth + 1)
                if isinstance(data, dict):
                    merged.append(data)
        else:
            out[_hashable(to_python(key, depth + 1))] = to_python(value, depth + 1)
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


def deref(node: Node) -> Node:
    while node.kind == "alias" and node.target is not None:
        node = node.target
    return node


def is_merge_key(key: Node) -> bool:
    return key.kind == "scalar" and key.style is None and key.value == "<<"


def same(a: Any, b: Any) -> bool:
    """Equal as data *and* of the same types (1 is not True, "1" is not 1)."""
    if isinstance(a, dict) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def check_value(value: Any, label: str) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not _is_scalar_value(k):
                raise YamlEditError(f"{label}: mapping keys must be scalars")
            check_value(v, label)
    elif isinstance(value, (list, tuple)):
        for v in value:
            check_value(v, label)
    elif not _is_scalar_value(value):
        raise YamlEditError(f"{label}: cannot write a value of type {type(value).__name__}")


def _is_scalar_value(value: Any) -> bool:
    return value is None or isinstance(value, (str, bool, int, float, dt.date))


def is_collection(value: Any) -> bool:
    return isinstance(value, (Mapping, list, tuple))
