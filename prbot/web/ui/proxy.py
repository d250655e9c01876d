"""Signing in behind a proxy (``PRBOT_UI_AUTH=proxy``): a team with SSO in front of prbot
has its proxy name the user in a header (default ``X-Forwarded-User``). The header is
believed only from the proxy's own addresses (trusted networks, default 127.0.0.1):
from anyone else it is ignored, since any client can send it."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

from prbot.settings import Network

LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?")  # GitHub/GitLab-like


def proxy_user(
    peer: str | None,
    headers: dict[str, str] | Iterable[tuple[str, str]],
    header: str,
    trusted: Sequence[Network],
) -> str | None:
    """The user the proxy names, or None: not from a trusted address, no header, or a
    value that is not a login (a proxy passes logins, nothing else)."""
    if peer is None:
        return None
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return None
    if not any(address in network for network in trusted):
        return None
    values = dict(headers) if not isinstance(headers, dict) else headers
    wanted = header.lower()
    user = next((v for k, v in values.items() if k.lower() == wanted), "").strip()
    return user if LOGIN.fullmatch(user) else None
