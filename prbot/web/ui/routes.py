"""The pages' routes, assembled: sign-in (``signin``), the catalog (``catalog_pages``),
runs (``runs_page``) and the promotions dashboard (``dashboard``), with one session keeper
and one page renderer between them."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from prbot.engine.commands.access import Access
from prbot.engine.definitions import DefinitionsCache
from prbot.engine.promotions import PromotionEngine
from prbot.scm.port import Scm
from prbot.settings import Settings
from prbot.store.base import Store
from prbot.web.catalog_api import CatalogApi
from prbot.web.ui.catalog_pages import CatalogPages
from prbot.web.ui.dashboard import Dashboard, DashboardServices
from prbot.web.ui.pages import Pages
from prbot.web.ui.repo_choice import RepoChoices
from prbot.web.ui.runs_page import RunsPage
from prbot.web.ui.session import Sessions
from prbot.web.ui.signin import SignIn, oauth_apps, public_url, redirect


@dataclass(frozen=True)
class UiServices:
    store: Store
    promotions: PromotionEngine
    definitions: DefinitionsCache
    scm_for: Callable[[str], Scm]
    clock: Callable[[], float] = time.time


def session_secret(settings: Settings) -> bytes:
    """PRBOT_UI_SECRET, or one derived from the webhook secret: the same in every web
    process and after a restart, and never the webhook secret itself."""
    if settings.ui_secret is not None:
        return settings.ui_secret.reveal().encode()
    base = (*settings.webhook_secrets, *settings.gitlab_webhook_secrets)[0].reveal()
    return hmac.new(base.encode(), b"prbot pages session key", hashlib.sha256).digest()


def add_pages(
    app: web.Application, settings: Settings, services: UiServices, catalog: CatalogApi
) -> None:
    base = public_url(settings)
    # cookie lifetimes follow the real clock, whatever PRBOT_CLOCK_FILE does
    sessions = Sessions(session_secret(settings), secure=base.startswith("https://"))
    targets = sorted({_origin(a.authorize_url) for a in oauth_apps(settings).values()})
    pages = Pages(targets)
    signin = SignIn(settings, sessions, pages)
    signin.add_routes(app)
    access = Access(services.definitions, settings.command_permissions)
    dashboard = DashboardServices(
        services.store, services.promotions, access, services.scm_for, services.clock
    )
    Dashboard(dashboard, signin, pages).add_routes(app)
    RunsPage(services.store, access, services.scm_for, signin, pages).add_routes(app)
    choices = RepoChoices(services.scm_for)
    CatalogPages(catalog, access, services.scm_for, signin, pages, choices).add_routes(app)

    async def home(request: web.Request) -> web.Response:
        return redirect("/catalog")

    app.router.add_get("/", home)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
