"""Sessions in a signed cookie: who is signed in, on which platform, and the session's
CSRF token. Nothing secret lives in it (no platform token): it is signed, not encrypted,
so its holder can read it but not change it.

The cookie is HttpOnly (no script reads it), SameSite=Lax (sent on a top-level return
from the platform's sign-in page, never on another site's form post or fetch), Secure
when prbot is served over HTTPS, and expires. A cookie that fails its signature, is
malformed or too old is a signed-out session, never an error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from aiohttp import web

COOKIE = "prbot_session"
MAX_COOKIE_BYTES = 4096  # browsers keep at most this per cookie


@dataclass(frozen=True)
class Session:
    user: str = ""  # the platform login; "" when signed out
    platform: str = ""  # github | gitlab
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    issued_at: float = 0.0
    pending: dict[str, str] = field(default_factory=dict)  # e.g. an OAuth state, one use

    @property
    def signed_in(self) -> bool:
        return bool(self.user)


class Sessions:
    def __init__(
        self,
        secret: bytes,
        *,
        max_age: float = 8 * 3600,
        secure: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret) < 32:
            raise ValueError("a session secret needs at least 32 bytes")
        self._key = hashlib.sha256(b"prbot-session\0" + secret).digest()
        self.max_age = max_age
        self.secure = secure
        self.clock = clock

    def load(self, request: web.Request) -> Session:
        """The request's session, or a new signed-out one."""
        return self.decode(request.cookies.get(COOKIE, "")) or Session(issued_at=self.clock())

    def save(self, response: web.StreamResponse, session: Session) -> None:
        value = self.encode(session)
        if len(value) > MAX_COOKIE_BYTES:
            raise ValueError("the session grew beyond a cookie's size")
        response.set_cookie(
            COOKIE,
            value,
            max_age=int(self.max_age),
            path="/",
            httponly=True,
            samesite="Lax",
            secure=self.secure,
        )

    def signed_in(self, session: Session, user: str, platform: str) -> Session:
        """A new session for ``user`` (a new CSRF token too: nothing from before the
        sign-in carries over, so a planted session cannot be promoted)."""
        return Session(user=user, platform=platform, issued_at=self.clock())

    def clear(self, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path="/")

    # -- the cookie's text ------------------------------------------------------------

    def encode(self, session: Session) -> str:
        data = json.dumps(asdict(session), separators=(",", ":"), sort_keys=True).encode()
        body = base64.urlsafe_b64encode(data).rstrip(b"=")
        return f"{body.decode()}.{self._sign(body)}"

    def decode(self, value: str) -> Session | None:
        body, dot, signature = value.partition(".")
        if not dot or len(value) > MAX_COOKIE_BYTES or not value.isascii():
            return None  # (a cookie of ours is base64 text)
        if not hmac.compare_digest(signature, self._sign(body.encode())):
            return None
        try:
            data: Any = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session = Session(**data)
        except (ValueError, TypeError, binascii.Error):
            return None
        if not isinstance(session.issued_at, (int, float)):
            return None
        if not 0 <= self.clock() - session.issued_at <= self.max_age:
            return None  # expired (or from the future: a clock moved back)
        return session

    def _sign(self, body: bytes) -> str:
        digest = hmac.new(self._key, body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def with_pending(session: Session, key: str, value: str) -> Session:
    return replace(session, pending={**session.pending, key: value})


def take_pending(session: Session, key: str) -> tuple[Session, str | None]:
    """The value kept under ``key`` (once: it is gone from the returned session)."""
    pending = dict(session.pending)
    value = pending.pop(key, None)
    return replace(session, pending=pending), value
