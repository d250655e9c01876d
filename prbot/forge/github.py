"""GitHub REST v3 routes under ``/api/v3``: the 34 operations of
tests/fixtures/api/github-openapi-subset.json, plus the compare API and the repository
listings (``/user/repos``, ``/installation/repositories``, ``/app/installations``; not in
the subset: their shapes follow GitHub's documentation), answered from ``Forge`` in
GitHub's shapes.

Handlers stay thin: parse and check the request, call one ``Forge`` method, shape the
answer with ``ghshapes``. Auth, budgets and error bodies are ghhttp's middleware.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from prbot.forge import git
from prbot.forge.errors import Unprocessable
from prbot.forge.ghhttp import (
    ApiError,
    actor,
    body_json,
    budget_key,
    forge_of,
    json_response,
    need_str,
    paginate,
    principal,
    repo_access,
)
from prbot.forge.ghshapes import GitHubShapes
from prbot.forge.models import PERMISSIONS, App, Installation, Repo, User

API = "/api/v3"
REPO = f"{API}/repos/{{owner}}/{{repo}}"


def shapes(request: web.Request) -> GitHubShapes:
    return GitHubShapes(forge_of(request))


def _int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise ApiError(404, "Not Found") from None


def _ref_param(request: web.Request, name: str = "ref") -> str:
    # clients may URL-encode slashes in multi-segment parameters (heads%2Fmain)
    return unquote(request.match_info[name])


# --- app and meta ------------------------------------------------------------------------------


async def create_installation_token(request: web.Request) -> web.Response:
    forge = forge_of(request)
    app = principal(request)
    if not isinstance(app, App):
        raise ApiError(401, "A JSON web token is required for this endpoint")
    inst = forge.installation(_int(request, "installation_id"))
    if inst.app_id != app.id:
        raise ApiError(404, "Not Found")
    data = await body_json(request, required=False)
    repos: list[str] | None = None
    if data.get("repositories") or data.get("repository_ids"):
        names = [f"{inst.account}/{n}" if "/" not in n else n for n in data.get("repositories", [])]
        for rid in data.get("repository_ids", []):
            names.append(forge.repo_by_id(int(rid)).full_name)
        repos = names
    token, record = forge.create_installation_token(
        inst.id, repos=repos, permissions=data.get("permissions")
    )
    body: dict[str, Any] = {
        "token": token,
        "expires_at": datetime.fromtimestamp(record.expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "permissions": record.permissions,
        "repository_selection": "selected"
        if (repos is not None or inst.repos is not None)
        else "all",
    }
    if repos is not None:
        body["repositories"] = [shapes(request).repo(forge.repo(r)) for r in repos]
    return json_response(body, status=201)


async def rate_limit(request: web.Request) -> web.Response:
    limits = forge_of(request).rate_limits
    key = budget_key(principal(request))

    def shape(b, resource: str) -> dict[str, Any]:
        return {"limit": b.limit, "remaining": b.remaining, "reset": b.reset, "used": b.used,
                "resource": resource}  # fmt: skip

    core = shape(limits.peek(key), "core")
    resources = {
        "core": core,
        "graphql": shape(limits.peek(f"{key}:graphql"), "graphql"),
        "search": {"limit": 30, "remaining": 30, "reset": core["reset"], "used": 0},
    }
    rate = {k: v for k, v in core.items() if k != "resource"}
    return json_response({"resources": resources, "rate": rate})


# --- repository --------------------------------------------------------------------------------


async def get_repo(request: web.Request) -> web.Response:
    repo = repo_access(request)
    viewer = forge_of(request).actor_login(principal(request))
    return json_response(shapes(request).repo(repo, viewer=viewer))


async def collaborator_permission(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    login = request.match_info["username"]
    user = forge.user(login)
    level = forge.permission(repo.full_name, user.login)
    # the classic field only knows admin/write/read/none; role_name has the exact role
    classic = {"maintain": "write", "triage": "read"}.get(level, level)
    shape = shapes(request).user(user.login) or {}
    have = PERMISSIONS.index(level)
    shape["permissions"] = {
        "admin": have >= 5,
        "maintain": have >= 4,
        "push": have >= 3,
        "triage": have >= 2,
        "pull": have >= 1,
    }
    shape["role_name"] = level
    return json_response({"permission": classic, "role_name": level, "user": shape})


async def repo_installation(request: web.Request) -> web.Response:
    forge = forge_of(request)
    app = principal(request)
    full = f"{request.match_info['owner']}/{request.match_info['repo']}"
    forge.repo(full)
    inst = forge.installation_for_repo(full, app.id if isinstance(app, App) else None)
    if inst is None:
        raise ApiError(404, "Not Found")
    return json_response(shapes(request).installation(inst))


# --- commits: statuses and checks --------------------------------------------------------------


async def _commit_of(request: web.Request, repo: Repo, ref: str) -> str:
    sha = await forge_of(request).resolve(repo.full_name, ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    return sha


async def check_runs_for_ref(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    sha = await forge.resolve(repo.full_name, _ref_param(request))
    if sha is None:
        raise ApiError(404, "Not Found")
    runs = forge.check_runs(repo.full_name, sha, name=request.query.get("check_name"))
    if request.query.get("status"):
        runs = [r for r in runs if r.status == request.query["status"]]
    if request.query.get("filter", "latest") == "latest":
        seen: set[str] = set()
        latest = []
        for r in runs:
            if r.name not in seen:
                seen.add(r.name)
                latest.append(r)
        runs = latest
    page, link = paginate(request, runs)
    body = {"total_count": len(runs), "check_runs": [shapes(request).check_run(r) for r in page]}
    return json_response(body, headers=link)


async def combined_status(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    sha = await forge.resolve(repo.full_name, _ref_param(request))
    if sha is None:
        raise ApiError(404, "Not Found")
    return json_response(shapes(request).combined_status(repo, sha))


async def create_status(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request, "write")
    data = await body_json(request)
    sha = await _commit_of(request, repo, _ref_param(request, "sha"))
    state = need_str(data, "state", "Status")
    status = await forge.post_status(
        repo.full_name,
        sha,
        state,
        creator=actor(request),
        context=data.get("context") or "default",
        target_url=data.get("target_url"),
        description=data.get("description"),
    )
    return json_response(shapes(request).status(status), status=201)


# --- contents ----------------------------------------------------------------------------------


async def get_contents(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    path = _ref_param(request, "path").strip("/")
    ref = request.query.get("ref") or repo.default_branch
    sha = await forge.resolve(repo.full_name, ref)
    if sha is None:
        raise ApiError(404, f"No commit found for the ref {ref}")
    items = await forge.list_tree(repo.full_name, sha, recursive=True)
    s = shapes(request)
    api = f"{s.api}/repos/{repo.full_name}"
    web_base = f"{forge.base_url}/{repo.full_name}"

    def entry(item: git.TreeItem) -> dict[str, Any]:
        kind = {"blob": "file", "tree": "dir", "commit": "submodule"}[item.type]
        if item.mode == "120000":
            kind = "symlink"
        html = f"{web_base}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{item.path}"
        git_url = f"{api}/git/{'trees' if kind == 'dir' else 'blobs'}/{item.sha}"
        url = f"{api}/contents/{item.path}?ref={ref}"
        return {
            "type": kind,
            "size": item.size or 0,
            "name": item.path.rsplit("/", 1)[-1],
            "path": item.path,
            "sha": item.sha,
            "url": url,
            "git_url": git_url,
            "html_url": html,
            "download_url": f"{web_base}/raw/{ref}/{item.path}" if kind == "file" else None,
            "_links": {"self": url, "git": git_url, "html": html},
        }

    if path:
        match = next((i for i in items if i.path == path), None)
        if match is None:
            raise ApiError(404, "Not Found")
        if match.type == "tree":
            prefix = path + "/"
            children = [
                i for i in items if i.path.startswith(prefix) and "/" not in i.path[len(prefix) :]
            ]
            return json_response([entry(i) for i in children])
    else:
        return json_response([entry(i) for i in items if "/" not in i.path])
    shaped = entry(match)
    if match.type == "blob":
        data = (await forge.read_blobs(repo.full_name, [match.sha]))[match.sha]
        if shaped["type"] == "symlink":
            shaped["target"] = data.decode("utf-8", "replace")
        else:
            encoded = base64.b64encode(data).decode()
            # GitHub wraps the base64 text at 60 characters
            shaped["content"] = "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60))
            shaped["encoding"] = "base64"
    elif match.type == "commit":
        shaped["submodule_git_url"] = ""
    return json_response(shaped)


# --- deployments -------------------------------------------------------------------------------


async def list_deployments(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    q = request.query
    items = forge.deployments(
        repo.full_name,
        sha=q.get("sha"),
        ref=q.get("ref"),
        environment=q.get("environment"),
        task=q.get("task"),
    )
    page, link = paginate(request, items)
    return json_response([shapes(request).deployment(d) for d in page], headers=link)


async def create_deployment(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request, "write")
    data = await body_json(request)
    ref = need_str(data, "ref", "Deployment")
    payload = data.get("payload") or {}
    if isinstance(payload, str):
        import json

        try:
            payload = json.loads(payload)
        except ValueError:
            payload = {"raw": payload}
    d = await forge.create_deployment(
        repo.full_name,
        ref,
        creator=actor(request),
        environment=data.get("environment") or "production",
        task=data.get("task") or "deploy",
        description=data.get("description"),
        payload=payload,
        required_contexts=data.get("required_contexts"),
        transient_environment=bool(data.get("transient_environment", False)),
        production_environment=data.get("production_environment"),
    )
    return json_response(shapes(request).deployment(d), status=201)


async def list_deployment_statuses(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    items = forge.deployment_statuses(repo.full_name, _int(request, "deployment_id"))
    page, link = paginate(request, items)
    return json_response([shapes(request).deployment_status(s) for s in page], headers=link)


async def create_deployment_status(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request, "write")
    data = await body_json(request)
    state = need_str(data, "state", "DeploymentStatus")
    s = await forge.post_deployment_status(
        repo.full_name,
        _int(request, "deployment_id"),
        state,
        creator=actor(request),
        description=data.get("description") or "",
        target_url=data.get("target_url") or "",
        log_url=data.get("log_url") or "",
        environment_url=data.get("environment_url") or "",
        environment=data.get("environment"),
    )
    return json_response(shapes(request).deployment_status(s), status=201)


async def get_deployment_status(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    s = forge.deployment_status(
        repo.full_name, _int(request, "deployment_id"), _int(request, "status_id")
    )
    return json_response(shapes(request).deployment_status(s))


# --- git database ------------------------------------------------------------------------------


async def create_blob(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request, "write")
    data = await body_json(request)
    content = data.get("content")
    if not isinstance(content, str):
        raise ApiError(422, 'Invalid request.\n\n"content" wasn\'t supplied.')
    encoding = data.get("encoding") or "utf-8"
    if encoding == "base64":
        try:
            raw = base64.b64decode(content, validate=False)
        except ValueError:
            raise ApiError(422, "content is not valid Base64") from None
    elif encoding in ("utf-8", "utf8"):
        raw = content.encode()
    else:
        raise ApiError(422, f"encoding {encoding!r} is not supported")
    sha = await forge.write_blob(repo.full_name, raw)
    url = f"{shapes(request).api}/repos/{repo.full_name}/git/blobs/{sha}"
    return json_response({"url": url, "sha": sha}, status=201)


def _signature(value: Any, default: git.Signature) -> git.Signature:
    if not isinstance(value, dict):
        return default
    when = default.when
    if isinstance(value.get("date"), str):
        try:
            when = int(datetime.fromisoformat(value["date"].replace("Z", "+00:00")).timestamp())
        except ValueError:
            raise ApiError(422, "Invalid request.\n\ndate is not a valid ISO 8601 date") from None
    return git.Signature(
        str(value.get("name") or default.name), str(value.get("email") or default.email), when
    )


async def create_git_commit(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request, "write")
    data = await body_json(request)
    message = need_str(data, "message", "Commit")
    tree = need_str(data, "tree", "Commit")
    parents = data.get("parents") or []
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise ApiError(422, "Invalid request.\n\nparents must be a list of shas")
    who = actor(request)
    default = forge._signature(who, forge._tick())
    author = _signature(data.get("author"), default)
    committer = _signature(data.get("committer"), author if data.get("author") else default)
    sha = await forge.create_commit(
        repo.full_name, tree, parents, message, author=author, committer=committer
    )
    info = await forge.commit_info(repo.full_name, sha)
    return json_response(shapes(request).git_commit(repo.full_name, info), status=201)


async def get_git_commit(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    sha = _ref_param(request, "commit_sha")
    if not git.SHA_RE.match(sha):
        raise ApiError(404, "Not Found")
    info = await forge.commit_info(repo.full_name, sha)
    return json_response(shapes(request).git_commit(repo.full_name, info))


# GitHub lists at most this many commits in a comparison that is not paginated
COMPARE_MAX_COMMITS = 250


async def compare(request: web.Request) -> web.Response:
    """``compare/BASE...HEAD``: how HEAD stands against BASE, from their merge base.

    The commits listed are HEAD's since the merge base, oldest first (``per_page`` and
    ``page`` paginate them); the optional ``files`` list is left out. Unknown refs answer
    404 "Not Found", unrelated histories 404 "No common ancestor between BASE and HEAD."."""
    forge = forge_of(request)
    repo = repo_access(request)
    base_ref, dots, head_ref = _ref_param(request, "basehead").partition("...")
    if not dots or not base_ref or not head_ref:
        raise ApiError(404, "Not Found")
    base = await forge.resolve(repo.full_name, base_ref)
    head = await forge.resolve(repo.full_name, head_ref)
    if base is None or head is None:
        raise ApiError(404, "Not Found")
    merge_base = await forge.merge_base(repo.full_name, base, head)
    if merge_base is None:
        raise ApiError(404, f"No common ancestor between {base_ref} and {head_ref}.")
    limit = 1_000_000
    ahead = await forge.log(repo.full_name, head, limit, merge_base)
    behind = await forge.log(repo.full_name, base, limit, merge_base)
    if not ahead and not behind:
        status = "identical"
    elif not behind:
        status = "ahead"
    elif not ahead:
        status = "behind"
    else:
        status = "diverged"
    oldest_first = list(reversed(ahead))
    headers: dict[str, str] = {}
    if "per_page" in request.query or "page" in request.query:
        listed, headers = paginate(request, oldest_first)
    else:
        listed = oldest_first[:COMPARE_MAX_COMMITS]
    s = shapes(request)
    name = repo.full_name
    spec = f"{base_ref}...{head_ref}"
    web_url = f"{forge.base_url}/{name}/compare/{spec}"
    body = {
        "url": f"{s.api}/repos/{name}/compare/{spec}",
        "html_url": web_url,
        "permalink_url": f"{forge.base_url}/{name}/compare/{base}...{head}",
        "diff_url": f"{web_url}.diff",
        "patch_url": f"{web_url}.patch",
        "base_commit": s.commit(name, await forge.commit_info(name, base)),
        "merge_base_commit": s.commit(name, await forge.commit_info(name, merge_base)),
        "status": status,
        "ahead_by": len(ahead),
        "behind_by": len(behind),
        "total_commits": len(ahead),
        "commits": [s.commit(name, c) for c in listed],
    }
    return json_response(body, headers=headers or None)


async def matching_refs(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    ref = _ref_param(request).strip("/")
    prefix = f"refs/{ref}" if ref else "refs/"
    refs = [r for r in await forge.refs(repo.full_name, "refs/") if r[0].startswith(prefix)]
    s = shapes(request)
    return json_response([s.git_ref(repo.full_name, r, sha, kind) for r, sha, kind in refs])


async def get_ref(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    name = "refs/" + _ref_param(request).strip("/")
    found = [r for r in await forge.refs(repo.full_name, name) if r[0] == name]
    if not found:
        raise ApiError(404, "Not Found")
    r, sha, kind = found[0]
    return json_response(shapes(request).git_ref(repo.full_name, r, sha, kind))


async def create_ref(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request, "write")
    data = await body_json(request)
    ref = need_str(data, "ref", "Reference")
    sha = need_str(data, "sha", "Reference")
    await forge.create_ref(repo.full_name, ref, sha, actor=actor(request))
    return json_response(shapes(request).git_ref(repo.full_name, ref, sha), status=201)


async def update_ref(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request, "write")
    data = await body_json(request)
    sha = need_str(data, "sha", "Reference")
    name = "refs/" + _ref_param(request).strip("/")
    await forge.update_ref(
        repo.full_name, name, sha, actor=actor(request), force=bool(data.get("force", False))
    )
    return json_response(shapes(request).git_ref(repo.full_name, name, sha))


async def create_tree(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request, "write")
    data = await body_json(request)
    entries = data.get("tree")
    if not isinstance(entries, list):
        raise ApiError(422, 'Invalid request.\n\n"tree" wasn\'t supplied.')
    changes: dict[str, git.Change | None] = {}
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("path"), str):
            raise ApiError(422, "Invalid request.\n\ntree entries need a path")
        path, mode, kind = e["path"], str(e.get("mode", "100644")), e.get("type", "blob")
        if mode not in (*git.BLOB_MODES, git.TREE_MODE, "040000", "160000"):
            raise ApiError(422, f"Invalid tree info: mode {mode} for {path}")
        if mode == "160000" or kind == "commit":
            raise ApiError(422, "submodules are not supported by the local forge")
        if "content" in e and e["content"] is not None:
            if kind != "blob":
                raise ApiError(422, f"content given for a {kind} at {path}")
            changes[path] = git.Change(mode=mode, content=str(e["content"]).encode())
        elif "sha" in e and e["sha"] is None:
            changes[path] = None  # GitHub: sha null deletes the path from base_tree
        elif isinstance(e.get("sha"), str):
            changes[path] = git.Change(mode=git.TREE_MODE if kind == "tree" else mode, sha=e["sha"])
        else:
            raise ApiError(422, f"Invalid tree info: {path} needs a sha or content")
    base = data.get("base_tree")
    if base is not None and not isinstance(base, str):
        raise ApiError(422, "base_tree must be a sha")
    try:
        sha = await forge.write_tree(repo.full_name, base, changes)
    except Unprocessable as exc:
        raise ApiError(422, exc.message) from None
    items = await forge.list_tree(repo.full_name, sha, recursive=False)
    return json_response(shapes(request).tree(repo.full_name, sha, items), status=201)


async def get_tree(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    treeish = _ref_param(request, "tree_sha")
    recursive = request.query.get("recursive") not in (None, "", "0", "false")
    items = await forge.list_tree(repo.full_name, treeish, recursive=recursive)
    sha = (
        await forge._git(repo.full_name, git.rev_parse, treeish, "tree")
        if not git.SHA_RE.match(treeish)
        else None
    )
    if sha is None:
        commit = await forge.resolve(repo.full_name, treeish)
        sha = (await forge.commit_info(repo.full_name, commit)).tree if commit else treeish
    return json_response(shapes(request).tree(repo.full_name, sha, items))


# --- issues: comments, reactions, labels -------------------------------------------------------


async def update_comment(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    data = await body_json(request)
    body = need_str(data, "body", "IssueComment")
    comment = forge.comment(repo.full_name, _int(request, "comment_id"))
    who = actor(request)
    level = forge.principal_permission(repo.full_name, principal(request))
    if comment.author != who and PERMISSIONS.index(level) < PERMISSIONS.index("triage"):
        raise ApiError(403, "You must have triage access to edit others' comments.")
    comment = await forge.edit_comment(repo.full_name, comment.id, body, actor=who)
    return json_response(shapes(request).comment(comment))


async def create_reaction(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    data = await body_json(request)
    content = need_str(data, "content", "Reaction")
    reaction, created = await forge.add_reaction(
        repo.full_name, _int(request, "comment_id"), content, user=actor(request)
    )
    return json_response(shapes(request).reaction(reaction), status=201 if created else 200)


async def list_comments(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    comments = forge.comments(repo.full_name, _int(request, "issue_number"))
    since = request.query.get("since")
    if since:
        comments = [c for c in comments if c.updated_at >= since]
    page, link = paginate(request, comments)
    return json_response([shapes(request).comment(c) for c in page], headers=link)


async def create_comment(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    data = await body_json(request)
    body = need_str(data, "body", "IssueComment")
    c = await forge.add_comment(
        repo.full_name, _int(request, "issue_number"), body, author=actor(request)
    )
    return json_response(shapes(request).comment(c), status=201)


def _label_names(data: Any) -> list[str]:
    # GitHub accepts {"labels": ["a"]}, {"labels": [{"name": "a"}]}, ["a"] and [{"name": "a"}]
    items = data.get("labels") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ApiError(422, 'Invalid request.\n\n"labels" wasn\'t supplied.')
    names = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not name.strip():
            raise ApiError(422, "Invalid request.\n\nlabel names must be strings")
        names.append(name)
    return names


async def add_labels(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request, "triage")
    data = await body_json(request)
    labels = await forge.add_labels(
        repo.full_name, _int(request, "issue_number"), _label_names(data), actor=actor(request)
    )
    s = shapes(request)
    return json_response([s.label(repo.full_name, lab) for lab in labels])


# --- pull requests -----------------------------------------------------------------------------


async def _pr_shape(request: web.Request, repo: Repo, number: int) -> dict[str, Any]:
    forge = forge_of(request)
    pr = forge.pull_request(repo.full_name, number)
    mergeable = await forge.mergeable(repo.full_name, number)
    stats = await forge.pull_request_diffstat(repo.full_name, number)
    return shapes(request).pull_request(pr, mergeable=mergeable, stats=stats)


async def list_pulls(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    state = request.query.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise ApiError(422, "Validation Failed", [{"resource": "Issue", "field": "state",
                                                   "code": "invalid"}])  # fmt: skip
    pulls = forge.pull_requests(
        repo.full_name, state=state, head=request.query.get("head"), base=request.query.get("base")
    )
    sort = request.query.get("sort", "created")
    key = {"updated": lambda p: p.updated_at}.get(sort, lambda p: p.number)
    descending = request.query.get("direction", "desc") == "desc"
    pulls = sorted(pulls, key=key, reverse=descending)
    page, link = paginate(request, pulls)
    s = shapes(request)
    return json_response([s.pull_request(p, simple=True) for p in page], headers=link)


async def create_pull(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    data = await body_json(request)
    head = need_str(data, "head", "PullRequest")
    base = need_str(data, "base", "PullRequest")
    title = data.get("title")
    if not isinstance(title, str) or not title:
        missing = {"resource": "PullRequest", "field": "title", "code": "missing_field"}
        raise ApiError(422, "Validation Failed", [missing])
    pr = await forge.open_pull_request(
        repo.full_name,
        head=head,
        base=base,
        title=title,
        body=data.get("body") or "",
        draft=bool(data.get("draft", False)),
        author=actor(request),
    )
    return json_response(await _pr_shape(request, repo, pr.number), status=201)


async def get_pull(request: web.Request) -> web.Response:
    repo = repo_access(request)
    return json_response(await _pr_shape(request, repo, _int(request, "pull_number")))


async def update_pull(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request)
    number = _int(request, "pull_number")
    pr = forge.pull_request(repo.full_name, number)
    who = actor(request)
    level = forge.principal_permission(repo.full_name, principal(request))
    if pr.author != who and PERMISSIONS.index(level) < PERMISSIONS.index("write"):
        raise ApiError(403, "Must have push access to update a pull request.")
    data = await body_json(request)
    await forge.update_pull_request(
        repo.full_name,
        number,
        actor=who,
        title=data.get("title"),
        body=data.get("body"),
        state=data.get("state"),
        base=data.get("base"),
    )
    return json_response(await _pr_shape(request, repo, number))


async def merge_pull(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request, "write")
    data = await body_json(request, required=False)
    pr = await forge.merge_pull_request(
        repo.full_name,
        _int(request, "pull_number"),
        actor=actor(request),
        merge_method=data.get("merge_method") or "merge",
        title=data.get("commit_title"),
        message=data.get("commit_message"),
        sha=data.get("sha"),
    )
    return json_response(
        {"sha": pr.merge_commit_sha, "merged": True, "message": "Pull Request successfully merged"}
    )


async def request_reviewers(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repo = repo_access(request, "triage")
    data = await body_json(request)
    reviewers = data.get("reviewers") or []
    if data.get("team_reviewers"):
        raise ApiError(422, "Teams are not supported by the local forge")
    if not isinstance(reviewers, list) or not all(isinstance(r, str) for r in reviewers):
        raise ApiError(422, "Invalid request.\n\nreviewers must be a list of logins")
    number = _int(request, "pull_number")
    pr = await forge.request_reviewers(repo.full_name, number, reviewers, actor=actor(request))
    return json_response(shapes(request).pull_request(pr, simple=True), status=201)


# --- repository listings -----------------------------------------------------------------------

AFFILIATIONS = ("owner", "collaborator", "organization_member")


def _permissions(level: str) -> dict[str, bool]:
    have = PERMISSIONS.index(level)
    names = ("pull", "triage", "push", "maintain", "admin")
    return {name: have >= i + 1 for i, name in enumerate(names)}


async def user_repos(request: web.Request) -> web.Response:
    """``GET /user/repos``: the repositories the user owns or has a role on (an
    organisation's through membership: not modelled), by ``visibility`` and
    ``affiliation``, sorted by full name."""
    forge = forge_of(request)
    who = principal(request)
    if not isinstance(who, User):
        raise ApiError(403, "Resource not accessible by integration")
    visibility = request.query.get("visibility", "all")
    if visibility not in ("all", "public", "private"):
        raise ApiError(422, "Validation Failed", [{"field": "visibility", "code": "invalid"}])
    wanted = request.query.get("affiliation", ",".join(AFFILIATIONS)).split(",")
    if any(a.strip() not in AFFILIATIONS for a in wanted):
        raise ApiError(422, "Validation Failed", [{"field": "affiliation", "code": "invalid"}])
    affiliation = {a.strip() for a in wanted}

    def listed(r: Repo) -> bool:
        mine = "owner" in affiliation and r.owner == who.login
        member = "collaborator" in affiliation and who.login in r.permissions
        shown = visibility == "all" or (visibility == "public") != r.private
        return (mine or member) and shown

    repos = sorted((r for r in forge.repos() if listed(r)), key=lambda r: r.full_name.lower())
    page, headers = paginate(request, repos)
    return json_response([shapes(request).repo(r, viewer=who.login) for r in page], headers=headers)


async def installation_repositories(request: web.Request) -> web.Response:
    """``GET /installation/repositories``: the repositories the installation token reaches,
    each with the installation's permissions on it."""
    forge = forge_of(request)
    who = principal(request)
    if not isinstance(who, Installation):
        raise ApiError(403, "This endpoint requires an installation access token")
    repos = sorted(forge.installation_repos(who), key=lambda r: r.full_name.lower())
    page, headers = paginate(request, repos)
    items = []
    for r in page:
        item = shapes(request).repo(r)
        item["permissions"] = _permissions(forge.principal_permission(r.full_name, who))
        items.append(item)
    body = {
        "total_count": len(repos),
        "repository_selection": "all" if who.repos is None else "selected",
        "repositories": items,
    }
    return json_response(body, headers=headers)


async def app_installations(request: web.Request) -> web.Response:
    """``GET /app/installations`` (as the App, with its JWT)."""
    forge = forge_of(request)
    app = principal(request)
    if not isinstance(app, App):
        raise ApiError(401, "A JSON web token is required for this endpoint")
    mine = [i for i in forge.installations() if i.app_id == app.id]
    page, headers = paginate(request, sorted(mine, key=lambda i: i.id))
    return json_response([shapes(request).installation(i) for i in page], headers=headers)


# --- wiring ------------------------------------------------------------------------------------

ROUTES: list[tuple[str, str, Any]] = [
    (
        "POST",
        f"{API}/app/installations/{{installation_id}}/access_tokens",
        create_installation_token,
    ),
    ("GET", f"{API}/app/installations", app_installations),
    ("GET", f"{API}/installation/repositories", installation_repositories),
    ("GET", f"{API}/rate_limit", rate_limit),
    ("GET", f"{API}/user/repos", user_repos),
    ("GET", REPO, get_repo),
    ("GET", f"{REPO}/collaborators/{{username}}/permission", collaborator_permission),
    ("GET", f"{REPO}/commits/{{ref:.+}}/check-runs", check_runs_for_ref),
    ("GET", f"{REPO}/commits/{{ref:.+}}/status", combined_status),
    ("GET", f"{REPO}/compare/{{basehead:.+}}", compare),
    ("GET", f"{REPO}/contents/{{path:.*}}", get_contents),
    ("GET", f"{REPO}/deployments", list_deployments),
    ("POST", f"{REPO}/deployments", create_deployment),
    ("GET", f"{REPO}/deployments/{{deployment_id}}/statuses", list_deployment_statuses),
    ("POST", f"{REPO}/deployments/{{deployment_id}}/statuses", create_deployment_status),
    (
        "GET",
        f"{REPO}/deployments/{{deployment_id}}/statuses/{{status_id}}",
        get_deployment_status,
    ),
    ("POST", f"{REPO}/git/blobs", create_blob),
    ("POST", f"{REPO}/git/commits", create_git_commit),
    ("GET", f"{REPO}/git/commits/{{commit_sha:.+}}", get_git_commit),
    ("GET", f"{REPO}/git/matching-refs/{{ref:.*}}", matching_refs),
    ("GET", f"{REPO}/git/ref/{{ref:.+}}", get_ref),
    ("POST", f"{REPO}/git/refs", create_ref),
    ("PATCH", f"{REPO}/git/refs/{{ref:.+}}", update_ref),
    ("POST", f"{REPO}/git/trees", create_tree),
    ("GET", f"{REPO}/git/trees/{{tree_sha:.+}}", get_tree),
    ("GET", f"{REPO}/installation", repo_installation),
    ("PATCH", f"{REPO}/issues/comments/{{comment_id}}", update_comment),
    ("POST", f"{REPO}/issues/comments/{{comment_id}}/reactions", create_reaction),
    ("GET", f"{REPO}/issues/{{issue_number}}/comments", list_comments),
    ("POST", f"{REPO}/issues/{{issue_number}}/comments", create_comment),
    ("POST", f"{REPO}/issues/{{issue_number}}/labels", add_labels),
    ("GET", f"{REPO}/pulls", list_pulls),
    ("POST", f"{REPO}/pulls", create_pull),
    ("GET", f"{REPO}/pulls/{{pull_number}}", get_pull),
    ("PATCH", f"{REPO}/pulls/{{pull_number}}", update_pull),
    ("PUT", f"{REPO}/pulls/{{pull_number}}/merge", merge_pull),
    ("POST", f"{REPO}/pulls/{{pull_number}}/requested_reviewers", request_reviewers),
    ("POST", f"{REPO}/statuses/{{sha}}", create_status),
]


def setup_routes(app: web.Application) -> None:
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
