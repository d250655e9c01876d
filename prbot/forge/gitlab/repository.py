"""Projects, branches, commits, the repository tree and archives."""

from __future__ import annotations

import asyncio
import gzip
import os
import subprocess

from aiohttp import web

from prbot.forge import git
from prbot.forge.errors import ForgeError
from prbot.forge.gitlab.commits import create_commit
from prbot.forge.gitlab.context import Ctx, Routes, bad_request, not_found, paginate
from prbot.forge.gitlab.shapes import GitLabShapes
from prbot.forge.models import ACCESS_LEVELS, Repo

ARCHIVE_FORMATS = {
    "tar.gz": "application/gzip",
    "tar": "application/x-tar",
    "zip": "application/zip",
}


def setup(routes: Routes, shapes: GitLabShapes) -> None:
    forge = routes.forge

    async def get_project(ctx: Ctx) -> web.Response:
        return web.json_response(shapes.project(ctx.project()))

    async def list_projects(ctx: Ctx) -> web.Response:
        """``GET /projects``: what the caller can see (public and internal projects, and
        its own), or with ``membership`` / ``min_access_level`` only where it is a member
        (with at least that level); ``visibility``, ``search``, ``order_by``, ``sort``."""
        min_level = ctx.int_param("min_access_level")
        if min_level is not None and min_level not in ACCESS_LEVELS.values():
            raise bad_request("min_access_level does not have a valid value")
        members_only = ctx.bool_param("membership") or min_level is not None
        visibility = ctx.str_param("visibility")
        if visibility not in (None, "public", "internal", "private"):
            raise bad_request("visibility does not have a valid value")
        search = (ctx.str_param("search") or "").lower()
        order_by = ctx.str_param("order_by", "created_at")
        if order_by not in ("id", "name", "path", "created_at", "updated_at", "last_activity_at"):
            raise bad_request("order_by does not have a valid value")

        def listed(r: Repo) -> bool:
            level = forge.principal_permission(r.full_name, ctx.principal)
            # anyone reads a public project: a member has a role of its own
            explicit = ctx.actor == r.owner or ctx.actor in r.permissions
            member = level != "none" and (level != "read" or explicit or r.private)
            if members_only and not member:
                return False
            if min_level is not None and ACCESS_LEVELS[level] < min_level:
                return False
            seen = member or r.visibility in ("public", "internal")
            shown = visibility is None or r.visibility == visibility
            return seen and shown and (not search or search in r.full_name.lower())

        keys = {
            "id": lambda r: (r.id,),
            "name": lambda r: (r.name.lower(), r.id),
            "path": lambda r: (r.full_name.lower(), r.id),
            "updated_at": lambda r: (r.updated_at, r.id),
            "last_activity_at": lambda r: (r.pushed_at or r.updated_at, r.id),
        }
        projects = sorted(
            (r for r in forge.repos() if listed(r)),
            key=keys.get(order_by or "", lambda r: (r.created_at, r.id)),
            reverse=(ctx.str_param("sort") or ("asc" if order_by in ("name", "path") else "desc"))
            == "desc",
        )
        return paginate(ctx, projects, shapes.project)

    async def commit_json(repo: Repo, sha: str) -> dict:
        return shapes.commit(repo, await forge.commit_info(repo.full_name, sha))

    # --- branches --------------------------------------------------------------------

    async def list_branches(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        search = ctx.str_param("search")
        heads = [
            (n, s) for n, s in await forge.branches(repo.full_name) if not search or search in n
        ]
        infos = {s: await forge.commit_info(repo.full_name, s) for _, s in heads}
        return paginate(ctx, heads, lambda h: shapes.branch(repo, h[0], infos[h[1]]))

    async def get_branch(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        name = ctx.arg("branch")
        sha = await forge.resolve(repo.full_name, f"refs/heads/{name}")
        if sha is None:
            raise not_found("Branch")
        info = await forge.commit_info(repo.full_name, sha)
        return web.json_response(shapes.branch(repo, name, info))

    async def create_branch(ctx: Ctx) -> web.Response:
        repo = ctx.project("write")
        name, ref = ctx.required("branch"), ctx.required("ref")
        if not git.check_ref_name(f"refs/heads/{name}"):
            raise bad_request("Branch name is invalid")
        sha = await forge.resolve(repo.full_name, ref)
        if sha is None:
            raise bad_request("Invalid reference name: " + ref)
        if await forge.resolve(repo.full_name, f"refs/heads/{name}") is not None:
            raise bad_request("Branch already exists")
        try:
            await forge.create_ref(repo.full_name, f"refs/heads/{name}", sha, actor=ctx.actor)
        except ForgeError:
            raise bad_request("Branch already exists") from None
        info = await forge.commit_info(repo.full_name, sha)
        return web.json_response(shapes.branch(repo, name, info), status=201)

    async def delete_branch(ctx: Ctx) -> web.Response:
        repo = ctx.project("write")
        name = ctx.arg("branch")
        if await forge.resolve(repo.full_name, f"refs/heads/{name}") is None:
            raise not_found("Branch")
        if name == repo.default_branch:
            raise bad_request("Cannot remove the default branch")
        await forge.delete_ref(repo.full_name, f"refs/heads/{name}", actor=ctx.actor)
        return web.Response(status=204)

    # --- commits ---------------------------------------------------------------------

    async def get_commit(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        sha = await forge.resolve(repo.full_name, ctx.arg("sha"))
        if sha is None:
            raise not_found("Commit")
        return web.json_response(await commit_json(repo, sha))

    async def list_commits(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        ref = ctx.str_param("ref_name") or repo.default_branch
        if await forge.resolve(repo.full_name, ref) is None:
            raise not_found("Commit")
        commits = await forge.log(repo.full_name, ref, max_count=1000)
        return paginate(ctx, commits, lambda c: shapes.commit(repo, c))

    async def post_commit(ctx: Ctx) -> web.Response:
        repo = ctx.project("write")
        sha = await create_commit(ctx, repo)
        body = await commit_json(repo, sha)
        body["stats"] = {"additions": 0, "deletions": 0, "total": 0}
        body["status"] = None
        body["project_id"] = repo.id
        return web.json_response(body, status=201)

    async def revert_commit(ctx: Ctx) -> web.Response:
        repo = ctx.project("write")
        sha = await forge.resolve(repo.full_name, ctx.arg("sha"))
        if sha is None:
            raise not_found("Commit")
        branch = ctx.required("branch")
        if await forge.resolve(repo.full_name, f"refs/heads/{branch}") is None:
            raise not_found("Branch")
        try:
            new = await forge.revert_commit(repo.full_name, sha, branch, actor=ctx.actor)
        except ForgeError:
            raise bad_request(
                "Sorry, we cannot revert this commit automatically. This commit may already "
                "have been reverted, or a more recent commit may have updated some of its "
                "content."
            ) from None
        return web.json_response(await commit_json(repo, new), status=201)

    async def merge_base(ctx: Ctx) -> web.Response:
        """The best common ancestor of two or more refs (GitLab: 400 for fewer refs or
        unknown ones, 404 "Merge Base Not Found" for unrelated histories)."""
        repo = ctx.project()
        refs = ctx.list_param("refs") or []
        if len(refs) < 2:
            raise bad_request("Provide at least 2 refs")
        shas = [await forge.resolve(repo.full_name, ref) for ref in refs]
        unknown = [ref for ref, sha in zip(refs, shas, strict=True) if sha is None]
        if unknown:
            noun = "ref" if len(unknown) == 1 else "refs"
            raise bad_request(f"Could not find {noun}: {', '.join(unknown)}")
        base: str | None = shas[0]
        for sha in shas[1:]:
            if base is None or sha is None:
                break
            base = await forge.merge_base(repo.full_name, base, sha)
        if base is None:
            raise not_found("Merge Base")
        return web.json_response(await commit_json(repo, base))

    # --- tree and archive ------------------------------------------------------------

    async def tree(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        ref = ctx.str_param("ref") or repo.default_branch
        sha = await forge.resolve(repo.full_name, ref)
        if sha is None:
            raise not_found("Tree")
        recursive = ctx.bool_param("recursive")
        path = (ctx.str_param("path") or "").strip("/")
        if path:
            # ls-tree with "dir/" lists what is inside the folder, by full path
            gd = forge.git_dir(repo.full_name)
            items = await asyncio.to_thread(git.list_tree, gd, sha, recursive, f"{path}/")
            items = [i for i in items if i.path.startswith(f"{path}/")]
            if not items:
                raise not_found("Tree")
        else:
            items = await forge.list_tree(repo.full_name, sha, recursive=recursive)
        return paginate(ctx, items, shapes.tree_item)

    async def archive(ctx: Ctx) -> web.StreamResponse:
        repo = ctx.project()
        fmt = ctx.request.match_info.get("format") or "tar.gz"
        if fmt not in ARCHIVE_FORMATS:
            raise not_found()
        ref = ctx.str_param("sha") or repo.default_branch
        sha = await forge.resolve(repo.full_name, ref)
        if sha is None:
            raise not_found("File")
        path = (ctx.str_param("path") or "").strip("/")
        # GitLab's top folder: <project>-<ref>-<sha>[-<path>]
        top = f"{repo.name}-{ref.replace('/', '-')}-{sha}"
        if path:
            top += "-" + path.replace("/", "-")
        data = await asyncio.to_thread(
            _git_archive, forge.git_dir(repo.full_name), sha, fmt, f"{top}/", path
        )
        if data is None:
            raise not_found("File")
        return web.Response(
            body=data,
            content_type=ARCHIVE_FORMATS[fmt],
            headers={"Content-Disposition": f'attachment; filename="{top}.{fmt}"'},
        )

    routes.add("GET", "/projects", list_projects)
    routes.add("GET", "/projects/{id}", get_project)
    routes.add("GET", "/projects/{id}/repository/branches", list_branches)
    routes.add("POST", "/projects/{id}/repository/branches", create_branch)
    routes.add("GET", "/projects/{id}/repository/branches/{branch}", get_branch)
    routes.add("DELETE", "/projects/{id}/repository/branches/{branch}", delete_branch)
    routes.add("GET", "/projects/{id}/repository/commits", list_commits)
    routes.add("POST", "/projects/{id}/repository/commits", post_commit)
    routes.add("GET", "/projects/{id}/repository/commits/{sha}", get_commit)
    routes.add("POST", "/projects/{id}/repository/commits/{sha}/revert", revert_commit)
    routes.add("GET", "/projects/{id}/repository/merge_base", merge_base)
    routes.add("GET", "/projects/{id}/repository/tree", tree)
    routes.add("GET", "/projects/{id}/repository/archive", archive)
    routes.add("GET", "/projects/{id}/repository/archive.{format}", archive)


def _git_archive(
    git_dir: os.PathLike[str], sha: str, fmt: str, prefix: str, path: str
) -> bytes | None:
    """A real ``git archive`` of ``sha`` (gzipped here, so no git config is needed)."""
    git_fmt = "zip" if fmt == "zip" else "tar"
    cmd = [
        "git",
        f"--git-dir={git_dir}",
        "archive",
        f"--format={git_fmt}",
        f"--prefix={prefix}",
        sha,
    ]
    if path:
        cmd += ["--", path]
    env = {
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/"),
    }
    proc = subprocess.run(cmd, capture_output=True, env=env, check=False)
    if proc.returncode != 0:
        return None
    if fmt == "tar.gz":
        return gzip.compress(proc.stdout, mtime=0)
    return proc.stdout
