"""GitLabScm end to end against the local forge: what is GitLab's own. The port's
behaviours, the same on every platform, are in tests/scm/test_contract.py.

An automation runs through ``run_automation`` to a merge request (GitLab's URLs, reviewers
by user id); a commit's health includes the pipeline GitLab makes of external statuses,
and deployments. Branches are checked with the git CLI on the forge's bare repository.
"""

from __future__ import annotations

from typing import Any

from prbot.engine.run import run_automation


async def test_an_automation_opens_a_merge_request(gl: Any):
    outcome = await run_automation(gl.scm, gl.repo, gl.automation(3), gl.inputs)
    mr = outcome.pull_request
    assert outcome.changed and mr is not None
    assert (mr.head, mr.base, mr.state, mr.author) == (gl.branch, "main", "open", "prbot")
    assert mr.title == "Add billing at 2.0.0"
    assert set(mr.labels) == {"e2e", "svc/billing"}
    assert mr.url.endswith(f"/{gl.repo}/-/merge_requests/{mr.number}")
    # reviewers travel as user ids, looked up by username
    assert gl.forge.pull_request(gl.repo, mr.number).requested_reviewers == ["alice"]
    assert gl.show(gl.branch, "clusters/dev/values.yaml") == gl.values.replace('"1.0.0"', '"2.0.0"')
    assert gl.git("log", "-1", "--format=%B", gl.branch).startswith("Adds billing; dev runs 2.0.0.")
    assert mr.head_sha == gl.git("rev-parse", gl.branch).strip()


async def test_health_reports_statuses_their_pipeline_and_deployments(gl: Any):
    head = gl.git("rev-parse", "main").strip()
    assert (await gl.scm.commit_health(gl.repo, head)).signals == ()
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
