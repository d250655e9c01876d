"""Credentials for the GitHub API: a GitHub App (JWT → installation tokens) or a token.

The request layer asks an ``Auth`` for a ``Credential`` before every request, so an
installation token that is about to expire is replaced transparently. Secrets stay in
private attributes; every object here has a ``__repr__`` without them, and errors are
re-raised without the underlying exception (whose text or chain could carry a header).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from prbot.scm.port import ScmError

if TYPE_CHECKING:
    from prbot.scm.github.client import GitHubClient

JWT_BACKDATE = 60  # GitHub's advice: iat in the past, against clock drift
JWT_LIFETIME = 9 * 60  # GitHub rejects exp more than 10 minutes after now
JWT_REUSE = 5 * 60  # re-sign well before the JWT expires
TOKEN_REFRESH_MARGIN = 5 * 60  # installation tokens live an hour; renew 5 min early


@dataclass(frozen=True)
class Credential:
    """One request's authorization: a token (``token X``) or an app JWT (``Bearer X``)."""

    scheme: Literal["token", "bearer"]
    value: str = field(repr=False)
    bucket: str  # whose rate limit this spends: "token", "app:1", "installation:42"

    def __repr__(self) -> str:
        return f"Credential(scheme={self.scheme!r}, bucket={self.bucket!r})"


class Auth(Protocol):
    """What the request layer asks for a credential before each request."""

    async def credential(self, client: GitHubClient) -> Credential: ...

    def invalidate(self) -> None:
        """Forget a cached credential GitHub just refused (401)."""
        ...


class TokenAuth:
    """A personal access token (or any fixed token, e.g. the forge's)."""

    def __init__(self, token: str, *, bucket: str = "token"):
        if not token:
            raise ValueError("TokenAuth needs a non-empty token")
        self._token = token
        self.bucket = bucket

    async def credential(self, client: GitHubClient) -> Credential:
        return Credential("token", self._token, self.bucket)

    def invalidate(self) -> None:
        """A fixed token cannot be renewed; the 401 surfaces as an error."""

    def __repr__(self) -> str:
        return f"TokenAuth(bucket={self.bucket!r})"


@dataclass
class _CachedToken:
    value: str = field(repr=False)
    expires_at: float


class AppAuth:
    """A GitHub App: signs JWTs with its private key, mints and caches installation tokens."""

    def __init__(
        self,
        app_id: int | str,
        private_key: str | bytes | None = None,
        *,
        private_key_path: str | os.PathLike[str] | None = None,
        clock: Callable[[], float] = time.time,
        refresh_margin: float = TOKEN_REFRESH_MARGIN,
    ):
        self.app_id = str(app_id)
        if not self.app_id:
            raise ValueError("AppAuth needs an app id")
        self._key = load_private_key(private_key, private_key_path)
        self._clock = clock
        self._refresh_margin = refresh_margin
        self._jwt: _CachedToken | None = None
        self._tokens: dict[int, _CachedToken] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self.tokens_minted = 0  # for tests and metrics

    def __repr__(self) -> str:
        return f"AppAuth(app_id={self.app_id!r})"

    # -- the app itself ---------------------------------------------------------------

    def jwt(self) -> str:
        """An RS256 JWT for app-level calls, re-signed before it gets old."""
        now = self._clock()
        if self._jwt is None or now >= self._jwt.expires_at:
            iat = int(now) - JWT_BACKDATE
            payload = {"iat": iat, "exp": int(now) + JWT_LIFETIME, "iss": self.app_id}
            try:
                token = jwt.encode(payload, self._key, algorithm="RS256")
            except Exception:
                raise ScmError("could not sign the GitHub App JWT") from None
            self._jwt = _CachedToken(token, now + JWT_REUSE)
        return self._jwt.value

    def as_app(self) -> AppJwtAuth:
        """Authorization as the app (installation lookup, token minting)."""
        return AppJwtAuth(self)

    def installation(self, installation_id: int) -> InstallationAuth:
        return InstallationAuth(self, int(installation_id))

    # -- installation tokens ------------------------------------------------------------

    async def installation_token(self, client: GitHubClient, installation_id: int) -> str:
        cached = self._fresh(installation_id)
        if cached is not None:
            return cached
        # one mint per installation at a time: concurrent callers wait for the first
        lock = self._locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            cached = self._fresh(installation_id)
            if cached is not None:
                return cached
            answer = await client.request(
                "POST",
                "/app/installations/{installation_id}/access_tokens",
                {"installation_id": installation_id},
                auth=self.as_app(),
                idempotent=True,  # a lost answer only costs an unused token
            )
            token, expires_at = _parse_token(answer.data, self._clock())
            self._tokens[installation_id] = _CachedToken(token, expires_at)
            self.tokens_minted += 1
            return token

    def forget(self, installation_id: int) -> None:
        self._tokens.pop(installation_id, None)

    def forget_jwt(self) -> None:
        self._jwt = None

    def _fresh(self, installation_id: int) -> str | None:
        cached = self._tokens.get(installation_id)
        if cached is None or self._clock() >= cached.expires_at - self._refresh_margin:
            return None
        return cached.value


