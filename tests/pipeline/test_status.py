"""The status comment: one Markdown table, the same text for the same promotion, nothing
from outside able to break it."""

from __future__ import annotations

from datetime import UTC, datetime

from prbot.pipeline.happenings import (
    Approved,
    Command,
    HealthObserved,
    PrMerged,
    PrOpened,
    RevertOpened,
    StagePrFailed,
    Start,
    Tick,
)
from prbot.pipeline.model import ApprovalRule, WindowRule
from prbot.pipeline.status import render_status, status_marker

from .promotions import Run, failing, ok, pipeline, stage

URL = "https://github.com/acme/gitops/pull/{}"
A, B = "a" * 40, "b" * 40


def test_a_promotion_waiting_at_a_window_in_the_windows_own_time() -> None:
    friday = datetime(2024, 3, 29, 15, 0, tzinfo=UTC).timestamp()  # Good Friday, 16:00 CET
    gates = (
        ApprovalRule(users=("bob",), teams=("platform",)),
        WindowRule(("mon", "tue", "wed", "thu"), "09:00-16:00", "Europe/Berlin"),
    )
    spec = pipeline(stage("dev", deployment="dev", soak=600), stage("prod", gates=gates))
    run = Run(spec, now=friday)
    run(Start())
    run(PrOpened("dev", 12, URL.format(12)), after=5)
    run(PrMerged("dev", 12, A), after=60)
    run(HealthObserved("dev", A, ok("ci")), after=30)
    run(HealthObserved("dev", B, ok("dev", kind="deployment"), descendant=True), after=30)
    run(Tick(), after=600)
    run(HealthObserved("dev", A, ()), after=5)
    run(Approved("prod", "bob"), after=60)
    text = render_status(run.p, promotion_url="https://prbot.example/promotions/p1")
    assert text == (
        "<!-- prbot:promotion p1 -->\n"
        "**Promotion [p1](https://prbot.example/promotions/p1)** of pipeline **myapp** on "
        "acme/gitops: **waiting**\n"
        "\n"
        "Requested by alice with tag=6.7.1.\n"
        "\n"
        "| Stage | State | PR | Health | Gate | Times |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
        "| dev | ✅ succeeded | [#12](https://github.com/acme/gitops/pull/12) | ✅ ci<br>"
        "✅ deployment dev (on bbbbbbb)<br>soaked 10m | — | reached 2024-03-29 15:00 UTC<br>"
        "PR 2024-03-29 15:00 UTC<br>merged 2024-03-29 15:01 UTC<br>healthy 2024-03-29 15:02 UTC"
        "<br>ended 2024-03-29 15:12 UTC |\n"
        "| prod | ⏸️ gates | — | — | approval 1/1 of bob, team platform (by bob)<br>"
        "window mon,tue,wed,thu 09:00-16:00 Europe/Berlin<br>opens Mon 2024-04-01 09:00 CEST | "
        "reached 2024-03-29 15:12 UTC |\n"
    )
    assert render_status(run.p, promotion_url="https://prbot.example/promotions/p1") == text


def test_a_failed_promotion_shows_why_and_links_the_revert() -> None:
    run = Run(pipeline(stage("dev", on_failure="rollback"), stage("prod")))
    run(Start())
    run(PrOpened("dev", 12, URL.format(12)))
    run(PrMerged("dev", 12, A))
    run(HealthObserved("dev", A, failing("ci") + ok("other")))
    text = render_status(run.p)
    assert "**failed**" in text and "Stage dev failed: ci failed on aaaaaaaaaaaa." in text
    assert "| dev | ❌ failed: ci failed on aaaaaaaaaaaa | [#12](" in text
    assert "<br>revert requested |" in text
    assert "| prod | not reached |" in text
    run(RevertOpened("dev", 15, URL.format(15)))
    assert "<br>revert [#15](https://github.com/acme/gitops/pull/15) open |" in render_status(run.p)


def test_a_held_promotion_says_who_held_it() -> None:
    run = Run()
    run(Start())
    run(Command("hold", "bob"))
    assert "⏸️ Held since 2024-03-04 10:00 UTC: held by bob." in render_status(run.p)


def test_outside_text_cannot_break_the_table_or_inject_markup() -> None:
    run = Run(inputs={"tag": "1 | x\n<img src=x> [a](javascript:1) @org/team #1"})
    run(Start())
    run(StagePrFailed("dev", "line one\nline | two " + "y" * 300))
    run(PrOpened("dev", 3, "javascript:alert(1)"))  # ignored anyway: the stage failed
    text = render_status(run.p, promotion_url="javascript:alert(1)")
    lines = text.splitlines()
    assert lines[0] == status_marker("p1")
    assert "**Promotion p1**" in lines[1]  # an unsafe link is left out
    assert "tag=1 \\| x &lt;img src=x&gt; \\[a\\](javascript:1) \\@org/team \\#1" in text
    row = next(line for line in lines if line.startswith("| dev |"))
    assert row.count(" | ") == 5  # six cells, whatever the reason said
    assert "<img" not in text and "\n<" not in text.replace("\n<!-- prbot", "")
    assert "y" * 199 not in text and "…" in row


def test_the_marker_is_hidden_and_names_the_promotion() -> None:
    assert status_marker("p1") == "<!-- prbot:promotion p1 -->"
