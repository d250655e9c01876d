"""The read-only pages' handlers: the index, a repository (at its default branch or a
branch), a pull / merge request, a commit, and a pull request's raw ``.diff``.

Everything is read from the ``Forge`` and its bare repositories (git runs in a thread);
nothing here changes state. Unknown repositories, numbers and commits answer the 404 page.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

from prbot.forge import git
from prbot.forge.errors import NotFound
from prbot.forge.ghhttp import forge_of
from prbot.forge.models import PullRequest, iso
from prbot.forge.pages import diff
from prbot.forge.pages.health import health_of
from prbot.forge.pages.links import Links, Style
from prbot.forge.pages.render import not_found, page, text
from prbot.forge.state import Forge

RECENT_COMMITS = 20
HEX_RE = re.compile(r"^[0-9a-f]{7,40}$")  # a commit page takes a (short) sha only


def _style(request: web.Request) -> Style:
    return "gitlab" if "/-/" in request.path else "github"


def _repo_name(request: web.Request) -> str:
    return f"{request.match_info['owner']}/{request.match_info['repo']}"


def _known(forge: Forge, full: str) -> bool:
    try:
        forge.repo(full)
    except NotFound:
        return False
    return True


async def index(request: web.Request) -> web.Response:
    forge = forge_of(request)
    repos = sorted(forge.repos(), key=lambda r: r.full_name)
    rows = [(r, len(forge.pull_requests(r.full_name, state="open"))) for r in repos]
    return page("index.html", {"title": "Repositories", "rows": rows})


async def repository(request: web.Request) -> web.Response:
    forge = forge_of(request)
    full = _repo_name(request)
    try:
        repo = forge.repo(full)
    except NotFound:
        return not_found(f"repository {full}")
    ref = request.match_info.get("ref") or repo.default_branch
    head = await forge.resolve(full, ref)
    tree: list[git.TreeItem] = []
    commits: list[git.CommitInfo] = []
    if head is not None:
        tree = await forge.list_tree(full, head, recursive=False)
        commits = await forge.log(full, head, RECENT_COMMITS)
    elif ref != repo.default_branch:
        return not_found(f"branch {ref} of {full}")
    values = {
        "title": full,
        "repo": repo,
        "ref": ref,
        "head": head,
        "tree": sorted(tree, key=lambda i: (i.type != "tree", i.path)),
        "commits": commits,
        "branches": await forge.branches(full),
        "open_pulls": forge.pull_requests(full, state="open"),
        "closed_pulls": forge.pull_requests(full, state="closed"),
        "links": Links(full, _style(request)),
        "when": iso,
    }
    return page("repository.html", values)


async def _pull_diff_range(forge: Forge, pr: PullRequest) -> tuple[str, str]:
    """(old, new) of the PR's change: from the merge base with its base branch (the
    base as it was when merged, once merged) to the head."""
    base = pr.base_sha
    if pr.state == "open":
        base = await forge.resolve(pr.repo, f"refs/heads/{pr.base}") or pr.base_sha
    return (await forge.merge_base(pr.repo, base, pr.head_sha) or base), pr.head_sha


def _pull(forge: Forge, request: web.Request) -> PullRequest | None:
    try:
        return forge.pull_request(_repo_name(request), int(request.match_info["number"]))
    except NotFound:
        return None


async def pull_request(request: web.Request) -> web.Response:
    forge = forge_of(request)
    links = Links(_repo_name(request), _style(request))
    pr = _pull(forge, request)
    if pr is None:
        return not_found(f"{links.pull_noun} {request.match_info['number']} of {links.repo_name}")
    old, new = await _pull_diff_range(forge, pr)
    files = await asyncio.to_thread(diff.file_diffs, forge.git_dir(pr.repo), old, new)
    health = [("head", health_of(forge, pr.repo, pr.head_sha))]
    if pr.merge_commit_sha:
        health.append(("merge commit", health_of(forge, pr.repo, pr.merge_commit_sha)))
    values: dict[str, Any] = {
        "title": f"{pr.title} · {links.pull_ref(pr.number)}",
        "pr": pr,
        "repo": forge.repo(pr.repo),
        "links": links,
        "mergeable": await forge.mergeable(pr.repo, pr.number),
        "commits": await forge.pull_request_commits(pr.repo, pr.number),
        "comments": forge.comments(pr.repo, pr.number),
        "files": files,
        "health": health,
        "when": iso,
    }
    return page("pull.html", values)


async def pull_diff(request: web.Request) -> web.Response:
    forge = forge_of(request)
    pr = _pull(forge, request)
    if pr is None:
        return not_found(f"pull request {request.match_info['number']}")
    old, new = await _pull_diff_range(forge, pr)
    raw = await asyncio.to_thread(diff.raw_diff, forge.git_dir(pr.repo), old, new)
    return text(raw.decode("utf-8", "replace"))


async def commit(request: web.Request) -> web.Response:
    forge = forge_of(request)
    full = _repo_name(request)
    links = Links(full, _style(request))
    wanted = request.match_info["sha"]
    sha = (
        await forge.resolve(full, wanted) if HEX_RE.match(wanted) and _known(forge, full) else None
    )
    if sha is None:
        return not_found(f"commit {wanted} of {full}")
    info = await forge.commit_info(full, sha)
    parent = info.parents[0] if info.parents else None
    files = await asyncio.to_thread(diff.file_diffs, forge.git_dir(full), parent, sha)
    values = {
        "title": f"{info.message.splitlines()[0] if info.message else sha[:12]} · {sha[:12]}",
        "repo": forge.repo(full),
        "info": info,
        "links": links,
        "files": files,
        "health": health_of(forge, full, sha),
        "pulls": [
            p
            for p in forge.pull_requests(full, state="all")
            if sha in (p.head_sha, p.merge_commit_sha)
        ],
        "when": iso,
    }
    return page("commit.html", values)
