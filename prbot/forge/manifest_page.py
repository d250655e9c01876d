"""The pages of GitHub's App manifest flow on the forge.

``POST /settings/apps/new?state=S`` (or ``/organizations/ORG/settings/apps/new``) with a
form field ``manifest`` (GET with ``?manifest=`` too, as GitHub takes it) shows the
confirm page; its form posts to ``/settings/apps/new/confirm``, which registers the App
and sends the browser to the manifest's ``redirect_url?code=C&state=S``. Who is signed in
is chosen on the page, the way the OAuth pages do it (``oauth/page.py``), and the confirm
form carries the same signed ``authenticity_token`` bound to this browser's cookie, so
another site cannot create Apps through a person's forge session.
"""

from __future__ import annotations

from html import escape

from aiohttp import web
from yarl import URL

from prbot.forge.errors import ForgeError, Unprocessable
from prbot.forge.ghhttp import forge_of
from prbot.forge.manifest import ManifestFlow, check_manifest
from prbot.forge.oauth import page

FLOW_KEY = web.AppKey("forge.manifest_flow", ManifestFlow)
CONFIRM = "/settings/apps/new/confirm"
SIGNED = ("manifest", "state", "org")  # what the confirm form's token covers


def flow_of(request: web.Request) -> ManifestFlow:
    return request.app[FLOW_KEY]


def _confirm_page(
    request: web.Request,
    params: dict[str, str],
    *,
    login: str = "",
    error: str = "",
    status: int = 200,
) -> web.Response:
    manifest = check_manifest(params["manifest"])
    nonce = page.nonce_of(request)
    issued = str(int(forge_of(request).now()))
    token = page._sign(request.app[page.PAGE_KEY], nonce, issued, params)
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in {**params, "issued_at": issued, "authenticity_token": token}.items()
    )
    permissions = "".join(
        f"<li>{escape(k)}: {escape(v)}</li>"
        for k, v in sorted((manifest.get("default_permissions") or {}).items())
    )
    events = "".join(f"<li>{escape(e)}</li>" for e in manifest.get("default_events") or [])
    users = sorted(u.login for u in forge_of(request).users() if u.type == "User")
    options = "".join(f'<option value="{escape(u)}">' for u in users)
    owner = f"organization {params['org']}" if params["org"] else "your account"
    body = (
        f"<h1>Create GitHub App {escape(manifest['name'])}</h1>"
        + (f'<p class="err">{escape(error)}</p>' if error else "")
        + f"<p>For {escape(owner)}, with these permissions:</p><ul>{permissions}</ul>"
        + f"<p>and these events:</p><ul>{events or '<li>none</li>'}</ul>"
        + f'<form method="post" action="{CONFIRM}">{hidden}'
        + '<label for="login">Signed in as (a forge user)</label>'
        + f'<input id="login" name="login" list="forge-users" required value="{escape(login)}"'
        + ' autocomplete="off">'
        + f'<datalist id="forge-users">{options}</datalist>'
        + '<button type="submit" name="decision" value="create">Create GitHub App</button>'
        + "</form>"
    )
    resp = page._html(f"Create GitHub App {manifest['name']}", body, status)
    resp.set_cookie(
        page.NONCE_COOKIE, nonce, max_age=page.FORM_TTL, path="/", httponly=True, samesite="Lax"
    )
    return resp


async def new_app(request: web.Request) -> web.StreamResponse:
    """The manifest arrives (a form POST from the App's own page, or a GET)."""
    form = await request.post() if request.method == "POST" else {}
    params = {
        "manifest": str(form.get("manifest") or request.query.get("manifest", "")),
        "state": request.query.get("state", "") or str(form.get("state", "")),
        "org": request.match_info.get("org", ""),
    }
    if not params["manifest"]:
        return page.error_page("Invalid manifest", "No manifest was posted.", 400)
    try:
        return _confirm_page(request, params)
    except ForgeError as exc:
        return page.error_page("Invalid manifest", exc.message, exc.status)


async def confirm(request: web.Request) -> web.StreamResponse:
    form = {k: str(v) for k, v in (await request.post()).items()}
    params = {name: form.get(name, "") for name in SIGNED}
    if not page.form_is_genuine(request, form, SIGNED):
        message = "This form expired or did not come from this page. Go back and retry."
        return page.error_page("App not created", message, 403)
    forge = forge_of(request)
    login = form.get("login", "").strip()
    try:
        manifest = check_manifest(params["manifest"])
        user = forge.user(login)
        if user.type != "User":
            raise Unprocessable(f"{login} is not a person")
        _app, code = await flow_of(request).create_app(manifest, params["org"] or user.login)
    except ForgeError as exc:
        message = f"No forge user {login!r}." if exc.status == 404 else exc.message
        try:
            return _confirm_page(request, params, login=login, error=message, status=422)
        except ForgeError:
            return page.error_page("App not created", message, 422)
    query = {"code": code, **({"state": params["state"]} if params["state"] else {})}
    target = URL(manifest["redirect_url"]).update_query(query)
    raise web.HTTPFound(str(target), headers={"Cache-Control": "no-store"})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/settings/apps/new", new_app),
        web.post("/settings/apps/new", new_app),
        web.get("/organizations/{org}/settings/apps/new", new_app),
        web.post("/organizations/{org}/settings/apps/new", new_app),
        web.post(CONFIRM, confirm),
    ]
