"""A commit's health on GitLab: commit statuses, its pipeline, deployments of it."""

from __future__ import annotations

import asyncio

from prbot.scm.gitlab import convert
from prbot.scm.gitlab.client import GitLabClient
from prbot.scm.port import CommitHealth, HealthState, ScmError, status_description

# the port's states -> GitLab commit status states
_STATUS_STATE: dict[HealthState, str] = {
    "pending": "pending",
    "success": "success",
    "failure": "failed",
}


async def commit_health(client: GitLabClient, repo: str, sha: str) -> CommitHealth:
    project = await client.project(repo)
    # three independent reads: in parallel threads
    statuses, pipelines, deployments = await asyncio.gather(
        client.call(
            "list statuses", project.commits.get(sha, lazy=True).statuses.list, get_all=True
        ),
        client.call(
            "list pipelines",
            project.pipelines.list,
            sha=sha,
            order_by="id",
            sort="desc",
            per_page=20,
            get_all=False,
        ),
        # GitLab cannot filter deployments by sha: the newest 100 are searched
        client.call(
            "list deployments",
            project.deployments.list,
            order_by="id",
            sort="desc",
            per_page=100,
            get_all=False,
        ),
    )
    signals = [
        *convert.status_signals(s.attributes for s in statuses),
        *convert.pipeline_signal(p.attributes for p in pipelines),
        *convert.deployment_signals((d.attributes for d in deployments), sha),
    ]
    return CommitHealth(sha, tuple(signals))


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
