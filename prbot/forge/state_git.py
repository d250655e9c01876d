"""Git reads and writes on the bare repositories; ref moves announce push / synchronize.

Part of ``Forge`` (state.py): a mixin over the state ``Forge.__init__`` sets up; see the
API summary in state.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prbot.forge import git
from prbot.forge.errors import (
    Conflict,
    NotFound,
    Unprocessable,
)

SHORT_SHA_RE = re.compile(r"^[0-9a-f]{7,39}$")


def short_ref(ref: str) -> str:
    return ref.removeprefix("refs/heads/")


class GitMixin:
    """Git reads and writes on the bare repositories; ref moves announce push / synchronize."""

    async def _git(self, repo: str, fn: Callable[..., Any], *args: Any) -> Any:
        self.repo(repo)
        return await asyncio.to_thread(fn, self.git_dir(repo), *args)

    async def resolve(self, repo: str, ref: str) -> str | None:
        """The commit sha a branch name, ``refs/...`` name, tag or sha points at."""
        gd = self.git_dir(repo)
        self.repo(repo)

        def find() -> str | None:
            if git.SHA_RE.match(ref):
                return ref if git.object_type(gd, ref) == "commit" else None
            for cand in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref):
                if cand.startswith("refs/"):
                    sha = git.rev_parse(gd, cand, peel="commit")
                    if sha:
                        return sha
            if SHORT_SHA_RE.match(ref):  # an abbreviated sha, as people paste them
                return git.rev_parse(gd, ref, peel="commit")
            return None

        return await asyncio.to_thread(find)

    async def branches(self, repo: str) -> list[tuple[str, str]]:
        """(branch name, head sha) for every branch, sorted by name."""
        refs = await self._git(repo, git.list_refs, "refs/heads/")
        return [(r[0].removeprefix("refs/heads/"), r[1]) for r in refs]

    async def refs(self, repo: str, prefix: str = "refs/") -> list[tuple[str, str, str]]:
        """(full ref name, object sha, object type) under ``prefix``."""
        return await self._git(repo, git.list_refs, prefix)

    async def list_tree(
        self, repo: str, treeish: str, recursive: bool = True
    ) -> list[git.TreeItem]:
        """Tree entries of a commit or tree (sha or ref); NotFound if it does not exist."""
        gd = self.git_dir(repo)
        sha = await self.resolve(repo, treeish)
        target = sha or treeish
        if git.SHA_RE.match(target) and await asyncio.to_thread(git.object_type, gd, target) in (
            "commit",
            "tree",
        ):
            return await asyncio.to_thread(git.list_tree, gd, target, recursive)
        raise NotFound("Not Found")

    async def read_blobs(self, repo: str, shas: Iterable[str]) -> dict[str, bytes]:
        """Blob contents by sha, read in one ``git cat-file --batch`` (missing: absent)."""
        objs = await self._git(repo, git.read_objects, list(shas))
        return {s: data for s, (kind, data) in objs.items() if kind == "blob"}

    async def read_object(self, repo: str, sha: str) -> tuple[str, bytes] | None:
        """(type, raw bytes) of any object, or None."""
        return (await self._git(repo, git.read_objects, [sha])).get(sha)

    async def read_file(self, repo: str, ref: str, path: str) -> tuple[str, bytes] | None:
        """(blob sha, content) of ``path`` at ``ref``; None if ref or path is missing."""
        sha = await self.resolve(repo, ref)
        if sha is None:
            return None
        gd = self.git_dir(repo)

        def read() -> tuple[str, bytes] | None:
            items = git.list_tree(gd, sha, recursive=False, path=path)
            item = next((i for i in items if i.path == path and i.type == "blob"), None)
            if item is None:
                return None
            return item.sha, git.read_objects(gd, [item.sha])[item.sha][1]

        return await asyncio.to_thread(read)

    async def write_blob(self, repo: str, data: bytes) -> str:
        return await self._git(repo, git.write_blob, data)

    async def write_tree(
        self, repo: str, base_tree: str | None, changes: Mapping[str, git.Change | None]
    ) -> str:
        """A tree from ``base_tree`` (tree or commit sha; None: empty) plus ``changes``
        (path -> git.Change, or None to delete). 422 on a bad path or missing object."""
        gd = self.git_dir(repo)
        self.repo(repo)

        def build() -> str:
            base = None
            if base_tree:
                base = git.rev_parse(gd, base_tree, peel="tree")
                if base is None:
                    raise Unprocessable("base_tree is not a valid tree oid")
            need = [c.sha for c in changes.values() if c is not None and c.content is None]
            found = git.read_objects(gd, [s for s in need if s])
            for p, c in changes.items():
                if c is None or c.content is not None:
                    continue
                want = "tree" if c.mode == git.TREE_MODE else "blob"
                if not c.sha or found.get(c.sha, ("", b""))[0] != want:
                    raise Unprocessable(f"tree.sha {c.sha} for {p} is not a valid {want}")
            try:
                return git.write_tree(gd, base, changes)
            except git.InvalidPath as exc:
                raise Unprocessable(str(exc)) from None

        return await asyncio.to_thread(build)

    def _signature(self, login: str | None, when: int) -> git.Signature:
        u = self._users.get(login or "") if login else None
        if u is None:
            return git.Signature("Forge", "forge@forge.local", when)
        return git.Signature(u.name, u.email, when)

    async def create_commit(
        self,
        repo: str,
        tree: str,
        parents: Iterable[str],
        message: str,
        *,
        author: git.Signature | str | None = None,
        committer: git.Signature | str | None = None,
    ) -> str:
        """A commit object (no ref moves). ``author``/``committer``: a Signature or a
        login; dates default to the logical clock. 422 if tree or a parent is missing."""
        when = self._tick()
        a = author if isinstance(author, git.Signature) else self._signature(author, when)
        c = committer if isinstance(committer, git.Signature) else None
        c = c or (self._signature(committer, when) if isinstance(committer, str) else a)
        parents = list(parents)
        gd = self.git_dir(repo)
        self.repo(repo)

        def build() -> str:
            if git.object_type(gd, tree) != "tree":
                raise Unprocessable("Tree SHA does not exist")
            for p in parents:
                if git.object_type(gd, p) != "commit":
                    raise Unprocessable("Parent SHA does not exist or is not a commit object")
            return git.commit_tree(gd, tree, parents, message, a, c)

        sha = await asyncio.to_thread(build)
        self.save()
        return sha

    async def commit_info(self, repo: str, sha: str) -> git.CommitInfo:
        info = await self._git(repo, git.read_commit, sha)
        if info is None:
            raise NotFound("Not Found")
        return info

    async def log(
        self, repo: str, ref: str, max_count: int = 100, exclude: str | None = None
    ) -> list[git.CommitInfo]:
        """Commits reachable from ``ref`` and not from ``exclude``, newest first."""
        sha = await self.resolve(repo, ref)
        if sha is None:
            raise NotFound("Not Found")
        return await self._git(repo, git.log, sha, max_count, exclude)

    async def merge_base(self, repo: str, a: str, b: str) -> str | None:
        """The best common ancestor of commits ``a`` and ``b`` (None: unrelated histories)."""
        return await self._git(repo, git.merge_base, a, b)

    async def create_ref(self, repo: str, ref: str, sha: str, *, actor: str) -> None:
        """Create ``refs/...`` at ``sha``; 422 "Reference already exists" if it does."""
        if not ref.startswith("refs/") or not git.check_ref_name(ref) or ref.count("/") < 2:
            raise Unprocessable("Reference name is not valid")
        gd = self.git_dir(repo)
        async with self._lock(repo):
            if await asyncio.to_thread(git.object_type, gd, sha) is None:
                raise Unprocessable("Object does not exist")
            ok = await asyncio.to_thread(git.update_ref, gd, ref, sha, git.ZERO_SHA)
            if not ok:
                raise Unprocessable("Reference already exists")
        await self._after_ref_moved(repo, ref, git.ZERO_SHA, sha, actor, forced=False)

    async def update_ref(
        self,
        repo: str,
        ref: str,
        sha: str,
        *,
        actor: str,
        force: bool = False,
        expected: str | None = None,
    ) -> str:
        """Move an existing ref to ``sha``; returns the old sha. Without ``force`` the move
        must be a fast-forward (422 "Update is not a fast forward"); ``expected`` is a
        compare-and-swap guard (409 if the ref moved meanwhile)."""
        gd = self.git_dir(repo)
        async with self._lock(repo):
            old = await asyncio.to_thread(git.rev_parse, gd, ref)
            if old is None or not ref.startswith("refs/"):
                raise Unprocessable("Reference does not exist")
            if expected is not None and expected != old:
                raise Conflict("Reference moved: expected a different old value")
            if await asyncio.to_thread(git.object_type, gd, sha) != "commit":
                raise Unprocessable("Object does not exist")
            fast_forward = await asyncio.to_thread(git.is_ancestor, gd, old, sha)
            if not force and not fast_forward:
                raise Unprocessable("Update is not a fast forward")
            if not await asyncio.to_thread(git.update_ref, gd, ref, sha, old):
                raise Conflict("Reference moved: try again")
        if old != sha:
            await self._after_ref_moved(repo, ref, old, sha, actor, forced=not fast_forward)
        return old

    async def delete_ref(self, repo: str, ref: str, *, actor: str) -> None:
        """Delete a ref (422 if missing; the default branch cannot be deleted). Open pull
        requests whose head branch it was are closed, as GitHub does."""
        r = self.repo(repo)
        if ref == f"refs/heads/{r.default_branch}":
            raise Unprocessable("Cannot delete the default branch")
        gd = self.git_dir(repo)
        async with self._lock(repo):
            old = await asyncio.to_thread(git.rev_parse, gd, ref)
            if old is None or not await asyncio.to_thread(git.delete_ref, gd, ref, old):
                raise Unprocessable("Reference does not exist")
        await self._after_ref_moved(repo, ref, old, git.ZERO_SHA, actor, forced=False)

    async def commit_changes(
        self,
        repo: str,
        branch: str,
        message: str,
        changes: Mapping[str, git.Change | None],
        *,
        actor: str,
        start_branch: str | None = None,
        expected_head: str | None = None,
        author: str | None = None,
    ) -> str:
        """One commit on ``branch`` applying ``changes`` to its tip (or, when the branch
        does not exist yet, to ``start_branch``'s tip; the branch is created). Returns
        the new sha. ``expected_head`` guards against a concurrent move (409)."""
        head = await self.resolve(repo, f"refs/heads/{branch}")
        parent = head
        if head is None:
            if start_branch is None:
                raise NotFound(f"branch {branch} not found")
            parent = await self.resolve(repo, f"refs/heads/{start_branch}")
            if parent is None:
                raise NotFound(f"branch {start_branch} not found")
        if expected_head is not None and head is not None and head != expected_head:
            raise Conflict("branch moved")
        tree = await self.write_tree(repo, parent, changes)
        sha = await self.create_commit(repo, tree, [parent], message, author=author or actor)
        if head is None:
            await self.create_ref(repo, f"refs/heads/{branch}", sha, actor=actor)
        else:
            await self.update_ref(repo, f"refs/heads/{branch}", sha, actor=actor, expected=head)
        return sha

    async def revert_commit(self, repo: str, sha: str, branch: str, *, actor: str) -> str:
        """A commit on ``branch`` undoing ``sha`` (a merge: against its first parent).
        422 when the revert does not apply cleanly. Returns the new head."""
        info = await self.commit_info(repo, sha)
        head = await self.resolve(repo, f"refs/heads/{branch}")
        if head is None:
            raise NotFound(f"branch {branch} not found")
        if not info.parents:
            raise Unprocessable("cannot revert a root commit")
        gd = self.git_dir(repo)
        head_tree = (await self.commit_info(repo, head)).tree
        tree = await asyncio.to_thread(git.apply_diff, gd, head_tree, sha, info.parents[0])
        if tree is None:
            raise Unprocessable("Sorry, this commit could not be reverted cleanly")
        title = info.message.split("\n", 1)[0]
        msg = f'Revert "{title}"\n\nThis reverts commit {sha}.\n'
        new = await self.create_commit(repo, tree, [head], msg, author=actor)
        await self.update_ref(repo, f"refs/heads/{branch}", new, actor=actor, expected=head)
        return new

    async def _after_ref_moved(
        self, repo: str, ref: str, before: str, after: str, actor: str, *, forced: bool
    ) -> None:
        """Announce a ref move: push, then synchronize (or close) the PRs whose head it is."""
        r = self.repo(repo)
        r.pushed_at = r.updated_at = self.timestamp()
        commits: list[git.CommitInfo] = []
        if after != git.ZERO_SHA:
            commits = list(reversed(await self.log(repo, after, 20, before)))
        if ref.startswith("refs/heads/"):
            self._emit(
                "push",
                repo,
                actor,
                ref=ref,
                before=before,
                after=after,
                commits=commits,
                created=before == git.ZERO_SHA,
                deleted=after == git.ZERO_SHA,
                forced=forced,
            )
            branch = short_ref(ref)
            for pr in self.pull_requests(repo, state="open", head=branch):
                pr.updated_at = self.timestamp()
                if after == git.ZERO_SHA:
                    pr.state = "closed"
                    pr.closed_at = pr.updated_at
                    self._emit("pull_request", repo, actor, action="closed", pr=pr)
                    continue
                pr.head_sha = after
                base = await self.resolve(repo, f"refs/heads/{pr.base}")
                pr.base_sha = base or pr.base_sha
                self._emit(
                    "pull_request", repo, actor, action="synchronize", pr=pr,
                    before=before, after=after,
                )  # fmt: skip
        self.save()