class AppJwtAuth:
    def __init__(self, app: AppAuth):
        self.app = app

    async def credential(self, client: GitHubClient) -> Credential:
        return Credential("bearer", self.app.jwt(), f"app:{self.app.app_id}")

    def invalidate(self) -> None:
        self.app.forget_jwt()

    def __repr__(self) -> str:
        return f"AppJwtAuth(app_id={self.app.app_id!r})"


class InstallationAuth:
    def __init__(self, app: AppAuth, installation_id: int):
        self.app = app
        self.installation_id = installation_id

    async def credential(self, client: GitHubClient) -> Credential:
        token = await self.app.installation_token(client, self.installation_id)
        return Credential("token", token, f"installation:{self.installation_id}")

    def invalidate(self) -> None:
        self.app.forget(self.installation_id)

    def __repr__(self) -> str:
        return f"InstallationAuth(app_id={self.app.app_id!r}, installation={self.installation_id})"


def load_private_key(
    private_key: str | bytes | None = None, path: str | os.PathLike[str] | None = None
) -> RSAPrivateKey:
    """The app's RSA key from PEM text (Probot's ``PRIVATE_KEY``: PEM, PEM with literal
    ``\\n`` escapes, or base64 of PEM) or from a file (``PRIVATE_KEY_PATH``)."""
    if private_key:
        data = private_key.encode() if isinstance(private_key, str) else bytes(private_key)
        if b"-----BEGIN" not in data:
            try:
                data = base64.b64decode(data, validate=False)
            except (binascii.Error, ValueError):
                raise ScmError("PRIVATE_KEY is neither PEM nor base64 of PEM") from None
        data = data.replace(b"\\n", b"\n").strip() + b"\n"
    elif path:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ScmError(
                f"cannot read PRIVATE_KEY_PATH {os.fspath(path)!r}: {e.strerror}"
            ) from None
    else:
        raise ScmError("a GitHub App needs PRIVATE_KEY or PRIVATE_KEY_PATH")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        # the parser's message is generic, but don't chain it: keep key bytes out of tracebacks
        raise ScmError("the GitHub App private key is not a readable PEM private key") from None
    if not isinstance(key, RSAPrivateKey):
        raise ScmError("the GitHub App private key must be an RSA key (GitHub signs RS256)")
    return key


def _parse_token(data: object, now: float) -> tuple[str, float]:
    if not isinstance(data, dict) or not isinstance(data.get("token"), str):
        raise ScmError("GitHub answered the installation token request without a token")
    expires = data.get("expires_at")
    try:
        at = datetime.datetime.fromisoformat(str(expires).replace("Z", "+00:00")).timestamp()
    except ValueError:
        at = now + 3600  # GitHub's documented lifetime
    return data["token"], at
