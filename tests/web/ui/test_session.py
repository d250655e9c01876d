"""Signed-cookie sessions: a round trip keeps who is signed in; a changed, truncated,
foreign or expired cookie is a signed-out session; the cookie's attributes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from prbot.web.ui.session import COOKIE, Session, Sessions, take_pending, with_pending

SECRET = b"s" * 32


def sessions(now: list[float] | None = None, **kwargs) -> Sessions:
    clock = now or [1000.0]
    return Sessions(SECRET, clock=lambda: clock[0], **kwargs)


def test_a_session_survives_its_cookie() -> None:
    s = sessions()
    signed = s.signed_in(Session(), "alice", "github")
    back = s.decode(s.encode(signed))
    assert back == signed and back.signed_in


def test_signing_in_gives_a_new_csrf_token() -> None:
    s = sessions()
    before = Session()
    assert s.signed_in(before, "alice", "github").csrf != before.csrf


@pytest.mark.parametrize(
    "tamper",
    [
        lambda v: v[:-1] + ("A" if v[-1] != "A" else "B"),  # the signature
        lambda v: ("f" if v[0] != "f" else "g") + v[1:],  # the body
        lambda v: v.split(".")[0],  # no signature
        lambda v: "",
        lambda v: v + "." + v,
    ],
)
def test_a_changed_cookie_is_signed_out(tamper) -> None:
    s = sessions()
    value = s.encode(s.signed_in(Session(), "alice", "github"))
    assert s.decode(tamper(value)) is None


def test_another_secrets_cookie_is_signed_out() -> None:
    mine, theirs = sessions(), Sessions(b"t" * 32, clock=lambda: 1000.0)
    assert mine.decode(theirs.encode(theirs.signed_in(Session(), "mallory", "github"))) is None


def test_an_old_cookie_is_signed_out() -> None:
    now = [1000.0]
    s = sessions(now, max_age=60)
    value = s.encode(s.signed_in(Session(), "alice", "github"))
    now[0] += 61
    assert s.decode(value) is None


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Sessions(b"short")


def test_pending_values_are_taken_once() -> None:
    session = with_pending(Session(), "oauth_state", "xyz")
    session, value = take_pending(session, "oauth_state")
    assert value == "xyz"
    assert take_pending(session, "oauth_state")[1] is None


def test_the_cookie_is_httponly_samesite_and_secure_when_asked() -> None:
    for secure in (False, True):
        s = sessions(secure=secure)
        response = web.Response()
        s.save(response, s.signed_in(Session(), "alice", "github"))
        morsel = response.cookies[COOKIE]
        assert morsel["httponly"] is True and morsel["samesite"] == "Lax"
        assert bool(morsel["secure"]) is secure and morsel["path"] == "/"


@given(st.text(max_size=300))
def test_any_cookie_text_is_a_session_or_none(text: str) -> None:
    s = sessions()
    assert s.decode(text) is None or isinstance(s.decode(text), Session)


@given(st.text(min_size=1, max_size=40), st.sampled_from(["github", "gitlab"]))
def test_any_user_round_trips(user: str, platform: str) -> None:
    s = sessions()
    signed = replace(s.signed_in(Session(), user, platform), pending={"k": user})
    assert s.decode(s.encode(signed)) == signed
