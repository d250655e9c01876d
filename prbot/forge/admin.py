"""Admin HTTP API under ``/_forge/``: drive the forge as the world around the bot would.

Create repositories (from a folder on this machine or a JSON map of files), users and
tokens, permissions, teams (GitLab: groups) and their members, GitHub Apps and
installations, webhook subscriptions; act as a
person (open, comment on, merge a PR; push a commit) or as CI (statuses, check runs,
deployment statuses, pipelines); read request counts, set faults, list and redeliver
webhook deliveries. No auth: the server only listens on 127.0.0.1, and never counts or
faults these routes.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from prbot.forge import git
from prbot.forge.errors import ForgeError
from prbot.forge.faults import Faults, RequestLog
from prbot.forge.ghhttp import FORGE_KEY
from prbot.forge.ghshapes import GitHubShapes
from prbot.forge.state import Forge

PREFIX = "/_forge"
LOG_KEY = web.AppKey("forge.requests", RequestLog)
FAULTS_KEY = web.AppKey("forge.faults", Faults)


class BadRequest(Exception):
    pass


def _ok(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, indent=1))


async def _json(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise BadRequest("body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def _need(data: dict[str, Any], key: str) -> Any:
    if data.get(key) in (None, ""):
        raise BadRequest(f"{key} is required")
    return data[key]


def _forge(request: web.Request) -> Forge:
    return request.app[FORGE_KEY]


def _repo(request: web.Request) -> str:
    full = f"{request.match_info['owner']}/{request.match_info['repo']}"
    _forge(request).repo(full)
    return full


@web.middleware
async def admin_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    if not request.path.startswith(PREFIX + "/"):
        return await handler(request)
    try:
        return await handler(request)
    except BadRequest as exc:
        return _ok({"error": str(exc)}, status=400)
    except ForgeError as exc:
        return _ok({"error": exc.message, "errors": exc.errors}, status=exc.status)
    except (ValueError, TypeError) as exc:
        return _ok({"error": str(exc)}, status=400)


def _files(data: dict[str, Any]) -> dict[str, Any]:
    files = data.get("files")
    if not isinstance(files, dict):
        raise BadRequest("files must be an object of path -> content")
    encoding = data.get("encoding", "utf-8")
    out: dict[str, Any] = {}
    for path, value in files.items():
        mode = "100644"
        if isinstance(value, dict):
            mode = str(value.get("mode", "100644"))
            value = value.get("content", "")
        if not isinstance(value, str):
            raise BadRequest(f"content of {path} must be a string")
        raw = base64.b64decode(value) if encoding == "base64" else value.encode()
        out[path] = (raw, mode)
    return out


# --- repositories, users, permissions ----------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    return _ok({"ok": True, "base_url": _forge(request).base_url})


async def create_repo(request: web.Request) -> web.Response:
    forge = _forge(request)
    data = await _json(request)
    full = _need(data, "full_name")
    kwargs: dict[str, Any] = {
        "default_branch": data.get("default_branch", "main"),
        "visibility": data.get("visibility", "private"),
        "description": data.get("description", ""),
    }
    if data.get("folder"):
        folder = Path(data["folder"]).expanduser()
        if not folder.is_dir():
            raise BadRequest(f"{folder}: not a directory")
        repo = await forge.create_repo(full, folder=folder, **kwargs)
    else:
        files = _files(data) if "files" in data else None
        repo = await forge.create_repo(full, files=files, **kwargs)
    head = await forge.resolve(full, repo.default_branch)
    return _ok({"id": repo.id, "full_name": full, "default_branch": repo.default_branch,
                "head": head}, status=201)  # fmt: skip


async def list_repos(request: web.Request) -> web.Response:
    forge = _forge(request)
    return _ok([
        {"id": r.id, "full_name": r.full_name, "default_branch": r.default_branch,
         "visibility": r.visibility}
        for r in forge.repos()
    ])  # fmt: skip


async def create_user(request: web.Request) -> web.Response:
    forge = _forge(request)
    data = await _json(request)
    user = forge.create_user(
        _need(data, "login"), name=data.get("name"), email=data.get("email"),
        type=data.get("type", "User"),
    )  # fmt: skip
    body: dict[str, Any] = {"login": user.login, "id": user.id}
    if data.get("token") is not False:
        body["token"] = forge.create_token(user.login, data.get("token") or None)
    return _ok(body, status=201)


async def create_token(request: web.Request) -> web.Response:
    forge = _forge(request)
    data = await _json(request)
    token = forge.create_token(_need(data, "login"), data.get("token") or None)
    return _ok({"token": token}, status=201)


async def set_permission(request: web.Request) -> web.Response:
    forge = _forge(request)
    full = _repo(request)
    data = await _json(request)
    login = request.match_info["login"]
    forge.set_permission(full, login, _need(data, "permission"))
    return _ok({"login": login, "permission": forge.permission(full, login)})


def _team(t: Any) -> dict[str, Any]:
    members = [{"login": m.login, "role": m.role, "state": m.state} for m in t.members]
    return {"id": t.id, "path": t.path, "name": t.name, "members": members}


async def create_team(request: web.Request) -> web.Response:
    """{path, name?, description?}: a GitHub team ``org/slug`` / a GitLab group path."""
    forge = _forge(request)
    data = await _json(request)
    team = forge.create_team(
        _need(data, "path"), name=data.get("name"), description=data.get("description", "")
    )
    return _ok(_team(team), status=201)


async def list_teams(request: web.Request) -> web.Response:
    return _ok([_team(t) for t in _forge(request).teams()])


async def set_team_member(request: web.Request) -> web.Response:
    """{role: member|maintainer, state: active|pending} (both optional)."""
    forge = _forge(request)
    data = await _json(request)
    path, login = request.match_info["path"], request.match_info["login"]
    m = forge.set_team_member(
        path, login, role=data.get("role", "member"), state=data.get("state", "active")
    )
    return _ok({"path": forge.team(path).path, "login": m.login, "role": m.role,
                "state": m.state})  # fmt: skip


async def remove_team_member(request: web.Request) -> web.Response:
    _forge(request).remove_team_member(request.match_info["path"], request.match_info["login"])
    return web.Response(status=204)


# --- apps and hooks ------------------------------------------------------------------------------


async def register_app(request: web.Request) -> web.Response:
    forge = _forge(request)
    data = await _json(request)
    app = await forge.register_app(
        int(_need(data, "app_id")),
        _need(data, "public_key_pem"),
        slug=data.get("slug"),
        name=data.get("name"),
        permissions=data.get("permissions"),
        events=data.get("events"),
    )
    body = {"id": app.id, "slug": app.slug, "bot_login": app.bot_login,
            "client_id": app.client_id}  # fmt: skip
    if data.get("callback_url"):
        body["callback_url"] = forge.set_app_callback(app.id, data["callback_url"]).callback_url
    # a client secret is shown once, when made (re-registering keeps the existing ones)
    if data.get("client_secret") or not app.client_secret_hashes:
        body["client_secret"] = forge.new_app_client_secret(app.id, data.get("client_secret"))
    return _ok(body, status=201)


async def install_app(request: web.Request) -> web.Response:
    forge = _forge(request)
    data = await _json(request)
    inst = await forge.install_app(
        int(request.match_info["app_id"]),
        _need(data, "account"),
        repos=data.get("repos"),
        installation_id=data.get("installation_id"),
    )
    return _ok({"id": inst.id, "app_id": inst.app_id, "account": inst.account,
                "repos": inst.repos}, status=201)  # fmt: skip


async def add_hook(request: web.Request) -> web.Response:
    forge = _forge(request)
    data = await _json(request)
    hook = forge.add_hook(
        _need(data, "platform"),
        _need(data, "url"),
        secret=data.get("secret", ""),
        events=data.get("events") or (),
        repo=data.get("repo"),
        app_id=data.get("app_id"),
    )
    return _ok(_hook(hook), status=201)


def _hook(h: Any) -> dict[str, Any]:
    # the secret is write-only, as on both platforms
    return {"id": h.id, "platform": h.platform, "url": h.url, "events": h.events,
            "repo": h.repo, "app_id": h.app_id, "active": h.active}  # fmt: skip


async def list_hooks(request: web.Request) -> web.Response:
    return _ok([_hook(h) for h in _forge(request).hooks()])


async def delete_hook(request: web.Request) -> web.Response:
    _forge(request).remove_hook(int(request.match_info["hook_id"]))
    return web.Response(status=204)


# --- acting as people and CI ---------------------------------------------------------------------


async def push_commit(request: web.Request) -> web.Response:
    """{branch, message, files: {path: content | null}, author, start_branch?}"""
    forge = _forge(request)
    full = _repo(request)
    data = await _json(request)
    changes: dict[str, git.Change | None] = {}
    raw_files = data.get("files") or {}
    deletions = [p for p, v in raw_files.items() if v is None]
    kept = {p: v for p, v in raw_files.items() if v is not None}
    for path, (content, mode) in _files({**data, "files": kept}).items():
        changes[path] = git.Change(mode=mode, content=content)
    for path in deletions:
        changes[path] = None
    author = _need(data, "author")
    forge.create_user(author)
    sha = await forge.commit_changes(
        full,
        _need(data, "branch"),
        data.get("message") or "Update files",
        changes,
        actor=author,
        start_branch=data.get("start_branch"),
    )
    return _ok({"sha": sha}, status=201)


async def open_pull(request: web.Request) -> web.Response:
    forge = _forge(request)
    full = _repo(request)
    data = await _json(request)
    pr = await forge.open_pull_request(
        full,
        head=_need(data, "head"),
        base=data.get("base"),
        title=_need(data, "title"),
        body=data.get("body", ""),
        author=_need(data, "author"),
        labels=data.get("labels") or (),
    )
    return _ok({"number": pr.number, "id": pr.id, "head_sha": pr.head_sha}, status=201)


PULL_STATES = ("open", "closed", "merged", "all")


async def list_pulls(request: web.Request) -> web.Response:
    """?state=open|closed|merged|all (default open): a compact list, newest first, with
    the forge's page of each (GitHub- and GitLab-style addresses)."""
    forge = _forge(request)
    full = _repo(request)
    state = request.query.get("state", "open")
    if state not in PULL_STATES:
        raise BadRequest(f"state must be one of {', '.join(PULL_STATES)}, not {state!r}")
    web_base = f"{forge.base_url}/{full}"
    return _ok([
        {"number": p.number, "title": p.title, "state": p.state, "author": p.author,
         "head": p.head, "base": p.base, "head_sha": p.head_sha,
         "merge_commit_sha": p.merge_commit_sha, "created_at": p.created_at,
         "updated_at": p.updated_at, "html_url": f"{web_base}/pull/{p.number}",
         "web_url": f"{web_base}/-/merge_requests/{p.number}"}
        for p in forge.pull_requests(full, state=state)
    ])  # fmt: skip


