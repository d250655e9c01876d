"""``prbot check``'s rules for GitLab (pure): the token, its scopes, and prbot's hook on
each project or group named."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prbot.setup.check import WEBHOOK_PATHS, Row, row, secret_row
from prbot.setup.gitlab_hooks import TOO_MUCH


@dataclass
class GitLabHooks:
    target: str  # "project acme/gitops"
    hooks: Sequence[Mapping[str, Any]] | None = None
    error: str = ""  # why they could not be listed


@dataclass
class GitLabObserved:
    url: str
    webhook_secret_set: bool
    unreachable: str | None = None
    token_status: int | None = None  # GET /user
    login: str = ""
    scopes: tuple[str, ...] | None = None  # None: GitLab does not say (not a PAT)
    targets: list[GitLabHooks] = field(default_factory=list)


def gitlab_rows(o: GitLabObserved, flags: Sequence[str], webhook_url: str = "") -> list[Row]:
    rows = [
        secret_row(
            "gitlab",
            o.webhook_secret_set,
            "GITLAB_WEBHOOK_SECRET",
            "`prbot setup gitlab` wrote, or the hook's secret token",
        )
    ]
    if o.unreachable:
        return [
            *rows,
            Row(
                "gitlab",
                "API reachable",
                "FAIL",
                o.unreachable,
                "check GITLAB_URL and the network to GitLab",
            ),
        ]
    if o.token_status != 200:
        return [
            *rows,
            Row(
                "gitlab",
                "GITLAB_TOKEN",
                "FAIL",
                f"GitLab answered {o.token_status}" if o.token_status else "not set",
                (
                    "the token is revoked, expired or mistyped: create"
                    if o.token_status
                    else "set GITLAB_TOKEN to a token made"
                )
                + f" with the api scope at {o.url}/-/user_settings/personal_access_tokens",
            ),
        ]
    rows.append(Row("gitlab", "GITLAB_TOKEN", "ok", f"works, as {o.login}"))
    if o.scopes is None:
        rows.append(
            Row(
                "gitlab",
                "token scopes",
                "skip",
                "not a personal access token: GitLab does not list its scopes",
            )
        )
    else:
        extra = [s for s in o.scopes if s in TOO_MUCH]
        detail = ", ".join(o.scopes) + (
            f" ({', '.join(extra)}: more than prbot needs)" if extra else ""
        )
        rows.append(
            row(
                "gitlab",
                "token scopes",
                "api" in o.scopes,
                detail,
                "create a token with the api scope (prbot writes commits, merge "
                "requests and notes)",
            )
        )
    if not o.targets:
        rows.append(
            Row(
                "gitlab",
                "webhook",
                "skip",
                "no project or group named: pass "
                "--gitlab-project / --gitlab-group to check their hooks",
            )
        )
    for t in o.targets:
        rows.append(_gitlab_hook_row(t, flags, webhook_url))
    return rows


def _gitlab_hook_row(t: GitLabHooks, flags: Sequence[str], webhook_url: str) -> Row:
    check = f"webhook of {t.target}"
    kind, _, path = t.target.partition(" ")
    register = (
        f"prbot setup gitlab --{kind} {path} --webhook-url "
        f"{webhook_url or 'https://YOUR-PRBOT/webhooks/gitlab'}"
    )
    if t.hooks is None:
        return Row(
            "gitlab",
            check,
            "FAIL",
            t.error,
            "give the token's user the Maintainer role (Owner on a group), or check the path",
        )
    ours = [
        h
        for h in t.hooks
        if (
            h.get("url") == webhook_url
            if webhook_url
            else str(h.get("url", "")).rstrip("/").endswith(WEBHOOK_PATHS["gitlab"])
        )
    ]
    if not ours:
        return Row("gitlab", check, "FAIL", "no prbot webhook registered", f"run: {register}")
    hook = ours[0]
    off = [f for f in flags if not hook.get(f)]
    if off:
        return Row(
            "gitlab",
            check,
            "FAIL",
            f"{', '.join(off)} off",
            f"tick {', '.join(off)} on hook {hook.get('id')}, or run: {register} --force",
        )
    status = str(hook.get("alert_status") or "executable")
    if status != "executable":
        return Row(
            "gitlab",
            check,
            "FAIL",
            f"{hook.get('url')}: GitLab stopped delivering ({status}) after failed attempts",
            f"make {hook.get('url')} reachable from GitLab, then re-enable hook "
            f"{hook.get('id')} (Settings > Webhooks > Test)",
        )
    return Row("gitlab", check, "ok", f"hook {hook.get('id')} to {hook.get('url')}")
