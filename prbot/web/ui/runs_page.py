"""A run's page, ``/runs/<id>``: where the run is (queued, running, its PR open, failed),
its PR's link once there is one, the error in words, and "run again" back to the form
with the values it had (a password never: it is not kept). It follows the run live
through server-sent events (``/runs/<id>/events``) and, without JavaScript, refreshes
itself while the run is not finished. Only the one who asked for the run, or someone who
can read its repository, sees it."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from prbot.engine.commands.access import Access
from prbot.errors import PrbotError
from prbot.store.base import Run, Store
from prbot.web.ui.catalog_pages import form_text
from prbot.web.ui.dashboard import ScmFor
from prbot.web.ui.events import stream_changes
from prbot.web.ui.pages import Pages
from prbot.web.ui.signin import SignIn, redirect

# the run is done with: nothing more will happen on this page
FINISHED = ("pr_open", "no_change", "merged", "closed", "failed")


class RunsPage:
    def __init__(
        self, store: Store, access: Access, scm_for: ScmFor, signin: SignIn, pages: Pages
    ) -> None:
        self.store = store
        self.access = access
        self.scm_for = scm_for
        self.signin = signin
        self.pages = pages

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/runs/{id:\\d+}", self.page)
        app.router.add_get("/runs/{id:\\d+}/events", self.events)

    async def page(self, request: web.Request) -> web.StreamResponse:
        session, changed = self.signin.session(request)
        run_id = int(request.match_info["id"])
        if not session.signed_in:
            return redirect(f"/signin?next=/runs/{run_id}")
        run = await self._visible(run_id, session.user)
        again = f"/catalog/{run.automation}?" + urlencode(
            {"repo": run.repo, **{k: form_text(v) for k, v in run.inputs.items()}}
        )
        values = {"run": run, "finished": run.status in FINISHED, "again": again}
        response = self.pages.render("run.html", session, values)
        if not values["finished"]:
            response.headers["Refresh"] = "3"  # without JavaScript: look again
        if changed:
            self.signin.sessions.save(response, session)
        return response

    async def events(self, request: web.Request) -> web.StreamResponse:
        """``data: {"status": ...}`` whenever the run's status changes."""
        session, _ = self.signin.session(request)
        if not session.signed_in:
            raise web.HTTPNotFound(text="no such run")
        run = await self._visible(int(request.match_info["id"]), session.user)

        async def status() -> str | None:
            found = await self.store.run(run.id)
            return None if found is None else found.status

        return await stream_changes(request, "status", status, done=lambda s: s in FINISHED)

    async def _visible(self, run_id: int, user: str) -> Run:
        run = await self.store.run(run_id)
        if run is None:
            raise web.HTTPNotFound(text="no such run")
        if run.requested_by.lower() == user.lower():
            return run
        try:
            have = await self.access.permission(self.scm_for(run.platform), run.repo, user)
        except PrbotError:
            have = "none"
        if have == "none":
            raise web.HTTPNotFound(text="no such run")
        return run
