"""CSRF tokens, the pages' headers, and the proxy's user header believed only from
trusted addresses."""

from __future__ import annotations

import pytest
from aiohttp import web

from prbot.settings import parse_networks
from prbot.web.ui.csrf import FIELD, HEADER, csrf_ok
from prbot.web.ui.headers import content_security_policy, harden
from prbot.web.ui.proxy import proxy_user
from prbot.web.ui.session import Session


def test_csrf_needs_the_sessions_own_token() -> None:
    session = Session()
    assert csrf_ok(session, {FIELD: session.csrf}, {})
    assert csrf_ok(session, {}, {HEADER: session.csrf})
    assert not csrf_ok(session, {}, {})
    assert not csrf_ok(session, {FIELD: ""}, {})
    assert not csrf_ok(session, {FIELD: Session().csrf}, {})  # another session's
    assert not csrf_ok(session, {FIELD: "é" * 32}, {})  # not ASCII: refused, not raised


def test_pages_send_a_strict_policy() -> None:
    policy = content_security_policy(["https://github.com"])
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "form-action 'self' https://github.com" in policy
    response = web.Response()
    harden(response, policy)
    assert response.headers["Content-Security-Policy"] == policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


TRUSTED = parse_networks("127.0.0.1, 10.0.0.0/8, ::1", "PRBOT_UI_TRUSTED_PROXIES")


@pytest.mark.parametrize(
    ("peer", "value", "expected"),
    [
        ("127.0.0.1", "alice", "alice"),
        ("10.1.2.3", "bob.smith", "bob.smith"),
        ("::1", "carol", "carol"),
        ("192.168.1.5", "alice", None),  # not the proxy: anyone can send the header
        (None, "alice", None),
        ("127.0.0.1", "", None),
        ("127.0.0.1", "alice; admin", None),  # not a login
        ("127.0.0.1", "<script>", None),
        ("not-an-address", "alice", None),
    ],
)
def test_the_proxy_header_is_believed_only_from_the_proxy(peer, value, expected) -> None:
    headers = {"x-forwarded-user": value} if value else {}
    assert proxy_user(peer, headers, "X-Forwarded-User", TRUSTED) == expected


def test_a_bad_network_names_the_setting() -> None:
    with pytest.raises(ValueError, match=r"PRBOT_UI_TRUSTED_PROXIES: 'nope' is not"):
        parse_networks("127.0.0.1, nope", "PRBOT_UI_TRUSTED_PROXIES")
