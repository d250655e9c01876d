"""A commit's health on GitLab: commit statuses, its pipeline, deployments of it.

Everything costs 3 requests (statuses, pipelines of the sha, the newest 100
deployments); a ``HealthWanted`` costs only what can answer it, at once: the statuses
(1) for wanted checks (CI jobs report there too), the pipeline (+1) only when
"pipeline" is wanted (its one signal has that name, so no other missing name can come
from it), and the wanted environment's newest deployments (1).
"""

from __future__ import annotations

import asyncio
from typing import Any

from prbot.scm.gitlab import convert
from prbot.scm.gitlab.client import GitLabClient
from prbot.scm.port import (
    CommitHealth,
    HealthSignal,
    HealthState,
    HealthWanted,
    ScmError,
    status_description,
)

# the port's states -> GitLab commit status states
_STATUS_STATE: dict[HealthState, str] = {
    "pending": "pending",
    "success": "success",
    "failure": "failed",
}


async def commit_health(
    client: GitLabClient, repo: str, sha: str, want: HealthWanted | None = None
) -> CommitHealth:
    project = await client.project(repo)
    checks = want is None or bool(want.checks)
    pipeline = want is None or "pipeline" in want.checks
    deployments = want is None or want.deployment is not None
    environment = None if want is None else want.deployment
    # independent reads: in parallel threads
    parts = await asyncio.gather(
        _statuses(client, project, sha) if checks else _nothing(),
        _pipeline(client, project, sha) if pipeline else _nothing(),
        _deployments(client, project, sha, environment) if deployments else _nothing(),
    )
    return CommitHealth(sha, tuple(s for part in parts for s in part))


async def _nothing() -> list[HealthSignal]:
    return []


async def _statuses(client: GitLabClient, project: Any, sha: str) -> list[HealthSignal]:
    statuses = await client.call(
        "list statuses", project.commits.get(sha, lazy=True).statuses.list, get_all=True
    )
    return convert.status_signals(s.attributes for s in statuses)


async def _pipeline(client: GitLabClient, project: Any, sha: str) -> list[HealthSignal]:
    pipelines = await client.call(
        "list pipelines",
        project.pipelines.list,
        sha=sha,
        order_by="id",
        sort="desc",
        per_page=20,
        get_all=False,
    )
    return convert.pipeline_signal(p.attributes for p in pipelines)


async def _deployments(
    client: GitLabClient, project: Any, sha: str, environment: str | None
) -> list[HealthSignal]:
    # GitLab cannot filter deployments by sha: the newest 100 (of the environment) are
    # searched
    filters = {"environment": environment} if environment is not None else {}
    deployments = await client.call(
        "list deployments",
        project.deployments.list,
        order_by="id",
        sort="desc",
        per_page=100,
        get_all=False,
        **filters,
    )
    return convert.deployment_signals((d.attributes for d in deployments), sha)


async def post_status(
    client: GitLabClient,
    repo: str,
    sha: str,
    *,
    state: HealthState,
    context: str,
    description: str,
    target_url: str,
) -> None:
    project = await client.project(repo)
    data = {
        "state": _STATUS_STATE[state],
        "name": context,
        "description": status_description(description),
    }
    if target_url:
        data["target_url"] = target_url
    statuses = project.commits.get(sha, lazy=True).statuses
    try:
        await client.call("post status", statuses.create, data)
    except ScmError as exc:
        # GitLab refuses to "transition" a status into the state it is in already: the
        # status says what we wanted it to say
        if "transition" not in str(exc).lower():
            raise
