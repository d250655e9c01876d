"""The public edits: ``set_value``, ``append_items`` and ``merge_overlay``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .create import insert_after, plan_create
from .dump import block_lines
from .errors import YamlEditError
from .locate import locate, pick_doc
from .path import YamlPath, as_path, format_steps
from .plan import Ctx, apply, plan_set
from .positions import column
from .scalars import flow_text
from .tree import Doc, compose, content_end, is_null
from .values import check_value, is_collection, to_python


def _prepare(text: str, path: YamlPath | str) -> tuple[YamlPath, str, tuple[Doc, ...], Doc]:
    if not isinstance(text, str):
        raise YamlEditError("the YAML text must be a str")
    p, label = as_path(path)
    docs = compose(text, label)
    return p, label, docs, pick_doc(docs, p.document, label)


def set_value(text: str, path: YamlPath | str, value: object) -> str:
    """Set the value at ``path``, changing only that value's characters in ``text``."""
    p, label, docs, doc = _prepare(text, path)
    check_value(value, label)
    spot = locate(doc, p.steps, label)
    ctx = Ctx(text, label, docs, spot.trail)
    if spot.rest:
        done = format_steps(p.steps[: len(p.steps) - len(spot.rest)])
        return apply(text, plan_create(ctx, spot, done, value))
    return apply(text, plan_set(ctx, spot.slot, value))


def append_items(text: str, path: YamlPath | str, items: list[object]) -> str:
    """Append ``items`` to the sequence at ``path`` (created as a block sequence if missing)."""
    p, label, docs, doc = _prepare(text, path)
    if not isinstance(items, (list, tuple)):
        raise YamlEditError(f"{label}: items to append must be a list")
    check_value(list(items), label)
    spot = locate(doc, p.steps, label)
    ctx = Ctx(text, label, docs, spot.trail)
    node = spot.slot.node
    if not spot.rest and node is not None and not is_null(node):
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
        done = format_steps(p.steps[: len(p.steps) - len(spot.rest)])
        return apply(text, plan_create(ctx, spot, done, list(items)))
    if node is None or is_null(node) or not node.items:
        return apply(text, plan_set(ctx, spot.slot, list(items)))
    fmt = ctx.fmt()
    if spot.slot.in_flow or node.flow:
        pos = content_end(text, node.items[-1])
        return apply(text, [(pos, pos, ", " + ", ".join(flow_text(v) for v in items))])
    lines = block_lines(list(items), column(text, node.start), fmt)
    return apply(text, [insert_after(text, node, lines, fmt)])


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
        elif kind == "alias" and is_collection(value):
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
    spot = locate(doc, p.steps, label)
    assert spot.slot.node is not None and not spot.rest
    return to_python(spot.slot.node)


def _kind_at(text: str, path: YamlPath) -> str | None:
    """The kind of node at path ("map", "seq", ...) or None when it does not exist yet."""
    p, label, _, doc = _prepare(text, path)
    spot = locate(doc, p.steps, label)
    if spot.rest or spot.slot.node is None:
        return None
    return spot.slot.node.kind
