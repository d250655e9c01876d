"""GitHub Apps, their installations and installation tokens; webhook subscriptions.

Part of ``Forge`` (state.py): a mixin over the state ``Forge.__init__`` sets up; see the
API summary in state.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from prbot.forge.errors import (
    NotFound,
    Unprocessable,
)
from prbot.forge.models import (
    App,
    Hook,
    Installation,
    InstallationToken,
    Repo,
    hash_token,
)

INSTALLATION_TOKEN_TTL = 3600
DEFAULT_APP_PERMISSIONS = {
    "contents": "write",
    "pull_requests": "write",
    "issues": "write",
    "statuses": "write",
    "checks": "write",
    "deployments": "write",
    "metadata": "read",
    "members": "read",  # organisation permission: team membership, for approvals
}


class AppsMixin:
    """GitHub Apps, their installations and installation tokens; webhook subscriptions."""

    async def register_app(
        self,
        app_id: int,
        public_key_pem: str,
        *,
        slug: str | None = None,
        name: str | None = None,
        owner: str = "forge-apps",
        permissions: dict[str, str] | None = None,
        events: list[str] | None = None,
    ) -> App:
        """Register (or replace the key of) GitHub App ``app_id``; creates its bot user."""
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        try:
            load_pem_public_key(public_key_pem.encode())
        except ValueError:
            raise Unprocessable("public key is not a PEM public key") from None
        slug = slug or f"app-{app_id}"
        self.create_user(owner, type="Organization")
        app = self._apps.get(app_id)
        if app is not None:
            app.public_key_pem = public_key_pem
        else:
            app = App(
                id=app_id,
                slug=slug,
                name=name or slug,
                owner=owner,
                public_key_pem=public_key_pem,
                bot_login=f"{slug}[bot]",
                created_at=self.timestamp(),
                permissions=dict(permissions or DEFAULT_APP_PERMISSIONS),
                events=list(events or ["pull_request", "issue_comment", "push", "status"]),
            )
            self._apps[app_id] = app
            self.create_user(app.bot_login, type="Bot")
        self.save()
        return app

    def app(self, app_id: int) -> App:
        try:
            return self._apps[int(app_id)]
        except (KeyError, ValueError):
            raise NotFound("Not Found") from None

    def apps(self) -> list[App]:
        return list(self._apps.values())

    async def install_app(
        self,
        app_id: int,
        account: str,
        *,
        repos: list[str] | None = None,
        installation_id: int | None = None,
        permissions: dict[str, str] | None = None,
    ) -> Installation:
        """Install app ``app_id`` on ``account`` for ``repos`` (None: all its repos)."""
        app = self.app(app_id)
        self.create_user(account)
        for full in repos or []:
            self.repo(full)
        iid = installation_id or self._next_id("installation", 80_000_000)
        if iid in self._installations:
            raise Unprocessable("installation already exists")
        ts = self.timestamp()
        inst = Installation(
            id=iid,
            app_id=app.id,
            account=account,
            repos=list(repos) if repos is not None else None,
            permissions=dict(permissions or app.permissions),
            events=list(app.events),
            created_at=ts,
            updated_at=ts,
        )
        self._installations[iid] = inst
        self.save()
        self._emit("installation", None, account, action="created", installation=inst)
        return inst

    def installation(self, installation_id: int) -> Installation:
        try:
            return self._installations[int(installation_id)]
        except (KeyError, ValueError):
            raise NotFound("Not Found") from None

    def installations(self) -> list[Installation]:
        return list(self._installations.values())

    def installation_for_repo(self, repo: str, app_id: int | None = None) -> Installation | None:
        r = self.repo(repo)
        for inst in self._installations.values():
            if (app_id is None or inst.app_id == app_id) and self._covers(inst, r):
                return inst
        return None

    def installation_repos(self, inst: Installation) -> list[Repo]:
        return [r for r in self._repos.values() if self._covers(inst, r)]

    def verify_app_jwt(self, token: str) -> App | None:
        """The app whose key signed this RS256 JWT (``iss`` = app id, unexpired, and
        issued for at most 10 minutes, as GitHub requires); else None."""
        import jwt

        try:
            claims = jwt.decode(token, options={"verify_signature": False})
            app = self._apps.get(int(claims.get("iss")))
        except (jwt.PyJWTError, TypeError, ValueError):
            return None
        if app is None:
            return None
        try:
            claims = jwt.decode(
                token,
                app.public_key_pem,
                algorithms=["RS256"],
                options={"require": ["exp", "iat", "iss"]},
                leeway=60,
            )
        except jwt.PyJWTError:
            return None
        if int(claims["exp"]) - int(claims["iat"]) > 660:
            return None
        return app

    def create_installation_token(
        self,
        installation_id: int,
        *,
        repos: list[str] | None = None,
        permissions: dict[str, str] | None = None,
    ) -> tuple[str, InstallationToken]:
        """A fresh ``ghs_`` token for the installation, valid one hour; ``repos``
        narrows it (422 if a repo is not in the installation)."""
        inst = self.installation(installation_id)
        if repos is not None:
            for full in repos:
                if full not in self._repos or not self._covers(inst, self._repos[full]):
                    raise Unprocessable(
                        "There is at least one repository that does not exist "
                        "or is not accessible to the parent installation."
                    )
        token = "ghs_" + secrets.token_urlsafe(27)
        record = InstallationToken(
            token_hash=hash_token(token),
            installation_id=inst.id,
            expires_at=self.now() + INSTALLATION_TOKEN_TTL,
            repos=repos,
            permissions=dict(permissions or inst.permissions),
        )
        self._inst_tokens[record.token_hash] = record
        self.save()
        return token, record

    def add_hook(
        self,
        platform: str,
        url: str,
        *,
        secret: str = "",
        events: Iterable[str] = (),
        repo: str | None = None,
        app_id: int | None = None,
    ) -> Hook:
        """Subscribe ``url`` to events (GitHub event names for github, e.g.
        "pull_request"; GitLab hook names for gitlab, e.g. "Merge Request Hook" or
        "merge_requests_events"; empty: all) of ``repo`` (None: every repository)."""
        if platform not in ("github", "gitlab"):
            raise Unprocessable(f"unknown platform {platform!r}")
        if not url.startswith(("http://", "https://")):
            raise Unprocessable("url must be http(s)")
        if repo is not None:
            self.repo(repo)
        hook = Hook(
            id=self._next_id("hook", 90_000_000),
            platform=platform,  # type: ignore[arg-type]
            url=url,
            secret=secret,
            events=list(events),
            repo=repo,
            app_id=app_id,
        )
        self._hooks[hook.id] = hook
        self.save()
        return hook

    def hooks(self, repo: str | None = None) -> list[Hook]:
        """Hooks that receive ``repo``'s events (None: every hook)."""
        return [h for h in self._hooks.values() if repo is None or h.repo in (None, repo)]

    def hook(self, hook_id: int) -> Hook:
        try:
            return self._hooks[int(hook_id)]
        except (KeyError, ValueError):
            raise NotFound("Not Found") from None

    def remove_hook(self, hook_id: int) -> None:
        self.hook(hook_id)
        del self._hooks[int(hook_id)]
        self.save()
