"""Rendering a page: Jinja2 templates from ``templates/`` with autoescape on (every value a
user or a definition supplies is escaped), the session's user and CSRF token in every
page, and the hardening headers (``headers``) on every answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from prbot.web.ui.headers import content_security_policy, harden
from prbot.web.ui.session import Session

HERE = Path(__file__).parent
STATIC = HERE / "static"


class Pages:
    def __init__(self, form_targets: Iterable[str] = ()) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,  # every template is HTML
            undefined=jinja2.StrictUndefined,  # a missing value is a bug, not an empty string
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.policy = content_security_policy(form_targets)

    def render(
        self,
        name: str,
        session: Session,
        values: Mapping[str, Any] | None = None,
        *,
        status: int = 200,
    ) -> web.Response:
        html = self.env.get_template(name).render(session=session, **(values or {}))
        response = web.Response(text=html, content_type="text/html", status=status)
        harden(response, self.policy)
        return response
