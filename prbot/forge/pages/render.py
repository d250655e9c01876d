"""Rendering: Jinja2 templates from ``templates/`` with autoescape on, one inline style
sheet allowed by its hash, and a Content-Security-Policy that allows nothing else (no
script, no image, no form, no framing): everything a page shows comes from repositories
and is only ever text."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

HERE = Path(__file__).parent
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;color:#1f2328}"
    "header,main,footer{max-width:72rem;margin:0 auto;padding:.5rem 1rem}"
    "header{border-bottom:1px solid #d0d7de}footer{color:#59636e;font-size:.85rem;"
    "border-top:1px solid #d0d7de;margin-top:2rem}"
    "a{color:#0969da}code,pre,.mono{font-family:ui-monospace,monospace;font-size:.85rem}"
    ".text{white-space:pre-wrap;overflow-wrap:anywhere;border:1px solid #d0d7de;"
    "border-radius:6px;padding:.75rem}"
    "table{border-collapse:collapse}td,th{padding:.2rem .6rem;text-align:left;"
    "vertical-align:top}"
    ".state{display:inline-block;padding:.1rem .6rem;border-radius:1rem;color:#fff}"
    ".open{background:#1f883d}.merged{background:#8250df}.closed{background:#cf222e}"
    ".success{color:#1a7f37}.failure,.error,.failed{color:#cf222e}.pending{color:#9a6700}"
    ".file{border:1px solid #d0d7de;border-radius:6px;margin:1rem 0;overflow-x:auto}"
    ".file h3{margin:0;padding:.4rem .75rem;background:#f6f8fa;font-size:.9rem}"
    ".diff{margin:0;white-space:pre}.diff span{display:block;padding:0 .75rem}"
    ".add{background:#dafbe1}.del{background:#ffebe9}.hunk{background:#ddf4ff;color:#59636e}"
    ".meta{color:#59636e}.comment{border:1px solid #d0d7de;border-radius:6px;margin:.75rem 0}"
    ".comment .by{background:#f6f8fa;padding:.4rem .75rem;font-size:.9rem}"
    ".comment .text{border:0}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
HEADERS = {
    "Content-Security-Policy": "; ".join(
        [
            "default-src 'none'",
            f"style-src 'sha256-{_STYLE_HASH}'",
            "img-src 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # the pages show live state
}
VISIBILITY_NOTE = (
    "This is prbot's local test forge, for 127.0.0.1 only: it has no sign-in, so these "
    "read-only pages show every repository, private ones included (marked private)."
)

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every value comes from a repository or a request: always escaped
    undefined=jinja2.StrictUndefined,  # a missing value is a bug, not an empty string
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals.update(style=STYLE, visibility_note=VISIBILITY_NOTE)
# a status's target_url or a check's details_url becomes a link only when it is http(s):
# never javascript:, data: or anything else a repository's CI could have posted
_env.tests["http_url"] = lambda value: (
    isinstance(value, str) and value.startswith(("http://", "https://"))
)


def page(name: str, values: Mapping[str, Any], *, status: int = 200) -> web.Response:
    html = _env.get_template(name).render(**values)
    return web.Response(
        text=html, status=status, content_type="text/html", charset="utf-8", headers=HEADERS
    )


def not_found(what: str) -> web.Response:
    return page("not_found.html", {"title": "Not found", "what": what}, status=404)


def text(body: str) -> web.Response:
    """A plain-text answer (``.diff``) under the same headers."""
    return web.Response(text=body, content_type="text/plain", charset="utf-8", headers=HEADERS)
