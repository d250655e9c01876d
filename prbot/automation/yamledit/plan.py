"""Planning edits: the splices that put a new value where an existing node is."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .dump import Fmt, block_lines, detect_fmt
from .errors import YamlEditError
from .locate import Slot
from .positions import column, first_on_line, line_end, line_start, skip_space
from .scalars import block_scalar, flow_text, inline_text, styled_scalar
from .tree import NULL_TAG, STR_TAG, Doc, Node, block_end, content_end
from .values import is_collection, same, to_python

Splice = tuple[int, int, str]


@dataclass
class Ctx:
    text: str
    label: str
    docs: tuple[Doc, ...]
    trail: list[Node]
    _fmt: Fmt | None = None

    def fmt(self) -> Fmt:
        # Detection may walk the whole file: only done when an edit needs it, and once.
        if self._fmt is None:
            self._fmt = detect_fmt(self.text, self.docs, self.trail)
        return self._fmt


def apply(text: str, splices: list[Splice]) -> str:
    if not splices:
        return text  # unchanged: the very same string
    out: list[str] = []
    pos = 0
    for start, end, new in sorted(splices):
        out.append(text[pos:start])
        out.append(new)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _space_before(text: str, pos: int, new: str) -> str:
    """Keep at least one space between an indicator (':', '-') and the new text."""
    return new if pos == 0 or text[pos - 1] in " \t\r\n[{," else " " + new


def _indicator_end(text: str, slot: Slot) -> int:
    """Just past the ':' / '-' / '---' that introduces the slot's node."""
    node = slot.node
    assert node is not None
    if node.props_end is not None:
        return node.props_end
    if slot.kind == "map":
        assert slot.key is not None
        colon = skip_space(text, slot.key.end)
        return colon + 1 if colon < len(text) and text[colon] == ":" else node.start
    if slot.kind == "seq" and slot.parent is not None and not slot.parent.flow:
        index = next(i for i, item in enumerate(slot.parent.items) if item is node)
        prev = slot.parent.items[index - 1] if index else None
        after = content_end(text, prev) if prev is not None else slot.parent.start
        return skip_space(text, after) + 1
    if slot.kind == "root" and slot.marker_end is not None:
        return slot.marker_end
    return node.start


def _slot_col(text: str, slot: Slot) -> int:
    """Column where a block collection placed in this slot starts."""
    if slot.kind == "root":
        return 0
    if slot.kind == "seq":
        assert slot.parent is not None
        return column(text, slot.parent.start) + 2
    return -1  # depends on the new value's kind: see _child_col


def _entry_col(text: str, slot: Slot) -> int:
    """Column of a block mapping entry's key: the mapping's own column (the key node may
    start later, after '? ' or '&anchor ')."""
    assert slot.parent is not None
    return column(text, slot.parent.start)


def _child_col(ctx: Ctx, slot: Slot, value: Any, fmt: Fmt) -> int:
    if slot.kind != "map":
        return _slot_col(ctx.text, slot)
    offset = fmt.step if isinstance(value, Mapping) else fmt.seq_offset
    return _entry_col(ctx.text, slot) + offset


def plan_set(ctx: Ctx, slot: Slot, value: Any) -> list[Splice]:
    node = slot.node
    if node is None:
        return plan_into_empty_stream(ctx, value)
    if same(to_python(node), value):
        return []
    _check_tag(ctx, node, value)
    if node.bare and not slot.in_flow and slot.key is not None:
        # "? key" with no ':' line: the value goes on a ':' line of its own (on the key's
        # line, "? key: new" would make "key: new" the key).
        at = content_end(ctx.text, slot.key)
        pad = " " * _entry_col(ctx.text, slot)
        return [(at, at, ctx.fmt().nl + pad + ": " + inline_text(value, False))]
    if is_collection(value) and value:
        return _plan_collection(ctx, slot, value)
    text = ctx.text
    if node.kind == "scalar":
        return [_plan_scalar(ctx, slot, value)]
    new = inline_text(value, slot.in_flow)
    if node.kind == "alias" or node.flow:
        return [(node.start, node.end, new)]
    # A block collection becomes a scalar on the key's (or dash's) line, before any
    # comment that line has.
    start = _indicator_end(text, slot)
    tail = text[start : line_end(text, start)]
    keep = tail if tail.strip().startswith("#") else ""
    return [(start, content_end(text, node), " " + new + keep)]


_CORE_TAG = "tag:yaml.org,2002:"


def _natural_tag(value: Any) -> str:
    if value is None:
        return NULL_TAG
    if isinstance(value, bool):
        return _CORE_TAG + "bool"
    if isinstance(value, int):
        return _CORE_TAG + "int"
    if isinstance(value, float):
        return _CORE_TAG + "float"
    if isinstance(value, dt.date):
        return _CORE_TAG + "timestamp"
    if isinstance(value, Mapping):
        return _CORE_TAG + "map"
    if isinstance(value, (list, tuple)):
        return _CORE_TAG + "seq"
    return STR_TAG