async def merge_pull(request: web.Request) -> web.Response:
    forge = _forge(request)
    full = _repo(request)
    data = await _json(request)
    actor = data.get("actor") or forge.repo(full).owner
    pr = await forge.merge_pull_request(
        full,
        int(request.match_info["number"]),
        actor=actor,
        merge_method=data.get("merge_method", "merge"),
        sha=data.get("sha"),
    )
    return _ok({"merged": True, "sha": pr.merge_commit_sha, "number": pr.number})


async def close_pull(request: web.Request) -> web.Response:
    forge = _forge(request)
    full = _repo(request)
    data = await _json(request)
    actor = data.get("actor") or forge.repo(full).owner
    pr = await forge.update_pull_request(
        full, int(request.match_info["number"]), actor=actor, state="closed"
    )
    return _ok({"number": pr.number, "state": pr.state})


async def get_pull(request: web.Request) -> web.Response:
    forge = _forge(request)
    full = _repo(request)
    pr = forge.pull_request(full, int(request.match_info["number"]))
    body = GitHubShapes(forge).pull_request(pr, mergeable=await forge.mergeable(full, pr.number))
    return _ok(body)


async def comment(request: web.Request) -> web.Response:
    forge = _forge(request)
    full = _repo(request)
    data = await _json(request)
    author = _need(data, "author")
    forge.create_user(author)
    c = await forge.add_comment(
        full, int(request.match_info["number"]), _need(data, "body"), author=author
    )
    return _ok({"id": c.id}, status=201)


