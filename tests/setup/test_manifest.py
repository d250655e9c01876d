"""The App's permissions are exactly what the code calls, its events exactly what prbot
handles, and app.yml says the same; GitLab's hook flags likewise."""

from __future__ import annotations

import ast
from pathlib import Path

from ruamel.yaml import YAML

from prbot.setup import manifest
from prbot.setup.gitlab_hooks import hook_flags
from prbot.web.normalize import GITHUB, GITLAB

ROOT = Path(__file__).resolve().parents[2]
PROVIDER = ROOT / "prbot" / "scm" / "github"
VERBS = {"get": "GET", "paginate": "GET"}  # helpers whose method is implied
EXPLICIT = {"call", "request"}  # helpers taking the method first


def _constants(tree: ast.Module) -> dict[str, str]:
    return {
        t.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


def _text(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def routes_called() -> set[tuple[str, str]]:
    """Every (method, route) the GitHub provider's source sends, read from its calls."""
    found: set[tuple[str, str]] = set()
    for path in sorted(PROVIDER.glob("*.py")):
        tree = ast.parse(path.read_text())
        constants = _constants(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            name, args = node.func.attr, node.args
            if name == "graphql":
                found.add(("POST", "/graphql"))
            elif name in VERBS and args:
                route = _text(args[0], constants)
                if route is not None and (route == "" or route.startswith("/")):
                    found.add((VERBS[name], route))
            elif name in EXPLICIT and len(args) >= 2:
                method, route = _text(args[0], constants), _text(args[1], constants)
                if method and method.isupper() and route is not None and route.startswith("/"):
                    found.add((method, route))
    return found


def test_every_route_the_provider_calls_has_its_permission_and_no_entry_is_stale() -> None:
    called = routes_called()
    # the scan sees the calls it must (a broken scan would pass everything)
    assert ("POST", "/git/commits") in called and ("POST", "/statuses/{sha}") in called
    assert ("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}") in called
    assert ("GET", "") in called and ("POST", "/graphql") in called
    unknown = called - set(manifest.ROUTES)
    assert not unknown, f"routes with no permission in prbot/setup/manifest.py: {unknown}"
    stale = set(manifest.ROUTES) - called
    assert not stale, f"permissions for routes no longer called: {stale}"


def test_the_permissions_are_the_least_that_cover_the_routes_and_events() -> None:
    needed = manifest.needed_permissions()
    assert needed == {
        "checks": "read",
        "contents": "write",
        "deployments": "read",
        "issues": "write",
        "members": "read",
        "metadata": "read",
        "pull_requests": "write",
        "statuses": "write",
    }
    # nothing dangerous, and each permission is used by something
    assert not {"workflows", "administration", "actions", "secrets"} & set(needed)
    used = {need[0] for need in manifest.ROUTES.values() if need} | {"metadata"}
    used |= {manifest.EVENT_PERMISSIONS[e] for e in manifest.handled_events()}
    assert set(needed) == used
    # each level is the highest some route needs (read where only reads happen)
    for permission, level in needed.items():
        levels = {n[1] for n in manifest.ROUTES.values() if n and n[0] == permission}
        assert level == ("write" if "write" in levels else "read")


def test_the_events_are_exactly_those_prbot_handles() -> None:
    events = manifest.handled_events()
    assert set(events) | manifest.ALWAYS_DELIVERED == set(GITHUB)
    assert set(events) == set(manifest.EVENT_PERMISSIONS)
    assert not manifest.ALWAYS_DELIVERED & set(events)


def test_app_yml_is_the_manifest_the_code_needs() -> None:
    shipped = YAML(typ="safe").load((ROOT / "app.yml").read_text())
    assert shipped["default_permissions"] == manifest.needed_permissions()
    assert shipped["default_events"] == manifest.handled_events()
    assert shipped["public"] is False
    built = manifest.manifest(webhook_url="https://p/webhooks/github", redirect_url="http://x")
    for key in ("name", "url", "description", "public"):
        assert shipped[key] == built[key]


def test_missing_compares_levels() -> None:
    needed = {"contents": "write", "checks": "read"}
    assert manifest.missing({"contents": "read", "checks": "write"}, needed) == {
        "contents": "write"
    }
    assert manifest.missing({"contents": "write", "checks": "read"}, needed) == {}
    assert manifest.missing({}, needed) == needed


def test_gitlab_hook_flags_are_the_events_prbot_handles() -> None:
    assert set(hook_flags()) == {
        "push_events",
        "merge_requests_events",
        "note_events",
        "pipeline_events",
        "deployment_events",
    }
    assert len(hook_flags()) == len(GITLAB)
