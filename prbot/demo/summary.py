"""What the demo shows at the end: every step, its PR, its time and its SCM requests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from prbot.demo.story import StepResult

HEADERS = ("#", "step", "who", "PR", "seconds", "SCM requests")


def summary_data(
    platform: str, results: Sequence[StepResult], *, ok: bool, error: str = ""
) -> dict[str, Any]:
    return {
        "platform": platform,
        "ok": ok,
        "error": error,
        "steps": [asdict(r) | {"seconds": round(r.seconds, 2)} for r in results],
        "total": {
            "steps": len(results),
            "seconds": round(sum(r.seconds for r in results), 2),
            "scm_requests": sum(r.scm_requests for r in results),
            "prs": sum(1 for r in results if r.pr_url),
        },
    }


def summary_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2)


def summary_table(data: dict[str, Any]) -> str:
    """A Markdown table (it reads as a table in a terminal too)."""
    rows = [
        (
            str(i),
            s["step"],
            s["actor"],
            s["pr_url"] or "-",
            f"{s['seconds']:.1f}",
            str(s["scm_requests"]),
        )
        for i, s in enumerate(data["steps"], 1)
    ]
    total = data["total"]
    rows.append(
        (
            "",
            "total",
            "",
            f"{total['prs']} PRs",
            f"{total['seconds']:.1f}",
            str(total["scm_requests"]),
        )
    )
    widths = [max(len(r[i]) for r in [HEADERS, *rows]) for i in range(len(HEADERS))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(HEADERS), "| " + " | ".join("-" * w for w in widths) + " |"]
    out += [line(r) for r in rows]
    return "\n".join(out)
