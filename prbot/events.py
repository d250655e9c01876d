"""Internal events: what a webhook delivery means, whatever platform sent it.

The web edge turns GitHub and GitLab payloads into these values (``prbot/web/normalize``);
nothing past the edge knows which platform sent an event except through ``platform``,
which picks the SCM provider. Values are JSON-serialisable via ``to_dict``/``from_dict``
so they can be stored with their delivery and handed to jobs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Literal

Platform = Literal["github", "gitlab"]


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"
    platform: Platform
    repo: str  # owner/name (GitLab: path_with_namespace); "" for installation events

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind
        return data


@dataclass(frozen=True)
class PullRequestEvent(Event):
    """A pull/merge request was opened, updated (new head sha), closed or merged."""

    kind: ClassVar[str] = "pull_request"
    action: Literal["opened", "synchronize", "closed", "merged", "reopened"] = "opened"
    number: int = 0
    head: str = ""
    base: str = ""
    head_sha: str = ""
    merge_commit_sha: str | None = None
    labels: tuple[str, ...] = ()
    author: str = ""
    title: str = ""


@dataclass(frozen=True)
class CommentCreated(Event):
    """A comment on a pull/merge request (or issue: number is then the issue's)."""

    kind: ClassVar[str] = "comment"
    number: int = 0
    comment_id: int = 0
    author: str = ""
    body: str = ""
    on_pull_request: bool = True


@dataclass(frozen=True)
class HealthReported(Event):
    """A commit status, check run, deployment status or pipeline reported on a sha."""

    kind: ClassVar[str] = "health"
    sha: str = ""
    context: str = ""  # status context, check name, deployment environment, "pipeline"
    state: Literal["pending", "success", "failure"] = "pending"
    source: Literal["status", "check", "deployment", "pipeline"] = "status"
    url: str = ""


@dataclass(frozen=True)
class PushToDefault(Event):
    """Commits landed on the repository's default branch (definitions may have changed)."""

    kind: ClassVar[str] = "push"
    branch: str = ""
    before: str = ""
    after: str = ""
    paths: tuple[str, ...] = ()  # files added/modified/removed, where the payload lists them


@dataclass(frozen=True)
class InstallationChanged(Event):
    """The App was installed/uninstalled, or repositories were added to/removed from it."""

    kind: ClassVar[str] = "installation"
    action: Literal["added", "removed"] = "added"
    installation_id: int = 0
    repos: tuple[str, ...] = ()


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        PullRequestEvent,
        CommentCreated,
        HealthReported,
        PushToDefault,
        InstallationChanged,
    )
}


def event_from_dict(data: dict[str, Any]) -> Event:
    cls = EVENT_TYPES[data["kind"]]
    names = {f.name for f in fields(cls)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names}
    return cls(**values)
