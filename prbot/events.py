"""Internal events: what a webhook delivery means, whatever platform sent it.

The web edge turns GitHub and GitLab payloads into these values (``prbot/web/normalize``);
nothing past the edge knows which platform sent an event except through ``platform``,
which picks the SCM provider. Values are JSON-serialisable via ``to_dict``/``from_dict``
so they can be stored with their delivery and handed to jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache
from typing import Any, ClassVar, Literal

Platform = Literal["github", "gitlab"]


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"
    platform: Platform
    repo: str  # owner/name (GitLab: path_with_namespace); "" for installation events

    def to_dict(self) -> dict[str, Any]:
        """The fields (then ``kind``) as a new dict. Worked out once per event and copied
        after: the intake and the store both ask for it on the webhook hot path. Every
        field is a str, int, bool, None or a tuple of str, so a shallow copy is a copy
        (``dataclasses.asdict``'s deep copy is not needed)."""
        data: dict[str, Any] | None = self.__dict__.get("_as_dict")
        if data is None:
            data = {name: getattr(self, name) for name in _field_names(type(self))}
            data["kind"] = self.kind
            object.__setattr__(self, "_as_dict", data)  # frozen: a cache, not a field
        return dict(data)


@cache
def _field_names(cls: type[Event]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


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
    """A new comment on a pull/merge request (or issue: number is then the issue's); never
    an edit. ``author_is_bot``: the platform says a bot or an app wrote it, so no command
    in it is carried out. ``url`` links the comment (for replies and the PRs it starts)."""

    kind: ClassVar[str] = "comment"
    number: int = 0
    comment_id: int = 0
    author: str = ""
    body: str = ""
    on_pull_request: bool = True
    author_is_bot: bool = False
    url: str = ""


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
    names = _field_names(cls)
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names}
    return cls(**values)
