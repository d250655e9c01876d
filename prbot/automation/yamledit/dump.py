"""Dumping: collections in block style, following the file's indentation habits."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .positions import column
from .scalars import block_scalar, inline_text, new_scalar
from .tree import Doc, Node, iter_nodes
from .values import is_collection


@dataclass(frozen=True)
class Fmt:
    nl: str
    step: int  # indentation of a mapping's children relative to its key
    seq_offset: int  # indentation of a block sequence's dashes relative to its key


def block_lines(value: Any, col: int, fmt: Fmt) -> list[str]:
    """A non-empty collection in block style, every line indented to ``col``."""
    pad = " " * col
    lines: list[str] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            head = f"{pad}{new_scalar(k, False)}:"
            if is_collection(v) and v:
                offset = fmt.step if isinstance(v, Mapping) else fmt.seq_offset
                lines.append(head)
                lines.extend(block_lines(v, col + offset, fmt))
            else:
                lines.extend(_scalar_entry(head, v, col + fmt.step, fmt))
        return lines
    for item in value:
        if is_collection(item) and item:
            sub = block_lines(item, col + 2, fmt)
            lines.append(f"{pad}- {sub[0][col + 2 :]}")
            lines.extend(sub[1:])
        else:
            lines.extend(_scalar_entry(f"{pad}-", item, col + 2, fmt))
    return lines


def _scalar_entry(head: str, value: Any, content_col: int, fmt: Fmt) -> list[str]:
    if isinstance(value, str) and "\n" in value:
        block = block_scalar(value, "|", content_col, "\n")
        if block is not None:
            first, *rest = block.split("\n")
            return [f"{head} {first}", *rest]
    return [f"{head} {inline_text(value, False)}"]


def detect_fmt(text: str, docs: tuple[Doc, ...], near: list[Node]) -> Fmt:
    """Indentation habits of the file, looking first around the edit, then everywhere."""
    step: int | None = None
    seq_offset: int | None = None
    candidates: list[Iterator[Node]] = [iter(reversed(near))]
    candidates += [iter_nodes(d.root) for d in docs]
    for nodes in candidates:
        for node in nodes:
            if node.kind != "map" or node.flow:
                continue
            for _, value in node.pairs:
                if value.kind not in ("map", "seq") or value.flow:
                    continue
                offset = column(text, value.start) - column(text, node.start)
                if value.kind == "map" and step is None and offset > 0:
                    step = offset
                if value.kind == "seq" and seq_offset is None and offset >= 0:
                    seq_offset = offset
            if step is not None and seq_offset is not None:
                break
        if step is not None and seq_offset is not None:
            break
    step = step or 2
    nl = "\r\n" if "\r\n" in text[: text.find("\n") + 1] else "\n"
    return Fmt(nl, step, step if seq_offset is None else seq_offset)
