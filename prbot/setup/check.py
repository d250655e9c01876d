"""``prbot check``'s judgement, pure: observations of each platform in (gathered by
``observe_github`` / ``observe_gitlab``), rows out, each a check, its result and, when it
fails, the fix. This module holds the row and the table; ``github_checks`` and
``gitlab_checks`` the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Result = Literal["ok", "FAIL", "skip"]
WEBHOOK_PATHS = {"github": "/webhooks/github", "gitlab": "/webhooks/gitlab"}


@dataclass(frozen=True)
class Row:
    platform: str
    check: str
    result: Result
    detail: str = ""
    fix: str = ""


def row(platform: str, check: str, ok: bool, detail: str, fix: str = "") -> Row:
    """An ``ok`` row, or a ``FAIL`` row with its fix."""
    return Row(platform, check, "ok" if ok else "FAIL", detail, "" if ok else fix)


def secret_row(platform: str, is_set: bool, variable: str, where: str) -> Row:
    return row(
        platform,
        "webhook secret",
        is_set,
        "set" if is_set else "not set",
        f"set {variable} to the webhook secret {where}",
    )


def passed(rows: Sequence[Row]) -> bool:
    return all(r.result != "FAIL" for r in rows)


def table(rows: Sequence[Row]) -> str:
    """Rows as aligned text: platform, check, result, detail; the fix under a failure."""
    head = ("PLATFORM", "CHECK", "RESULT", "DETAIL")
    cells = [head, *((r.platform, r.check, r.result, r.detail) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(3)]
    lines = []
    for i, c in enumerate(cells):
        lines.append(
            "  ".join(v.ljust(w) for v, w in zip(c[:3], widths, strict=True)) + "  " + c[3]
        )
        if i and rows[i - 1].fix:
            lines.append(" " * (sum(widths) + 6) + f"fix: {rows[i - 1].fix}")
    return "\n".join(line.rstrip() for line in lines) + "\n"
