"""Signing in with the forge: GitHub's web application flow for a GitHub App's user
authorization and GitLab's OAuth 2 authorization code flow, with their admin routes.

``setup_routes(app)`` registers ``/login/oauth/authorize``, ``/login/oauth/access_token``
(GitHub), ``/oauth/authorize``, ``/oauth/token`` (GitLab) and ``/_forge/oauth/apps``.
The state (clients, codes, tokens) lives in ``Forge`` (state_oauth.py). Kept light:
``prbot forge``'s CLI imports ``prbot.forge.oauth.cli`` at start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web


def setup_routes(app: web.Application) -> None:
    from prbot.forge.oauth import admin, github_flow, gitlab_flow, page

    page.setup(app)
    app.router.add_routes([*github_flow.routes(), *gitlab_flow.routes()])
    admin.setup_routes(app)
