"""What the forge announces: one platform-neutral event per state change.

``Forge`` emits these; ``webhooks.py`` turns each into a GitHub or GitLab delivery for the
subscriptions that want it. Keeping the event neutral is what lets one state change reach
both platforms' hooks with their own payload shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# name -> what ``data`` holds (model objects from models.py; see Forge for when each fires)
EVENT_NAMES = (
    "push",  # ref, before, after, commits: list[CommitInfo], created, deleted, forced
    "pull_request",  # action, pr, [label], [before, after], [reviewer], [changes]
    "comment",  # action (created|edited), comment, pr, [changes]
    "status",  # status
    "check_run",  # action (created|completed), check_run
    "check_suite",  # action (completed), suite: dict(id, sha, app_id, status, conclusion, runs)
    "pipeline",  # pipeline
    "deployment",  # deployment
    "deployment_status",  # deployment, status
    "installation",  # action (created|deleted), installation
)


@dataclass(frozen=True)
class ForgeEvent:
    name: str
    repo: str | None  # full name; None for events not about one repository
    actor: str  # login of who caused it
    data: dict[str, Any] = field(default_factory=dict)
