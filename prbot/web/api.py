"""The internal JSON API (for the catalog, scripts and the CLI), behind a bearer token.

POST /api/runs       request an automation run: validated now, run by a worker later
GET  /api/runs/{id}  one run
GET  /api/jobs       jobs, newest first (?state=queued|running|done|dead&limit=N)

An automation is looked up in the deployment's folder first, then in the repository's
own ``.prbot/`` on its default branch (read through the SCM, cached by commit: see
``prbot.engine.definitions``), as the worker will find it.

The routes exist only when PRBOT_API_TOKEN is set. Invalid requests get 422 with one
message per field: ``{"status": "invalid", "errors": {"inputs.tag": "is required"}}``.

The inputs are checked, and the run stored and queued, by ``prbot.engine.run_requests``,
which the ``run`` slash-command shares. Password inputs are taken here (and by the
catalog's form), never stored: this process carries such a run out itself, their values
in its memory only (``prbot.engine.sealed_runs``); a process that cannot (no SCM or
definitions lookup) refuses them.
"""

from __future__ import annotations

import hmac
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from prbot.automation.definitions import PrAutomation
from prbot.engine.run_requests import (
    REPO_PATHS,
    CheckedInputs,
    check_inputs,
    request_run,
    target_problem,
)
from prbot.engine.runs import AutomationRunHandler
from prbot.engine.sandbox import Sandbox
from prbot.engine.sealed_runs import SealedRuns
from prbot.engine.vault import SecretVault
from prbot.errors import PrbotError, did_you_mean, is_permanent
from prbot.scm.port import NotFound, Scm, ScmError
from prbot.settings import Settings
from prbot.store.base import Run, Store, StoreError

log = logging.getLogger("prbot.web.api")

MAX_REQUEST_BYTES = 1024 * 1024
JOB_STATES = ("queued", "running", "done", "dead")

Definitions = Callable[[], Any]  # returns a DefinitionSet-like object (.automations)
# (platform, repo, name) -> the repository's automation, or raises (DefinitionsCache.lookup)
RepoLookup = Callable[[str, str, str], Awaitable[Any]]
Handler = Callable[[web.Request], Awaitable[web.Response]]
ScmFor = Callable[[str], Scm]


class _Lookup:
    """``repo_lookup`` as the run handler asks for it."""

    def __init__(self, lookup: RepoLookup) -> None:
        self._lookup = lookup

    async def lookup(self, platform: str, repo: str, name: str) -> PrAutomation:
        found: PrAutomation = await self._lookup(platform, repo, name)
        return found


def invalid(errors: dict[str, str]) -> web.Response:
    """422, one message per field."""
    return web.json_response({"status": "invalid", "errors": errors}, status=422)


@dataclass(frozen=True)
class RunRequest:
    """A run request's fields as checked; usable when ``errors`` is empty."""

    name: Any
    platform: Any
    repo: Any
    automation: PrAutomation | None
    inputs: CheckedInputs
    errors: dict[str, str]


