"""Commit statuses, pipelines and deployments: how a commit's health reaches GitLab."""

from __future__ import annotations

from aiohttp import web

from prbot.forge.errors import ForgeError
from prbot.forge.gitlab.context import Ctx, Routes, bad_request, not_found, paginate
from prbot.forge.gitlab.shapes import DEPLOYMENT_TO_FORGE, STATUS_TO_FORGE, GitLabShapes
from prbot.forge.models import Repo


def setup(routes: Routes, shapes: GitLabShapes) -> None:
    forge = routes.forge

    async def commit_sha(ctx: Ctx, repo: Repo) -> str:
        sha = await forge.resolve(repo.full_name, ctx.arg("sha"))
        if sha is None:
            raise not_found("Commit")
        return sha

    async def ref_of(repo: Repo, sha: str) -> str:
        pipes = forge.pipelines(repo.full_name, sha=sha)
        return pipes[0].ref if pipes else repo.default_branch

    # --- commit statuses -----------------------------------------------------------------

    async def list_statuses(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        sha = await commit_sha(ctx, repo)
        statuses = forge.statuses(repo.full_name, sha)  # newest first
        name = ctx.str_param("name")
        if name:
            statuses = [s for s in statuses if s.context == name]
        if not ctx.bool_param("all"):
            latest: dict[str, object] = {}
            for s in statuses:
                latest.setdefault(s.context, s)
            statuses = [s for s in statuses if latest[s.context] is s]
        ref = await ref_of(repo, sha)
        return paginate(ctx, statuses, lambda s: shapes.status(s, ref))

    async def post_status(ctx: Ctx) -> web.Response:
        repo = ctx.project("write")
        sha = await commit_sha(ctx, repo)
        state = ctx.required("state")
        if state not in STATUS_TO_FORGE:
            raise bad_request("state does not have a valid value")
        name = ctx.str_param("name") or ctx.str_param("context") or "default"
        status = await forge.post_status(
            repo.full_name,
            sha,
            STATUS_TO_FORGE[state],
            creator=ctx.actor,
            context=name,
            target_url=ctx.str_param("target_url"),
            description=ctx.str_param("description"),
            ref=ctx.str_param("ref"),
        )
        return web.json_response(shapes.status(status, await ref_of(repo, sha)), status=201)

    # --- pipelines -----------------------------------------------------------------------

    async def list_pipelines(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        pipes = forge.pipelines(repo.full_name, sha=ctx.str_param("sha"), ref=ctx.str_param("ref"))
        status = ctx.str_param("status")
        if status:
            pipes = [p for p in pipes if p.status == status]
        if ctx.str_param("sort") == "asc":
            pipes = list(reversed(pipes))
        return paginate(ctx, pipes, lambda p: shapes.pipeline(repo, p))

    async def get_pipeline(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        try:
            pipe = forge.pipeline(repo.full_name, int(ctx.arg("pipeline_id")))
        except (ForgeError, ValueError):
            raise not_found() from None
        return web.json_response(shapes.pipeline(repo, pipe))

    # --- deployments ---------------------------------------------------------------------

    async def list_deployments(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        deps = forge.deployments(repo.full_name, environment=ctx.str_param("environment"))
        rendered = [shapes.deployment(repo, d) for d in deps]  # newest first
        status = ctx.str_param("status")
        if status:
            rendered = [d for d in rendered if d["status"] == status]
        order = ctx.str_param("order_by") or "id"
        if order not in ("id", "iid", "created_at", "updated_at", "finished_at", "ref"):
            raise bad_request("order_by does not have a valid value")
        rendered.sort(key=lambda d: (d.get(order) or "", d["id"]) if order != "id" else d["id"])
        if ctx.str_param("sort", "asc") == "desc":
            rendered.reverse()
        return paginate(ctx, rendered, lambda d: d)

    def find_deployment(ctx: Ctx, repo: Repo):
        try:
            return forge.deployment(repo.full_name, int(ctx.arg("deployment_id")))
        except (ForgeError, ValueError):
            raise not_found() from None

    async def get_deployment(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        return web.json_response(shapes.deployment(repo, find_deployment(ctx, repo)))

    async def create_deployment(ctx: Ctx) -> web.Response:
        repo = ctx.project("write")
        environment = ctx.required("environment")
        ref = ctx.required("ref")
        sha = ctx.required("sha")
        status = ctx.required("status")
        if status not in DEPLOYMENT_TO_FORGE:
            raise bad_request("status does not have a valid value")
        full = await forge.resolve(repo.full_name, sha)
        if full is None:
            raise bad_request("sha is invalid")
        # keep the ref's name when it points at that commit; else deploy the sha itself
        named = await forge.resolve(repo.full_name, ref) == full
        # GitLab records deployments as they are reported: no status checks first
        deployment = await forge.create_deployment(
            repo.full_name,
            ref if named else full,
            creator=ctx.actor,
            environment=environment,
            required_contexts=[],
        )
        if not named:
            deployment.ref = ref
            forge.save()
        await forge.post_deployment_status(
            repo.full_name, deployment.id, DEPLOYMENT_TO_FORGE[status], creator=ctx.actor
        )
        return web.json_response(shapes.deployment(repo, deployment), status=201)

    async def update_deployment(ctx: Ctx) -> web.Response:
        repo = ctx.project("write")
        deployment = find_deployment(ctx, repo)
        status = ctx.required("status")
        if status not in DEPLOYMENT_TO_FORGE:
            raise bad_request("status does not have a valid value")
        await forge.post_deployment_status(
            repo.full_name, deployment.id, DEPLOYMENT_TO_FORGE[status], creator=ctx.actor
        )
        return web.json_response(shapes.deployment(repo, deployment))

    routes.add("GET", "/projects/{id}/repository/commits/{sha}/statuses", list_statuses)
    routes.add("POST", "/projects/{id}/statuses/{sha}", post_status)
    routes.add("GET", "/projects/{id}/pipelines", list_pipelines)
    routes.add("GET", "/projects/{id}/pipelines/{pipeline_id}", get_pipeline)
    routes.add("GET", "/projects/{id}/deployments", list_deployments)
    routes.add("POST", "/projects/{id}/deployments", create_deployment)
    routes.add("GET", "/projects/{id}/deployments/{deployment_id}", get_deployment)
    routes.add("PUT", "/projects/{id}/deployments/{deployment_id}", update_deployment)
