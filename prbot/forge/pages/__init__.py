"""The forge's read-only HTML pages, so every link prbot writes resolves to something a
person can read: ``/`` (the repositories), ``/{owner}/{repo}`` (and ``/tree/{ref}``),
``/{owner}/{repo}/pull/{n}`` (and its ``.diff``), ``/{owner}/{repo}/commit/{sha}``, and
GitLab's spellings of the same under ``/-/`` (``/-/merge_requests/{iid}``,
``/-/commit/{sha}``, ``/-/tree/{ref}``). GET only, no forms, no script.

Owners named like the forge's own top-level paths (``api``, ``oauth``, ``login``,
``settings``, ``organizations``, ``_forge``) are left to those routes, so a wrong method
or an unknown API path there still answers as before (405, the API's own 404) instead of
reaching a page.
"""

from __future__ import annotations

from aiohttp import web

from prbot.forge.pages import views

RESERVED = ("api", "oauth", "login", "settings", "organizations", "_forge")
OWNER = "/{owner:(?!(?:" + "|".join(RESERVED) + ")/)[A-Za-z0-9_.-]+}"
REPO = OWNER + "/{repo:[A-Za-z0-9_.-]+}"
NUMBER = r"{number:\d+}"

ROUTES = [
    ("/", views.index),
    (REPO, views.repository),
    (f"{REPO}/tree/{{ref:.+}}", views.repository),
    (f"{REPO}/-/tree/{{ref:.+}}", views.repository),
    (f"{REPO}/pull/{NUMBER}", views.pull_request),
    (f"{REPO}/pull/{NUMBER}.diff", views.pull_diff),
    (f"{REPO}/-/merge_requests/{NUMBER}", views.pull_request),
    (f"{REPO}/commit/{{sha}}", views.commit),
    (f"{REPO}/-/commit/{{sha}}", views.commit),
]


def setup_routes(app: web.Application) -> None:
    for path, handler in ROUTES:
        app.router.add_get(path, handler)
