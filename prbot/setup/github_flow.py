"""``prbot setup github``: GitHub's App manifest flow, the way Probot runs it.

A page served on 127.0.0.1 holds a form that posts the manifest to GitHub
(``/settings/apps/new``, or ``/organizations/ORG/settings/apps/new``) with a random
``state``. The person confirms on GitHub, which sends the browser back to this page's
``/callback?code=C&state=S``; prbot checks the state, trades the code for the App's id,
private key, webhook secret and client credentials (``POST /app-manifests/{code}/
conversions``, no authentication) and writes them to a file only its owner can read.
It ends when that is done, or after ``timeout`` seconds. No secret is printed, logged or
shown on a page.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import orjson
from aiohttp import web

from prbot.setup import manifest
from prbot.setup.credentials import SetupError, check_url, render, write_private

GITHUB = "https://github.com"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action *; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class GitHubSetup:
    webhook_url: str
    output: Path
    github_url: str = GITHUB
    org: str | None = None
    name: str = "prbot"
    ui_url: str | None = None  # where people reach prbot's pages (the OAuth callback)
    port: int = 0
    timeout: float = 600.0
    force: bool = False


@dataclass(frozen=True)
class CreatedApp:
    app_id: int
    slug: str
    html_url: str
    owner: str
    path: Path

    @property
    def install_url(self) -> str:
        return f"{self.html_url}/installations/new"


def api_url(github_url: str) -> str:
    """The REST API of a GitHub web address: api.github.com, or GHES's /api/v3."""
    base = github_url.rstrip("/")
    return "https://api.github.com" if base == GITHUB else f"{base}/api/v3"


def new_app_url(github_url: str, org: str | None, state: str) -> str:
    where = f"/organizations/{quote(org, safe='')}" if org else ""
    return f"{github_url.rstrip('/')}{where}/settings/apps/new?state={quote(state)}"


def credentials_text(setup: GitHubSetup, answer: dict[str, Any]) -> str:
    """The file for ``prbot serve``: the variables, and a comment saying what made it."""
    values = {
        "APP_ID": str(answer["id"]),
        "PRIVATE_KEY": str(answer["pem"]),
        "WEBHOOK_SECRET": str(answer["webhook_secret"]),
    }
    if answer.get("client_id") and answer.get("client_secret"):
        values["GITHUB_CLIENT_ID"] = str(answer["client_id"])
        values["GITHUB_CLIENT_SECRET"] = str(answer["client_secret"])
    if setup.github_url.rstrip("/") != GITHUB:
        parts = urlsplit(setup.github_url)
        values["GHE_HOST"] = parts.netloc
        values["GHE_PROTOCOL"] = parts.scheme
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    comment = (
        f"GitHub App {answer.get('slug', '')} ({answer.get('html_url', '')}), made by "
        f"`prbot setup github` on {made}.\nSecrets: keep this file mode 0600. prbot serve "
        "reads it as PRBOT_GITHUB_APP_FILE."
    )
    return render(values, comment)


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body>{body}</body></html>"
    )
    return web.Response(
        text=text, status=status, content_type="text/html", charset="utf-8", headers=PAGE_HEADERS
    )


