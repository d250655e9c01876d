"""The forge's GitLab v4 API façade: the subset python-gitlab issues for prbot.

``setup_routes(app, forge)`` registers every route under ``/api/v4/`` on the forge's
aiohttp app. Handlers only translate: state lives in ``Forge`` (which also emits the
events the webhooks module turns into GitLab hooks), JSON shapes in ``shapes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from prbot.forge.gitlab import groups, health, hooks, merge_requests, repository, tokens, users
from prbot.forge.gitlab.context import API_PREFIX, Routes
from prbot.forge.gitlab.shapes import GitLabShapes

if TYPE_CHECKING:
    from prbot.forge.state import Forge

__all__ = ["API_PREFIX", "GitLabShapes", "setup_routes"]


def setup_routes(app: web.Application, forge: Forge) -> None:
    routes = Routes(app, forge)
    shapes = GitLabShapes(forge)
    for module in (repository, merge_requests, health, users, groups, tokens, hooks):
        module.setup(routes, shapes)
