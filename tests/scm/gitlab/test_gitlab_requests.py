"""What GitLabScm costs in requests, and what it survives: the request budget of the
open-MR path whatever the number of files, retries, lost answers, rate limits, and
tokens kept out of logs and errors.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest

from prbot.automation.changeset import ChangeSet, FileChange
from prbot.engine.run import run_automation
from prbot.forge.git import Change
from prbot.scm.port import PullRequestDraft, RateLimited, ScmError, ScmUnavailable

WRITE_ROUTES = ("POST", "PUT", "DELETE")
# the requests of committing and opening the MR (the rest of a run reads the base)
COMMIT_AND_MR = (
    "GET /projects/:id/repository/branches/:branch",
    "POST /projects/:id/repository/commits",
    "GET /projects/:id/merge_requests",
    "POST /projects/:id/merge_requests",
    "PUT /projects/:id/merge_requests/:iid",
)
USER_LOOKUPS = "GET /users"  # reviewer usernames -> ids, once per provider


def split(counts: dict[str, int]) -> dict[str, int]:
    reads = sum(n for k, n in counts.items() if k.startswith("GET") and k != USER_LOOKUPS)
    writes = sum(n for k, n in counts.items() if k.startswith(WRITE_ROUTES))
    return {
        "reads": reads,
        "writes": writes,
        "commit+mr": sum(counts.get(k, 0) for k in COMMIT_AND_MR),
        "user lookups": counts.get(USER_LOOKUPS, 0),
    }


@pytest.mark.parametrize("n_files", [1, 10, 100])
async def test_open_mr_requests_constant_in_files(gl: Any, n_files: int):
    auto = gl.automation(n_files)
    gl.server.requests.reset()
    first = await run_automation(gl.scm, gl.repo, auto, gl.inputs)
    assert first.changed and len(first.render.changes) == n_files + 2
    counts = gl.scm.counter.counts
    # the forge saw exactly what the provider counted
    assert (
        gl.server.requests.count(prefix="GET /api/v4")
        + gl.server.requests.count(prefix="POST /api/v4")
        + gl.server.requests.count(prefix="PUT /api/v4")
        == gl.scm.counter.total
    )
    assert counts == {
        "GET /projects/:id": 1,
        "GET /projects/:id/repository/commits/:sha": 1,
        "GET /projects/:id/repository/archive.tar.gz": 1,
        "GET /projects/:id/repository/branches/:branch": 1,
        "POST /projects/:id/repository/commits": 1,
        "GET /users": 1,  # the reviewer
        "POST /projects/:id/merge_requests": 1,
    }
    first_split = split(counts)
    assert first_split["commit+mr"] <= 3 and first_split["writes"] == 2

    # a re-run with a fresh provider (a new worker): reads only
    rerun_scm = gl.new_scm()
    try:
        again = await run_automation(rerun_scm, gl.repo, auto, gl.inputs)
        assert not again.changed
        rerun_counts = rerun_scm.counter.counts
    finally:
        await rerun_scm.aclose()
    assert split(rerun_counts)["writes"] == 0
    assert rerun_counts == {
        "GET /projects/:id": 1,
        "GET /projects/:id/repository/commits/:sha": 1,
        "GET /projects/:id/repository/archive.tar.gz": 1,
        "GET /projects/:id/repository/branches/:branch": 1,
        "GET /projects/:id/merge_requests": 1,
    }
    # the same provider again: the project is cached
    gl.scm.counter.reset()
    await run_automation(gl.scm, gl.repo, auto, gl.inputs)
    warm = split(gl.scm.counter.counts)
    print(
        f"\nopen MR, {n_files:>3} files: first run {first_split}; "
        f"re-run (fresh provider) {split(rerun_counts)}; re-run (warm) {warm}"
    )
    # project and archive (same base commit) are cached: resolve ref, branch, MR lookup
    assert warm == {"reads": 3, "writes": 0, "commit+mr": 2, "user lookups": 0}


# -- resilience ------------------------------------------------------------------------------


async def test_lost_answer_to_mr_create_opens_one_mr(gl: Any):
    # the MR is created, then the connection drops before the answer
    gl.server.faults.configure(drop_next=1, drop_mode="after", match=r"^POST .*/merge_requests$")
    outcome = await run_automation(gl.scm, gl.repo, gl.automation(2), gl.inputs)
    assert outcome.pull_request is not None
    assert len(gl.open_mrs(gl.branch)) == 1
    assert gl.scm.counter.counts["POST /projects/:id/merge_requests"] == 1  # not retried blind
    assert gl.scm.counter.counts["GET /projects/:id/merge_requests"] == 1  # looked up instead


async def test_lost_answer_to_commit_makes_one_commit(gl: Any):
    gl.server.faults.configure(drop_next=1, drop_mode="after", match=r"^POST .*/commits$")
    outcome = await run_automation(gl.scm, gl.repo, gl.automation(2), gl.inputs)
    assert outcome.changed
    main = gl.git("rev-parse", "main").strip()
    assert gl.git("rev-list", "--count", f"{main}..{gl.branch}").strip() == "1"
    assert gl.scm.counter.counts["POST /projects/:id/repository/commits"] == 1


async def test_mr_create_conflict_updates_the_existing_one(gl: Any):
    """A 409 'another open MR exists' (e.g. it outlived its branch) -> update that one."""
    base = await gl.scm.snapshot(gl.repo, "main")
    change = ChangeSet((FileChange("create", "x.txt", b"x\n"),))
    await gl.scm.commit_changes(
        gl.repo, base_sha=base.sha, branch="feat", changes=change, message="x"
    )
    await gl.forge.open_pull_request(gl.repo, head="feat", title="old", author="alice")
    # the provider created the branch, so it posts straight away and meets the 409
    mr = await gl.scm.open_pull_request(gl.repo, PullRequestDraft("feat", "main", "new", "body"))
    assert mr.title == "new" and mr.body == "body"
    assert len(gl.open_mrs("feat")) == 1
    counts = gl.scm.counter.counts
    assert counts["POST /projects/:id/merge_requests"] == 1
    assert counts["PUT /projects/:id/merge_requests/:iid"] == 1


async def test_dropped_get_is_retried(gl: Any):
    gl.server.faults.configure(drop_next=1, drop_mode="before", match=r"^GET .*/projects/\{id\}$")
    assert await gl.scm.default_branch(gl.repo) == "main"
    assert gl.scm.counter.counts["GET /projects/:id"] == 2


async def test_server_errors_outlast_retries(gl: Any):
    gl.server.faults.configure(error_rate=1.0, error_statuses=[503], match=r"/projects/\{id\}$")
    with pytest.raises(ScmUnavailable) as caught:
        await gl.scm.default_branch(gl.repo)
    assert "503" in str(caught.value)
    assert gl.scm.counter.counts["GET /projects/:id"] == 4  # 1 + 3 retries, then give up


async def test_rate_limit_short_wait_is_honoured(gl: Any):
    gl.server.faults.configure(rate_limit_next=1, rate_limit_reset_in=1)
    assert await gl.scm.default_branch(gl.repo) == "main"
    assert gl.scm.counter.counts["GET /projects/:id"] == 2


async def test_rate_limit_long_wait_raises(gl: Any):
    gl.server.faults.configure(rate_limit_next=1, rate_limit_reset_in=3600)
    with pytest.raises(RateLimited) as caught:
        await gl.scm.default_branch(gl.repo)
    assert caught.value.reset_in == pytest.approx(3600, abs=5)
    assert gl.scm.counter.total == 1


async def test_post_not_retried_on_server_error(gl: Any):
    """A 5xx to a note create is ambiguous: the provider lists notes before posting again."""
    mr = (await run_automation(gl.scm, gl.repo, gl.automation(1), gl.inputs)).pull_request
    gl.server.faults.configure(drop_next=1, drop_mode="after", match=r"^POST .*/notes$")
    note = await gl.scm.upsert_comment(gl.repo, mr.number, "m", "hello")
    assert len(gl.forge.comments(gl.repo, mr.number)) == 1
    assert gl.forge.comments(gl.repo, mr.number)[0].id == note.id


async def test_close_mr_requests(gl: Any):
    """Open: GET the MR, POST the note, PUT state_event=close; closed already: the GET."""
    mr = (await run_automation(gl.scm, gl.repo, gl.automation(1), gl.inputs)).pull_request
    gl.scm.counter.reset()
    closed = await gl.scm.close_pull_request(gl.repo, mr.number, comment="Superseded")
    assert closed.state == "closed"
    assert gl.scm.counter.counts == {
        "GET /projects/:id/merge_requests/:iid": 1,
        "POST /projects/:id/merge_requests/:iid/notes": 1,
        "PUT /projects/:id/merge_requests/:iid": 1,
    }
    gl.scm.counter.reset()
    again = await gl.scm.close_pull_request(gl.repo, mr.number, comment="Superseded")
    assert again.state == "closed"
    assert gl.scm.counter.counts == {"GET /projects/:id/merge_requests/:iid": 1}
    assert len(gl.forge.comments(gl.repo, mr.number)) == 1


async def test_is_ancestor_is_one_merge_base_request(gl: Any):
    base = gl.git("rev-parse", "main").strip()
    await gl.scm.default_branch(gl.repo)  # the project id, cached
    edit = {"README.md": Change(content=b"# later\n")}
    later = await gl.forge.commit_changes(
        gl.repo, "main", "Hand edit", edit, actor="acme", start_branch="main"
    )
    gl.scm.counter.reset()
    assert await gl.scm.is_ancestor(gl.repo, base, later)
    assert not await gl.scm.is_ancestor(gl.repo, later, base)
    assert gl.scm.counter.counts == {"GET /projects/:id/repository/merge_base": 2}


# -- secrets ---------------------------------------------------------------------------------


async def test_token_never_logged_nor_in_errors(gl: Any, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    await run_automation(gl.scm, gl.repo, gl.automation(2), gl.inputs)
    errors: list[BaseException] = []
    with pytest.raises(ScmError) as denied:
        bad = gl.new_scm(token="glpat-wrong-" + gl.token)
        try:
            await bad.default_branch(gl.repo)
        finally:
            await bad.aclose()
    errors.append(denied.value)
    with pytest.raises(ScmError) as missing:
        await gl.scm.get_pull_request(gl.repo, 999)
    errors.append(missing.value)
    gl.server.faults.configure(drop_next=5, drop_mode="before", match=r"^GET ")
    with pytest.raises(ScmUnavailable) as dropped:
        await gl.scm.snapshot(gl.repo, "main")
    errors.append(dropped.value)

    assert any(r.name.startswith("prbot.scm.gitlab") for r in caplog.records)
    for record in caplog.records:
        assert gl.token not in record.getMessage()
    assert gl.token not in caplog.text
    for exc in errors:
        text = "".join(traceback.format_exception(exc))
        assert gl.token not in text and gl.token not in repr(exc)
    assert "401" in str(denied.value)
    assert gl.token not in repr(gl.scm)


# -- large repositories: tree listing, folder archives ---------------------------------------


async def test_archive_over_limit_falls_back_to_tree_listing(gl: Any):
    import os

    from prbot.scm.gitlab.archive import ArchiveLimits

    # incompressible contents, so the whole archive is far above the limit
    files = {f"apps/a{i:03}.bin": os.urandom(300) for i in range(150)}
    files["clusters/dev/values.yaml"] = "a: 1\n"
    files["clusters/dev/extra.yaml"] = "b: 2\n"
    await gl.forge.create_repo("acme/big", files=files)
    gl.forge.set_permission("acme/big", "prbot", "write")
    scm = gl.new_scm(archive_limits=ArchiveLimits(max_download=16 * 1024))
    try:
        snap = await scm.snapshot("acme/big", "main")
        assert len(snap.entries) == 152 and not snap.contents
        assert snap.entries["apps/a007.bin"].mode == "100644"
        counts = scm.counter.counts
        assert counts["GET /projects/:id/repository/archive.tar.gz"] == 1  # refused, mid-way
        assert counts["GET /projects/:id/repository/tree"] == 2  # 154 entries, 100 a page
        # reads of one folder: one archive of just that folder
        got = await scm.read_files(
            "acme/big",
            snap.sha,
            ["clusters/dev/values.yaml", "clusters/dev/extra.yaml", "clusters/dev/gone.yaml"],
        )
        assert got == {"clusters/dev/values.yaml": b"a: 1\n", "clusters/dev/extra.yaml": b"b: 2\n"}
        assert scm.counter.counts["GET /projects/:id/repository/archive.tar.gz"] == 2
        # the next snapshot goes straight to the tree: the archive is known to be too large
        again = await scm.snapshot("acme/big", "main")
        assert again.entries == snap.entries
        assert scm.counter.counts["GET /projects/:id/repository/archive.tar.gz"] == 2
        # reads spread over the root need the whole archive: refused clearly
        with pytest.raises(ScmError, match="size limits"):
            await scm.read_files("acme/big", snap.sha, ["apps/a000.bin", "clusters/dev/extra.yaml"])
    finally:
        await scm.aclose()


async def test_read_files_without_a_snapshot(gl: Any):
    scm = gl.new_scm()
    try:
        sha = gl.git("rev-parse", "main").strip()
        got = await scm.read_files(gl.repo, sha, ["clusters/dev/values.yaml"])
        assert got == {"clusters/dev/values.yaml": gl.values.encode()}
        assert await scm.read_files(gl.repo, sha, []) == {}
        both = await scm.read_files(gl.repo, sha, ["README.md", "scripts/deploy.sh"])
        assert both["scripts/deploy.sh"].startswith(b"#!/bin/sh")
        # the folder read, then one whole-archive read (cached for later reads)
        assert scm.counter.counts == {
            "GET /projects/:id": 1,
            "GET /projects/:id/repository/archive.tar.gz": 2,
        }
        await scm.read_files(gl.repo, sha, ["legacy/old.yaml"])
        assert scm.counter.total == 3
    finally:
        await scm.aclose()


async def test_update_adds_missing_labels_and_reviewers_keeps_people_s(gl: Any):
    outcome = await run_automation(gl.scm, gl.repo, gl.automation(1), gl.inputs)
    mr = outcome.pull_request
    await gl.forge.remove_label(gl.repo, mr.number, "e2e", actor="alice")
    await gl.forge.add_labels(gl.repo, mr.number, ["needs-review"], actor="alice")
    record = gl.forge.pull_request(gl.repo, mr.number)
    record.requested_reviewers.clear()
    await gl.forge.request_reviewers(gl.repo, mr.number, ["bob"], actor="alice")
    gl.scm.counter.reset()
    draft = PullRequestDraft(
        mr.head, "main", mr.title, mr.body, labels=("e2e", "svc/billing"), reviewers=("alice",)
    )
    again = await gl.scm.open_pull_request(gl.repo, draft)
    assert again.number == mr.number
    assert set(again.labels) == {"e2e", "svc/billing", "needs-review"}
    assert set(gl.forge.pull_request(gl.repo, mr.number).requested_reviewers) == {"alice", "bob"}
    assert gl.scm.counter.counts == {
        "GET /projects/:id/merge_requests": 1,
        "PUT /projects/:id/merge_requests/:iid": 1,
    }  # alice's id is cached from the first run
