"""Users, tokens and authentication; repositories and who may do what on them.

Part of ``Forge`` (state.py): a mixin over the state ``Forge.__init__`` sets up; see the
API summary in state.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Mapping
from pathlib import Path

from prbot.forge import git
from prbot.forge.errors import (
    NotFound,
    Unprocessable,
)
from prbot.forge.models import (
    ACCESS_LEVELS,
    PERMISSIONS,
    Installation,
    Platform,
    Principal,
    Repo,
    User,
    hash_token,
)


class AccountsMixin:
    """Users, tokens and authentication; repositories and who may do what on them."""

    def create_user(
        self,
        login: str,
        *,
        name: str | None = None,
        email: str | None = None,
        type: str = "User",
    ) -> User:
        """The user ``login``, created if new (GitHub login rules: letters, digits, -)."""
        if login in self._users:
            return self._users[login]
        if not login or len(login) > 39 or not all(c.isalnum() or c in "-_[]" for c in login):
            raise Unprocessable(f"invalid login {login!r}")
        user = User(
            id=self._next_id("user"),
            login=login,
            name=name or login,
            email=email or f"{login.replace('[bot]', '')}@users.noreply.forge.local",
            type=type,  # type: ignore[arg-type]
            created_at=self.timestamp(),
        )
        self._users[login] = user
        self.save()
        return user

    def user(self, login: str) -> User:
        try:
            return self._users[login]
        except KeyError:
            raise NotFound("Not Found") from None

    def user_by_id(self, user_id: int) -> User:
        for u in self._users.values():
            if u.id == user_id:
                return u
        raise NotFound("Not Found")

    def users(self) -> list[User]:
        return list(self._users.values())

    def create_token(self, login: str, token: str | None = None) -> str:
        """A new personal access token for ``login`` (or register the given one)."""
        user = self.user(login)
        token = token or "ghp_" + secrets.token_urlsafe(27)
        h = hash_token(token)
        if h not in user.token_hashes:
            user.token_hashes.append(h)
        self._token_index[h] = login
        self.save()
        return token

    def authenticate(self, token: str, platform: Platform | None = None) -> Principal | None:
        """Who a bearer token belongs to: a user (PAT; or an unexpired OAuth user token
        issued on ``platform``, when given), an installation (installation token,
        unexpired) or an app (a valid RS256 JWT signed with its key); else None."""
        if not token:
            return None
        h = hash_token(token)
        if h in self._token_index:
            return self._users.get(self._token_index[h])
        record = self._live_access(h, platform)
        if record is not None:
            return self._users.get(record.login)
        it = self._inst_tokens.get(h)
        if it is not None:
            if it.expires_at <= self.now():
                return None
            inst = self._installations.get(it.installation_id)
            if inst is None:
                return None
            if it.repos is not None:
                # a narrowed token: same installation, fewer repositories
                return dataclasses.replace(inst, repos=list(it.repos))
            return inst
        if token.count(".") == 2:
            return self.verify_app_jwt(token)
        return None

    def actor_login(self, principal: Principal) -> str:
        """The login that acts for a principal (an installation or app: its bot user)."""
        if isinstance(principal, User):
            return principal.login
        app = self.app(principal.app_id if isinstance(principal, Installation) else principal.id)
        return app.bot_login

    def git_dir(self, full_name: str) -> Path:
        owner, name = self._split(full_name)
        return self.data_dir / "git" / owner / f"{name}.git"

    @staticmethod
    def _split(full_name: str) -> tuple[str, str]:
        owner, sep, name = full_name.partition("/")
        ok = sep and owner and name and "/" not in name
        if not ok or any(p in (".", "..") or p.startswith(".") for p in (owner, name)):
            raise Unprocessable(f"invalid repository name {full_name!r}")
        if not all(c.isalnum() or c in "-_." for c in owner + name):
            raise Unprocessable(f"invalid repository name {full_name!r}")
        return owner, name

    async def create_repo(
        self,
        full_name: str,
        *,
        files: Mapping[str, bytes | str | tuple[bytes | str, str]] | None = None,
        folder: Path | str | None = None,
        default_branch: str = "main",
        visibility: str = "private",
        description: str = "",
        message: str = "Initial commit",
        author: str | None = None,
    ) -> Repo:
        """A new repository with one initial commit on ``default_branch`` holding
        ``files`` (path -> content or (content, mode)) or the contents of ``folder``.
        The owner user is created if needed and is admin. 422 if it exists."""
        owner, name = self._split(full_name)
        if full_name in self._repos:
            raise Unprocessable("name already exists on this account")
        if not git.check_ref_name(f"refs/heads/{default_branch}"):
            raise Unprocessable(f"invalid branch name {default_branch!r}")
        owner_user = self.create_user(owner)
        gd = self.git_dir(full_name)
        if gd.exists():
            git.remove_repo(gd)  # a leftover from a crash before state was saved
        when = self._tick()
        who = self.user(author) if author else owner_user

        def build() -> None:
            git.init_bare(gd, default_branch)
            if folder is not None:
                tree = git.import_folder(gd, Path(folder))
            else:
                tree = git.import_files(gd, files or {"README.md": f"# {name}\n"})
            sig = git.Signature(who.name, who.email, when)
            sha = git.commit_tree(gd, tree, [], message, sig)
            git.update_ref(gd, f"refs/heads/{default_branch}", sha, git.ZERO_SHA)

        await asyncio.to_thread(build)
        ts = self.timestamp()
        repo = Repo(
            id=self._next_id("repo", 100_000),
            owner=owner,
            name=name,
            default_branch=default_branch,
            visibility=visibility,  # type: ignore[arg-type]
            description=description,
            created_at=ts,
            updated_at=ts,
            pushed_at=ts,
        )
        self._repos[full_name] = repo
        self.save()
        return repo

    def repo(self, full_name: str) -> Repo:
        try:
            return self._repos[full_name]
        except KeyError:
            raise NotFound("Not Found") from None

    def repo_by_id(self, repo_id: int) -> Repo:
        for r in self._repos.values():
            if r.id == repo_id:
                return r
        raise NotFound("Not Found")

    def repos(self) -> list[Repo]:
        return list(self._repos.values())

    def set_permission(self, repo: str, login: str, permission: str) -> None:
        """Grant ``login`` a role on ``repo`` ("none" removes it). The user is created."""
        r = self.repo(repo)
        if permission not in PERMISSIONS:
            raise Unprocessable(f"unknown permission {permission!r}")
        self.create_user(login)
        if permission == "none":
            r.permissions.pop(login, None)
        else:
            r.permissions[login] = permission
        self.save()

    def permission(self, repo: str, login: str) -> str:
        """``login``'s role on ``repo``: none/read/triage/write/maintain/admin.

        The owner is admin; a bot user gets write where its app is installed; anyone
        gets read on a public repository."""
        r = self.repo(repo)
        if login == r.owner:
            return "admin"
        level = r.permissions.get(login, "none")
        user = self._users.get(login)
        if user is not None and user.type == "Bot":
            for inst in self._installations.values():
                app = self._apps.get(inst.app_id)
                if app and app.bot_login == login and self._covers(inst, r):
                    level = max(level, self._inst_level(inst), key=PERMISSIONS.index)
        if r.visibility == "public" and user is not None:
            level = max(level, "read", key=PERMISSIONS.index)
        return level

    def principal_permission(self, repo: str, principal: Principal) -> str:
        """The role a token's principal has on ``repo`` (an app JWT has none)."""
        if isinstance(principal, User):
            return self.permission(repo, principal.login)
        if isinstance(principal, Installation):
            r = self.repo(repo)
            return self._inst_level(principal) if self._covers(principal, r) else "none"
        return "none"

    def access_level(self, repo: str, login: str) -> int:
        """GitLab access level for ``login`` (10 guest .. 50 owner; 0 none)."""
        return ACCESS_LEVELS[self.permission(repo, login)]

    def collaborators(self, repo: str) -> list[tuple[User, str]]:
        """Every user with a role on ``repo`` (owner first), with that role."""
        r = self.repo(repo)
        out = [(self._users[r.owner], "admin")] if r.owner in self._users else []
        for login in r.permissions:
            if login != r.owner and login in self._users:
                out.append((self._users[login], self.permission(repo, login)))
        return out

    @staticmethod
    def _covers(inst: Installation, repo: Repo) -> bool:
        if inst.account != repo.owner:
            return False
        return inst.repos is None or repo.full_name in inst.repos

    @staticmethod
    def _inst_level(inst: Installation) -> str:
        writes = {"contents", "pull_requests", "issues"}
        return "write" if any(inst.permissions.get(k) == "write" for k in writes) else "read"
