"""Locating: walking a path down a document to the slot it names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import YamlEditError
from .keys import find_entry, key_data, merged_entry
from .path import DataKey, Index, Step, format_steps
from .tree import Doc, Node, is_null
from .values import deref

FOLLOW_HINT = "set followAliases: true to change them all"


@dataclass(frozen=True)
class Slot:
    """A place that holds a node: a mapping value, a sequence item or a document root."""

    node: Node | None
    kind: str  # "root" | "map" | "seq"
    parent: Node | None = None
    key: Node | None = None
    in_flow: bool = False  # inside a flow collection
    marker_end: int | None = None  # for roots: end of the document's '---'


@dataclass(frozen=True)
class Spot:
    slot: Slot  # the slot reached; when rest is non-empty its node is the parent to extend
    rest: tuple[Step, ...]  # steps still missing
    trail: list[Node]  # collections passed through, outermost first
    keys: tuple[Any, ...] = ()  # each step found as data: a key read from the file, or an Index
    inherited: Node | None = None  # rest[0] as a << merge provides it (only when not followed)


def locate(text: str, doc: Doc, steps: tuple[Step, ...], label: str, follow: bool) -> Spot:
    """Walk ``steps``. ``follow``: go on through aliases and into what ``<<`` merges (the
    edit then changes the anchored node); otherwise refuse to, naming why."""
    slot = Slot(doc.root, "root", marker_end=doc.marker_end)
    trail: list[Node] = []
    keys: list[Any] = []
    for i, step in enumerate(steps):
        node = slot.node
        here = format_steps(steps[:i]) or "the document root"
        if node is None or is_null(node):
            return Spot(slot, steps[i:], trail, tuple(keys), None)
        if node.kind == "alias":
            if not follow:
                raise YamlEditError(
                    f"{label}: {here} is an alias (*{_anchor(node)}); editing through it would "
                    f"change every use of its anchor (edit the anchored node, or {FOLLOW_HINT})"
                )
            slot, node = slot_of(doc, deref(node), label), deref(node)
        if node.kind == "scalar":
            raise YamlEditError(f"{label}: {here} is a scalar, cannot set {label}")
        trail.append(node)
        if node.kind == "map":
            if isinstance(step, int):
                raise YamlEditError(
                    f"{label}: {here} is a mapping, not a sequence: cannot use [{step}]"
                )
            entry = find_entry(text, node, step, label, here)
            if entry is not None:
                slot = Slot(entry.value, "map", node, entry.key, slot.in_flow or node.flow)
            else:
                entry = merged_entry(node, step)
                if entry is None:
                    return Spot(slot, steps[i:], trail, tuple(keys), None)
                if not follow:
                    if i + 1 == len(steps):  # a leaf: overridden by a key of this mapping,
                        # the very key the merge gives (80 stays 80, not "80")
                        rest = (DataKey(key_data(entry.key)),)
                        return Spot(slot, rest, trail, tuple(keys), entry.value)
                    raise YamlEditError(
                        f"{label}: {format_steps(steps[: i + 1])} comes from a merge key (<<); "
                        "setting something inside it here would replace the whole inherited "
                        f"value, and changing it where it is defined changes every mapping "
                        f"that merges it ({FOLLOW_HINT})"
                    )
                trail.append(entry.mapping)  # the merge source: the node really edited
                slot = slot_of(doc, entry.value, label)
            keys.append(key_data(entry.key))
            continue
        if isinstance(step, int):
            if step > len(node.items):
                raise YamlEditError(
                    f"{label}: index [{step}] is out of range: {here} has {len(node.items)} items"
                )
            if step == len(node.items):
                return Spot(slot, steps[i:], trail, tuple(keys), None)
            slot = Slot(node.items[step], "seq", node, None, slot.in_flow or node.flow)
            keys.append(Index(step))
            continue
        raise YamlEditError(
            f"{label}: {here} is a sequence, not a mapping: cannot use key {step!r}"
        )
    if follow and slot.node is not None and slot.node.kind == "alias":
        slot = slot_of(doc, deref(slot.node), label)
    return Spot(slot, (), trail, tuple(keys), None)


def _anchor(alias: Node) -> str:
    return (alias.target.anchor or "") if alias.target is not None else ""


def slot_of(doc: Doc, target: Node, label: str) -> Slot:
    """The slot that holds ``target`` in the document's text (where its anchor is)."""
    stack: list[Slot] = [Slot(doc.root, "root", marker_end=doc.marker_end)]
    while stack:
        slot = stack.pop()
        node = slot.node
        if node is target:
            return slot
        if node is None:
            continue
        in_flow = slot.in_flow or node.flow
        if node.kind == "map":
            stack.extend(Slot(v, "map", node, k, in_flow) for k, v in node.pairs)
        elif node.kind == "seq":
            stack.extend(Slot(item, "seq", node, None, in_flow) for item in node.items)
    raise YamlEditError(
        f"{label}: the anchored node &{target.anchor} is part of a key; prbot does not edit keys"
    )


def pick_doc(docs: tuple[Doc, ...], index: int, label: str) -> Doc:
    if not docs and index == 0:
        return Doc(None, None)  # an empty file: document 0 is empty
    if index >= len(docs):
        raise YamlEditError(
            f"{label}: document {index} does not exist (the file has {len(docs)} documents)"
        )
    return docs[index]
