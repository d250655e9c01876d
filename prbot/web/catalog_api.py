"""The catalog API, behind the API token like ``/api/runs``:

- ``GET /api/catalog[?platform=&repo=]`` -> 200 ``{"catalogs": [...], "automations":
  [...]}``: the deployment's catalogs and automations, plus, with ``repo`` (and
  ``platform``), that repository's own from its ``.prbot/``; each automation with the
  JSON Schema of its inputs (``prbot.automation.catalog_view``).
- ``POST /api/preview`` ``{"automation", "repo", "platform", "inputs"}`` -> 200 the change a
  run would make (``prbot.engine.preview``): rendered in the sandbox against the PR's
  base branch, nothing written. The body is checked as ``POST /api/runs`` checks it, with
  the same 422 messages. Password values render as given and are then masked (``***``)
  everywhere in the answer: a preview never shows one back.

The handlers are methods over injected lookups so the catalog pages can call them too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from prbot.automation.catalog_view import catalog_view
from prbot.engine.preview import Preview, preview_run
from prbot.engine.run_requests import REPO_PATHS
from prbot.engine.sandbox import Sandbox
from prbot.errors import PrbotError, is_permanent, redact
from prbot.scm.port import NotFound, Scm, ScmError
from prbot.web.api import Api, invalid

log = logging.getLogger("prbot.web.catalog")

# (platform, repo) -> the repository's own DefinitionSet (DefinitionsCache.repo_set)
RepoDefinitionsLookup = Callable[[str, str], Awaitable[Any]]
ScmFor = Callable[[str], Scm]


class CatalogApi:
    def __init__(
        self,
        api: Api,
        *,
        repo_definitions: RepoDefinitionsLookup | None = None,
        scm_for: ScmFor | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.api = api
        self.repo_definitions = repo_definitions
        self.scm_for = scm_for
        self.sandbox = sandbox

    def add_routes(self, app: web.Application) -> None:
        if not self.api.token:
            return
        app.router.add_get("/api/catalog", self.api.guard(self.get_catalog))
        app.router.add_post("/api/preview", self.api.guard(self.preview))

    # -- GET /api/catalog

    async def get_catalog(self, request: web.Request) -> web.Response:
        platform = request.query.get("platform") or None
        repo = request.query.get("repo") or None
        found = await self.catalog(platform, repo)
        if isinstance(found, web.Response):
            return found
        return web.json_response(found)

    async def catalog(
        self, platform: str | None, repo: str | None
    ) -> dict[str, Any] | web.Response:
        """The catalog as data, or the answer saying why there is none (422, 404, 503)."""
        errors: dict[str, str] = {}
        if platform is not None and platform not in REPO_PATHS:
            errors["platform"] = "must be github or gitlab"
        elif repo is not None and platform is None:
            errors["platform"] = "is required with repo (github or gitlab)"
        elif platform is not None and (problem := self.api.platform_problem(platform)):
            errors["platform"] = problem
        if repo is not None and platform in REPO_PATHS and not REPO_PATHS[platform].fullmatch(repo):
            errors["repo"] = f"must be a repository path like owner/name, got {repo!r}"
        if errors:
            return invalid(errors)
        deployment = await self.api.definition_set()
        sources = [("deployment", deployment.catalogs, deployment.automations)]
        if repo is not None and platform is not None and self.repo_definitions is not None:
            try:
                own = await self.repo_definitions(platform, repo)
            except PrbotError as exc:
                return _scm_failure(exc, repo, field="repo")
            sources.append(("repository", own.catalogs, own.automations))
        return catalog_view(sources, repo=repo, limits=self.api.settings.limits)

    # -- POST /api/preview

    async def preview(self, request: web.Request) -> web.Response:
        body = await self.api.read_body(request)
        if isinstance(body, web.Response):
            return body
        found = await self.preview_of(body)
        return found if isinstance(found, web.Response) else web.json_response(found)

    async def preview_of(self, body: dict[str, Any]) -> dict[str, Any] | web.Response:
        """The preview of a request as data, or the answer saying why there is none (the
        API's answer, and the catalog page's)."""
        checked = await self.api.check_request(body)
        if isinstance(checked, web.Response):
            return checked
        if checked.errors:
            return invalid(checked.errors)
        if self.scm_for is None or checked.automation is None:
            reason = "previews need the platform (this process has no SCM)"
            return web.json_response({"status": "unavailable", "reason": reason}, status=503)
        passwords = checked.inputs.passwords
        try:
            found = await preview_run(
                self.scm_for(checked.platform),
                checked.repo,
                checked.automation,
                {**checked.inputs.for_job, **passwords},
                sandbox=self.sandbox,
                limits=self.api.settings.limits,
            )
        except PrbotError as exc:
            return _scm_failure(exc, checked.repo, field="render", secrets=passwords.values())
        view = preview_view(checked.name, checked.platform, checked.repo, found)
        return masked(view, passwords.values()) if passwords else view


def preview_view(automation: str, platform: str, repo: str, found: Preview) -> dict[str, Any]:
    return {
        "automation": automation,
        "platform": platform,
        "repo": repo,
        "title": found.title,
        "branch": found.branch,
        "base": found.base,
        "body": found.body,
        "labels": list(found.labels),
        "reviewers": list(found.reviewers),
        "files": [{"path": f.path, "change": f.change, "diff": f.diff} for f in found.files],
    }


def masked(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` with every secret in its strings replaced by ``***``."""
    hidden = tuple(secrets)
    if isinstance(value, str):
        return redact(value, hidden)
    if isinstance(value, list):
        return [masked(v, hidden) for v in value]
    if isinstance(value, dict):
        return {k: masked(v, hidden) for k, v in value.items()}
    return value


def _scm_failure(
    exc: PrbotError, repo: str, *, field: str, secrets: Iterable[str] = ()
) -> web.Response:
    """A missing repository is 404; the platform down or rate-limiting us, 503 (ask again
    later); anything else (a broken template, a limit) is the request's problem: 422."""
    if isinstance(exc, NotFound):
        reason = f"no repository {repo} (or the bot cannot see it)"
        return web.json_response({"status": "not_found", "reason": reason}, status=404)
    if isinstance(exc, ScmError) and not is_permanent(exc):
        log.warning("cannot read %s: %s", repo, redact(str(exc), secrets))
        reason = f"cannot read {repo} now"
        return web.json_response({"status": "unavailable", "reason": reason}, status=503)
    return invalid({field: redact(str(exc), secrets)})
