"""What ``teams_of`` and a ``HealthWanted`` cost on GitLab, against the forge.

Team membership: the user's id once, then one ``members/all`` request per distinct
group (two for a bare name with no subgroup of that name), answers kept a minute, a 403
told as the scope the token lacks. Selective health: the statuses for checks, the
pipeline only when "pipeline" is wanted, deployments only of the wanted environment.
"""

from __future__ import annotations

from typing import Any

import pytest
from gitlab.exceptions import GitlabGetError
from gitlab.v4.objects import GroupMemberAllManager

from prbot.errors import is_permanent
from prbot.scm.port import HealthWanted, ScmError

USERS = "GET /users"
MEMBER = "GET /groups/:id/members/all/:user_id"
PROJECT = "GET /projects/:id"
STATUSES = "GET /projects/:id/repository/commits/:sha/statuses"
PIPELINES = "GET /projects/:id/pipelines"
DEPLOYMENTS = "GET /projects/:id/deployments"


def teams(gl: Any, members: dict[str, dict[str, str]]) -> None:
    """Groups on the forge: path -> {login: "active" | "pending"}."""
    for path, people in members.items():
        gl.forge.create_team(path)
        for login, state in people.items():
            gl.forge.set_team_member(path, login, state=state)


async def test_the_user_once_then_one_request_per_distinct_group(gl: Any):
    teams(gl, {"acme/platform": {"alice": "active"}, "acme/sre": {"alice": "pending"}})
    named = ["platform", "acme/platform", "ACME/Platform", "sre"]
    assert await gl.scm.teams_of(gl.repo, "alice", named) == (
        "platform",
        "acme/platform",
        "ACME/Platform",
    )
    assert gl.scm.counter.counts == {USERS: 1, MEMBER: 2}
    # each group named by its full path: no lookup of its id first
    asked = [e.path for e in gl.server.requests.entries if "/groups/" in e.path]
    assert sorted(p.split("/members/")[0] for p in asked) == [
        "/api/v4/groups/acme/platform",
        "/api/v4/groups/acme/sre",
    ]


async def test_a_bare_name_without_a_subgroup_is_a_top_level_group(gl: Any):
    teams(gl, {"release": {"dave": "active"}, "acme/platform": {}, "platform": {"dave": "active"}})
    assert await gl.scm.teams_of(gl.repo, "dave", ["release"]) == ("release",)
    assert gl.scm.counter.counts == {USERS: 1, MEMBER: 2}  # acme/release: no such group
    # acme/platform exists: "platform" means it, though a top-level group has dave
    assert await gl.scm.teams_of(gl.repo, "dave", ["platform"]) == ()
    assert gl.scm.counter.counts == {USERS: 1, MEMBER: 3}


async def test_members_of_a_parent_group_count(gl: Any):
    teams(gl, {"acme": {"carol": "active"}, "acme/platform": {}})
    assert await gl.scm.teams_of(gl.repo, "carol", ["platform", "acme"]) == ("platform", "acme")


async def test_answers_are_kept_and_unknown_users_cost_one_lookup(gl: Any):
    teams(gl, {"acme/platform": {"alice": "active"}})
    assert await gl.scm.teams_of(gl.repo, "alice", ["platform", "nope"]) == ("platform",)
    before = gl.scm.counter.snapshot()
    assert await gl.scm.teams_of(gl.repo, "alice", ["nope", "platform"]) == ("platform",)
    assert gl.scm.counter.since(before) == {}
    assert await gl.scm.teams_of(gl.repo, "mallory", ["platform"]) == ()
    assert gl.scm.counter.since(before) == {USERS: 1}  # no such user: no group asked
    assert await gl.scm.teams_of(gl.repo, "alice", []) == ()
    assert gl.scm.counter.since(before) == {USERS: 1}


async def test_a_403_names_the_scope_the_token_lacks(gl: Any, monkeypatch: pytest.MonkeyPatch):
    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise GitlabGetError("403 Forbidden", response_code=403)

    monkeypatch.setattr(GroupMemberAllManager, "get", refused)
    with pytest.raises(ScmError) as e:
        await gl.scm.teams_of(gl.repo, "alice", ["platform"])
    assert "read_api" in str(e.value) and "acme/platform" in str(e.value)
    assert is_permanent(e.value)


# -- selective health ------------------------------------------------------------------------


async def reported(gl: Any) -> str:
    """main's head with a status (so a pipeline) and two deployments."""
    sha = gl.git("rev-parse", "main").strip()
    await gl.forge.post_status(gl.repo, sha, "success", creator="ci", context="ci/build")
    for env in ("dev", "prod"):
        d = await gl.forge.create_deployment(
            gl.repo, sha, creator="ci", environment=env, required_contexts=[]
        )
        await gl.forge.post_deployment_status(gl.repo, d.id, "success", creator="ci")
    await gl.scm.default_branch(gl.repo)  # the project's id, looked up once per provider
    return sha


async def test_checks_are_one_request_and_the_pipeline_one_more(gl: Any):
    sha = await reported(gl)
    before = gl.scm.counter.snapshot()
    health = await gl.scm.commit_health(gl.repo, sha, HealthWanted(checks=("ci/build", "ci/x")))
    assert [(s.kind, s.name) for s in health.signals] == [("status", "ci/build")]
    assert gl.scm.counter.since(before) == {STATUSES: 1}  # ci/x cannot come from elsewhere
    before = gl.scm.counter.snapshot()
    health = await gl.scm.commit_health(gl.repo, sha, HealthWanted(checks=("pipeline",)))
    assert health.state_of("pipeline") == "success"
    # a status named "pipeline" would win over the pipeline (as without a want): read both
    assert gl.scm.counter.since(before) == {STATUSES: 1, PIPELINES: 1}


async def test_a_wanted_deployment_is_one_request_filtered_by_environment(gl: Any):
    sha = await reported(gl)
    before = gl.scm.counter.snapshot()
    health = await gl.scm.commit_health(gl.repo, sha, HealthWanted(deployment="prod"))
    assert [(s.kind, s.name, s.state) for s in health.signals] == [
        ("deployment", "prod", "success")
    ]
    # one request, and the environment filtered by GitLab (the sha is filtered here)
    assert gl.scm.counter.since(before) == {DEPLOYMENTS: 1}


async def test_nothing_wanted_costs_nothing_and_none_reads_everything(gl: Any):
    sha = await reported(gl)
    before = gl.scm.counter.snapshot()
    assert (await gl.scm.commit_health(gl.repo, sha, HealthWanted())).signals == ()
    assert gl.scm.counter.since(before) == {}
    health = await gl.scm.commit_health(gl.repo, sha)
    assert {s.name for s in health.signals} == {"ci/build", "pipeline", "dev", "prod"}
    assert gl.scm.counter.since(before) == {STATUSES: 1, PIPELINES: 1, DEPLOYMENTS: 1}