def _check_tag(ctx: Ctx, node: Node, value: Any) -> None:
    """An explicit core tag is kept with the value, so the new value must fit it."""
    tag = node.explicit_tag
    if tag and tag.startswith(_CORE_TAG) and tag != _natural_tag(value):
        short = "!!" + tag[len(_CORE_TAG) :]
        raise YamlEditError(
            f"{ctx.label}: the value is tagged {short}, which does not fit the new value's type"
        )


def _plan_scalar(ctx: Ctx, slot: Slot, value: Any) -> Splice:
    text = ctx.text
    node = slot.node
    assert node is not None
    end = node.end
    if node.style in ("|", ">"):
        end = block_end(text, node)
        if isinstance(value, str) and "\n" in value:
            block = block_scalar(value, node.style, _block_content_col(ctx, slot), ctx.fmt().nl)
            if block is not None:
                return node.start, end, block
    new = styled_scalar(value, node.style, slot.in_flow)
    if node.bare:
        return node.start, end, ": " + new
    if node.start == node.end:
        end = _blank_tail_end(text, end)
        return node.start, end, _space_before(text, node.start, new)
    return node.start, end, new


def _blank_tail_end(text: str, i: int) -> int:
    """Past blanks at i when only a line end or a flow indicator follows (no stray spaces)."""
    j = i
    while j < len(text) and text[j] in " \t":
        j += 1
    return j if j == line_end(text, j) or text[j] in ",]}" else i


def _block_content_col(ctx: Ctx, slot: Slot) -> int:
    text = ctx.text
    node = slot.node
    assert node is not None
    for line in text[node.start : node.end].splitlines()[1:]:
        if line.strip():
            return len(line) - len(line.lstrip(" "))
    base = _entry_col(text, slot) if slot.kind == "map" else column(text, node.start)
    return base + ctx.fmt().step


def _plan_collection(ctx: Ctx, slot: Slot, value: Any) -> list[Splice]:
    """Put a non-empty collection where ``slot.node`` is."""
    text = ctx.text
    node = slot.node
    assert node is not None
    empty_flow = node.kind in ("map", "seq") and node.flow and not (node.pairs or node.items)
    if slot.in_flow or (node.kind in ("map", "seq") and node.flow and not empty_flow):
        return [(node.start, node.end, _space_before(text, node.start, flow_text(value)))]
    fmt = ctx.fmt()
    if node.kind in ("map", "seq") and not node.flow:
        same_kind = (node.kind == "map") == isinstance(value, Mapping)
        end = content_end(text, node)
        if first_on_line(text, node.start):
            col = column(text, node.start) if same_kind else _child_col(ctx, slot, value, fmt)
            lines = block_lines(value, col, fmt)
            return [(line_start(text, node.start), end, fmt.nl.join(lines))]
        col = column(text, node.start)
        lines = block_lines(value, col, fmt)
        return [(node.start, end, fmt.nl.join([lines[0][col:], *lines[1:]]))]
    # A scalar, null, alias or empty flow collection in a block slot.
    if slot.kind == "seq":
        # Compact form on the dash's line: "- key: value".
        col = column(text, node.start) + (0 if text[node.start - 1] in " \t" else 1)
        lines = block_lines(value, col, fmt)
        first = _space_before(text, node.start, lines[0][col:])
        end = _blank_tail_end(text, node.end) if node.start == node.end else node.end
        return [(node.start, end, fmt.nl.join([first, *lines[1:]]))]
    col = _child_col(ctx, slot, value, fmt)
    lines = block_lines(value, col, fmt)
    if slot.kind == "root" and slot.marker_end is None:
        return [(node.start, node.end, fmt.nl.join(lines))]
    # "key: old  # note" -> "key:  # note" + the block on the following lines.
    cut = node.start
    while cut > 0 and text[cut - 1] in " \t" and (node.props_end is None or cut > node.props_end):
        cut -= 1
    insert_at = line_end(text, node.end)
    return [(cut, node.end, ""), (insert_at, insert_at, fmt.nl + fmt.nl.join(lines))]


def plan_into_empty_stream(ctx: Ctx, value: Any) -> list[Splice]:
    fmt = ctx.fmt()
    text = ctx.text
    if not (is_collection(value) and value):
        lines = [inline_text(value, False)]
    else:
        lines = block_lines(value, 0, fmt)
    sep = fmt.nl if text and not text.endswith("\n") else ""
    return [(len(text), len(text), sep + fmt.nl.join(lines) + fmt.nl)]
