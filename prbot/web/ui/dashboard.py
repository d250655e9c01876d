"""The promotions dashboard: ``/promotions`` (every promotion the signed-in user can read)
and ``/promotions/<id>`` (its stages as boxes in order, each with its PR, health, gates
and times), with the buttons that user may use, and nothing else: approve, hold,
resume, retry, rollback, cancel. A button posts with the CSRF token; the server checks
the user's permission again (as a slash-command would) and judges the command as the API
does, then queues it. The page follows the promotion live through server-sent events
(``/promotions/<id>/events``); without JavaScript it is a plain page to reload."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from prbot.engine.commands.access import Access, Verdict, may
from prbot.engine.promotion_requests import COMMANDS, Judged, gate_lists, judge
from prbot.engine.promotions import PromotionEngine, happen_job
from prbot.errors import PrbotError
from prbot.scm.port import Scm
from prbot.store.base import PromotionRow, Store
from prbot.web.promotions_api import promotion_view
from prbot.web.ui.csrf import csrf_ok
from prbot.web.ui.events import stream_changes
from prbot.web.ui.pages import Pages
from prbot.web.ui.session import take_pending, with_pending
from prbot.web.ui.signin import SignIn, redirect

ScmFor = Callable[[str], Scm]
VERBS = ("approve", *COMMANDS)


@dataclass(frozen=True)
class DashboardServices:
    store: Store
    promotions: PromotionEngine
    access: Access
    scm_for: ScmFor
    clock: Callable[[], float] = time.time


class Dashboard:
    def __init__(self, services: DashboardServices, signin: SignIn, pages: Pages) -> None:
        self.s = services
        self.signin = signin
        self.pages = pages

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/promotions", self.list_page)
        app.router.add_get("/promotions/{id:\\d+}", self.detail_page)
        app.router.add_get("/promotions/{id:\\d+}/events", self.events)
        app.router.add_post("/promotions/{id:\\d+}/{verb}", self.act)

    # -- pages ----------------------------------------------------------------------------

    async def list_page(self, request: web.Request) -> web.StreamResponse:
        session, changed = self.signin.session(request)
        if not session.signed_in:
            return redirect("/signin?next=/promotions")
        rows = await self.s.store.promotions(limit=200)
        readable = [r for r in rows if await self._can_read(r, session.user)]
        items = [promotion_view(r) for r in readable]
        response = self.pages.render("promotions.html", session, {"promotions": items})
        if changed:
            self.signin.sessions.save(response, session)
        return response

    async def detail_page(self, request: web.Request) -> web.StreamResponse:
        session, _ = self.signin.session(request)  # saved below in any case
        row = await self._row(request)
        if not session.signed_in:
            return redirect(f"/signin?next=/promotions/{row.id}")
        if not await self._can_read(row, session.user):
            raise web.HTTPNotFound(text="no such promotion")
        session, said = take_pending(session, "said")
        view = promotion_view(row)
        values = {
            "p": view,
            "buttons": await self._buttons(row, session.user),
            "said": said or "",
            "when": _when,
        }
        response = self.pages.render("promotion.html", session, values)
        self.signin.sessions.save(response, session)
        return response

    async def events(self, request: web.Request) -> web.StreamResponse:
        """``data: {"version": N}`` whenever the promotion changes (the page reloads)."""
        session, _ = self.signin.session(request)
        row = await self._row(request)
        if not session.signed_in or not await self._can_read(row, session.user):
            raise web.HTTPNotFound(text="no such promotion")

        async def version() -> int | None:
            found = await self.s.store.promotion(row.id)
            return None if found is None else found.version

        return await stream_changes(request, "version", version)

    # -- acting ---------------------------------------------------------------------------

    async def act(self, request: web.Request) -> web.StreamResponse:
        session, _ = self.signin.session(request)
        row = await self._row(request)
        verb = request.match_info["verb"]
        form = {k: str(v) for k, v in (await request.post()).items()}
        if not csrf_ok(session, form, request.headers):
            raise web.HTTPForbidden(text="the form is out of date: reload the page")
        if not session.signed_in or not await self._can_read(row, session.user):
            raise web.HTTPNotFound(text="no such promotion")
        if verb not in VERBS:
            raise web.HTTPNotFound(text="no such command")
        said = await self._carry_out(row, verb, session.user, form.get("stage") or None)
        response = redirect(f"/promotions/{row.id}")
        self.signin.sessions.save(response, with_pending(session, "said", said))
        return response

    async def _judge(
        self, row: PromotionRow, verb: str, user: str, stage: str | None = None
    ) -> tuple[Judged, Verdict]:
        """What ``verb`` by ``user`` would do now, and whether they may: the API's judgement
        and the slash-commands' permission rule. A ``PrbotError`` when the platform
        cannot say."""
        now = self.s.clock()
        judged = await judge(self.s.promotions, row, verb, user, stage=stage, now=now)
        listed = verb == "approve" and gate_lists(row, judged.stage, user, judged.teams)
        scm = self.s.scm_for(row.platform)
        return judged, await may(self.s.access, scm, row.repo, user, verb, listed=listed)

    async def _carry_out(self, row: PromotionRow, verb: str, user: str, stage: str | None) -> str:
        try:
            judged, verdict = await self._judge(row, verb, user, stage)
        except PrbotError as exc:
            return f"{verb}: the platform could not say who may ({exc})"
        if not verdict.allowed:
            return f"{verb}: not permitted" + (
                f" ({verdict.broken})" if verdict.broken else f"; it needs {verdict.need}"
            )
        if judged.refusal:
            return f"{verb}: {judged.refusal}"
        now = self.s.clock()
        await self.s.store.enqueue([happen_job(row.id, judged.happening)], now=now)
        return f"{verb}: done, as {user}"

    async def _buttons(self, row: PromotionRow, user: str) -> list[dict[str, str]]:
        """The commands ``user`` may use on this promotion now (nothing refused is shown)."""
        shown: list[dict[str, str]] = []
        for verb in VERBS:
            try:
                judged, verdict = await self._judge(row, verb, user)
            except PrbotError:
                continue
            if verdict.allowed and judged.refusal is None:
                shown.append({"verb": verb, "stage": judged.stage})
        return shown

    async def _can_read(self, row: PromotionRow, user: str) -> bool:
        try:
            have = await self.s.access.permission(self.s.scm_for(row.platform), row.repo, user)
        except PrbotError:
            return False
        return have != "none"

    async def _row(self, request: web.Request) -> PromotionRow:
        row = await self.s.store.promotion(int(request.match_info["id"]))
        if row is None:
            raise web.HTTPNotFound(text="no such promotion")
        return row


def _when(at: Any) -> str:
    if not isinstance(at, (int, float)):
        return ""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
