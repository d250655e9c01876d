"""GitLab's commits API (POST /projects/:id/repository/commits): many file actions, one
commit, optionally on a new branch started from ``start_branch``/``start_sha``, or
``force`` resetting an existing branch onto that start.

Actions apply in order against the start commit, and fail as GitLab's do: creating a
file that exists, updating or deleting one that doesn't, is a 400 and changes nothing.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from prbot.forge import git
from prbot.forge.errors import Conflict, ForgeError, Unprocessable
from prbot.forge.gitlab.context import Ctx, bad_request
from prbot.forge.models import Repo

ACTIONS = ("create", "update", "delete", "move", "chmod")


@dataclass
class _File:
    mode: str
    sha: str | None = None  # an existing blob
    content: bytes | None = None  # new content

    def change(self) -> git.Change:
        return git.Change(mode=self.mode, sha=self.sha, content=self.content)


async def create_commit(ctx: Ctx, repo: Repo) -> str:
    """Validate and apply the request's actions; the new commit's sha."""
    forge = ctx.forge
    name = repo.full_name
    branch = ctx.required("branch")
    message = ctx.required("commit_message")
    actions = ctx.params.get("actions")
    if not isinstance(actions, list) or not actions:
        raise bad_request("actions is missing")
    if not git.check_ref_name(f"refs/heads/{branch}"):
        raise bad_request("Branch name is invalid")
    start_branch, start_sha = ctx.str_param("start_branch"), ctx.str_param("start_sha")
    if start_branch and start_sha:
        raise bad_request("start_branch, start_sha are mutually exclusive")
    head = await forge.resolve(name, f"refs/heads/{branch}")
    force = ctx.bool_param("force")
    if start_sha or start_branch:
        if start_sha:
            start = await forge.resolve(name, start_sha) if git.SHA_RE.match(start_sha) else None
            if start is None:
                raise bad_request(f"Invalid start sha: {start_sha}")
        else:
            start = await forge.resolve(name, f"refs/heads/{start_branch}")
            if start is None:
                raise bad_request(f"Invalid start branch: {start_branch}")
        if head is not None and start_branch != branch and not force:
            raise bad_request(
                f"A branch called '{branch}' already exists. "
                "Switch to that branch in order to make changes"
            )
    elif head is None:
        raise bad_request("You can only create or edit files when you are on a branch")
    else:
        start = head

    files = {
        i.path: _File(i.mode, i.sha)
        for i in await forge.list_tree(name, start, recursive=True)
        if i.type == "blob"
    }
    changes = _apply(actions, files)
    base: str | None = start
    if any(c is None for c in changes.values()):
        # Forge.write_tree's deletion runs ``update-index --force-remove``, which git
        # refuses in a bare repository; so deletions rebuild the tree from empty with
        # every surviving file instead (same result, no removal needed)
        survivors = {p: f.change() for p, f in files.items() if p not in changes}
        changes = {**survivors, **{p: c for p, c in changes.items() if c is not None}}
        base = None
    try:
        tree = await forge.write_tree(name, base, changes)
    except Unprocessable as exc:
        raise bad_request(exc.message) from None
    sha = await forge.create_commit(name, tree, [start], message, author=ctx.actor)
    ref = f"refs/heads/{branch}"
    try:
        if head is None:
            await forge.create_ref(name, ref, sha, actor=ctx.actor)
        else:
            await forge.update_ref(name, ref, sha, actor=ctx.actor, force=True, expected=head)
    except (Conflict, ForgeError):
        # another write moved the branch between our read and this update
        raise bad_request(f"Could not update {ref}. Please refresh and try again.") from None
    return sha


def _apply(actions: list[Any], files: dict[str, _File]) -> dict[str, git.Change | None]:
    """The net tree changes of ``actions`` on ``files`` (path -> file at the start)."""
    touched: dict[str, _File | None] = {}

    def current(path: str) -> _File | None:
        return touched[path] if path in touched else files.get(path)

    for n, action in enumerate(actions):
        if not isinstance(action, dict):
            raise bad_request(f"actions[{n}] is invalid")
        kind = action.get("action")
        if kind not in ACTIONS:
            raise bad_request(f"actions[{n}][action] does not have a valid value")
        path = _path(action.get("file_path"), f"actions[{n}][file_path]")
        existing = current(path)
        if kind == "create":
            if existing is not None:
                raise bad_request("A file with this name already exists")
            mode = "100755" if _truthy(action.get("execute_filemode")) else "100644"
            touched[path] = _File(mode, content=_content(action, n))
        elif kind == "update":
            if existing is None:
                raise bad_request("A file with this name doesn't exist")
            touched[path] = _File(existing.mode, content=_content(action, n))
        elif kind == "delete":
            if existing is None:
                raise bad_request("A file with this name doesn't exist")
            touched[path] = None
        elif kind == "chmod":
            if existing is None:
                raise bad_request("A file with this name doesn't exist")
            mode = "100755" if _truthy(action.get("execute_filemode")) else "100644"
            touched[path] = _File(mode, existing.sha, existing.content)
        else:  # move
            previous = _path(action.get("previous_path"), f"actions[{n}][previous_path]")
            source = current(previous)
            if source is None:
                raise bad_request("A file with this name doesn't exist")
            if existing is not None:
                raise bad_request("A file with this name already exists")
            moved = _File(source.mode, source.sha, source.content)
            if action.get("content") is not None:
                moved = _File(source.mode, content=_content(action, n))
            touched[previous] = None
            touched[path] = moved
    return {
        p: (f.change() if f is not None else None)
        for p, f in touched.items()
        if not (f is None and p not in files)
    }


def _path(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip("/"):
        raise bad_request(f"{field} is missing")
    path = value.strip("/")
    try:
        return git.check_path(path)
    except git.InvalidPath:
        raise bad_request(f"{field} is invalid") from None


def _content(action: dict[str, Any], n: int) -> bytes:
    content = action.get("content")
    if content is None:
        return b""
    if not isinstance(content, str):
        raise bad_request(f"actions[{n}][content] is invalid")
    encoding = action.get("encoding") or "text"
    if encoding == "base64":
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request(f"actions[{n}][content] is not valid base64") from None
    if encoding != "text":
        raise bad_request(f"actions[{n}][encoding] does not have a valid value")
    return content.encode("utf-8", "surrogatepass")


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")
