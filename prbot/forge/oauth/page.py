"""The authorize page both platforms' flows show, and the token its form carries.

The forge has no real sign-in, so the page lets the person pick which forge user is
"signed in" and authorizes the client as that user. The form posts back every
authorization parameter with an ``authenticity_token``: an HMAC, under a key of this
process, over those parameters, the time the page was made and a nonce kept in an
HttpOnly SameSite=Lax cookie. A POST that did not come from a page this browser was
shown (another site's form, edited parameters, a stale page) is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from html import escape

from aiohttp import web

from prbot.forge.ghhttp import forge_of

PAGE_KEY = web.AppKey("forge.oauth_page_key", bytes)
NONCE_COOKIE = "forge_oauth_nonce"
FORM_TTL = 600  # a page older than this cannot authorize any more
# the page loads nothing and cannot be framed (an authorize button must not be clickjacked)
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}"
    "label,input,button{font-size:1rem}input{width:100%;padding:.4rem;margin:.4rem 0 1rem}"
    "button{padding:.4rem 1rem;margin-right:.5rem}.err{color:#b00}"
)


def setup(app: web.Application) -> None:
    if PAGE_KEY not in app:
        app[PAGE_KEY] = secrets.token_bytes(32)


def _sign(key: bytes, nonce: str, issued: str, params: Mapping[str, str]) -> str:
    message = json.dumps([nonce, issued, sorted(params.items())]).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def nonce_of(request: web.Request) -> str:
    """This browser's nonce (kept when present, so two open pages both stay valid)."""
    current = request.cookies.get(NONCE_COOKIE, "")
    return current if len(current) == 32 else secrets.token_hex(16)


def form_is_genuine(request: web.Request, form: Mapping[str, str], names: tuple[str, ...]) -> bool:
    nonce = request.cookies.get(NONCE_COOKIE, "")
    issued = form.get("issued_at", "")
    if not nonce or not issued.isdigit() or forge_of(request).now() - int(issued) > FORM_TTL:
        return False
    params = {n: form.get(n, "") for n in names}
    expected = _sign(request.app[PAGE_KEY], nonce, issued, params)
    return hmac.compare_digest(expected, form.get("authenticity_token", ""))


def authorize_page(
    request: web.Request,
    *,
    app_name: str,
    action: str,
    params: Mapping[str, str],
    users: list[str],
    login: str = "",
    scopes: list[str] | None = None,
    error: str = "",
    status: int = 200,
) -> web.Response:
    """The chooser: pick or type a forge user, then Authorize (or Cancel)."""
    nonce = nonce_of(request)
    issued = str(int(forge_of(request).now()))  # the forge's clock, as codes use
    token = _sign(request.app[PAGE_KEY], nonce, issued, params)
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in {**params, "issued_at": issued, "authenticity_token": token}.items()
    )
    options = "".join(f'<option value="{escape(u)}">' for u in users)
    scope_list = "".join(f"<li>{escape(s)}</li>" for s in scopes or [])
    body = (
        f"<h1>Authorize {escape(app_name)}</h1>"
        + (f'<p class="err">{escape(error)}</p>' if error else "")
        + f"<p><strong>{escape(app_name)}</strong> wants to sign you in on this local forge"
        + (f" with these scopes:</p><ul>{scope_list}</ul>" if scope_list else ".</p>")
        + f'<form method="post" action="{escape(action)}">{hidden}'
        + '<label for="login">Signed in as (a forge user)</label>'
        + f'<input id="login" name="login" list="forge-users" required value="{escape(login)}"'
        + ' autocomplete="off">'
        + f'<datalist id="forge-users">{options}</datalist>'
        + '<button type="submit" name="decision" value="authorize">Authorize</button>'
        + '<button type="submit" name="decision" value="deny" formnovalidate>Cancel</button>'
        + "</form>"
    )
    resp = _html(f"Authorize {app_name}", body, status)
    resp.set_cookie(NONCE_COOKIE, nonce, max_age=FORM_TTL, path="/", httponly=True, samesite="Lax")
    return resp


def error_page(title: str, message: str, status: int = 400) -> web.Response:
    """Refusals shown to the person (never a redirect to an unverified URI)."""
    return _html(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>", status)


def _html(title: str, body: str, status: int) -> web.Response:
    text = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    return web.Response(
        text=text, status=status, content_type="text/html", charset="utf-8", headers=HEADERS
    )
