"""Values: nodes read as Python data, comparing data, checking values to write."""

from __future__ import annotations

import datetime as dt
import functools
import types
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import ScalarNode

from ..limits import LIMITS
from .errors import YamlEditError
from .tree import STR_TAG, Node

# A file being edited is repository content, as untrusted as a definition: its aliases may
# not add more nodes to a value read from it than a definition's document may hold.
MAX_ALIAS_GROWTH = LIMITS.max_alias_nodes
T = TypeVar("T")


@functools.cache
def _constructor() -> Any:
    # One safe constructor for every scalar: its scalar functions read only the node they
    # are given, and building a YAML object per scalar would dominate reading a file.
    return YAML(typ="safe", pure=True).constructor


def scalar_data(tag: str, text: str) -> Any:
    """A scalar's value as data; one of a tag we cannot construct is its text."""
    if tag == STR_TAG:
        return text
    constructor = _constructor()
    build = type(constructor).yaml_constructors.get(tag)
    if build is None:
        return text  # a custom tag (!reference, !Ref): compare by text
    try:
        value = build(constructor, ScalarNode(tag, text))
    except (YAMLError, ValueError, TypeError, KeyError, AttributeError):
        return text
    return text if isinstance(value, types.GeneratorType) else value


def alias_growth(root: T, kids: Callable[[T], list[T]]) -> int:
    """How many nodes aliases add to ``root`` when expanded: its size with every alias
    expanded, less the nodes written. Computed once per node, so a billion laughs costs
    what its text costs. Raises ValueError for an alias inside the node it names."""
    cap = 1 << 62
    sizes: dict[int, int] = {}
    stack: list[tuple[T, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, leaving = stack.pop()
        below = kids(node)
        if leaving:
            open_nodes.discard(id(node))
            sizes[id(node)] = min(cap, 1 + sum(sizes[id(k)] for k in below))
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes or any(id(k) in open_nodes for k in below):
            raise ValueError("an alias refers to a node that contains it")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((k, False) for k in below if id(k) not in sizes)
    return sizes[id(root)] - len(sizes)


def _kids(node: Node) -> list[Node]:
    if node.kind == "alias":
        return [node.target] if node.target is not None else []
    if node.kind == "seq":
        return list(node.items)
    if node.kind == "map":
        return [n for pair in node.pairs for n in pair]
    return []


def to_python(node: Node, overrides: Mapping[int, Any] | None = None) -> Any:
    """The node as data. ``overrides`` (node id -> data) reads those nodes as other data
    wherever the graph reaches them, through aliases and merges too: what the document
    would mean if those nodes' text were replaced."""
    if alias_growth(node, _kids) > MAX_ALIAS_GROWTH:
        raise YamlEditError(
            f"aliases expand the value by more than {MAX_ALIAS_GROWTH} YAML nodes; "
            "refused before expanding"
        )
    return _data(node, overrides or {})


def _data(node: Node, overrides: Mapping[int, Any]) -> Any:
    if id(node) in overrides:
        return overrides[id(node)]
    if node.kind == "alias":
        assert node.target is not None  # the tree refuses loops and undefined aliases
        return _data(node.target, overrides)
    if node.kind == "scalar":
        return scalar_data(node.tag, node.value)
    if node.kind == "seq":
        return [_data(item, overrides) for item in node.items]
    out: dict[Any, Any] = {}
    merged: list[dict[Any, Any]] = []
    for key, value in node.pairs:
        if is_merge_key(key):
            sources = deref(value)
            for src in sources.items if sources.kind == "seq" else [sources]:
                data = _data(src, overrides)
                if isinstance(data, dict):
                    merged.append(data)
        else:
            out[hashable(_data(key, overrides))] = _data(value, overrides)
    for data in merged:  # local keys win, then earlier merge sources
        for k, v in data.items():
            out.setdefault(k, v)
    return out


def hashable(value: Any) -> Any:
    """A key as a dict can hold it: a collection key (``? [a, b]``) by its repr."""
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def key_identity(key: Any) -> tuple[str, Any]:
    """Keys are the same key when equal *and* of one type: ``1:`` and ``true:`` differ."""
    return type(key).__name__, key


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
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True  # .nan reads back as a nan, which equals nothing
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
