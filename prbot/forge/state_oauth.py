"""Signing users in to an OAuth client: a GitHub App's user authorization and GitLab OAuth
applications, their authorization codes and the user tokens they are exchanged for.

Part of ``Forge`` (state.py): a mixin over the state ``Forge.__init__`` sets up. Failures
of the token step raise ``OAuthRefused`` with a platform-neutral ``kind``; the HTTP
modules (prbot/forge/oauth) word it the way each platform does. Only hashes of secrets,
codes and tokens are kept.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from prbot.forge.errors import ForgeError, NotFound, Unprocessable
from prbot.forge.models import (
    App,
    OAuthApplication,
    OAuthCode,
    OAuthToken,
    Platform,
    hash_token,
)

CODE_TTL = 600  # both platforms: an authorization code lives 10 minutes
GITHUB_ACCESS_TTL = 28_800  # a GitHub App's user token: 8 hours
GITHUB_REFRESH_TTL = 15_811_200  # and its refresh token: 6 months
GITLAB_ACCESS_TTL = 7_200  # GitLab: 2 hours; its refresh tokens do not expire
GITLAB_SCOPES = ("api", "read_api", "read_user", "read_repository", "write_repository",
                 "openid", "profile", "email")  # fmt: skip
Refusal = Literal["client", "redirect_uri", "code", "refresh", "grant_type", "request"]


class OAuthRefused(ForgeError):
    """The token endpoint refuses: ``kind`` says why, in neither platform's words."""

    def __init__(self, kind: Refusal, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class OAuthClient:
    """What the authorize and token steps need of either platform's client."""

    platform: Platform
    client_id: str
    name: str
    secret_hashes: tuple[str, ...]
    redirect_uris: tuple[str, ...]  # GitHub: the callback URL (a prefix), GitLab: exact
    scopes: tuple[str, ...]

    def secret_ok(self, secret: str) -> bool:
        h = hash_token(secret or "")
        return any(hmac.compare_digest(h, known) for known in self.secret_hashes)

    def redirect_ok(self, uri: str) -> bool:
        if self.platform == "gitlab":
            return uri in self.redirect_uris
        return any(_under_callback(uri, cb) for cb in self.redirect_uris)


def _under_callback(uri: str, callback: str) -> bool:
    """GitHub's rule: same scheme, host and port; the path is the callback's or below it
    (at a ``/`` boundary, so ``/cb`` does not admit ``/cbx``); no ``..`` to climb out."""
    try:
        u, c = urlsplit(uri), urlsplit(callback)
        same_origin = (u.scheme, u.hostname, u.port) == (c.scheme, c.hostname, c.port)
    except ValueError:
        return False
    climbs = ".." in unquote(u.path).split("/")  # %2e%2e too: servers decode it
    if not same_origin or not u.scheme or u.fragment or climbs:
        return False
    base = c.path.rstrip("/")
    return u.path in (c.path, base) or u.path.startswith(base + "/")


def pkce_matches(challenge: str, method: str, verifier: str) -> bool:
    if method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        computed = verifier
    return hmac.compare_digest(computed.encode(), challenge.encode())


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    record: OAuthToken  # the access token's


class OAuthMixin:
    """OAuth clients of both platforms, authorization codes and user tokens."""

    # --- the GitHub App side --------------------------------------------------------------

    def set_app_callback(self, app_id: int, callback_url: str) -> App:
        """Set the callback URL of app ``app_id``'s user authorization."""
        app = self.app(app_id)
        app.callback_url = _http_url(callback_url)
        self.save()
        return app

    def new_app_client_secret(self, app_id: int, secret: str | None = None) -> str:
        """A new client secret for app ``app_id`` (or register ``secret``); earlier ones
        keep working, as on GitHub where an app has several while it rotates them."""
        app = self.app(app_id)
        secret = secret or secrets.token_hex(20)
        app.client_secret_hashes.append(hash_token(secret))
        self.save()
        return secret

    # --- GitLab applications --------------------------------------------------------------

    def create_oauth_application(
        self,
        name: str,
        redirect_uris: list[str],
        *,
        scopes: list[str] | None = None,
        uid: str | None = None,
        secret: str | None = None,
    ) -> tuple[OAuthApplication, str]:
        """A GitLab OAuth application and its secret (shown once: only a hash is kept)."""
        if not name.strip():
            raise Unprocessable("name is required")
        uid = uid or secrets.token_hex(32)
        if self._oauth_client_or_none(uid) is not None:
            raise Unprocessable(f"client id {uid!r} is taken")
        secret = secret or "gloas-" + secrets.token_hex(32)
        application = OAuthApplication(
            id=self._next_id("oauth_application"),
            name=name.strip(),
            uid=uid,
            secret_hashes=[hash_token(secret)],
            redirect_uris=_redirect_uris(redirect_uris),
            scopes=_scopes(scopes if scopes is not None else ["read_user"]),
            created_at=self.timestamp(),
        )
        self._oauth_apps[uid] = application
        self.save()
        return application, secret

    def oauth_application(self, uid: str) -> OAuthApplication:
        try:
            return self._oauth_apps[uid]
        except KeyError:
            raise NotFound("Not Found") from None

    def oauth_applications(self) -> list[OAuthApplication]:
        return list(self._oauth_apps.values())

    def update_oauth_application(
        self,
        uid: str,
        *,
        name: str | None = None,
        redirect_uris: list[str] | None = None,
        scopes: list[str] | None = None,
    ) -> OAuthApplication:
        application = self.oauth_application(uid)
        if name is not None and name.strip():
            application.name = name.strip()
        if redirect_uris is not None:
            application.redirect_uris = _redirect_uris(redirect_uris)
        if scopes is not None:
            application.scopes = _scopes(scopes)
        self.save()
        return application

    def new_oauth_application_secret(self, uid: str, secret: str | None = None) -> str:
        """Renew the application's secret: GitLab keeps one, so the old one stops working."""
        application = self.oauth_application(uid)
        secret = secret or "gloas-" + secrets.token_hex(32)
        application.secret_hashes = [hash_token(secret)]
        self.save()
        return secret

    # --- both platforms -------------------------------------------------------------------

    def oauth_client(self, platform: Platform, client_id: str) -> OAuthClient:
        """The client ``client_id`` of ``platform`` (404 when there is none)."""
        client = self._oauth_client_or_none(client_id)
        if client is None or client.platform != platform:
            raise NotFound("Not Found")
        return client

    def _oauth_client_or_none(self, client_id: str) -> OAuthClient | None:
        application = self._oauth_apps.get(client_id)
        if application is not None:
            return OAuthClient(
                "gitlab",
                application.uid,
                application.name,
                tuple(application.secret_hashes),
                tuple(application.redirect_uris),
                tuple(application.scopes),
            )
        for app in self._apps.values():
            if app.client_id == client_id:
                callbacks = (app.callback_url,) if app.callback_url else ()
                return OAuthClient(
                    "github", client_id, app.name, tuple(app.client_secret_hashes), callbacks, ()
                )
        return None

    def issue_oauth_code(
        self,
        platform: Platform,
        client_id: str,
        login: str,
        redirect_uri: str,
        *,
        scope: str = "",
        code_challenge: str = "",
        code_challenge_method: str = "",
    ) -> str:
        """An authorization code for ``login`` (the caller checked client and redirect)."""
        user = self.user(login)
        if user.type != "User":
            raise Unprocessable(f"{login} cannot sign in: it is not a person")
        if code_challenge and code_challenge_method not in ("S256", "plain"):
            raise Unprocessable("code_challenge_method must be S256 or plain")
        self._forget_expired_oauth()
        code = secrets.token_hex(10) if platform == "github" else secrets.token_hex(32)
        self._oauth_codes[hash_token(code)] = OAuthCode(
            code_hash=hash_token(code),
            platform=platform,
            client_id=client_id,
            login=user.login,
            redirect_uri=redirect_uri,
            scope=scope,
            expires_at=self.now() + CODE_TTL,
            code_challenge=code_challenge,
            code_challenge_method=(code_challenge_method or "plain") if code_challenge else "",
        )
        self.save()
        return code

    def exchange_oauth_code(
        self,
        platform: Platform,
        client_id: str,
        client_secret: str,
        code: str,
        *,
        redirect_uri: str | None = None,
        code_verifier: str = "",
    ) -> IssuedTokens:
        """Tokens for a code: once, within 10 minutes, by the client it was issued to,
        with the same redirect URI (None: not checked) and the PKCE verifier if the
        authorization had a challenge. A code presented again revokes what it gave."""
        self._authenticate_client(platform, client_id, client_secret)
        grant = self._oauth_codes.get(hash_token(code or ""))
        if grant is None or grant.platform != platform or grant.client_id != client_id:
            raise OAuthRefused("code", "unknown code")
        if grant.used:
            for h in grant.token_hashes:
                self._oauth_tokens.pop(h, None)
            grant.token_hashes = []
            self.save()
            raise OAuthRefused("code", "code already used")
        if grant.expires_at <= self.now():
            raise OAuthRefused("code", "code expired")
        if redirect_uri is not None and redirect_uri != grant.redirect_uri:
            raise OAuthRefused("redirect_uri", "redirect_uri differs from the authorization's")
        if grant.code_challenge and not pkce_matches(
            grant.code_challenge, grant.code_challenge_method, code_verifier or ""
        ):
            raise OAuthRefused("code", "code_verifier does not match the code_challenge")
        issued = self._issue_tokens(platform, client_id, grant.login, grant.scope)
        grant.used = True
        grant.token_hashes = [issued.record.token_hash, issued.record.pair_hash]
        self.save()
        return issued

    def refresh_oauth_token(
        self, platform: Platform, client_id: str, client_secret: str, refresh_token: str
    ) -> IssuedTokens:
        """New tokens for a refresh token, which is then spent (both platforms rotate)."""
        self._authenticate_client(platform, client_id, client_secret)
        old = self._oauth_tokens.get(hash_token(refresh_token or ""))
        if (
            old is None
            or old.kind != "refresh"
            or old.platform != platform
            or old.client_id != client_id
            or (old.expires_at is not None and old.expires_at <= self.now())
        ):
            raise OAuthRefused("refresh", "unknown or expired refresh token")
        del self._oauth_tokens[old.token_hash]
        issued = self._issue_tokens(platform, client_id, old.login, old.scope)
        self.save()
        return issued

    def oauth_token(self, token: str, platform: Platform | None = None) -> OAuthToken | None:
        """The unexpired access token record of ``token`` (for ``platform`` if given)."""
        return self._live_access(hash_token(token), platform)

    def _live_access(self, token_hash: str, platform: Platform | None) -> OAuthToken | None:
        record = self._oauth_tokens.get(token_hash)
        if record is None or record.kind != "access":
            return None
        if platform is not None and record.platform != platform:
            return None
        if record.expires_at is not None and record.expires_at <= self.now():
            return None
        return record

    def _forget_expired_oauth(self) -> None:
        # what is kept in memory stays bounded by what is alive, as on disk
        now = self.now()
        for h in [h for h, c in self._oauth_codes.items() if c.expires_at <= now]:
            del self._oauth_codes[h]
        for h in [h for h, t in self._oauth_tokens.items() if (t.expires_at or now + 1) <= now]:
            del self._oauth_tokens[h]

    def _authenticate_client(self, platform: Platform, client_id: str, secret: str) -> None:
        client = self._oauth_client_or_none(client_id or "")
        if client is None or client.platform != platform or not client.secret_ok(secret):
            raise OAuthRefused("client", "unknown client or wrong secret")

    def _issue_tokens(
        self, platform: Platform, client_id: str, login: str, scope: str
    ) -> IssuedTokens:
        now = self.now()
        if platform == "github":
            access, refresh = "ghu_" + secrets.token_urlsafe(27), "ghr_" + secrets.token_urlsafe(57)
            access_exp, refresh_exp = now + GITHUB_ACCESS_TTL, now + GITHUB_REFRESH_TTL
        else:
            access, refresh = secrets.token_hex(32), secrets.token_hex(32)
            access_exp, refresh_exp = now + GITLAB_ACCESS_TTL, None
        ah, rh = hash_token(access), hash_token(refresh)
        common: dict[str, Any] = {
            "platform": platform,
            "client_id": client_id,
            "login": login,
            "scope": scope,
            "created_at": now,
        }
        record = OAuthToken(ah, "access", expires_at=access_exp, pair_hash=rh, **common)
        self._oauth_tokens[ah] = record
        self._oauth_tokens[rh] = OAuthToken(
            rh, "refresh", expires_at=refresh_exp, pair_hash=ah, **common
        )
        return IssuedTokens(access, refresh, record)

    # --- persistence (called by Forge._load / save) ----------------------------------------

    def _oauth_load(self, d: dict[str, Any]) -> None:
        self._oauth_apps = {a["uid"]: OAuthApplication(**a) for a in d.get("oauth_apps", [])}
        self._oauth_codes = {c["code_hash"]: OAuthCode(**c) for c in d.get("oauth_codes", [])}
        self._oauth_tokens = {t["token_hash"]: OAuthToken(**t) for t in d.get("oauth_tokens", [])}

    def _oauth_dump(self, now: float) -> dict[str, Any]:
        asdict = dataclasses.asdict
        tokens = self._oauth_tokens.values()
        live = [t for t in tokens if t.expires_at is None or t.expires_at > now]
        return {
            "oauth_apps": [asdict(a) for a in self._oauth_apps.values()],
            # a used code is kept until it expires, so presenting it again is still caught
            "oauth_codes": [asdict(c) for c in self._oauth_codes.values() if c.expires_at > now],
            "oauth_tokens": [asdict(t) for t in live],
        }


def _http_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise Unprocessable(f"{url!r} is not an http(s) URL")
    if parts.fragment:
        raise Unprocessable("a redirect URI cannot have a fragment")
    return url


def _redirect_uris(uris: list[str]) -> list[str]:
    out = [_http_url(u.strip()) for u in uris if u.strip()]
    if not out:
        raise Unprocessable("at least one redirect URI is required")
    return out


def _scopes(scopes: list[str]) -> list[str]:
    unknown = [s for s in scopes if s not in GITLAB_SCOPES]
    if unknown:
        raise Unprocessable(f"unknown scopes: {', '.join(unknown)}")
    return list(dict.fromkeys(scopes)) or ["read_user"]