async def post_status(request: web.Request) -> web.Response:
    forge = _forge(request)
    full = _repo(request)
    data = await _json(request)
    s = await forge.post_status(
        full,
        request.match_info["sha"],
        _need(data, "state"),
        creator=data.get("creator") or "ci",
        context=data.get("context") or "default",
        target_url=data.get("target_url"),
        description=data.get("description"),
    )
    return _ok({"id": s.id, "sha": s.sha, "state": s.state, "context": s.context}, status=201)


async def post_check_run(request: web.Request) -> web.Response:
    forge = _forge(request)
    full = _repo(request)
    data = await _json(request)
    run = await forge.post_check_run(
        full,
        _need(data, "sha"),
        _need(data, "name"),
        app_id=int(data.get("app_id", 0)),
        status=data.get("status", "completed"),
        conclusion=data.get("conclusion"),
        details_url=data.get("details_url"),
    )
    return _ok({"id": run.id, "sha": run.sha, "status": run.status,
                "conclusion": run.conclusion}, status=201)  # fmt: skip


async def create_deployment(request: web.Request) -> web.Response:
    forge = _forge(request)
    full = _repo(request)
    data = await _json(request)
    d = await forge.create_deployment(
        full,
        _need(data, "ref"),
        creator=data.get("creator") or "ci",
        environment=data.get("environment", "production"),
        required_contexts=data.get("required_contexts", []),
    )
    return _ok({"id": d.id, "sha": d.sha, "environment": d.environment}, status=201)


