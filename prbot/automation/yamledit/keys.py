"""Keys: which entry of a mapping a path step names, in every form YAML writes keys.

A text step (from a path the user wrote) names the key whose data is that string, or
whose data is what the step means as a plain scalar: ``80`` names ``80:`` and ``"80":``,
``true`` names ``true:`` and ``True:``. A ``DataKey`` (an overlay's key) names only the
key equal to it, type included. Keys are compared as data, so an alias key (``*app :``)
is named by the anchored value and a quoted or explicit (``? key``) key by its text.
Collection keys (``? [a, b]``) are never named. ``<<`` merge keys are not keys: what
they merge is found with ``merged_entry``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml.nodes import ScalarNode

from .errors import YamlEditError
from .path import DataKey, Step, key_text
from .positions import line_number
from .tree import R12, Node
from .values import deref, is_merge_key, same, scalar_data


@dataclass(frozen=True)
class Entry:
    """A mapping entry: the mapping holding it, its key node and its value node."""

    mapping: Node
    key: Node
    value: Node


def key_data(key: Node) -> Any:
    """A scalar key's data (through an alias); None for a collection key."""
    node = deref(key)
    return scalar_data(node.tag, node.value) if node.kind == "scalar" else None


def _plain_data(step: str) -> Any:
    tag = str(R12.resolve(ScalarNode, step, (True, False)))
    return scalar_data(tag, step)


def _names(step: Step, key: Node) -> bool:
    node = deref(key)
    if node.kind != "scalar" or is_merge_key(key):
        return False
    data = scalar_data(node.tag, node.value)
    if isinstance(step, DataKey):
        return same(data, step.value)
    return data == step if isinstance(data, str) else same(data, _plain_data(step))


def find_entry(text: str, mapping: Node, step: Step, label: str, here: str) -> Entry | None:
    """The entry of ``mapping`` that ``step`` names (not one a merge provides)."""
    found = [Entry(mapping, k, v) for k, v in mapping.pairs if _names(step, k)]
    if len(found) > 1:
        lines = " and ".join(str(line_number(text, e.key.start)) for e in found)
        raise YamlEditError(
            f"{label}: {here} has several keys that {key_text_of(step)!r} names "
            f'(lines {lines}, e.g. 80 and "80"); prbot cannot tell which one is meant'
        )
    return found[0] if found else None


def merged_entry(mapping: Node, step: Step, depth: int = 0) -> Entry | None:
    """The entry a ``<<`` merge gives ``mapping`` for ``step``, as YAML resolves it: the
    first merge source that has it (a source's own keys before its merges)."""
    if depth > 50:
        return None
    for k, v in mapping.pairs:
        if not is_merge_key(k):
            continue
        src = deref(v)
        for m in src.items if src.kind == "seq" else [src]:
            m = deref(m)
            if m.kind != "map":
                continue
            own = next((Entry(m, mk, mv) for mk, mv in m.pairs if _names(step, mk)), None)
            found = own or merged_entry(m, step, depth + 1)
            if found is not None:
                return found
    return None


def key_text_of(step: Step) -> str:
    return key_text(step.value) if isinstance(step, DataKey) else str(step)
