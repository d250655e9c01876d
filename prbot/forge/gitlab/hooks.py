"""Project and group webhooks: ``GET|POST /projects/:id/hooks``,
``GET|DELETE /projects/:id/hooks/:hook_id`` and the same under ``/groups/:id``.

A project hook is a forge hook on that repository (the forge delivers it: webhooks.py).
Adding one needs the Maintainer role and a token with the ``api`` scope; a group hook
needs the group's maintainer role (GitLab: Owner). The forge has no group-wide hooks, so
a group hook is one forge hook per project of the group as it is when the hook is added
(GitLab's covers projects added later too), listed under the group with the group
hook's own id. The token is write-only, as on GitLab. ``alert_status`` comes from the
forge's delivery record: ``temporarily_disabled`` after 4 failed attempts in a row (when
GitLab would stop trying for a while).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aiohttp import web

from prbot.forge.errors import ForgeError
from prbot.forge.gitlab.context import FORBIDDEN, Ctx, Routes, bad_request, not_found
from prbot.forge.gitlab.shapes import GitLabShapes
from prbot.forge.gitlab.tokens import require_scope
from prbot.forge.models import Hook, Team
from prbot.forge.state import Forge

# GitLab's event flags, with their defaults when a request leaves them out
EVENT_FLAGS = {
    "push_events": True,
    "tag_push_events": False,
    "merge_requests_events": False,
    "note_events": False,
    "confidential_note_events": False,
    "issues_events": False,
    "confidential_issues_events": False,
    "pipeline_events": False,
    "job_events": False,
    "deployment_events": False,
    "releases_events": False,
    "wiki_page_events": False,
}
FAILURES_TO_DISABLE = 4
NO_EVENTS = "none"  # forge hooks with an empty list hear everything: this hears nothing
GROUP_FILE = "gitlab-group-hooks.json"


def _flags(ctx: Ctx) -> dict[str, bool]:
    return {name: ctx.bool_param(name, default) for name, default in EVENT_FLAGS.items()}


def _alert_status(forge: Forge, hook: Hook) -> str:
    if not hook.active:
        return "disabled"
    tried = [d for d in forge.webhooks.deliveries(hook.id) if d.delivered_at is not None]
    recent = tried[-FAILURES_TO_DISABLE:]
    failed = [d for d in recent if d.error or not d.status_code or d.status_code >= 400]
    if len(recent) == FAILURES_TO_DISABLE and len(failed) == FAILURES_TO_DISABLE:
        return "temporarily_disabled"
    return "executable"


def _shape(forge: Forge, hook: Hook, hook_id: int, where: dict[str, Any]) -> dict[str, Any]:
    flags = {name: name in hook.events for name in EVENT_FLAGS}
    return {
        "id": hook_id,
        "url": hook.url,
        **where,
        **flags,
        "push_events_branch_filter": "",
        "enable_ssl_verification": True,
        "alert_status": _alert_status(forge, hook),
        "disabled_until": None,
        "created_at": forge.timestamp(),
    }


class GroupHooks:
    """Group hook id -> (group path, the forge hooks standing for it), persisted."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge
        self.path = Path(forge.data_dir) / GROUP_FILE
        self.hooks: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            self.hooks = json.loads(self.path.read_text(encoding="utf-8"))

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.hooks, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)


