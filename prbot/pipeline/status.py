"""The status comment: the whole promotion as one Markdown table, on every stage PR.

``render_status`` depends on the promotion alone (no clock), so the same promotion gives
the same text byte for byte, and the engine can tell whether an edit is needed. The first
line is a hidden marker (``status_marker``) by which the engine finds its comment to edit
in place. Everything that came from outside (inputs, reasons, signal names, people) is
escaped, so it can neither break the table nor inject links, mentions or HTML.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from prbot.pipeline import gates as gate_rules
from prbot.pipeline.model import (
    ApprovalRule,
    Promotion,
    RequirementHealth,
    StageSpec,
    StageState,
    WindowRule,
    format_duration,
)

MAX_CELL_TEXT = 200  # a reason or an input value is cut to this in the table
MAX_INPUTS_TEXT = 300

STAGE_ICONS = {
    "pending": "⚪",
    "gates": "⏸️",
    "pr_open": "🔵",
    "merged": "🟣",
    "verifying": "⏳",
    "soaking": "🧪",
    "succeeded": "✅",
    "failed": "❌",
    "rolled_back": "↩️",
    "cancelled": "🚫",
    "superseded": "⏭️",
}
SIGNAL_ICONS = {"success": "✅", "failure": "❌", "pending": "⏳"}
_SPECIAL = re.compile(r"([\\`*_\[\]|#~!@])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# a URL that a Markdown link may carry as is (nothing that could end or bend the link)
SAFE_URL = re.compile(r"https?://[^\s()<>\[\]\"'`|\\]+")


def status_marker(promotion_id: str) -> str:
    """The hidden first line of the promotion's status comment."""
    return f"<!-- prbot:promotion {promotion_id} -->"


def render_status(promotion: Promotion, *, promotion_url: str = "") -> str:
    """The status comment's Markdown: a header (status, requester, inputs, hold, why it
    ended) and one table row per stage (stage, state, PR, health, gate, times, in UTC
    except a window's next opening, shown in the window's zone). ``promotion_url``, an
    http(s) address, links the promotion."""
    p = promotion
    name = link(p.id, promotion_url)
    lines = [
        status_marker(p.id),
        f"**Promotion {name}** of pipeline **{p.pipeline.name}** on {_text(p.repo)}: "
        f"**{p.status}**",
        "",
        f"Requested by {_text(p.requested_by)}" + (f" with {_inputs(p)}" if p.inputs else "") + ".",
    ]
    if p.hold is not None:
        lines += ["", f"⏸️ Held since {_time(p.hold.at)}: {_text(p.hold.reason)}."]
    if p.reason:
        lines += ["", f"{_text(p.reason[:1].upper() + p.reason[1:])}."]
    lines += [
        "",
        "| Stage | State | PR | Health | Gate | Times |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for state, spec in zip(p.stages, p.pipeline.stages, strict=True):
        cells = (
            spec.name,
            _state(p, state),
            _pr(state),
            _health(state, spec),
            _gates(p, state, spec),
            _times(state),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _state(p: Promotion, s: StageState) -> str:
    if s.status == "pending" and p.finished:
        return "not reached"
    text = f"{STAGE_ICONS[s.status]} {s.status.replace('_', ' ')}"
    if s.failure:
        text += f": {_text(s.failure)}"
    return text


def _pr(s: StageState) -> str:
    parts = []
    if s.pr is not None:
        parts.append(link(f"#{s.pr.number}", s.pr.url))
    elif s.status == "pr_open":
        parts.append("opening")
    elif s.merge_sha:
        parts.append(f"no change ({s.merge_sha[:7]})")
    if s.revert is not None:
        if s.revert.pr is None:
            parts.append("revert requested")
        else:
            word = {"open": "open", "merged": "merged", "closed": "closed"}[s.revert.state]
            parts.append(f"revert {link(f'#{s.revert.pr.number}', s.revert.pr.url)} {word}")
    return "<br>".join(parts) or "—"


def _health(s: StageState, spec: StageSpec) -> str:
    if not s.merge_sha:
        return "—"
    parts = [_requirement(r) for r in s.health]
    if not parts:
        parts.append("no checks")
    if s.status == "soaking" and s.soak_until is not None:
        parts.append(f"soaking until {_time(s.soak_until)}")
    elif s.status == "succeeded" and spec.health.soak_seconds:
        parts.append(f"soaked {format_duration(spec.health.soak_seconds)}")
    return "<br>".join(parts)


def _requirement(r: RequirementHealth) -> str:
    merge, descendant = r.on_merge, r.on_descendant
    merge_ok = merge is not None and merge.state == "success"
    seen = merge if merge is not None and (merge_ok or r.state == "failure") else descendant
    seen = seen or merge
    text = f"{SIGNAL_ICONS[r.state]} {link(_text(r.label), seen.url if seen else '')}"
    if descendant is not None and r.state == "success" and not merge_ok:
        text += f" (on {descendant.sha[:7]})"
    elif descendant is not None and r.state == "pending" and descendant.state == "failure":
        text += f" (failing on {descendant.sha[:7]})"
    return text


def _gates(p: Promotion, s: StageState, spec: StageSpec) -> str:
    if not spec.gates:
        return "—"
    parts = []
    for rule in spec.gates:
        if isinstance(rule, ApprovalRule):
            parts.append(_approval(p, s, rule))
        else:
            parts.append(_window(rule))
    if s.status == "gates" and s.window_opens_at is not None:
        zone = spec.windows[0].zone if spec.windows else UTC
        local = datetime.fromtimestamp(s.window_opens_at, zone)
        parts.append(f"opens {local.strftime('%a %Y-%m-%d %H:%M %Z')}")
    if s.pr_requested_at is not None:
        parts.insert(0, "✅ passed")
    return "<br>".join(parts)


def _approval(p: Promotion, s: StageState, rule: ApprovalRule) -> str:
    counted = gate_rules.approval_counted(rule, s.approvals, p.requested_by)
    who = gate_rules.approvers(rule, s.approvals)
    listed = [*rule.users, *(f"team {t}" for t in rule.teams)]
    text = f"approval {counted}/{rule.count}"
    if listed:
        text += f" of {_text(', '.join(listed))}"
    if who:
        text += f" (by {_text(', '.join(who))})"
    return text


def _window(rule: WindowRule) -> str:
    days = ",".join(rule.days) if len(rule.days) < 7 else "daily"
    return f"window {days} {rule.hours} {_text(rule.timezone)}"


def _times(s: StageState) -> str:
    marks = (
        ("reached", s.reached_at),
        ("PR", s.pr_requested_at),
        ("merged", s.merged_at),
        ("healthy", s.healthy_at),
        ("ended", s.finished_at),
    )
    return "<br>".join(f"{word} {_time(at)}" for word, at in marks if at is not None) or "—"


def _time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _inputs(p: Promotion) -> str:
    text = ", ".join(f"{k}={p.inputs[k]}" for k in sorted(p.inputs))
    return _text(text, MAX_INPUTS_TEXT)


def _text(value: object, limit: int = MAX_CELL_TEXT) -> str:
    """``value`` on one line, cut to ``limit``, with Markdown and HTML made literal
    (backslash escapes; ``<``, ``>`` and ``&`` as entities)."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = _SPECIAL.sub(r"\\\1", text)
    return "".join(_ENTITIES.get(c, c) for c in text)


def link(label: str, url: str) -> str:
    """``[label](url)``, or the bare label when ``url`` is not a plain http(s) URL."""
    return f"[{label}]({url})" if SAFE_URL.fullmatch(url) else label
