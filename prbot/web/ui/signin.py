"""Who is signed in to the pages, and the routes that sign people in and out.

- ``PRBOT_UI_AUTH=oauth``: ``/auth/<platform>/login`` sends the browser to the platform
  with a fresh ``state`` (and a PKCE verifier on GitLab) kept in its session;
  ``/auth/<platform>/callback`` checks them, trades the code for the login
  (``oauth.finish``) and starts a new session for that user.
- ``PRBOT_UI_AUTH=proxy``: the proxy's header names the user, believed only from the
  trusted networks (``proxy``); the session cookie then only carries the CSRF token.

Where to go next after signing in is a path of these pages, never another site.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import replace

import httpx
from aiohttp import web

from prbot.settings import Settings, parse_networks
from prbot.web.ui.csrf import csrf_ok
from prbot.web.ui.oauth import OAuthApp, OAuthError, finish, github_oauth, gitlab_oauth, start
from prbot.web.ui.pages import STATIC, Pages
from prbot.web.ui.proxy import proxy_user
from prbot.web.ui.session import Session, Sessions, take_pending, with_pending

LOCAL_PATH = re.compile(r"/(?![/\\])[\x21-\x7e]{0,500}")  # ours: no scheme, no //host


def oauth_apps(settings: Settings) -> dict[str, OAuthApp]:
    """The platforms people can sign in with, from the settings."""
    apps: dict[str, OAuthApp] = {}
    if settings.github_client_id and settings.github_client_secret is not None:
        web_url = (
            f"{settings.ghe_protocol}://{settings.ghe_host}"
            if settings.ghe_host
            else "https://github.com"
        )
        apps["github"] = github_oauth(
            web_url,
            settings.github_api_url,
            settings.github_client_id,
            settings.github_client_secret.reveal(),
        )
    if settings.gitlab_client_id and settings.gitlab_client_secret is not None:
        apps["gitlab"] = gitlab_oauth(
            settings.gitlab_url, settings.gitlab_client_id, settings.gitlab_client_secret.reveal()
        )
    return apps


def public_url(settings: Settings) -> str:
    return (settings.ui_public_url or f"http://127.0.0.1:{settings.port}").rstrip("/")


def redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


def safe_next(value: str | None) -> str:
    return value if value and LOCAL_PATH.fullmatch(value) else "/catalog"


class SignIn:
    def __init__(
        self,
        settings: Settings,
        sessions: Sessions,
        pages: Pages,
        *,
        http: Callable[[], httpx.AsyncClient] = httpx.AsyncClient,
    ) -> None:
        self.mode = settings.ui_auth
        self.sessions = sessions
        self.pages = pages
        self.apps = oauth_apps(settings)
        self.base = public_url(settings)
        self.http = http
        self.proxy_header = settings.ui_proxy_header
        self.trusted = parse_networks(settings.ui_trusted_proxies, "PRBOT_UI_TRUSTED_PROXIES")
        self.proxy_platform = "github" if settings.serves_github else "gitlab"

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/signin", self.signin_page)
        app.router.add_get("/auth/{platform}/login", self.login)
        app.router.add_get("/auth/{platform}/callback", self.callback)
        app.router.add_post("/signout", self.signout)
        app.router.add_static("/static/", STATIC, append_version=False)

    # -- who is here ----------------------------------------------------------------------

    def session(self, request: web.Request) -> tuple[Session, bool]:
        """The request's session, and whether it changed (then save it on the answer)."""
        session = self.sessions.load(request)
        if self.mode != "proxy":
            return session, False
        user = proxy_user(request.remote, dict(request.headers), self.proxy_header, self.trusted)
        if user is None:
            if session.signed_in:  # the proxy no longer names anyone: signed out
                return replace(session, user="", platform=""), True
            return session, not request.cookies
        if user != session.user:
            return self.sessions.signed_in(session, user, self.proxy_platform), True
        return session, False

    # -- the routes ---------------------------------------------------------------------

    async def signin_page(self, request: web.Request) -> web.Response:
        session, changed = self.session(request)
        values = {
            "mode": self.mode,
            "platforms": list(self.apps),
            "next": safe_next(request.query.get("next")),
            "error": "",
        }
        response = self.pages.render("signin.html", session, values)
        if changed:
            self.sessions.save(response, session)
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        app = self._app(request)
        session = self.sessions.load(request)
        started = start(app, self._callback(app))
        session = with_pending(session, f"state:{app.platform}", started.state)
        session = with_pending(session, f"verifier:{app.platform}", started.verifier)
        session = with_pending(session, "next", safe_next(request.query.get("next")))
        response = redirect(started.url)
        self.sessions.save(response, session)
        return response

    async def callback(self, request: web.Request) -> web.StreamResponse:
        app = self._app(request)
        session = self.sessions.load(request)
        session, state = take_pending(session, f"state:{app.platform}")
        session, verifier = take_pending(session, f"verifier:{app.platform}")
        session, after = take_pending(session, "next")
        given = request.query.get("state", "")
        if request.query.get("error"):
            return self._failed(session, f"{app.platform} did not sign you in: access denied")
        if not state or not hmac.compare_digest(given.encode(), state.encode()):
            # not a sign-in this browser started (or started twice): never trusted
            return self._failed(session, "this sign-in did not start here; please try again")
        code = request.query.get("code", "")
        if not code:
            return self._failed(session, f"{app.platform} sent no code back")
        try:
            async with self.http() as http:
                login = await finish(
                    http, app, code=code, redirect_uri=self._callback(app), verifier=verifier or ""
                )
        except OAuthError as exc:
            return self._failed(session, str(exc), status=502)
        signed = self.sessions.signed_in(session, login, app.platform)
        response = redirect(safe_next(after))
        self.sessions.save(response, signed)
        return response

    async def signout(self, request: web.Request) -> web.StreamResponse:
        session = self.sessions.load(request)
        form = await request.post()
        if not csrf_ok(session, {k: str(v) for k, v in form.items()}, request.headers):
            raise web.HTTPForbidden(text="the form is out of date: reload the page")
        response = redirect("/signin")
        self.sessions.clear(response)
        return response

    # -- helpers ------------------------------------------------------------------------

    def _app(self, request: web.Request) -> OAuthApp:
        app = self.apps.get(request.match_info["platform"])
        if self.mode != "oauth" or app is None:
            raise web.HTTPNotFound(text="no such sign-in here")
        return app

    def _callback(self, app: OAuthApp) -> str:
        return f"{self.base}/auth/{app.platform}/callback"

    def _failed(self, session: Session, error: str, *, status: int = 400) -> web.Response:
        values = {"mode": self.mode, "platforms": list(self.apps), "next": "/catalog"}
        response = self.pages.render(
            "signin.html", session, {**values, "error": error}, status=status
        )
        self.sessions.save(response, session)  # the used state is gone from it
        return response