async def post_deployment_status(request: web.Request) -> web.Response:
    forge = _forge(request)
    full = _repo(request)
    data = await _json(request)
    s = await forge.post_deployment_status(
        full,
        int(request.match_info["deployment_id"]),
        _need(data, "state"),
        creator=data.get("creator") or "ci",
        description=data.get("description", ""),
        environment_url=data.get("environment_url", ""),
        log_url=data.get("log_url", ""),
    )
    return _ok({"id": s.id, "state": s.state}, status=201)


async def create_pipeline(request: web.Request) -> web.Response:
    forge = _forge(request)
    full = _repo(request)
    data = await _json(request)
    p = await forge.create_pipeline(
        full, _need(data, "sha"), _need(data, "ref"), data.get("status", "pending"),
        user=data.get("user") or "ci", source=data.get("source", "push"),
    )  # fmt: skip
    return _ok({"id": p.id, "iid": p.iid, "status": p.status}, status=201)


async def set_pipeline(request: web.Request) -> web.Response:
    forge = _forge(request)
    full = _repo(request)
    data = await _json(request)
    p = await forge.set_pipeline_status(
        full, int(request.match_info["pipeline_id"]), _need(data, "status"),
        actor=data.get("user") or "ci",
    )  # fmt: skip
    return _ok({"id": p.id, "status": p.status})


# --- requests, faults, deliveries ---------------------------------------------------------------


async def get_requests(request: web.Request) -> web.Response:
    return _ok(request.app[LOG_KEY].snapshot())


async def reset_requests(request: web.Request) -> web.Response:
    request.app[LOG_KEY].reset()
    return web.Response(status=204)


async def get_faults(request: web.Request) -> web.Response:
    return _ok(request.app[FAULTS_KEY].config.to_dict())


async def set_faults(request: web.Request) -> web.Response:
    data = await _json(request)
    cfg = request.app[FAULTS_KEY].configure(**data)
    return _ok(cfg.to_dict())


async def clear_faults(request: web.Request) -> web.Response:
    request.app[FAULTS_KEY].clear()
    return web.Response(status=204)


