"""GitHub and GitLab webhook payloads -> internal events. Pure: no I/O, no clock.

Each function returns the events a delivery means, or ``[]`` for a delivery prbot does not
act on (acknowledged and ignored). Payloads are read defensively: a field missing from
an older payload shape yields an empty value, never an exception.

Decisions:
- Check runs and check suites count only when ``completed``. Conclusions map the way
  GitHub's branch protection reads them: success, neutral and skipped pass; failure,
  timed_out, cancelled, action_required and startup_failure fail; stale (GitHub gave up
  waiting) and anything unknown are pending.
- Deployment statuses: success passes, failure/error fail, queued/pending/in_progress
  are pending; ``inactive`` (a later deployment superseded this one) is ignored, since
  it says nothing about the health of the sha.
- Pushes count only on the default branch: not tags, not other branches, not deletions.
  ``paths`` is empty when the payload does not list every commit (GitLab lists 20,
  GitHub 2048): consumers must read empty paths as "unknown", not as "nothing".
- GitLab merge request ``update`` is a synchronize only when it carries ``oldrev`` (new
  commits); other updates (title, labels, approvals) are ignored. The MR author is only
  known on ``open`` (the acting user is the author then).
- GitLab deployments carry a short sha; the full one is taken from ``commit_url``.
- Comments are new ones only: GitHub ``created``; a GitLab note whose action is
  ``create`` (or, in older payloads without one, not updated since it was created), not
  a system note. Who wrote it is a bot by the platform's word (GitHub ``type: Bot`` or
  ``performed_via_github_app``; GitLab ``user.bot``, or the usernames GitLab gives token
  bots and service accounts).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from prbot.events import (
    CommentCreated,
    Event,
    HealthReported,
    InstallationChanged,
    PullRequestEvent,
    PushToDefault,
)
from prbot.web.payload import ARRAY, OBJECT

# a parsed body: a dict, or a pysimdjson document read the same way (payload.py)
Payload = Any
ZERO_SHA = "0" * 40
_FULL_SHA = re.compile(r"[0-9a-f]{40}")
GITHUB_PUSH_COMMITS_LISTED = 2048  # GitHub stops listing commits in a push payload here


def _dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, OBJECT):
            return None
        obj = obj.get(key)
    return obj


def _str(obj: Any, *path: str) -> str:
    value = _dig(obj, *path)
    return value if isinstance(value, str) else ""


def _int(obj: Any, *path: str) -> int:
    value = _dig(obj, *path)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _list(obj: Any, *path: str) -> Any:
    value = _dig(obj, *path)
    return value if isinstance(value, ARRAY) else []


def _names(items: Iterable[Any], key: str) -> tuple[str, ...]:
    return tuple(i[key] for i in items if isinstance(i, OBJECT) and isinstance(i.get(key), str))


def _changed_paths(commits: list[Any]) -> tuple[str, ...]:
    seen: dict[str, None] = {}  # ordered set: first mention wins
    for commit in commits:
        for key in ("added", "modified", "removed"):
            for path in _list(commit, key):
                if isinstance(path, str):
                    seen.setdefault(path, None)
    return tuple(seen)


# -- GitHub

CHECK_CONCLUSIONS: dict[str, str] = {
    "success": "success",
    "neutral": "success",
    "skipped": "success",
    "failure": "failure",
    "timed_out": "failure",
    "cancelled": "failure",
    "action_required": "failure",
    "startup_failure": "failure",
    "stale": "pending",
}
STATUS_STATES = {"success": "success", "failure": "failure", "error": "failure"}
DEPLOYMENT_STATES = {"success": "success", "failure": "failure", "error": "failure"}


def _gh_repo(p: Payload) -> str:
    return _str(p, "repository", "full_name")


def _gh_pull_request(p: Payload) -> list[Event]:
    action = p.get("action")
    pr = _dig(p, "pull_request") or {}
    merged = action == "closed" and pr.get("merged") is True
    if action == "closed":
        action = "merged" if merged else "closed"
    elif action not in ("opened", "reopened", "synchronize"):
        return []
    return [
        PullRequestEvent(
            platform="github",
            repo=_gh_repo(p),
            action=action,
            number=_int(pr, "number") or _int(p, "number"),
            head=_str(pr, "head", "ref"),
            base=_str(pr, "base", "ref"),
            head_sha=_str(pr, "head", "sha"),
            # unmerged PRs carry a test-merge sha: meaningless once closed
            merge_commit_sha=(_str(pr, "merge_commit_sha") or None) if merged else None,
            labels=_names(_list(pr, "labels"), "name"),
            author=_str(pr, "user", "login"),
            title=_str(pr, "title"),
        )
    ]


def _gh_issue_comment(p: Payload) -> list[Event]:
    if p.get("action") != "created":  # edited and deleted comments are never commands
        return []
    comment = _dig(p, "comment") or {}
    # a bot account (an App's "name[bot]" user), or a person's token used by an App
    bot = _str(comment, "user", "type") == "Bot" or isinstance(
        _dig(comment, "performed_via_github_app"), OBJECT
    )
    return [
        CommentCreated(
            platform="github",
            repo=_gh_repo(p),
            number=_int(p, "issue", "number"),
            comment_id=_int(comment, "id"),
            author=_str(comment, "user", "login"),
            body=_str(comment, "body"),
            on_pull_request=_dig(p, "issue", "pull_request") is not None,
            author_is_bot=bot,
            url=_str(comment, "html_url"),
        )
    ]


def _gh_status(p: Payload) -> list[Event]:
    return [
        HealthReported(
            platform="github",
            repo=_gh_repo(p),
            sha=_str(p, "sha"),
            context=_str(p, "context"),
            state=STATUS_STATES.get(_str(p, "state"), "pending"),  # type: ignore[arg-type]
            source="status",
            url=_str(p, "target_url"),
        )
    ]


def _gh_check_run(p: Payload) -> list[Event]:
    if p.get("action") != "completed":
        return []
    run = _dig(p, "check_run") or {}
    return [
        HealthReported(
            platform="github",
            repo=_gh_repo(p),
            sha=_str(run, "head_sha"),
            context=_str(run, "name"),
            state=CHECK_CONCLUSIONS.get(_str(run, "conclusion"), "pending"),  # type: ignore[arg-type]
            source="check",
            url=_str(run, "html_url") or _str(run, "details_url"),
        )
    ]


def _gh_check_suite(p: Payload) -> list[Event]:
    if p.get("action") != "completed":
        return []
    suite = _dig(p, "check_suite") or {}
    return [
        HealthReported(
            platform="github",
            repo=_gh_repo(p),
            sha=_str(suite, "head_sha"),
            context=_str(suite, "app", "slug") or "check_suite",
            state=CHECK_CONCLUSIONS.get(_str(suite, "conclusion"), "pending"),  # type: ignore[arg-type]
            source="check",
        )
    ]


def _gh_deployment_status(p: Payload) -> list[Event]:
    status = _dig(p, "deployment_status") or {}
    state = _str(status, "state")
    if state == "inactive":
        return []
    return [
        HealthReported(
            platform="github",
            repo=_gh_repo(p),
            sha=_str(p, "deployment", "sha"),
            context=_str(status, "environment") or _str(p, "deployment", "environment"),
            state=DEPLOYMENT_STATES.get(state, "pending"),  # type: ignore[arg-type]
            source="deployment",
            url=_str(status, "target_url")
            or _str(status, "log_url")
            or _str(status, "environment_url"),
        )
    ]


def _gh_push(p: Payload) -> list[Event]:
    default = _str(p, "repository", "default_branch") or _str(p, "repository", "master_branch")
    after = _str(p, "after")
    if not default or p.get("ref") != f"refs/heads/{default}":
        return []
    if p.get("deleted") is True or after == ZERO_SHA:
        return []
    commits = _list(p, "commits")
    complete = len(commits) < GITHUB_PUSH_COMMITS_LISTED
    return [
        PushToDefault(
            platform="github",
            repo=_gh_repo(p),
            branch=default,
            before=_str(p, "before"),
            after=after,
            paths=_changed_paths(commits) if complete else (),
        )
    ]


def _gh_installation(p: Payload) -> list[Event]:
    action = {"created": "added", "deleted": "removed"}.get(p.get("action") or "")
    if action is None:  # suspend, unsuspend, new_permissions_accepted
        return []
    return [
        InstallationChanged(
            platform="github",
            repo="",
            action=action,  # type: ignore[arg-type]
            installation_id=_int(p, "installation", "id"),
            repos=_names(_list(p, "repositories"), "full_name"),
        )
    ]


def _gh_installation_repositories(p: Payload) -> list[Event]:
    action = p.get("action")
    if action not in ("added", "removed"):
        return []
    return [
        InstallationChanged(
            platform="github",
            repo="",
            action=action,
            installation_id=_int(p, "installation", "id"),
            repos=_names(_list(p, f"repositories_{action}"), "full_name"),
        )
    ]


GITHUB: dict[str, Callable[[Payload], list[Event]]] = {
    "pull_request": _gh_pull_request,
    "issue_comment": _gh_issue_comment,
    "status": _gh_status,
    "check_run": _gh_check_run,
    "check_suite": _gh_check_suite,
    "deployment_status": _gh_deployment_status,
    "push": _gh_push,
    "installation": _gh_installation,
    "installation_repositories": _gh_installation_repositories,
}


def github_events(event_name: str, payload: Payload) -> list[Event]:
    """The internal events of a GitHub delivery (X-GitHub-Event ``event_name``)."""
    handler = GITHUB.get(event_name)
    return handler(payload) if handler is not None and isinstance(payload, OBJECT) else []


# -- GitLab

MR_ACTIONS = {"open": "opened", "reopen": "reopened", "merge": "merged", "close": "closed"}
PIPELINE_STATES = {"success": "success", "failed": "failure", "canceled": "failure"}


def _gl_repo(p: Payload) -> str:
    return _str(p, "project", "path_with_namespace") or _str(
        p, "object_attributes", "target", "path_with_namespace"
    )


def _gl_merge_request(p: Payload) -> list[Event]:
    mr = _dig(p, "object_attributes") or {}
    raw_action = _str(mr, "action")
    if raw_action == "update":
        if not _str(mr, "oldrev"):
            return []
        action = "synchronize"
    elif raw_action in MR_ACTIONS:
        action = MR_ACTIONS[raw_action]
    else:
        return []
    head_sha = _str(mr, "last_commit", "id")
    merge_sha = None
    if action == "merged":
        # fast-forward merges make no merge commit: the head is then what landed
        merge_sha = _str(mr, "merge_commit_sha") or _str(mr, "squash_commit_sha") or head_sha
    labels = _names(_list(p, "labels"), "title") or _names(_list(mr, "labels"), "title")
    return [
        PullRequestEvent(
            platform="gitlab",
            repo=_gl_repo(p),
            action=action,  # type: ignore[arg-type]
            number=_int(mr, "iid"),
            head=_str(mr, "source_branch"),
            base=_str(mr, "target_branch"),
            head_sha=head_sha,
            merge_commit_sha=merge_sha or None,
            labels=labels,
            author=_str(p, "user", "username") if action == "opened" else "",
            title=_str(mr, "title"),
        )
    ]


def _gl_note(p: Payload) -> list[Event]:
    note = _dig(p, "object_attributes") or {}
    action = _str(note, "action")
    if action not in ("", "create") or note.get("system") is True:
        return []  # an edit ("update"), or GitLab's own note (a push, a label)
    if not action and _str(note, "updated_at") != _str(note, "created_at"):
        return []  # older payloads carry no action: an edited note was updated later
    kind = _str(note, "noteable_type")
    if kind == "MergeRequest":
        number, on_pr = _int(p, "merge_request", "iid"), True
    elif kind == "Issue":
        number, on_pr = _int(p, "issue", "iid"), False
    else:  # commit and snippet notes
        return []
    return [
        CommentCreated(
            platform="gitlab",
            repo=_gl_repo(p),
            number=number,
            comment_id=_int(note, "id"),
            author=_str(p, "user", "username"),
            body=_str(note, "note"),
            on_pull_request=on_pr,
            author_is_bot=_gl_bot(p),
            url=_str(note, "url"),
        )
    ]


# the users GitLab makes for project and group access tokens and for service accounts
_GITLAB_BOT = re.compile(r"(project|group)_\d+_bot\w*|service_account_\w+")


def _gl_bot(p: Payload) -> bool:
    """A bot wrote it: the user object says so (newer payloads, system hooks), or its
    username is one GitLab gives access-token bots and service accounts."""
    return _dig(p, "user", "bot") is True or bool(
        _GITLAB_BOT.fullmatch(_str(p, "user", "username"))
    )


def _gl_pipeline(p: Payload) -> list[Event]:
    pipeline = _dig(p, "object_attributes") or {}
    url = _str(pipeline, "url")
    if not url and _str(p, "project", "web_url") and _int(pipeline, "id"):
        url = f"{_str(p, 'project', 'web_url')}/-/pipelines/{_int(pipeline, 'id')}"
    return [
        HealthReported(
            platform="gitlab",
            repo=_gl_repo(p),
            sha=_str(pipeline, "sha"),
            context="pipeline",
            state=PIPELINE_STATES.get(_str(pipeline, "status"), "pending"),  # type: ignore[arg-type]
            source="pipeline",
            url=url,
        )
    ]


def _gl_deployment(p: Payload) -> list[Event]:
    tail = _str(p, "commit_url").rsplit("/", 1)[-1]
    sha = tail if _FULL_SHA.fullmatch(tail) else _str(p, "short_sha")
    return [
        HealthReported(
            platform="gitlab",
            repo=_gl_repo(p),
            sha=sha,
            context=_str(p, "environment"),
            state=PIPELINE_STATES.get(_str(p, "status"), "pending"),  # type: ignore[arg-type]
            source="deployment",
            url=_str(p, "deployable_url") or _str(p, "environment_external_url"),
        )
    ]


def _gl_push(p: Payload) -> list[Event]:
    default = _str(p, "project", "default_branch")
    after = _str(p, "after")
    if not default or p.get("ref") != f"refs/heads/{default}" or after in ("", ZERO_SHA):
        return []
    commits = _list(p, "commits")
    total = _int(p, "total_commits_count")
    complete = total <= len(commits)
    return [
        PushToDefault(
            platform="gitlab",
            repo=_gl_repo(p),
            branch=default,
            before=_str(p, "before"),
            after=after,
            paths=_changed_paths(commits) if complete else (),
        )
    ]


GITLAB: dict[str, Callable[[Payload], list[Event]]] = {
    "Merge Request Hook": _gl_merge_request,
    "Note Hook": _gl_note,
    "Pipeline Hook": _gl_pipeline,
    "Deployment Hook": _gl_deployment,
    "Push Hook": _gl_push,
}
# object_kind -> the X-Gitlab-Event of a project hook; system hooks send "System Hook"
GITLAB_KINDS = {
    "merge_request": "Merge Request Hook",
    "note": "Note Hook",
    "pipeline": "Pipeline Hook",
    "deployment": "Deployment Hook",
    "push": "Push Hook",
}


def gitlab_events(event_name: str, payload: Payload) -> list[Event]:
    """The internal events of a GitLab delivery (X-Gitlab-Event ``event_name``)."""
    if not isinstance(payload, OBJECT):
        return []
    if event_name == "System Hook":
        event_name = GITLAB_KINDS.get(_str(payload, "object_kind"), "")
    handler = GITLAB.get(event_name)
    return handler(payload) if handler is not None else []
