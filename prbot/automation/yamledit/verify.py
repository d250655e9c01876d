"""Verification: no edit is returned unless the result, read back, means what was asked.

Every public edit goes through here. Before: the file may not have a key twice in one
mapping (``check_keys``). During: an edit whose node is shared through an anchor would
change other paths too; that is refused unless the edit follows aliases (``expected``).
After: the new text is read back by ``readback`` (ruamel's composer, not the editor's
tree) and compared, as data, with what the edit should leave: the value at the path is
the new value and nothing else differs, except the anchor's other uses when followed.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .datapaths import differences, merged, name_paths, plain, put_path
from .errors import YamlEditError
from .locate import FOLLOW_HINT
from .path import key_text
from .readback import Duplicate, Unreadable, read_documents
from .tree import Doc, Node, compose
from .values import hashable, is_merge_key, key_identity, same, to_python


@dataclass(frozen=True)
class Change:
    """An edit as data: in document ``document``, ``node`` (None: an empty document),
    reached by the file's keys ``found``, gets the keys ``rest`` created below it (none:
    it is replaced), so that the path ``found + rest`` holds ``value``."""

    document: int
    node: Node | None
    found: tuple[Any, ...]
    rest: tuple[Any, ...]
    value: Any
    anchor: str | None  # the node, or a collection holding it, is an alias's target: its anchor

    @property
    def keys(self) -> tuple[Any, ...]:
        return (*self.found, *self.rest)

    def data(self) -> Any:
        """What ``node`` holds afterwards (a mapping keeps what it had, merges included)."""
        if not self.rest or self.node is None:
            return plain(self.value)
        return put_path(to_python(self.node), self.rest, plain(self.value))


def check_keys(text: str, docs: tuple[Doc, ...], label: str) -> None:
    """Refuse a file that has a key twice in one mapping: which value it holds depends on
    the reader, so no edit of it can be verified."""
    problem = _duplicate_in(text)
    if problem is not None:
        raise YamlEditError(f"{label}: the file cannot be edited safely: {problem}")


@functools.lru_cache(maxsize=4)
def _duplicate_in(text: str) -> str | None:
    docs = compose(text, "")
    for number, doc in enumerate(docs, 1):
        found = _tree_duplicate(text, doc.root)
        if found is not None:
            return (f"document {number}: " if len(docs) > 1 else "") + str(found)
    return None


def _tree_duplicate(text: str, root: Node | None) -> Duplicate | None:
    stack: list[tuple[Node, tuple[Any, ...]]] = [(root, ())] if root is not None else []
    while stack:  # aliases are not followed: every node is visited where it is written
        node, where = stack.pop()
        if node.kind == "seq":
            stack.extend((item, (*where, i)) for i, item in enumerate(node.items))
        elif node.kind == "map":
            lines: dict[Any, int] = {}
            for key, value in node.pairs:
                data = "<<" if is_merge_key(key) else hashable(to_python(key))
                ident = ("merge", "<<") if is_merge_key(key) else key_identity(data)
                line = text.count("\n", 0, key.start) + 1
                if ident in lines:
                    return Duplicate(where, key_text(data), f"line {lines[ident]}", f"line {line}")
                lines[ident] = line
                stack.append((value, (*where, key_text(data))))
    return None


@functools.lru_cache(maxsize=4)
def _before(text: str) -> tuple[Any, ...]:
    # Cached: never mutated (put_path copies what it changes).
    return tuple(to_python(d.root) if d.root is not None else None for d in compose(text, ""))


def expected(text: str, docs: tuple[Doc, ...], change: Change, label: str, follow: bool) -> Any:
    """What document ``change.document`` should hold after the edit, as data.

    The path's view: the old data with ``value`` put at ``keys``. When the node is shared,
    the graph's view too: the document read with the node holding its new data, which is
    what the text will say (aliases and ``<<`` merges of it see the new data). If they
    differ the edit reaches other paths: refused, naming them, unless ``follow``.
    """
    old = _before(text)[change.document] if docs else None
    path_view = put_path(old, change.keys, plain(change.value))
    if change.anchor is None or change.node is None:
        return path_view
    doc = docs[change.document]
    assert doc.root is not None
    graph_view = to_python(doc.root, {id(change.node): change.data()})
    if follow or same(graph_view, path_view):
        return graph_view
    others = [(change.document, p) for p in differences(path_view, graph_view)]
    raise YamlEditError(
        f"{label}: the value is shared through an anchor (&{change.anchor}): "
        f"the edit would also change {name_paths(others)}; "
        f"{FOLLOW_HINT}, or edit those paths instead"
    )


def check_change(
    text: str, new_text: str, docs: tuple[Doc, ...], change: Change, label: str, follow: bool
) -> str:
    """``new_text`` once it has been verified to be ``text`` with ``change`` made."""
    if new_text == text:
        return text
    want = list(_before(text)) if docs else [None]
    want[change.document] = expected(text, docs, change, label, follow)
    verify(new_text, want, label, change.keys)
    return new_text


def check_overlay(
    text: str,
    new_text: str,
    docs: tuple[Doc, ...],
    document: int,
    overlay: Mapping[Any, Any],
    mode: str,
    label: str,
) -> str:
    """``new_text`` once it has been verified to hold ``overlay`` deep-merged into
    ``document`` of ``text``, and nothing else changed."""
    if new_text == text:
        return text
    want = list(_before(text)) if docs else [None]
    want[document] = plain(merged(want[document], overlay, mode))
    verify(new_text, want, label, None)
    return new_text


def verify(new_text: str, want: list[Any], label: str, edited: tuple[Any, ...] | None) -> None:
    """Read ``new_text`` back and compare it with ``want`` (every document, as data)."""
    try:
        got = read_documents(new_text)
    except Unreadable as exc:
        raise YamlEditError(
            f"{label}: the edit was not applied: the result would not read back: {exc}"
        ) from None
    if len(got) != len(want):
        raise YamlEditError(
            f"{label}: the edit was not applied: the result would have {len(got)} "
            f"documents instead of {len(want)}"
        )
    diffs = [
        (n, p) for n, (w, g) in enumerate(zip(want, got, strict=True)) for p in differences(w, g)
    ]
    if not diffs:
        return
    if edited is None:
        what = "would differ from the overlay merged into the original"
    elif any(p[: len(edited)] == edited for _, p in diffs):
        what = "would not hold the new value"
    else:
        what = "would differ from the original"
    paths = name_paths(diffs)
    raise YamlEditError(
        f"{label}: the edit was not applied: reading the result back, {paths} {what}"
    )