class Api:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        definitions: Definitions,
        *,
        repo_lookup: RepoLookup | None = None,
        clock: Callable[[], float] = time.time,
        scm_for: ScmFor | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.definitions = definitions
        self.repo_lookup = repo_lookup
        self.clock = clock
        self.token = settings.api_token.reveal().encode() if settings.api_token else b""
        # runs with password inputs, carried out here (None: this process refuses them)
        self.sealed: SealedRuns | None = None
        if scm_for is not None and repo_lookup is not None:
            handler = AutomationRunHandler(
                store,
                _Lookup(repo_lookup),
                scm_for,
                clock=clock,
                secrets=settings.secret_values(),
                sandbox=sandbox,
                limits=settings.limits,
            )
            self.sealed = SealedRuns(handler, store, SecretVault(clock=clock))

    def add_routes(self, app: web.Application) -> None:
        if self.sealed is not None:
            sealed = self.sealed

            async def finish_sealed_runs(app: web.Application) -> None:
                await sealed.close()

            app.on_cleanup.append(finish_sealed_runs)
        if not self.token:
            return  # no token, no API: nothing is reachable without authentication
        app.router.add_post("/api/runs", self.guard(self.create_run))
        app.router.add_get("/api/runs/{id}", self.guard(self.get_run))
        app.router.add_get("/api/jobs", self.guard(self.list_jobs))

    def guard(self, handler: Handler) -> Handler:
        """Authentication first; a store failure is a 503 with a JSON body, not a 500."""

        async def guarded(request: web.Request) -> web.Response:
            if not self._authorized(request):
                return self._unauthorized()
            try:
                return await handler(request)
            except StoreError as exc:
                log.error("store failed: %s", exc, extra={"path": request.path})
                return web.json_response({"status": "unavailable"}, status=503)

        return guarded

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        value = value.strip()
        # a non-ASCII token is a wrong one (and may not even encode): 401, never a 500
        return (
            scheme.lower() == "bearer"
            and value.isascii()
            and hmac.compare_digest(value.encode(), self.token)
        )

    @staticmethod
    def _unauthorized() -> web.Response:
        return web.json_response(
            {"status": "unauthorized", "reason": "missing or wrong bearer token"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="prbot"'},
        )

    async def definition_set(self) -> Any:
        """The deployment's DefinitionSet (automations, pipelines, catalogs) now."""
        found = self.definitions()
        if inspect.isawaitable(found):
            found = await found
        return found

    async def _automations(self) -> dict[str, Any]:
        return (await self.definition_set()).automations

    def platform_problem(self, platform: str) -> str | None:
        s = self.settings
        if platform == "github" and not (s.app_id or s.github_token):
            return "GitHub is not configured (APP_ID and PRIVATE_KEY, or GITHUB_TOKEN)"
        if platform == "gitlab" and not s.gitlab_token:
            return "GitLab is not configured (GITLAB_TOKEN)"
        return None

    # -- the body of a run request, shared by POST /api/runs and POST /api/preview

    async def read_body(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The JSON object of the request, or the 413/400 answer."""
        if (request.content_length or 0) > MAX_REQUEST_BYTES:
            return web.json_response({"status": "too_large"}, status=413)
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return web.json_response(
                {"status": "bad_request", "reason": "body must be a JSON object"}, status=400
            )
        return body

    async def check_request(self, body: dict[str, Any]) -> RunRequest | web.Response:
        """``automation``, ``platform``, ``repo`` and ``inputs`` checked as a run needs them
        (the automation found as the worker will find it); a 503 answer when the
        repository's ``.prbot/`` cannot be read now."""
        errors: dict[str, str] = {}
        automations = await self._automations()
        name = body.get("automation")
        automation = automations.get(name) if isinstance(name, str) else None
        if not isinstance(name, str) or not name:
            errors["automation"] = "is required"

        platform = body.get("platform")
        if platform not in REPO_PATHS:
            errors["platform"] = "must be github or gitlab"
        elif problem := self.platform_problem(platform):
            errors["platform"] = problem

        repo = body.get("repo") or (automation.repository if automation else None) or ""
        repo_ok = False
        if not isinstance(repo, str) or not repo:
            errors["repo"] = "is required"
        elif platform in REPO_PATHS and not REPO_PATHS[platform].fullmatch(repo):
            errors["repo"] = f"must be a repository path like owner/name, got {repo!r}"
        elif automation is not None and (problem := target_problem(automation, repo)):
            errors["repo"] = problem
        else:
            repo_ok = True

        if isinstance(name, str) and name and automation is None:
            if self.repo_lookup is not None and repo_ok and "platform" not in errors:
                try:
                    automation = await self.repo_lookup(platform, repo, name)
                except PrbotError as exc:
                    if not (is_permanent(exc) or isinstance(exc, NotFound)):
                        if not isinstance(exc, ScmError):
                            raise
                        # the platform is down or rate-limits us: retry later
                        log.warning("cannot read %s/.prbot/: %s", repo, exc)
                        return web.json_response(
                            {"status": "unavailable", "reason": f"cannot read {repo}/.prbot/"},
                            status=503,
                        )
                    errors["automation"] = str(exc)
            else:
                errors["automation"] = (
                    f"no automation named {name!r}{did_you_mean(name, list(automations))}"
                )

        raw_inputs = body.get("inputs", {})
        checked = CheckedInputs({}, {}, {})
        if not isinstance(raw_inputs, dict):
            errors["inputs"] = "must be an object of input names to values"
        elif automation is not None:
            checked = check_inputs(
                automation, raw_inputs, self.settings.limits, sealed=self.sealed is not None
            )
            for key, message in checked.errors.items():
                errors.setdefault(key, message)
        return RunRequest(name, platform, repo, automation, checked, errors)

    # -- POST /api/runs

    async def create_run(self, request: web.Request) -> web.Response:
        body = await self.read_body(request)
        if isinstance(body, web.Response):
            return body
        checked_request = await self.check_request(body)
        if isinstance(checked_request, web.Response):
            return checked_request
        name, platform, repo = checked_request.name, checked_request.platform, checked_request.repo
        checked, errors = checked_request.inputs, checked_request.errors
        requested_by = body.get("requested_by")
        if not isinstance(requested_by, str) or not requested_by.strip():
            errors["requested_by"] = "is required (who asked for this run)"
        if errors:
            return invalid(errors)

        run, job_id = await self.request_run(
            automation=name,
            repo=repo,
            platform=platform,
            requested_by=requested_by.strip(),
            inputs=checked,
            via="api",
        )
        log.info(
            "run requested",
            extra={"run_id": run.id, "job_id": job_id, "automation": name, "repo": repo},
        )
        return web.json_response(
            {"run": asdict(run), "job_id": job_id},
            status=201,
            headers={"Location": f"/api/runs/{run.id}"},
        )

    async def request_run(
        self,
        *,
        automation: str,
        repo: str,
        platform: str,
        requested_by: str,
        inputs: CheckedInputs,
        via: str,
        requested_in: str = "",
    ) -> tuple[Run, int]:
        """Store and queue the run (``request_run``); one with password values is then
        carried out by this process (``SealedRuns``)."""
        run, job_id = await request_run(
            self.store,
            automation=automation,
            repo=repo,
            platform=platform,
            requested_by=requested_by,
            inputs=inputs,
            max_attempts=self.settings.max_attempts,
            now=self.clock(),
            via=via,
            requested_in=requested_in,
        )
        if inputs.passwords:
            assert self.sealed is not None  # check_inputs refused them otherwise
            self.sealed.start(run.id, job_id, inputs.passwords)
        return run, job_id

    # -- GET /api/runs/{id}, GET /api/jobs

    async def get_run(self, request: web.Request) -> web.Response:
        try:
            run_id = int(request.match_info["id"])
        except ValueError:
            run_id = -1
        run = await self.store.run(run_id)
        if run is None:
            return web.json_response({"status": "not_found"}, status=404)
        return web.json_response({"run": asdict(run)})

    async def list_jobs(self, request: web.Request) -> web.Response:
        state = request.query.get("state") or None
        if state is not None and state not in JOB_STATES:
            return web.json_response(
                {
                    "status": "invalid",
                    "errors": {"state": f"must be one of {', '.join(JOB_STATES)}"},
                },
                status=422,
            )
        try:
            limit = max(1, min(1000, int(request.query.get("limit", "100"))))
        except ValueError:
            return web.json_response(
                {"status": "invalid", "errors": {"limit": "must be an integer"}}, status=422
            )
        jobs = await self.store.jobs(state=state, limit=limit)  # type: ignore[arg-type]
        return web.json_response({"jobs": [asdict(j) for j in jobs]})
