"""Locating: walking a path down a document to the slot it names."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import YamlEditError
from .path import format_steps
from .tree import Doc, Node, is_null
from .values import deref, is_merge_key


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
    rest: tuple[str | int, ...]  # steps still missing
    trail: list[Node]  # collections passed through, outermost first


def locate(doc: Doc, steps: tuple[str | int, ...], label: str) -> Spot:
    slot = Slot(doc.root, "root", marker_end=doc.marker_end)
    trail: list[Node] = []
    for i, step in enumerate(steps):
        node = slot.node
        here = format_steps(steps[:i]) or "the document root"
        if node is None or is_null(node):
            return Spot(slot, steps[i:], trail)
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
                        f"{label}: {format_steps(steps[: i + 1])} comes from a merge key (<<); "
                        "setting something inside it would replace the whole inherited value"
                    )
                return Spot(slot, steps[i:], trail)
            slot = Slot(pair[1], "map", node, pair[0], in_flow)
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
            return Spot(slot, steps[i:], trail)
        slot = Slot(node.items[step], "seq", node, None, in_flow)
    return Spot(slot, (), trail)


def _find_key(node: Node, key: str) -> tuple[Node, Node] | None:
    for k, v in node.pairs:
        if k.kind == "scalar" and k.value == key and not is_merge_key(k):
            return k, v
    return None


def _merged_key(node: Node, key: str, depth: int = 0) -> bool:
    """Whether ``key`` reaches this mapping only through a ``<<`` merge."""
    if depth > 50:
        return False
    for k, v in node.pairs:
        if not is_merge_key(k):
            continue
        src = deref(v)
        for m in src.items if src.kind == "seq" else [src]:
            m = deref(m)
            if m.kind == "map" and (_find_key(m, key) or _merged_key(m, key, depth + 1)):
                return True
    return False


def pick_doc(docs: tuple[Doc, ...], index: int, label: str) -> Doc:
    if not docs and index == 0:
        return Doc(None, None)  # an empty file: document 0 is empty
    if index >= len(docs):
        raise YamlEditError(
            f"{label}: document {index} does not exist (the file has {len(docs)} documents)"
        )
    return docs[index]