async def set_rate_limit(request: web.Request) -> web.Response:
    """{limit, reset: true?}: the per-principal budget (GitHub's default is 5,000/h)."""
    forge = _forge(request)
    data = await _json(request)
    if data.get("reset"):
        forge.rate_limits.reset_all()
    if "limit" in data:
        forge.rate_limits.set_limit(int(data["limit"]))
    return _ok({"limit": forge.rate_limits.limit})


async def list_deliveries(request: web.Request) -> web.Response:
    hook = request.query.get("hook_id")
    items = _forge(request).webhooks.deliveries(int(hook) if hook else None)
    return _ok([d.summary() for d in items])


async def get_delivery(request: web.Request) -> web.Response:
    d = _forge(request).webhooks.delivery(int(request.match_info["delivery_id"]))
    return _ok({**d.summary(), "payload": d.payload()})


async def redeliver(request: web.Request) -> web.Response:
    forge = _forge(request)
    d = await forge.webhooks.redeliver(int(request.match_info["delivery_id"]))
    return _ok(d.summary(), status=201)


async def drain(request: web.Request) -> web.Response:
    await _forge(request).webhooks.drain()
    return _ok({"pending": 0})


R = f"{PREFIX}/repos/{{owner}}/{{repo}}"
ROUTES: list[tuple[str, str, Any]] = [
    ("GET", f"{PREFIX}/health", health),
    ("POST", f"{PREFIX}/repos", create_repo),
    ("GET", f"{PREFIX}/repos", list_repos),
    ("POST", f"{PREFIX}/users", create_user),
    ("POST", f"{PREFIX}/tokens", create_token),
    ("PUT", f"{R}/permissions/{{login}}", set_permission),
    ("POST", f"{PREFIX}/teams", create_team),
    ("GET", f"{PREFIX}/teams", list_teams),
    ("PUT", f"{PREFIX}/teams/{{path:.+}}/members/{{login}}", set_team_member),
    ("DELETE", f"{PREFIX}/teams/{{path:.+}}/members/{{login}}", remove_team_member),
    ("POST", f"{PREFIX}/apps", register_app),
    ("POST", f"{PREFIX}/apps/{{app_id}}/installations", install_app),
    ("POST", f"{PREFIX}/hooks", add_hook),
    ("GET", f"{PREFIX}/hooks", list_hooks),
    ("DELETE", f"{PREFIX}/hooks/{{hook_id}}", delete_hook),
    ("POST", f"{R}/commits", push_commit),
    ("POST", f"{R}/pulls", open_pull),
    ("GET", f"{R}/pulls", list_pulls),
    ("GET", f"{R}/pulls/{{number}}", get_pull),
    ("POST", f"{R}/pulls/{{number}}/merge", merge_pull),
    ("POST", f"{R}/pulls/{{number}}/close", close_pull),
    ("POST", f"{R}/pulls/{{number}}/comments", comment),
    ("POST", f"{R}/statuses/{{sha}}", post_status),
    ("POST", f"{R}/check-runs", post_check_run),
    ("POST", f"{R}/deployments", create_deployment),
    ("POST", f"{R}/deployments/{{deployment_id}}/statuses", post_deployment_status),
    ("POST", f"{R}/pipelines", create_pipeline),
    ("PUT", f"{R}/pipelines/{{pipeline_id}}", set_pipeline),
    ("GET", f"{PREFIX}/requests", get_requests),
    ("DELETE", f"{PREFIX}/requests", reset_requests),
    ("GET", f"{PREFIX}/faults", get_faults),
    ("PUT", f"{PREFIX}/faults", set_faults),
    ("DELETE", f"{PREFIX}/faults", clear_faults),
    ("PUT", f"{PREFIX}/rate-limit", set_rate_limit),
    ("GET", f"{PREFIX}/deliveries", list_deliveries),
    ("GET", f"{PREFIX}/deliveries/{{delivery_id}}", get_delivery),
    ("POST", f"{PREFIX}/deliveries/{{delivery_id}}/redeliver", redeliver),
    ("POST", f"{PREFIX}/deliveries/drain", drain),
]


def setup_routes(app: web.Application) -> None:
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
