"""Health of a commit: combined status, check runs, and the latest deployment per
environment. Listed newest first, as ``CommitHealth.state_of`` expects.

Everything costs 3 requests plus one per environment deployed; a ``HealthWanted`` costs
only what can answer it: the combined status (1) for wanted checks, the check runs (+1)
only when a wanted check is not among the statuses, the wanted environment's deployments
of the sha (1) and the newest one's status (+1).
"""

from __future__ import annotations

import asyncio
from typing import Any

from prbot.scm.github import convert
from prbot.scm.github.repo_api import RepoApi
from prbot.scm.port import (
    CommitHealth,
    HealthSignal,
    HealthState,
    HealthWanted,
    status_description,
)


async def commit_health(api: RepoApi, sha: str, want: HealthWanted | None = None) -> CommitHealth:
    if want is None:
        statuses, checks, deployments = await asyncio.gather(
            _statuses(api, sha), _checks(api, sha), _deployments(api, sha)
        )
        return CommitHealth(sha=sha, signals=(*statuses, *checks, *deployments))
    (statuses, checks), deployments = await asyncio.gather(
        _wanted_checks(api, sha, want.checks), _wanted_deployment(api, sha, want.deployment)
    )
    return CommitHealth(sha=sha, signals=(*statuses, *checks, *deployments))


async def _wanted_checks(
    api: RepoApi, sha: str, names: tuple[str, ...]
) -> tuple[list[HealthSignal], list[HealthSignal]]:
    """Statuses, then check runs only if a wanted name is not a status: a name found
    among statuses is answered by them (``state_of`` prefers statuses, listed first)."""
    if not names:
        return [], []
    statuses = await _statuses(api, sha)
    found = {s.name for s in statuses}
    if all(name in found for name in names):
        return statuses, []
    return statuses, await _checks(api, sha)


async def _wanted_deployment(api: RepoApi, sha: str, environment: str | None) -> list[HealthSignal]:
    if environment is None:
        return []
    return await _deployments(api, sha, environment)


async def _statuses(api: RepoApi, sha: str) -> list[HealthSignal]:
    # the combined status already holds only the latest status per context
    data = await api.get("/commits/{ref}/status", {"ref": sha}, query={"per_page": 100})
    return [
        HealthSignal(
            "status", s["context"], convert.status_state(s.get("state")), s.get("target_url") or ""
        )
        for s in data.get("statuses") or []
    ]


async def _checks(api: RepoApi, sha: str) -> list[HealthSignal]:
    data = await api.get("/commits/{ref}/check-runs", {"ref": sha}, query={"per_page": 100})
    runs = sorted(data.get("check_runs") or [], key=lambda r: r.get("id", 0), reverse=True)
    return [
        HealthSignal(
            "check",
            r["name"],
            convert.check_state(r.get("status"), r.get("conclusion")),
            r.get("html_url") or r.get("details_url") or "",
        )
        for r in runs
    ]


async def _deployments(
    api: RepoApi, sha: str, environment: str | None = None
) -> list[HealthSignal]:
    query = {"sha": sha, "environment": environment, "per_page": 100}  # None: not sent
    listed = await api.get("/deployments", query=query)
    newest: dict[str, dict[str, Any]] = {}
    for d in sorted(listed or [], key=lambda d: d.get("id", 0), reverse=True):
        newest.setdefault(d.get("environment", ""), d)  # older ones can't change the answer
    states = await asyncio.gather(*(_latest_state(api, d["id"]) for d in newest.values()))
    return [
        HealthSignal("deployment", env, convert.deployment_state(state), url)
        for env, (state, url) in zip(newest, states, strict=True)
    ]


async def _latest_state(api: RepoApi, deployment_id: int) -> tuple[str | None, str]:
    data = await api.get(
        "/deployments/{deployment_id}/statuses",
        {"deployment_id": deployment_id},
        query={"per_page": 1},  # GitHub lists newest first
    )
    if not data:
        return None, ""
    latest = data[0]
    return latest.get("state"), latest.get("environment_url") or latest.get("target_url") or ""


async def post_status(
    api: RepoApi,
    sha: str,
    *,
    state: HealthState,
    context: str,
    description: str,
    target_url: str,
) -> None:
    body = {"state": state, "context": context, "description": status_description(description)}
    if target_url:
        body["target_url"] = target_url
    # a repeat only adds a status that supersedes the same one: safe to retry
    await api.call("POST", "/statuses/{sha}", {"sha": sha}, json=body, idempotent=True)