class ManifestFlow:
    """The local page and its callback; ``created`` resolves once the App is saved."""

    def __init__(self, setup: GitHubSetup, http: httpx.AsyncClient) -> None:
        self.setup = setup
        self.http = http
        self.state = secrets.token_urlsafe(24)
        self.created: asyncio.Future[CreatedApp] = asyncio.get_running_loop().create_future()
        self.base_url = ""  # set once listening

    def manifest(self) -> dict[str, Any]:
        ui = self.setup.ui_url or _origin(self.setup.webhook_url)
        return manifest.manifest(
            name=self.setup.name,
            webhook_url=self.setup.webhook_url,
            redirect_url=f"{self.base_url}/callback",
            callback_urls=[f"{ui}/auth/github/callback"],
        )

    async def index(self, request: web.Request) -> web.Response:
        action = new_app_url(self.setup.github_url, self.setup.org, self.state)
        body = (
            f"<h1>Register {escape(self.setup.name)} on GitHub</h1>"
            f"<p>This creates a GitHub App for {escape(self.setup.org or 'your account')} "
            f"on {escape(self.setup.github_url)} with the permissions prbot needs.</p>"
            f'<form method="post" action="{escape(action)}">'
            f'<input type="hidden" name="manifest" value="'
            f'{escape(orjson.dumps(self.manifest()).decode())}">'
            '<button type="submit">Register GitHub App</button></form>'
        )
        return _page("prbot setup", body)

    async def callback(self, request: web.Request) -> web.Response:
        code, state = request.query.get("code", ""), request.query.get("state", "")
        if self.created.done():
            return _page("prbot setup", "<p>The App is already saved: close this page.</p>")
        if not state or not secrets.compare_digest(state, self.state):
            return _page("prbot setup", "<p>This answer is not for this setup (state).</p>", 400)
        if not code:
            return _page("prbot setup", "<p>GitHub sent no code.</p>", 400)
        try:
            app = await self._convert(code)
        except SetupError as exc:
            if not self.created.done():
                self.created.set_exception(exc)
            return _page("prbot setup", f"<p>{escape(str(exc))}</p>", 502)
        self.created.set_result(app)
        body = (
            f"<h1>GitHub App {escape(app.slug)} created</h1><p>Its credentials are in "
            f"{escape(str(app.path))}. Now install it: "
            f'<a href="{escape(app.install_url)}">{escape(app.install_url)}</a></p>'
        )
        return _page("prbot setup", body)

    async def _convert(self, code: str) -> CreatedApp:
        url = f"{api_url(self.setup.github_url)}/app-manifests/{quote(code, safe='')}/conversions"
        try:
            resp = await self.http.post(url, headers={"Accept": "application/vnd.github+json"})
        except httpx.HTTPError as exc:
            # not the URL: it holds the code, which is as good as the credentials for an hour
            where = api_url(self.setup.github_url)
            raise SetupError(f"cannot reach {where}: {type(exc).__name__}") from None
        if resp.status_code != 201:
            raise SetupError(
                f"GitHub refused the code ({resp.status_code}): it is good for one use within "
                "an hour; run `prbot setup github` again"
            )
        answer = resp.json()
        missing = [k for k in ("id", "pem", "webhook_secret") if not answer.get(k)]
        if missing:
            raise SetupError(f"GitHub's answer lacks {', '.join(missing)}")
        text = credentials_text(self.setup, answer)
        write_private(self.setup.output, text, force=self.setup.force)
        return CreatedApp(
            app_id=int(answer["id"]),
            slug=str(answer.get("slug", "")),
            html_url=str(answer.get("html_url", "")),
            owner=str((answer.get("owner") or {}).get("login", "")),
            path=self.setup.output,
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def check_setup(setup: GitHubSetup) -> GitHubSetup:
    """SetupError naming the option at fault, before anything starts."""
    check_url(setup.webhook_url, "--webhook-url")
    check_url(setup.github_url, "--github-url")
    if setup.ui_url:
        check_url(setup.ui_url, "--ui-url")
    if setup.output.exists() and not setup.force:
        raise SetupError(f"{setup.output} exists: pass --force to replace it")
    if not 0 <= setup.port <= 65535:
        raise SetupError(f"--port {setup.port}: must be 0-65535")
    if not setup.name.strip() or len(setup.name) > 34:
        raise SetupError("--name: 1 to 34 characters (GitHub's limit)")
    return setup


async def run(
    setup: GitHubSetup,
    *,
    announce: Callable[[str], None] = print,
    http: httpx.AsyncClient | None = None,
) -> CreatedApp:
    """Serve the page on 127.0.0.1, ``announce`` its URL, and return the App once saved."""
    check_setup(setup)
    own_http = http is None
    http = http or httpx.AsyncClient(timeout=30)
    flow = ManifestFlow(setup, http)
    app = web.Application()
    app.router.add_get("/", flow.index)
    app.router.add_get("/callback", flow.callback)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", setup.port))
    except OSError as exc:
        sock.close()
        await runner.cleanup()
        raise SetupError(f"--port {setup.port}: cannot listen: {exc.strerror}") from None
    try:
        await web.SockSite(runner, sock).start()
        flow.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        announce(f"Open {flow.base_url}/ in your browser to register the GitHub App.")
        try:
            return await asyncio.wait_for(asyncio.shield(flow.created), setup.timeout)
        except TimeoutError:
            raise SetupError(
                f"no answer from GitHub within {setup.timeout:g} s: run it again "
                "(--timeout to wait longer)"
            ) from None
    finally:
        with contextlib.suppress(Exception):
            await runner.cleanup()
        if own_http:
            await http.aclose()
