"""Creating: the splices that add missing keys and items below an existing node."""

from __future__ import annotations

from typing import Any

from .dump import Fmt, block_lines
from .errors import YamlEditError
from .locate import Spot
from .path import DataKey, Step, format_steps
from .plan import Ctx, Splice, plan_into_empty_stream, plan_set
from .positions import column, line_end
from .scalars import flow_text, new_scalar
from .tree import Node, content_end, is_keep_block, last_leaf


def _nest(steps: tuple[Step, ...], value: Any, ctx: Ctx, done: str) -> Any:
    """The value to create for missing ``steps`` below an existing node."""
    for i in range(len(steps) - 1, -1, -1):
        step = steps[i]
        if isinstance(step, DataKey):
            value = {step.value: value}
        elif isinstance(step, str):
            value = {step: value}
        elif step == 0:
            value = [value]
        else:
            where = _join_steps(done, steps[:i]) or "the document root"
            raise YamlEditError(
                f"{ctx.label}: index [{step}] is out of range: {where} does not exist yet"
            )
    return value


def _join_steps(done: str, more: tuple[Step, ...]) -> str:
    tail = format_steps(more)
    if not done or not tail:
        return done or tail
    return done + tail if tail.startswith("[") else f"{done}.{tail}"


def plan_create(ctx: Ctx, spot: Spot, done: str, value: Any) -> list[Splice]:
    """Create the missing ``spot.rest`` below ``spot.slot.node`` holding ``value``."""
    text = ctx.text
    slot = spot.slot
    parent = slot.node
    if parent is not None and parent.kind == "seq":
        # The first missing step is the index one past the end: an appended item.
        new = [_nest(spot.rest[1:], value, ctx, _join_steps(done, spot.rest[:1]))]
    else:
        new = _nest(spot.rest, value, ctx, done)
    if parent is None:
        return plan_into_empty_stream(ctx, new)
    fmt = ctx.fmt()
    in_flow = slot.in_flow or parent.flow
    if parent.kind == "map":
        if not parent.pairs:
            return plan_set(ctx, slot, new)  # an empty {}
        ((key, inner),) = new.items()
        if in_flow:
            pos = content_end(text, parent.pairs[-1][1])
            return [(pos, pos, f", {new_scalar(key, True)}: {flow_text(inner)}")]
        # The mapping's column, not its first key's: a key may follow '? ' or '&anchor '.
        col = column(text, parent.start)
        return [insert_after(text, parent, block_lines(new, col, fmt), fmt)]
    if parent.kind == "seq":
        if not parent.items:
            return plan_set(ctx, slot, new)  # an empty []
        if in_flow:
            pos = content_end(text, parent.items[-1])
            return [(pos, pos, ", " + ", ".join(flow_text(v) for v in new))]
        col = column(text, parent.start)
        return [insert_after(text, parent, block_lines(new, col, fmt), fmt)]
    return plan_set(ctx, slot, new)  # a null becomes the new collection


def insert_after(text: str, parent: Node, lines: list[str], fmt: Fmt) -> Splice:
    """Add lines after the last entry of a block collection (before trailing comments)."""
    end = content_end(text, parent)
    leaf = last_leaf(parent)
    if is_keep_block(text, leaf) and text[leaf.end - 1] == "\n":
        # A keep-chomped (|+) scalar owns the blank lines after it: insert past them.
        return leaf.end, leaf.end, fmt.nl.join(lines) + fmt.nl
    at = line_end(text, end)
    return at, at, fmt.nl + fmt.nl.join(lines)
