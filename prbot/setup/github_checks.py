"""``prbot check``'s rules for GitHub (pure): an App's key, permissions, events,
installations and webhook; a token's validity and scopes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from prbot.setup.check import WEBHOOK_PATHS, Row, row, secret_row
from prbot.setup.manifest import missing


@dataclass
class GitHubObserved:
    """What the GitHub API said. ``None``: not asked (a step before it failed)."""

    mode: Literal["app", "token"]
    github_url: str  # the web address, for the fixes' links
    webhook_secret_set: bool
    unreachable: str | None = None  # the transport error, when GitHub could not be reached
    # App mode
    app_status: int | None = None  # GET /app with the JWT
    app: Mapping[str, Any] | None = None
    installations: Sequence[Mapping[str, Any]] | None = None
    hook_config: Mapping[str, Any] | None = None
    deliveries: Sequence[Mapping[str, Any]] | None = None
    # token mode
    token_status: int | None = None  # GET /user
    login: str = ""
    token_scopes: tuple[str, ...] | None = None  # X-OAuth-Scopes; None: a fine-grained token


def github_rows(
    o: GitHubObserved, needed: Mapping[str, str], events: Sequence[str], webhook_url: str = ""
) -> list[Row]:
    rows = [secret_row("github", o.webhook_secret_set, "WEBHOOK_SECRET", "of the App")]
    if o.unreachable:
        return [
            *rows,
            Row(
                "github",
                "API reachable",
                "FAIL",
                o.unreachable,
                "check GHE_HOST / GHE_PROTOCOL and the network to GitHub",
            ),
        ]
    if o.mode == "token":
        return rows + _token_rows(o)
    return rows + _app_rows(o, needed, events, webhook_url)


def _token_rows(o: GitHubObserved) -> list[Row]:
    if o.token_status != 200:
        return [
            Row(
                "github",
                "GITHUB_TOKEN",
                "FAIL",
                f"GitHub answered {o.token_status}" if o.token_status else "not set",
                "the token is revoked, expired or mistyped: create a new one and set GITHUB_TOKEN"
                if o.token_status
                else "set GITHUB_TOKEN, or run `prbot setup github` for an App",
            )
        ]
    rows = [Row("github", "GITHUB_TOKEN", "ok", f"works, as {o.login}")]
    if o.token_scopes is None:
        rows.append(
            Row(
                "github",
                "token scopes",
                "skip",
                "a fine-grained token: GitHub does not list its permissions",
            )
        )
    else:
        lacking = [s for s in ("repo",) if s not in o.token_scopes]
        rows.append(
            row(
                "github",
                "token scopes",
                not lacking,
                ", ".join(o.token_scopes) or "none",
                "give the token the repo scope (read:org too for team approvals)",
            )
        )
    rows.append(
        Row(
            "github",
            "webhook",
            "skip",
            "a token cannot see deliveries: check the "
            "repository's Settings > Webhooks > Recent Deliveries",
        )
    )
    return rows


def _app_rows(
    o: GitHubObserved, needed: Mapping[str, str], events: Sequence[str], webhook_url: str
) -> list[Row]:
    if o.app_status != 200 or o.app is None:
        return [
            Row(
                "github",
                "App key",
                "FAIL",
                f"GitHub refused the App's JWT ({o.app_status})",
                "APP_ID and PRIVATE_KEY do not match (or the key was deleted): generate a "
                f"private key on the App's settings page ({o.github_url}/settings/apps), "
                "then set PRIVATE_KEY_PATH to it",
            )
        ]
    app = o.app
    page = str(app.get("html_url", "")) or f"{o.github_url}/settings/apps"
    slug = str(app.get("slug", ""))
    settings_page = f"{o.github_url}/settings/apps/{slug}/permissions"
    rows = [Row("github", "App key", "ok", f"App {slug} (id {app.get('id')})")]
    lacking = missing(app.get("permissions") or {}, needed)
    rows.append(
        row(
            "github",
            "App permissions",
            not lacking,
            _perms(lacking) or "as needed",
            f"grant {_perms(lacking)} at {settings_page}",
        )
    )
    no_events = sorted(set(events) - set(app.get("events") or ()))
    rows.append(
        row(
            "github",
            "App events",
            not no_events,
            ", ".join(no_events) + " missing" if no_events else "as needed",
            f"subscribe to {', '.join(no_events)} at {settings_page}",
        )
    )
    installs = list(o.installations or ())
    rows.append(
        row(
            "github",
            "installed",
            bool(installs),
            f"{len(installs)} installation(s)" if installs else "nowhere",
            f"install the App on your organisation or account: {page}/installations/new",
        )
    )
    for inst in installs:
        account = str((inst.get("account") or {}).get("login", "?"))
        lacking = missing(inst.get("permissions") or {}, needed)
        rows.append(
            row(
                "github",
                f"installation on {account}",
                not lacking,
                f"lacks {_perms(lacking)}" if lacking else "permissions as needed",
                f"an owner of {account} must accept the App's new permissions: "
                f"{o.github_url}/settings/installations/{inst.get('id')}",
            )
        )
    rows.append(_hook_row(o, webhook_url, settings_page.removesuffix("/permissions")))
    return rows


def _hook_row(o: GitHubObserved, webhook_url: str, page: str) -> Row:
    url = str((o.hook_config or {}).get("url") or "")
    expected = webhook_url or "https://YOUR-PRBOT/webhooks/github"
    if not url:
        return Row(
            "github",
            "webhook",
            "FAIL",
            "the App has no webhook URL",
            f"set the App's webhook URL to {expected} at {page}",
        )
    if webhook_url and url != webhook_url:
        return Row(
            "github",
            "webhook",
            "FAIL",
            f"the App delivers to {url}",
            f"set the App's webhook URL to {webhook_url} at {page}",
        )
    if not url.rstrip("/").endswith(WEBHOOK_PATHS["github"]):
        return Row(
            "github",
            "webhook",
            "FAIL",
            f"{url} is not prbot's webhook path",
            f"set the App's webhook URL to .../webhooks/github at {page}",
        )
    latest = (o.deliveries or [None])[0]
    if latest is None:
        return Row("github", "webhook", "skip", f"{url}: no delivery yet to tell reachability")
    if latest.get("status") == "OK" or 200 <= int(latest.get("status_code") or 0) < 300:
        return Row("github", "webhook", "ok", f"{url}: last delivery OK")
    why = f"{latest.get('status') or ''} ({latest.get('status_code')})"
    return Row(
        "github",
        "webhook",
        "FAIL",
        f"{url}: last delivery failed: {why}",
        f"make {url} reachable from GitHub (and WEBHOOK_SECRET the App's), then "
        f"redeliver from {page}/advanced",
    )


def _perms(lacking: Mapping[str, str]) -> str:
    return ", ".join(f"{p}: {level}" for p, level in sorted(lacking.items()))
