"""What CI and deployments said about one commit: the latest commit status per context,
the latest check run per name, each deployment with its latest status, and pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field

from prbot.forge.models import CheckRun, Deployment, DeploymentStatus, Pipeline, Status
from prbot.forge.state import Forge


@dataclass
class DeploymentView:
    deployment: Deployment
    latest: DeploymentStatus | None


@dataclass
class Health:
    sha: str
    combined: str  # GitHub's combined status: success | failure | pending
    statuses: list[Status] = field(default_factory=list)
    checks: list[CheckRun] = field(default_factory=list)
    deployments: list[DeploymentView] = field(default_factory=list)
    pipelines: list[Pipeline] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.statuses or self.checks or self.deployments or self.pipelines)


def health_of(forge: Forge, repo: str, sha: str) -> Health:
    combined, statuses = forge.combined_status(repo, sha)
    latest_checks: dict[str, CheckRun] = {}
    for run in forge.check_runs(repo, sha):  # newest first: the first per name wins
        latest_checks.setdefault(run.name, run)
    deployments = [
        DeploymentView(d, next(iter(forge.deployment_statuses(repo, d.id)), None))
        for d in forge.deployments(repo, sha=sha)
    ]
    return Health(
        sha=sha,
        combined=combined,
        statuses=statuses,
        checks=sorted(latest_checks.values(), key=lambda c: c.id),
        deployments=deployments,
        pipelines=forge.pipelines(repo, sha=sha),
    )
