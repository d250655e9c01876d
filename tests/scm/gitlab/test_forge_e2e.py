"""GitLabScm end to end against the local forge: real HTTP on loopback, real git.

An automation runs through ``run_automation`` to a merge request; the branch is checked
with the git CLI on the forge's bare repository, not through the API under test. Then
the rest of the port: health, notes, emoji, permission, merge and revert.
"""

from __future__ import annotations

from typing import Any

import pytest

from prbot.engine.run import run_automation


async def test_run_rerun_health_notes_permission_merge_revert(gl: Any):
    auto = gl.automation(3)

    # -- first run: one commit on the base, one MR -----------------------------------------
    outcome = await run_automation(gl.scm, gl.repo, auto, gl.inputs)
    mr = outcome.pull_request
    assert outcome.changed and mr is not None
    assert (mr.head, mr.base, mr.state) == (gl.branch, "main", "open")
    assert mr.title == "Add billing at 2.0.0"
    assert set(mr.labels) == {"e2e", "svc/billing"}
    assert mr.author == "prbot"
    assert mr.url.endswith(f"/{gl.repo}/-/merge_requests/{mr.number}")
    assert len(gl.open_mrs(gl.branch)) == 1
    assert gl.forge.pull_request(gl.repo, mr.number).requested_reviewers == ["alice"]

    files = gl.ls_tree(gl.branch)
    assert "legacy/old.yaml" not in files
    assert (
        gl.show(gl.branch, "services/billing/f002.yaml") == "service: billing\nn: 2\ntag: 2.0.0\n"
    )
    assert gl.show(gl.branch, "clusters/dev/values.yaml") == gl.values.replace('"1.0.0"', '"2.0.0"')
    assert files["scripts/deploy.sh"] == "100755"  # untouched files keep their mode
    main_sha = gl.git("rev-parse", "main").strip()
    assert gl.git("rev-list", "--parents", "-n", "1", gl.branch).split()[1:] == [main_sha]
    message = gl.git("log", "-1", "--format=%B", gl.branch)
    assert message.startswith("Adds billing; dev runs 2.0.0.")
    assert "Prbot-Change-Id: " in message
    head = gl.git("rev-parse", gl.branch).strip()
    assert mr.head_sha == head

    # -- a re-run, even from a fresh provider: same MR, no commit, no second MR ------------
    fresh = gl.new_scm()
    try:
        again = await run_automation(fresh, gl.repo, auto, gl.inputs)
    finally:
        await fresh.aclose()
    assert not again.changed
    assert again.pull_request is not None and again.pull_request.number == mr.number
    assert gl.git("rev-parse", gl.branch).strip() == head
    assert len(gl.open_mrs(gl.branch)) == 1

    # -- a changed input re-renders onto the same branch and MR (force onto the base) -----
    bumped = await run_automation(gl.scm, gl.repo, auto, {**gl.inputs, "tag": "2.1.0"})
    assert bumped.changed and bumped.pull_request.number == mr.number
    assert bumped.pull_request.title == "Add billing at 2.1.0"
    assert gl.git("rev-list", "--parents", "-n", "1", gl.branch).split()[1:] == [main_sha]
    assert "tag: 2.1.0" in gl.show(gl.branch, "services/billing/f000.yaml")
    head = gl.git("rev-parse", gl.branch).strip()

    # -- health: commit statuses, the pipeline they make, a deployment ----------------------
    health = await gl.scm.commit_health(gl.repo, head)
    assert health.signals == ()
    await gl.forge.post_status(gl.repo, head, "pending", creator="prbot", context="ci/build")
    await gl.forge.post_status(gl.repo, head, "success", creator="prbot", context="ci/build")
    await gl.forge.post_status(gl.repo, head, "failure", creator="prbot", context="ci/lint")
    deployment = await gl.forge.create_deployment(
        gl.repo, head, creator="prbot", environment="dev", required_contexts=[]
    )
    await gl.forge.post_deployment_status(gl.repo, deployment.id, "success", creator="prbot")
    health = await gl.scm.commit_health(gl.repo, head)
    assert health.state_of("ci/build") == "success"  # the latest status per name
    assert health.state_of("ci/lint") == "failure"
    assert health.state_of("pipeline") == "failure"  # GitLab's pipeline of those statuses
    assert health.state_of("dev") == "success"
    kinds = {s.name: s.kind for s in health.signals}
    assert kinds == {
        "ci/build": "status",
        "ci/lint": "status",
        "pipeline": "pipeline",
        "dev": "deployment",
    }

    # -- a note edited in place, an award emoji (twice is fine) ----------------------------
    note = await gl.scm.upsert_comment(gl.repo, mr.number, "plan", "Plan: 3 files")
    edited = await gl.scm.upsert_comment(gl.repo, mr.number, "plan", "Plan: 4 files")
    assert edited.id == note.id and edited.body.startswith("Plan: 4 files")
    other = await gl.scm.upsert_comment(gl.repo, mr.number, "other", "Another")
    assert other.id != note.id
    assert len(gl.forge.comments(gl.repo, mr.number)) == 2
    # someone else quoting the marker does not capture prbot's note
    await gl.forge.add_comment(gl.repo, mr.number, "<!-- prbot:plan --> ha", author="alice")
    assert (await gl.scm.upsert_comment(gl.repo, mr.number, "plan", "Plan: 5")).id == note.id
    await gl.scm.add_reaction(gl.repo, mr.number, note.id, "rocket")
    await gl.scm.add_reaction(gl.repo, mr.number, note.id, "rocket")
    await gl.scm.add_reaction(gl.repo, mr.number, note.id, "+1")
    reactions = gl.forge.comment(gl.repo, note.id).reactions
    assert sorted(r.content for r in reactions) == ["+1", "rocket"]

    # -- permission from the member's access level -----------------------------------------
    assert await gl.scm.permission(gl.repo, "alice") == "maintain"
    assert await gl.scm.permission(gl.repo, "bob") == "read"
    assert await gl.scm.permission(gl.repo, "prbot") == "write"
    assert await gl.scm.permission(gl.repo, "acme") == "admin"
    assert await gl.scm.permission(gl.repo, "nobody-here") == "none"

    # -- merge: a real merge commit with two parents ---------------------------------------
    result = await gl.scm.merge(gl.repo, mr.number)
    assert result.merged and result.sha
    assert gl.git("rev-parse", "main").strip() == result.sha
    assert gl.git("rev-list", "--parents", "-n", "1", "main").split()[1:] == [main_sha, head]
    merged = await gl.scm.get_pull_request(gl.repo, mr.number)
    assert merged.state == "merged" and merged.merge_commit_sha == result.sha
    assert await gl.scm.find_pull_request(gl.repo, gl.branch) is None
    # merging again: it is merged, as asked
    assert (await gl.scm.merge(gl.repo, mr.number)).merged

    # -- revert: a new MR restoring the files ----------------------------------------------
    revert = await gl.scm.revert(
        gl.repo, mr.number, branch="prbot/revert/billing", title="Revert billing", body="Undo"
    )
    assert revert.number != mr.number and revert.state == "open"
    assert (revert.head, revert.base) == ("prbot/revert/billing", "main")
    reverted = gl.ls_tree("prbot/revert/billing")
    assert "legacy/old.yaml" in reverted
    assert not any(p.startswith("services/") for p in reverted)
    assert gl.show("prbot/revert/billing", "clusters/dev/values.yaml") == gl.values
    # asking again finds the same revert and MR
    again_revert = await gl.scm.revert(
        gl.repo, mr.number, branch="prbot/revert/billing", title="Revert billing", body="Undo"
    )
    assert again_revert.number == revert.number
    assert len(gl.open_mrs("prbot/revert/billing")) == 1


async def test_merge_refused_is_not_merged(gl: Any):
    outcome = await run_automation(gl.scm, gl.repo, gl.automation(1), gl.inputs)
    mr = outcome.pull_request
    await gl.forge.update_pull_request(gl.repo, mr.number, actor="alice", state="closed")
    result = await gl.scm.merge(gl.repo, mr.number)
    assert not result.merged and result.sha is None
    assert "405" in result.message


async def test_permission_of_unknown_repo_is_not_found(gl: Any):
    from prbot.scm.port import NotFound

    with pytest.raises(NotFound):
        await gl.scm.default_branch("acme/missing")
