"""Data paths: a value put at a path of data, a deep merge, where two values differ, and
paths named for messages. Keys are the file's own keys as data; list positions are Index."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .path import Index, format_steps, key_text
from .values import same

SHOWN = 3  # paths named in a message; the rest are counted


def merged(old: Any, overlay: Any, mode: str) -> Any:
    """The deep merge of ``overlay`` into ``old``, as data (lists replace, or append)."""
    if isinstance(old, dict) and isinstance(overlay, Mapping):
        out = dict(old)
        for k, v in overlay.items():
            out[k] = merged(old[k], v, mode) if k in old else v
        return out
    if isinstance(old, list) and isinstance(overlay, (list, tuple)) and mode == "append":
        return [*old, *overlay]
    return overlay


def differences(a: Any, b: Any, where: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The paths where ``a`` and ``b`` differ as data (type included), outermost first."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[tuple[Any, ...]] = []
        for k in [*a, *(k for k in b if k not in a)]:
            if k in a and k in b:
                out.extend(differences(a[k], b[k], (*where, k)))
            else:
                out.append((*where, k))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            p
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for p in differences(x, y, (*where, Index(i)))
        ]
    return [] if same(a, b) else [where]


def name_paths(paths: list[tuple[int, tuple[Any, ...]]]) -> str:
    """Paths (document, keys) as a message names them: the first few, and how many more."""
    names = [
        (f"{n}:" if n else "")
        + (
            format_steps([int(k) if isinstance(k, Index) else key_text(k) for k in p])
            or "the document root"
        )
        for n, p in paths[:SHOWN]
    ]
    more = f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else ""
    return ", ".join(names) + more


def put_path(data: Any, keys: tuple[Any, ...], value: Any) -> Any:
    """``data`` with ``value`` at ``keys``, copying only what lies on the way (missing
    levels are created as an edit creates them: a mapping, or a list for index 0)."""
    if not keys:
        return value
    head, rest = keys[0], keys[1:]
    if isinstance(data, dict) and not isinstance(head, Index):
        return {**data, head: put_path(data.get(head), rest, value)}
    if isinstance(data, list) and isinstance(head, Index):
        new = list(data)
        if head == len(new):
            new.append(put_path(None, rest, value))
        else:
            new[head] = put_path(new[head], rest, value)
        return new
    if isinstance(head, Index):
        return [put_path(None, rest, value)]
    return {head: put_path(None, rest, value)}


def plain(value: Any) -> Any:
    """A value to write as the data it reads back as (tuples are lists)."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
