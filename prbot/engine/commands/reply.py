"""The one reply to a comment's commands: what became of each, as Markdown.

A reply is made of prbot's own words, names prbot checked (verbs, input names, automation,
pipeline and stage names that look like names), numbers and links the platform gave. What
else the commenter typed is never quoted: a password would be published again, and an
``@team`` or ``@all`` in it would have prbot notify people. Text that may hold someone's
words (a problem the parser found, a message from a check) goes through ``literal``: one
line, Markdown and HTML made literal, mentions defused.

A run's line follows the run: queued until its PR opens, then the PR's link (the
``command.reply`` job edits the reply as the run moves; see ``prbot.engine.commands``).
A promotion's line links its stage PRs as they open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from prbot.errors import did_you_mean
from prbot.pipeline.codec import from_data
from prbot.pipeline.status import link
from prbot.store.base import PromotionRow, Run

MAX_TEXT = 300  # one outcome's words, at most
MAX_ERROR = 200  # a failed run's error, at most
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_GOT = re.compile(r", got ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S+)")
_SPECIAL = re.compile(r"([\\`*_\[\]|#~!])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
RUN_SETTLED = ("pr_open", "no_change", "merged", "closed", "failed")
ICONS = {True: "✅", False: "❌"}


@dataclass(frozen=True)
class Outcome:
    """What one command came to. ``text`` is Markdown made by prbot (see the module)."""

    verb: str  # the registry's name ("" for a line that could not be read)
    ok: bool
    text: str
    run_id: int | None = None  # a run it started: its line follows the run
    promotion_id: int | None = None  # a promotion it started: its line links the PRs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outcome:
        return cls(**{k: data[k] for k in ("verb", "ok", "text", "run_id", "promotion_id")})


def reply_marker(comment_id: int) -> str:
    """The hidden marker of the reply to comment ``comment_id``: one reply per comment."""
    return f"command:{comment_id}"


def literal(text: object, limit: int = MAX_TEXT) -> str:
    """``text`` on one line, cut to ``limit``, shown as it is: Markdown and HTML made
    literal (no hidden marker, no link), and no ``@`` that mentions anyone."""
    line = " ".join(str(text).split())
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    line = _SPECIAL.sub(r"\\\1", line)
    line = "".join(_ENTITIES.get(c, c) for c in line)
    return line.replace("@", "@\u200b")  # a zero-width space: no mention


def unechoed(message: str) -> str:
    """A check's message without the value it quotes (``must be one of a, b, got 'x'``)."""
    return _GOT.sub("", message)


def name(text: str) -> str:
    """A name the commenter typed, in code, when it looks like a name; else a stand-in."""
    return f"`{text}`" if SAFE_NAME.fullmatch(text) else "(that name)"


def hint(text: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a name that looks like one (nothing else is quoted)."""
    return did_you_mean(text, known) if SAFE_NAME.fullmatch(text) else ""


def render_reply(
    author: str,
    outcomes: list[Outcome],
    runs: Mapping[int, Run],
    promotions: Mapping[int, PromotionRow],
) -> str:
    lines = [f"**prbot** · commands of @{author}", ""]
    for o in outcomes:
        text = o.text
        if o.run_id is not None and o.run_id in runs:
            text = run_line(runs[o.run_id])
        elif o.promotion_id is not None and o.promotion_id in promotions:
            text = f"{o.text}{promotion_prs(promotions[o.promotion_id])}"
        verb = f"`{o.verb}`: " if o.verb else ""  # a line whose verb is unknown: none
        lines.append(f"- {ICONS[o.ok]} {verb}{text}")
    return "\n".join(lines)


def run_line(run: Run) -> str:
    what = f"run {run.id} of `{run.automation}`"
    if run.status in ("pr_open", "merged", "closed") and run.pr_number:
        state = "" if run.status == "pr_open" else f" ({run.status})"
        return f"{what} opened {link(f'#{run.pr_number}', run.pr_url)}{state}"
    if run.status == "no_change":
        return f"{what}: nothing to change, `{run.repo}` has it already"
    if run.status == "failed":
        return f"{what} failed: {literal(run.error, MAX_ERROR)}"
    return f"{what} is {run.status}; its PR is linked here once it opens"


def promotion_prs(row: PromotionRow) -> str:
    """``; now running, PRs: dev #4`` — the promotion as it stands."""
    if not row.data:
        return ""
    p = from_data(row.data)
    prs = [f"{s.name} {link(f'#{s.pr.number}', s.pr.url)}" for s in p.stages if s.pr is not None]
    return f"; now {p.status}" + (f", PRs: {', '.join(prs)}" if prs else "")


def settled(outcomes: list[Outcome], runs: Mapping[int, Run], rows: Mapping[int, Any]) -> bool:
    """Whether the reply says all it will: every run it started has its PR (or ended)
    and every promotion it started has its first PR (or ended)."""
    for o in outcomes:
        if o.run_id is not None:
            run = runs.get(o.run_id)
            if run is not None and run.status not in RUN_SETTLED:
                return False
        if o.promotion_id is not None:
            row = rows.get(o.promotion_id)
            if row is not None and row.data:
                p = from_data(row.data)
                if not p.finished and not any(s.pr for s in p.stages):
                    return False
    return True
