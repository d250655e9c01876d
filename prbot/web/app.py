"""``create_app``: the aiohttp application of ``prbot serve``, assembled from the route
modules (intake, health, api); each module owns its routes."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from prbot.engine.promotions import PromotionEngine
from prbot.engine.sandbox import Sandbox
from prbot.settings import Settings
from prbot.store.base import Store
from prbot.web import openapi
from prbot.web.api import Api, Definitions, RepoLookup
from prbot.web.catalog_api import CatalogApi, RepoDefinitionsLookup, ScmFor
from prbot.web.health import Health
from prbot.web.intake import Intake
from prbot.web.promotions_api import PipelineLookup, PromotionsApi
from prbot.web.ui.routes import UiServices, add_pages

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)


def create_app(
    settings: Settings,
    store: Store,
    *,
    ready: Callable[[], bool] | None,
    definitions: Definitions,
    repo_lookup: RepoLookup | None = None,
    promotions: PromotionEngine | None = None,
    pipeline_lookup: PipelineLookup | None = None,
    repo_definitions: RepoDefinitionsLookup | None = None,
    scm_for: ScmFor | None = None,
    sandbox: Sandbox | None = None,
    clock: Callable[[], float] = time.time,
    ui: UiServices | None = None,
) -> web.Application:
    """The web app. ``ready`` tells whether the worker pool runs (for /readyz; None: this
    process runs no workers, /readyz checks the store only); ``definitions`` returns the
    current DefinitionSet (for the API); ``repo_lookup`` finds a repository's own
    automation (``DefinitionsCache.lookup``; None: the deployment's only);
    ``repo_definitions`` a repository's own definitions for /api/catalog
    (``DefinitionsCache.repo_set``); ``scm_for`` and ``sandbox`` render /api/preview
    (without ``scm_for`` it answers 503); ``ui``: what the pages people use need (None:
    no pages)."""
    # aiohttp refuses bodies over client_max_size while reading them (chunked ones too)
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[STORE] = store
    Intake(settings, store, clock=clock).add_routes(app)
    Health(store, ready).add_routes(app)
    api = Api(
        settings, store, definitions, repo_lookup=repo_lookup, clock=clock, scm_for=scm_for,
        sandbox=sandbox,
    )  # fmt: skip
    api.add_routes(app)
    catalog = CatalogApi(api, repo_definitions=repo_definitions, scm_for=scm_for, sandbox=sandbox)
    catalog.add_routes(app)
    if api.token:
        openapi.add_route(app, api.guard)
    if api.token and promotions is not None and pipeline_lookup is not None:
        PromotionsApi(
            store,
            promotions,
            pipeline_lookup,
            api.guard,
            automation_lookup=repo_lookup,
            clock=clock,
        ).add_routes(app)
    if ui is not None:
        add_pages(app, settings, ui, catalog)
    return app
