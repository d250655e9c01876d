"""The public edits: ``set_value``, ``append_items`` and ``merge_overlay``.

Each plans its splices with the editor's tree, then returns the new text only after
``verify`` has read it back and found exactly the intended change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .create import insert_after, plan_create
from .dump import block_lines
from .errors import YamlEditError
from .locate import Spot, locate, pick_doc
from .path import DataKey, Index, YamlPath, as_path, format_steps
from .plan import Ctx, apply, plan_set
from .positions import column
from .readback import Unreadable, read_documents
from .scalars import flow_text
from .tree import Doc, compose, content_end, is_null
from .values import check_value, hashable, is_collection, to_python
from .verify import Change, check_change, check_keys, check_overlay, expected, merged


def set_value(
    text: str,
    path: YamlPath | str,
    value: object,
    *,
    follow_aliases: bool = False,
    create: bool = True,
) -> str:
    """Set the value at ``path``, changing only that value's characters in ``text``.

    ``follow_aliases``: go on through aliases and ``<<`` merges and change the anchored
    node itself (so every alias of it changes too); otherwise an edit that would change
    any other path is refused. ``create=False``: a path that is not in the document
    (a key that a ``<<`` merge gives counts as there) is refused instead of created.
    """
    p, label, docs = _read(text, path)
    check_value(value, label)
    new, change = _set(text, docs, p, label, value, follow_aliases, create)
    return check_change(text, new, docs, change, label, follow_aliases)


def append_items(
    text: str, path: YamlPath | str, items: list[object], *, follow_aliases: bool = False
) -> str:
    """Append ``items`` to the sequence at ``path`` (created as a block sequence if missing)."""
    p, label, docs = _read(text, path)
    if not isinstance(items, (list, tuple)):
        raise YamlEditError(f"{label}: items to append must be a list")
    check_value(list(items), label)
    new, change = _append(text, docs, p, label, list(items), follow_aliases)
    return check_change(text, new, docs, change, label, follow_aliases)


def merge_overlay(
    text: str,
    overlay: dict,
    *,
    list_merge: str = "overwrite",
    document: int = 0,
    follow_aliases: bool = False,
    create: bool = True,
) -> str:
    """Deep-merge ``overlay`` into a document, one leaf at a time so only changed lines change.

    Mappings merge recursively; lists replace the existing list (``"overwrite"``) or are
    appended to it (``"append"``). The result must read back as the deep merge, as data.
    ``create=False``: every key of the overlay must already be in the document.
    """
    if list_merge not in ("overwrite", "append"):
        raise YamlEditError(f"list_merge must be 'overwrite' or 'append', not {list_merge!r}")
    if not isinstance(overlay, Mapping):
        raise YamlEditError("the overlay must be a mapping")
    if not isinstance(document, int) or document < 0:
        raise YamlEditError("document must be an integer >= 0")
    base = YamlPath(document, ())
    label = f"{document}: the overlay" if document else "the overlay"
    _, _, docs = _read(text, base)
    if not create:
        _check_overlay_keys(text, document, overlay, label)
    new = _merge(text, base, overlay, list_merge, follow_aliases)
    if follow_aliases:
        return new  # each leaf was verified as an edit of its own (see _step)
    return check_overlay(text, new, docs, document, overlay, list_merge, label)


def _read(text: str, path: YamlPath | str) -> tuple[YamlPath, str, tuple[Doc, ...]]:
    if not isinstance(text, str):
        raise YamlEditError("the YAML text must be a str")
    p, label = as_path(path)
    docs = compose(text, label)
    check_keys(text, docs, label)
    return p, label, docs


def _located(
    text: str, docs: tuple[Doc, ...], p: YamlPath, label: str, follow: bool
) -> tuple[Spot, Ctx]:
    doc = pick_doc(docs, p.document, label)
    spot = locate(text, doc, p.steps, label, follow)
    return spot, Ctx(text, label, docs, spot.trail)


def _change(p: YamlPath, spot: Spot, value: Any) -> Change:
    nodes = [*spot.trail, spot.slot.node]
    anchor = next((n.anchor or "" for n in reversed(nodes) if n is not None and n.aliased), None)
    rest = tuple(
        s.value if isinstance(s, DataKey) else Index(s) if isinstance(s, int) else s
        for s in spot.rest
    )
    return Change(p.document, spot.slot.node, spot.keys, rest, value, anchor)


def _set(
    text: str,
    docs: tuple[Doc, ...],
    p: YamlPath,
    label: str,
    value: Any,
    follow: bool,
    create: bool = True,
) -> tuple[str, Change]:
    spot, ctx = _located(text, docs, p, label, follow)
    if spot.rest:
        done = format_steps(p.steps[: len(p.steps) - len(spot.rest)])
        if not create and spot.inherited is None:
            missing = format_steps(p.steps[: len(p.steps) - len(spot.rest) + 1])
            where = "" if len(spot.rest) == 1 else f"{label}: "
            raise YamlEditError(
                f"{where}{missing} is not in the file, and create is false (the key must exist)"
            )
        return apply(text, plan_create(ctx, spot, done, value)), _change(p, spot, value)
    return apply(text, plan_set(ctx, spot.slot, value)), _change(p, spot, value)


def _append(
    text: str, docs: tuple[Doc, ...], p: YamlPath, label: str, items: list[Any], follow: bool
) -> tuple[str, Change]:
    spot, ctx = _located(text, docs, p, label, follow)
    node = spot.slot.node
    if not spot.rest and node is not None and not is_null(node):
        if node.kind == "alias":
            raise YamlEditError(
                f"{label}: the value is an alias; appending through it would change every "
                "use of its anchor (set followAliases: true to change them all)"
            )
        if node.kind != "seq":
            what = "a mapping" if node.kind == "map" else "a scalar"
            raise YamlEditError(f"{label}: the value is {what}, not a sequence: cannot append")
    if spot.rest:
        done = format_steps(p.steps[: len(p.steps) - len(spot.rest)])
        return apply(text, plan_create(ctx, spot, done, items)), _change(p, spot, items)
    if node is None or is_null(node) or not node.items:
        return apply(text, plan_set(ctx, spot.slot, items)), _change(p, spot, items)
    change = _change(p, spot, [*to_python(node), *items])
    if not items:
        return text, change
    fmt = ctx.fmt()
    if spot.slot.in_flow or node.flow:
        pos = content_end(text, node.items[-1])
        return apply(text, [(pos, pos, ", " + ", ".join(flow_text(v) for v in items))]), change
    lines = block_lines(items, column(text, node.start), fmt)
    return apply(text, [insert_after(text, node, lines, fmt)]), change


def _step(text: str, path: YamlPath, value: Any, append: bool, follow: bool) -> str:
    """One leaf of an overlay: an edit whose result the overlay's check covers, except
    that a shared node is still refused (or, when following, each step is verified)."""
    label = str(path)
    docs = compose(text, label)
    edit = _append if append else _set
    new, change = edit(text, docs, path, label, value, follow)
    if follow:
        return check_change(text, new, docs, change, label, follow)
    if new != text and change.anchor is not None:
        expected(text, docs, change, label, follow)  # raises when other paths would change
    return new


def _merge(text: str, base: YamlPath, overlay: Mapping[Any, Any], mode: str, follow: bool) -> str:
    for key, value in overlay.items():
        path = YamlPath(base.document, (*base.steps, DataKey(key)))
        kind, old = _look(text, path, follow)
        if isinstance(value, Mapping) and kind == "map":
            text = _merge(text, path, value, mode, follow)
        elif isinstance(value, (list, tuple)) and mode == "append" and kind == "seq":
            text = _step(text, path, list(value), True, follow)
        elif kind in ("alias", "inherited") and is_collection(value):
            # Merging into a shared anchor (or into what a << merge gives) would change its
            # other uses: this key gets the merged data of its own instead.
            text = _step(text, path, merged(old, value, mode), False, follow)
        else:
            text = _step(text, path, value, False, follow)
    return text


def _check_overlay_keys(text: str, document: int, overlay: Mapping[Any, Any], label: str) -> None:
    """``create=False``: every key of the overlay, at every level it descends into (lists
    are values, not levels), is in the document as read (``<<`` merges included)."""
    try:
        documents = read_documents(text)
    except Unreadable as exc:
        raise YamlEditError(f"{label}: {exc}") from None
    data = documents[document] if document < len(documents) else None
    missing = _missing_key(data, overlay, ())
    if missing is not None:
        raise YamlEditError(
            f"{label}: {format_steps(missing)} is not in the file, and create is false "
            "(every key of the overlay must exist)"
        )


def _missing_key(
    data: Any, overlay: Mapping[Any, Any], steps: tuple[DataKey, ...]
) -> tuple[DataKey, ...] | None:
    for key, value in overlay.items():
        here = (*steps, DataKey(key))
        if not isinstance(data, dict) or hashable(key) not in data:
            return here
        if isinstance(value, Mapping):
            found = _missing_key(data[hashable(key)], value, here)
            if found is not None:
                return found
    return None


def _look(text: str, path: YamlPath, follow: bool) -> tuple[str | None, Any]:
    """The kind of node at path ("map", "seq", "alias", ...; "inherited" for a key only a
    << merge gives; None when missing) and, for an alias or an inherited value, its data."""
    label = str(path)
    spot, _ = _located(text, compose(text, label), path, label, follow)
    if spot.inherited is not None and len(spot.rest) == 1:
        return "inherited", to_python(spot.inherited)
    node = spot.slot.node
    if spot.rest or node is None:
        return None, None
    return node.kind, to_python(node) if node.kind == "alias" else None