def setup(routes: Routes, shapes: GitLabShapes) -> None:
    forge = routes.forge
    groups = GroupHooks(forge)

    def _in_group_hook(hook_id: int) -> bool:
        return any(hook_id in g["hook_ids"] for g in groups.hooks.values())

    def project_hook(ctx: Ctx, repo: str) -> Hook:
        try:
            hook = forge.hook(int(ctx.arg("hook_id")))
        except (ForgeError, ValueError):
            raise not_found("Hook") from None
        if hook.platform != "gitlab" or hook.repo != repo:
            raise not_found("Hook")
        return hook

    def new_hook(ctx: Ctx, repo: str) -> Hook:
        url = ctx.required("url")
        if not url.startswith(("http://", "https://")):
            raise bad_request({"url": ["is blocked: Only allowed schemes are http, https"]})
        events = [name for name, on in _flags(ctx).items() if on] or [NO_EVENTS]
        token = ctx.str_param("token") or ""
        return forge.add_hook("gitlab", url, secret=token, events=events, repo=repo)

    async def list_project_hooks(ctx: Ctx) -> web.Response:
        repo = ctx.project("maintain")
        mine = [h for h in forge.hooks(repo.full_name) if h.platform == "gitlab"]
        mine = [h for h in mine if h.repo == repo.full_name and not _in_group_hook(h.id)]
        return web.json_response([_shape(forge, h, h.id, {"project_id": repo.id}) for h in mine])

    async def add_project_hook(ctx: Ctx) -> web.Response:
        repo = ctx.project("maintain")
        require_scope(ctx)
        hook = new_hook(ctx, repo.full_name)
        return web.json_response(_shape(forge, hook, hook.id, {"project_id": repo.id}), status=201)

    async def get_project_hook(ctx: Ctx) -> web.Response:
        repo = ctx.project("maintain")
        hook = project_hook(ctx, repo.full_name)
        return web.json_response(_shape(forge, hook, hook.id, {"project_id": repo.id}))

    async def delete_project_hook(ctx: Ctx) -> web.Response:
        repo = ctx.project("maintain")
        require_scope(ctx)
        forge.remove_hook(project_hook(ctx, repo.full_name).id)
        return web.Response(status=204)

    def group(ctx: Ctx) -> Team:
        ident = ctx.arg("id")
        try:
            team = forge.team_by_id(int(ident)) if ident.isdigit() else forge.team(ident)
        except ForgeError:
            raise not_found("Group") from None
        member = forge.group_member(team.path, ctx.actor)
        if member is None or member.state != "active":
            raise not_found("Group")
        if member.role != "maintainer":
            raise FORBIDDEN
        return team

    def group_shape(gid: str, record: dict[str, Any], team: Team) -> dict[str, Any] | None:
        live = [forge._hooks.get(i) for i in record["hook_ids"]]
        first = next((h for h in live if h is not None), None)
        if first is None:
            return None
        return _shape(forge, first, int(gid), {"group_id": team.id})

    async def list_group_hooks(ctx: Ctx) -> web.Response:
        team = group(ctx)
        mine = [(gid, r) for gid, r in groups.hooks.items() if r["group"] == team.path]
        shaped = [group_shape(gid, r, team) for gid, r in mine]
        return web.json_response([s for s in shaped if s is not None])

    async def add_group_hook(ctx: Ctx) -> web.Response:
        team = group(ctx)
        require_scope(ctx)
        prefix = team.path.lower() + "/"
        projects = [r for r in forge.repos() if r.full_name.lower().startswith(prefix)]
        made = [new_hook(ctx, r.full_name) for r in projects]
        if not made:
            raise bad_request("the forge makes a group hook from the group's projects: none")
        gid = str(forge._next_id("gitlab_group_hook", 70_000_000))
        groups.hooks[gid] = {"group": team.path, "hook_ids": [h.id for h in made]}
        groups.save()
        return web.json_response(
            _shape(forge, made[0], int(gid), {"group_id": team.id}), status=201
        )

    routes.add("GET", "/projects/{id}/hooks", list_project_hooks)
    routes.add("POST", "/projects/{id}/hooks", add_project_hook)
    routes.add("GET", "/projects/{id}/hooks/{hook_id}", get_project_hook)
    routes.add("DELETE", "/projects/{id}/hooks/{hook_id}", delete_project_hook)
    routes.add("GET", "/groups/{id}/hooks", list_group_hooks)
    routes.add("POST", "/groups/{id}/hooks", add_group_hook)
