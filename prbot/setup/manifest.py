"""The GitHub App manifest prbot needs, derived from what its code does. Pure.

``ROUTES`` names, for every GitHub REST route the GitHub provider calls (as written in
``prbot/scm/github``: repository routes relative to ``/repos/{owner}/{repo}``), the App
permission GitHub's documentation lists for it; ``EVENT_PERMISSIONS`` the permission each
webhook event prbot handles (``prbot.web.normalize.GITHUB``) needs. The manifest asks
for the highest level of each, and nothing else: ``tests/setup/test_manifest.py`` reads
the provider's source and the webhook handlers and fails when a route or an event has no
entry here, when an entry is no longer used, or when ``app.yml`` differs.

Decisions: commit statuses are ``write``, not ``read``: prbot posts its own
``prbot/definitions`` status (``health.post_status``). Comments and labels on pull
requests go through the issues API: ``issues: write``. ``members: read`` is the
organisation permission team approvals need. ``installation`` and
``installation_repositories`` reach every App without subscribing (a manifest may not
list them). No workflows, no administration: prbot never edits ``.github/workflows``
through the API it uses (a Git Data commit touching workflows would need ``workflows``,
and is refused by GitHub, which is the wanted outcome).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prbot.web.normalize import GITHUB

LEVELS = ("read", "write")
Need = tuple[str, str] | None  # (permission, level); None: the App's JWT or no permission

# (method, route) -> what GitHub requires of an App for it
ROUTES: dict[tuple[str, str], Need] = {
    # as the App itself (its JWT): no permission
    ("POST", "/app/installations/{installation_id}/access_tokens"): None,
    ("GET", "/repos/{owner}/{repo}/installation"): None,
    ("GET", "/app/installations"): None,
    # the repository
    ("GET", ""): ("metadata", "read"),
    ("GET", "/collaborators/{username}/permission"): ("metadata", "read"),
    # the repositories a person (their user token) or an installation can reach
    ("GET", "/user/repos"): ("metadata", "read"),
    ("GET", "/installation/repositories"): ("metadata", "read"),
    # contents: reading files and writing commits and branches
    ("GET", "/contents/{path}"): ("contents", "read"),
    ("GET", "/compare/{basehead}"): ("contents", "read"),
    ("GET", "/git/commits/{commit_sha}"): ("contents", "read"),
    ("GET", "/git/ref/heads/{branch}"): ("contents", "read"),
    ("GET", "/git/ref/tags/{tag}"): ("contents", "read"),
    ("GET", "/git/trees/{tree_sha}"): ("contents", "read"),
    ("POST", "/git/blobs"): ("contents", "write"),
    ("POST", "/git/trees"): ("contents", "write"),
    ("POST", "/git/commits"): ("contents", "write"),
    ("POST", "/git/refs"): ("contents", "write"),
    ("PATCH", "/git/refs/heads/{branch}"): ("contents", "write"),
    # pull requests
    ("GET", "/pulls"): ("pull_requests", "read"),
    ("GET", "/pulls/{pull_number}"): ("pull_requests", "read"),
    ("POST", "/pulls"): ("pull_requests", "write"),
    ("PATCH", "/pulls/{pull_number}"): ("pull_requests", "write"),
    ("PUT", "/pulls/{pull_number}/merge"): ("pull_requests", "write"),
    ("POST", "/pulls/{pull_number}/requested_reviewers"): ("pull_requests", "write"),
    # comments, reactions and labels on pull requests (the issues API)
    ("GET", "/issues/{issue_number}/comments"): ("issues", "read"),
    ("POST", "/issues/{issue_number}/comments"): ("issues", "write"),
    ("PATCH", "/issues/comments/{comment_id}"): ("issues", "write"),
    ("POST", "/issues/comments/{comment_id}/reactions"): ("issues", "write"),
    ("POST", "/issues/{issue_number}/labels"): ("issues", "write"),
    # health
    ("GET", "/commits/{ref}/status"): ("statuses", "read"),
    ("POST", "/statuses/{sha}"): ("statuses", "write"),
    ("GET", "/commits/{ref}/check-runs"): ("checks", "read"),
    ("GET", "/deployments"): ("deployments", "read"),
    ("GET", "/deployments/{deployment_id}/statuses"): ("deployments", "read"),
    # team approvals (an organisation permission)
    ("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}"): ("members", "read"),
    # GraphQL: blob contents in one request (and the viewer's own login)
    ("POST", "/graphql"): ("contents", "read"),
}
EVENT_PERMISSIONS: dict[str, str] = {
    "pull_request": "pull_requests",
    "issue_comment": "issues",
    "status": "statuses",
    "check_run": "checks",
    "check_suite": "checks",
    "deployment_status": "deployments",
    "push": "contents",
}
# sent to every App, whatever it subscribes to; a manifest may not name them
ALWAYS_DELIVERED = frozenset({"installation", "installation_repositories"})
BASE_PERMISSIONS = {"metadata": "read"}  # every App has it


def handled_events(handlers: Iterable[str] = GITHUB) -> list[str]:
    """The events the App subscribes to: every one prbot handles, but those GitHub sends
    to every App anyway."""
    return sorted(set(handlers) - ALWAYS_DELIVERED)


def _grant(into: dict[str, str], permission: str, level: str) -> None:
    have = into.get(permission)
    if have is None or LEVELS.index(level) > LEVELS.index(have):
        into[permission] = level


def needed_permissions(
    routes: Mapping[tuple[str, str], Need] = ROUTES,
    events: Iterable[str] | None = None,
) -> dict[str, str]:
    """The least permissions covering ``routes`` and subscribing to ``events``."""
    needed = dict(BASE_PERMISSIONS)
    for need in routes.values():
        if need is not None:
            _grant(needed, *need)
    for event in handled_events() if events is None else events:
        _grant(needed, EVENT_PERMISSIONS[event], "read")
    return dict(sorted(needed.items()))


def missing(granted: Mapping[str, str], needed: Mapping[str, str]) -> dict[str, str]:
    """What of ``needed`` ``granted`` lacks (absent, or read where write is needed)."""
    out = {}
    for permission, level in needed.items():
        have = granted.get(permission)
        if have is None or (have in LEVELS and LEVELS.index(have) < LEVELS.index(level)):
            out[permission] = level
    return out


def manifest(
    *,
    webhook_url: str,
    redirect_url: str,
    name: str = "prbot",
    url: str = "https://github.com/prbot/prbot",
    description: str = "GitOps pull-request automation",
    callback_urls: Iterable[str] = (),
    public: bool = False,
) -> dict[str, Any]:
    """The manifest GitHub's flow takes (the shape of ``app.yml`` plus the URLs)."""
    body: dict[str, Any] = {
        "name": name,
        "url": url,
        "description": description,
        "hook_attributes": {"url": webhook_url, "active": True},
        "redirect_url": redirect_url,
        "public": public,
        "default_permissions": needed_permissions(),
        "default_events": handled_events(),
    }
    if callbacks := list(callback_urls):
        body["callback_urls"] = callbacks
    return body
