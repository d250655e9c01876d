"""The client of a running forge's admin API (``/_forge``) that ``prbot forge``'s
subcommands share."""

from __future__ import annotations

from typing import Any

EXIT_OK, EXIT_FAIL = 0, 2


class AdminError(Exception):
    pass


def call(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    import httpx

    try:
        resp = httpx.request(method, f"{url.rstrip('/')}/_forge{path}", json=body, timeout=30)
    except httpx.HTTPError as exc:
        raise AdminError(f"cannot reach the forge at {url}: {exc}") from None
    if resp.status_code >= 400:
        try:
            message = resp.json().get("error", resp.text)
        except ValueError:
            message = resp.text
        raise AdminError(f"{method} {path}: {resp.status_code} {message}")
    return resp.json() if resp.content else None
