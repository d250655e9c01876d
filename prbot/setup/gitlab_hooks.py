"""``prbot setup gitlab``: register prbot's webhook on a project or a group through the API.

The token (GITLAB_TOKEN, never an argument: it would show in the process list and the
shell history) must be valid and carry the ``api`` scope (``GET
/personal_access_tokens/self``). The hook gets the events prbot handles and a secret
token: the one already configured (GITLAB_WEBHOOK_SECRET, or the file an earlier setup
wrote), else a fresh one, written with GITLAB_URL to a file only its owner can read. A
hook already there for the same URL is left alone (``--force`` replaces it).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from prbot.setup.credentials import SetupError, check_url, render, write_private
from prbot.web.normalize import GITLAB

# X-Gitlab-Event -> the hook's flag that subscribes to it
EVENT_FLAGS = {
    "Push Hook": "push_events",
    "Merge Request Hook": "merge_requests_events",
    "Note Hook": "note_events",
    "Pipeline Hook": "pipeline_events",
    "Deployment Hook": "deployment_events",
}
NEEDED_SCOPE = "api"  # prbot writes: commits, merge requests, notes, hooks
TOO_MUCH = ("sudo", "admin_mode")  # scopes prbot never needs


def hook_flags(handled: Iterable[str] = GITLAB) -> dict[str, bool]:
    """Every event flag GitLab knows that prbot uses, on."""
    return {EVENT_FLAGS[name]: True for name in sorted(handled)}


@dataclass(frozen=True)
class GitLabSetup:
    url: str
    token: str
    webhook_url: str
    output: Path
    project: str | None = None
    group: str | None = None
    secret: str | None = None  # already configured: reused
    force: bool = False


@dataclass(frozen=True)
class Registered:
    hook_id: int
    target: str  # "project acme/gitops" or "group acme"
    scopes: tuple[str, ...]
    new_secret: bool  # a fresh secret was written to ``output``
    replaced: bool
    existed: bool  # an identical hook was there already


class GitLabApi:
    """The few GitLab v4 calls setup and check make, with errors worded for a person."""

    def __init__(self, url: str, token: str, http: httpx.AsyncClient) -> None:
        self.base = f"{url.rstrip('/')}/api/v4"
        self.url = url
        self._headers = {"PRIVATE-TOKEN": token}
        self.http = http

    async def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            return await self.http.request(method, self.base + path, headers=self._headers, **kw)
        except httpx.HTTPError as exc:
            raise SetupError(f"cannot reach GitLab at {self.url}: {type(exc).__name__}") from None

    async def scopes(self) -> tuple[int, tuple[str, ...] | None]:
        """(status, the token's scopes): 401 a bad token; None when GitLab cannot say."""
        resp = await self.call("GET", "/personal_access_tokens/self")
        if resp.status_code == 200:
            return 200, tuple(str(s) for s in resp.json().get("scopes") or ())
        if resp.status_code == 401:
            return 401, None
        probe = await self.call("GET", "/user")  # an OAuth or job token: no PAT record
        return (401 if probe.status_code == 401 else 200), None

    def hooks_path(self, project: str | None, group: str | None) -> tuple[str, str]:
        if project:
            return f"/projects/{quote(project, safe='')}/hooks", f"project {project}"
        if group:
            return f"/groups/{quote(group, safe='')}/hooks", f"group {group}"
        raise SetupError("give --project PATH or --group PATH")

    async def hooks(self, path: str, target: str) -> list[dict[str, Any]]:
        resp = await self.call("GET", path, params={"per_page": 100})
        if resp.status_code == 404:
            raise SetupError(f"{target}: not found, or the token's user cannot see it")
        if resp.status_code == 403:
            raise SetupError(
                f"{target}: the token's user may not manage its webhooks (it needs the "
                "Maintainer role on a project, Owner on a group)"
            )
        if resp.status_code != 200:
            raise SetupError(f"{target}: GitLab answered {resp.status_code} listing hooks")
        return list(resp.json())


def check_setup(setup: GitLabSetup) -> None:
    for value, option in ((setup.url, "--url"), (setup.webhook_url, "--webhook-url")):
        check_url(value, option)
    if bool(setup.project) == bool(setup.group):
        raise SetupError("give one of --project PATH and --group PATH")
    if not setup.token:
        raise SetupError("GITLAB_TOKEN is not set: a token with the api scope registers the hook")


def credentials_text(url: str, secret: str) -> str:
    comment = (
        "GitLab webhook secret, made by `prbot setup gitlab`. Keep this file mode 0600;\n"
        "prbot serve reads it as PRBOT_GITLAB_FILE."
    )
    return render({"GITLAB_URL": url.rstrip("/"), "GITLAB_WEBHOOK_SECRET": secret}, comment)


async def run(setup: GitLabSetup, http: httpx.AsyncClient | None = None) -> Registered:
    check_setup(setup)
    own = http is None
    http = http or httpx.AsyncClient(timeout=30)
    try:
        return await _register(setup, GitLabApi(setup.url, setup.token, http))
    finally:
        if own:
            await http.aclose()


async def _register(setup: GitLabSetup, api: GitLabApi) -> Registered:
    status, scopes = await api.scopes()
    if status == 401:
        raise SetupError(
            f"GITLAB_TOKEN is not valid on {setup.url} (revoked, expired or "
            "mistyped): create a token with the api scope"
        )
    if scopes is not None and NEEDED_SCOPE not in scopes:
        raise SetupError(
            f"GITLAB_TOKEN has the scopes {', '.join(scopes) or 'none'}; prbot needs "
            f"{NEEDED_SCOPE}: create a token with the api scope"
        )
    path, target = api.hooks_path(setup.project, setup.group)
    existing = [h for h in await api.hooks(path, target) if h.get("url") == setup.webhook_url]
    if existing and not setup.force:
        return Registered(int(existing[0]["id"]), target, scopes or (), False, False, True)
    secret = setup.secret or secrets.token_urlsafe(32)
    for hook in existing:
        await api.call("DELETE", f"{path}/{hook['id']}")
    body = {
        "url": setup.webhook_url,
        "token": secret,
        "enable_ssl_verification": setup.webhook_url.startswith("https://"),
        **hook_flags(),
    }
    resp = await api.call("POST", path, json=body)
    if resp.status_code == 403:
        raise SetupError(
            f"{target}: GitLab refused to add the hook (403): the token needs "
            "the api scope and its user Maintainer (project) or Owner (group)"
        )
    if resp.status_code != 201:
        raise SetupError(f"{target}: GitLab answered {resp.status_code} adding the hook")
    new_secret = setup.secret is None
    if new_secret:
        write_private(setup.output, credentials_text(setup.url, secret), force=True)
    return Registered(
        int(resp.json()["id"]), target, scopes or (), new_secret, bool(existing), False
    )
