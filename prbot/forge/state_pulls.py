"""Pull requests (GitLab merge requests), labels, reviewers, comments and reactions.

Part of ``Forge`` (state.py): a mixin over the state ``Forge.__init__`` sets up; see the
API summary in state.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prbot.forge import git
from prbot.forge.errors import (
    Conflict,
    NotFound,
    NotMergeable,
    Unprocessable,
    custom_error,
    invalid_field,
    missing_field,
)
from prbot.forge.models import (
    REACTIONS,
    Comment,
    Label,
    PullRequest,
    Reaction,
    Repo,
)


class PullsMixin:
    """Pull requests (GitLab merge requests), labels, reviewers, comments and reactions."""

    async def open_pull_request(self, repo: str, **kwargs: Any) -> PullRequest:
        """Open a PR (see ``_open_pull_request``). One at a time per repository, as GitHub
        does: of two requests for the same head at once, the second gets the 422."""
        async with self._lock(f"pulls:{repo}"):
            return await self._open_pull_request(repo, **kwargs)

    async def _open_pull_request(
        self,
        repo: str,
        *,
        head: str,
        title: str,
        author: str,
        base: str | None = None,
        body: str = "",
        draft: bool = False,
        labels: Iterable[str] = (),
        reviewers: Iterable[str] = (),
    ) -> PullRequest:
        """Open a PR from branch ``head`` (``owner:branch`` accepted) into ``base``
        (default branch). 422 when a branch is missing, there are no commits between
        them, or an open PR for the same head and base exists."""
        r = self.repo(repo)
        if ":" in head:
            owner, _, head = head.partition(":")
            if owner != r.owner:
                raise Unprocessable("Validation Failed", errors=[invalid_field("head")])
        base = base or r.default_branch
        if not title or not title.strip():
            raise Unprocessable("Validation Failed", errors=[missing_field("title")])
        head_sha = await self.resolve(repo, f"refs/heads/{head}")
        if head_sha is None:
            raise Unprocessable("Validation Failed", errors=[invalid_field("head")])
        base_sha = await self.resolve(repo, f"refs/heads/{base}")
        if base_sha is None:
            raise Unprocessable("Validation Failed", errors=[invalid_field("base")])
        for pr in self.pull_requests(repo, state="open", head=head):
            if pr.base == base:
                msg = f"A pull request already exists for {r.owner}:{head}."
                raise Unprocessable("Validation Failed", errors=[custom_error(msg)])
        gd = self.git_dir(repo)
        if head_sha == base_sha or await asyncio.to_thread(git.is_ancestor, gd, head_sha, base_sha):
            msg = f"No commits between {base} and {head}"
            raise Unprocessable("Validation Failed", errors=[custom_error(msg)])
        self.user(author)
        ts = self.timestamp()
        pr = PullRequest(
            id=self._next_id("pull", 1_000_000),
            repo=repo,
            number=self._next_id(f"number:{repo}"),
            title=title,
            body=body or "",
            head=head,
            base=base,
            head_sha=head_sha,
            base_sha=base_sha,
            author=author,
            draft=draft,
            created_at=ts,
            updated_at=ts,
        )
        self._pulls[(repo, pr.number)] = pr
        self.save()
        self._emit("pull_request", repo, author, action="opened", pr=pr)
        if labels:
            await self.add_labels(repo, pr.number, labels, actor=author)
        if reviewers:
            await self.request_reviewers(repo, pr.number, reviewers, actor=author)
        return pr

    def pull_request(self, repo: str, number: int) -> PullRequest:
        self.repo(repo)
        try:
            return self._pulls[(repo, int(number))]
        except (KeyError, ValueError):
            raise NotFound("Not Found") from None

    def pull_request_by_id(self, pr_id: int) -> PullRequest:
        for pr in self._pulls.values():
            if pr.id == pr_id:
                return pr
        raise NotFound("Not Found")

    def pull_requests(
        self,
        repo: str,
        *,
        state: str = "open",
        head: str | None = None,
        base: str | None = None,
    ) -> list[PullRequest]:
        """PRs of ``repo`` newest first. ``state``: open, closed (incl. merged), merged,
        all. ``head``: branch name or ``owner:branch``."""
        r = self.repo(repo)
        if head and ":" in head:
            owner, _, head = head.partition(":")
            if owner != r.owner:
                return []
        out = []
        for (name, _), pr in self._pulls.items():
            if name != repo:
                continue
            if state == "open" and pr.state != "open":
                continue
            if state == "closed" and pr.state == "open":
                continue
            if state == "merged" and pr.state != "merged":
                continue
            if head is not None and pr.head != head:
                continue
            if base is not None and pr.base != base:
                continue
            out.append(pr)
        return sorted(out, key=lambda p: p.number, reverse=True)

    async def update_pull_request(
        self,
        repo: str,
        number: int,
        *,
        actor: str,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
        base: str | None = None,
    ) -> PullRequest:
        """Edit title/body/base, or close (``state="closed"``) / reopen (``"open"``)."""
        pr = self.pull_request(repo, number)
        changes: dict[str, Any] = {}
        if title is not None and title != pr.title:
            changes["title"] = {"from": pr.title}
            pr.title = title
        if body is not None and body != pr.body:
            changes["body"] = {"from": pr.body}
            pr.body = body
        if base is not None and base != pr.base:
            base_sha = await self.resolve(repo, f"refs/heads/{base}")
            if base_sha is None:
                raise Unprocessable("Validation Failed", errors=[invalid_field("base")])
            changes["base"] = {"ref": {"from": pr.base}, "sha": {"from": pr.base_sha}}
            pr.base, pr.base_sha = base, base_sha
        action = None
        if state is not None and state not in ("open", "closed"):
            raise Unprocessable("Validation Failed", errors=[invalid_field("state")])
        if state == "closed" and pr.state == "open":
            action = "closed"
            pr.state = "closed"
            pr.closed_at = self.timestamp()
        elif state == "open" and pr.state == "closed":
            head_sha = await self.resolve(repo, f"refs/heads/{pr.head}")
            if head_sha is None:
                raise Unprocessable("Validation Failed", errors=[invalid_field("state")])
            action = "reopened"
            pr.state, pr.closed_at, pr.head_sha = "open", None, head_sha
        elif state == "open" and pr.state == "merged":
            raise Unprocessable(
                "Validation Failed", errors=[custom_error("state cannot be changed")]
            )
        if changes or action:
            pr.updated_at = self.timestamp()
            self.save()
        if changes:
            self._emit("pull_request", repo, actor, action="edited", pr=pr, changes=changes)
        if action:
            self._emit("pull_request", repo, actor, action=action, pr=pr)
        return pr

    async def mergeable(self, repo: str, number: int) -> bool | None:
        """Whether an open PR merges cleanly into its base now (None if not open)."""
        pr = self.pull_request(repo, number)
        if pr.state != "open":
            return None
        base_sha = await self.resolve(repo, f"refs/heads/{pr.base}")
        if base_sha is None:
            return False
        key = (repo, pr.head_sha, base_sha)
        if key not in self._mergeable_cache:
            tree, _ = await self._git(repo, git.merge_trees, base_sha, pr.head_sha)
            self._mergeable_cache[key] = tree is not None
        return self._mergeable_cache[key]

    async def pull_request_commits(self, repo: str, number: int) -> list[git.CommitInfo]:
        """The PR's commits (head not in base), oldest first."""
        pr = self.pull_request(repo, number)
        base = await self.resolve(repo, f"refs/heads/{pr.base}") or pr.base_sha
        exclude = pr.base_sha if pr.merged else base
        return list(reversed(await self._git(repo, git.log, pr.head_sha, 250, exclude)))

    async def pull_request_diffstat(self, repo: str, number: int) -> dict[str, int]:
        """commits, additions, deletions, changed_files of the PR against its base."""
        pr = self.pull_request(repo, number)
        gd = self.git_dir(repo)
        base = pr.base_sha
        if pr.state == "open":
            base = await self.resolve(repo, f"refs/heads/{pr.base}") or pr.base_sha

        def stat() -> dict[str, int]:
            mb = git.merge_base(gd, base, pr.head_sha) or base
            adds, dels, files = git.numstat(gd, mb, pr.head_sha)
            commits = len(git.log(gd, pr.head_sha, 250, mb))
            return {"commits": commits, "additions": adds, "deletions": dels,
                    "changed_files": files}  # fmt: skip

        return await asyncio.to_thread(stat)

    async def merge_pull_request(
        self,
        repo: str,
        number: int,
        *,
        actor: str,
        merge_method: str = "merge",
        title: str | None = None,
        message: str | None = None,
        sha: str | None = None,
    ) -> PullRequest:
        """Merge an open PR into its base: ``merge`` (a real merge commit with two
        parents), ``squash`` (one commit) or ``rebase`` (commits replayed). 405 when not
        open or conflicting, 409 when ``sha`` is not the head any more."""
        if merge_method not in ("merge", "squash", "rebase"):
            raise Unprocessable("Validation Failed", errors=[invalid_field("merge_method")])
        r = self.repo(repo)
        pr = self.pull_request(repo, number)
        gd = self.git_dir(repo)
        async with self._lock(repo):
            if pr.state != "open":
                raise NotMergeable("Pull Request is not mergeable")
            if sha is not None and sha != pr.head_sha:
                raise Conflict("Head branch was modified. Review and try the merge again.")
            base_ref = f"refs/heads/{pr.base}"
            base_sha = await asyncio.to_thread(git.rev_parse, gd, base_ref)
            if base_sha is None:
                raise NotMergeable("Base branch was deleted")
            merged_tree, _ = await asyncio.to_thread(git.merge_trees, gd, base_sha, pr.head_sha)
            if merged_tree is None:
                raise NotMergeable("Pull Request is not mergeable")
            merger = self._signature(actor, self._tick())
            if merge_method == "merge":
                t = title or f"Merge pull request #{pr.number} from {r.owner}/{pr.head}"
                body = pr.title if message is None else message
                msg = f"{t}\n\n{body}".rstrip() + "\n"
                new = await asyncio.to_thread(
                    git.commit_tree, gd, merged_tree, [base_sha, pr.head_sha], msg, merger
                )
            elif merge_method == "squash":
                commits = await asyncio.to_thread(git.log, gd, pr.head_sha, 250, base_sha)
                t = title or f"{pr.title} (#{pr.number})"
                default = "\n\n".join(f"* {c.message.strip()}" for c in reversed(commits))
                body = default if message is None else message
                msg = f"{t}\n\n{body}".rstrip() + "\n"
                author = commits[-1].author if commits else merger
                new = await asyncio.to_thread(
                    git.commit_tree, gd, merged_tree, [base_sha], msg, author, merger
                )
            else:
                new = await asyncio.to_thread(self._rebase, gd, base_sha, pr.head_sha, merger)
                if new is None:
                    raise NotMergeable("This branch can't be rebased")
            if not await asyncio.to_thread(git.update_ref, gd, base_ref, new, base_sha):
                raise Conflict("Base branch was modified. Review and try the merge again.")
            ts = self.timestamp()
            pr.state = "merged"
            pr.merge_commit_sha = new
            pr.merged_by = actor
            pr.merged_at = pr.closed_at = pr.updated_at = ts
            pr.base_sha = base_sha
        await self._after_ref_moved(repo, base_ref, base_sha, new, actor, forced=False)
        self._emit("pull_request", repo, actor, action="closed", pr=pr)
        self.save()
        return pr

    def _rebase(self, gd: Path, onto: str, head: str, committer: git.Signature) -> str | None:
        commits = list(reversed(git.log(gd, head, 250, onto)))
        tip = onto
        tree = git.read_commit(gd, onto).tree  # type: ignore[union-attr]
        for c in commits:
            if len(c.parents) != 1:
                return None  # GitHub refuses to rebase merge commits too
            new_tree = git.apply_diff(gd, tree, c.parents[0], c.sha)
            if new_tree is None:
                return None
            tree = new_tree
            tip = git.commit_tree(gd, tree, [tip], c.message, c.author, committer)
        return tip

    async def add_labels(
        self, repo: str, number: int, names: Iterable[str], *, actor: str
    ) -> list[Label]:
        """Add labels (created on the repo if new); returns all the PR's labels."""
        pr = self.pull_request(repo, number)
        r = self.repo(repo)
        for name in names:
            name = str(name).strip()
            if not name:
                raise Unprocessable("Validation Failed", errors=[invalid_field("labels")])
            label = self._label(r, name)
            if name not in pr.labels:
                pr.labels.append(name)
                pr.updated_at = self.timestamp()
                self._emit("pull_request", repo, actor, action="labeled", pr=pr, label=label)
        self.save()
        return [self._label(r, n) for n in pr.labels]

    async def remove_label(self, repo: str, number: int, name: str, *, actor: str) -> None:
        pr = self.pull_request(repo, number)
        if name not in pr.labels:
            raise NotFound("Label does not exist")
        pr.labels.remove(name)
        self.save()
        label = self._label(self.repo(repo), name)
        self._emit("pull_request", repo, actor, action="unlabeled", pr=pr, label=label)

    def labels(self, repo: str) -> list[Label]:
        return list(self.repo(repo).labels)

    def _label(self, r: Repo, name: str) -> Label:
        for lab in r.labels:
            if lab.name.lower() == name.lower():
                return lab
        lab = Label(id=self._next_id("label", 5_000_000), name=name)
        r.labels.append(lab)
        return lab

    async def request_reviewers(
        self, repo: str, number: int, logins: Iterable[str], *, actor: str
    ) -> PullRequest:
        """Request reviews; 422 if a login is not a collaborator or is the author."""
        pr = self.pull_request(repo, number)
        for login in logins:
            if login == pr.author:
                msg = "Review cannot be requested from pull request author."
                raise Unprocessable(msg, errors=[custom_error(msg)])
            if login not in self._users or self.permission(repo, login) == "none":
                msg = "Reviews may only be requested from collaborators."
                raise Unprocessable(msg, errors=[custom_error(msg)])
        for login in logins:
            if login not in pr.requested_reviewers:
                pr.requested_reviewers.append(login)
                self._emit(
                    "pull_request", repo, actor, action="review_requested", pr=pr, reviewer=login
                )
        pr.updated_at = self.timestamp()
        self.save()
        return pr

    async def add_comment(self, repo: str, number: int, body: str, *, author: str) -> Comment:
        """A comment on PR ``number`` (GitHub issue comment, GitLab MR note)."""
        pr = self.pull_request(repo, number)
        self.user(author)
        if not body or not body.strip():
            raise Unprocessable("Validation Failed", errors=[missing_field("body")])
        ts = self.timestamp()
        c = Comment(
            id=self._next_id("comment", 9_000_000),
            repo=repo,
            number=pr.number,
            body=body,
            author=author,
            created_at=ts,
            updated_at=ts,
        )
        self._comments[c.id] = c
        self.save()
        self._emit("comment", repo, author, action="created", comment=c, pr=pr)
        return c

    async def edit_comment(self, repo: str, comment_id: int, body: str, *, actor: str) -> Comment:
        c = self.comment(repo, comment_id)
        if not body or not body.strip():
            raise Unprocessable("Validation Failed", errors=[missing_field("body")])
        old = c.body
        c.body = body
        c.updated_at = self.timestamp()
        self.save()
        pr = self.pull_request(repo, c.number)
        self._emit(
            "comment", repo, actor, action="edited", comment=c, pr=pr,
            changes={"body": {"from": old}},
        )  # fmt: skip
        return c

    def comment(self, repo: str, comment_id: int) -> Comment:
        c = self._comments.get(int(comment_id))
        if c is None or c.repo != repo:
            raise NotFound("Not Found")
        return c

    def comments(self, repo: str, number: int) -> list[Comment]:
        """The PR's comments, oldest first."""
        self.pull_request(repo, number)
        return [c for c in self._comments.values() if c.repo == repo and c.number == number]

    async def add_reaction(
        self, repo: str, comment_id: int, content: str, *, user: str
    ) -> tuple[Reaction, bool]:
        """React to a comment; (reaction, True) if new, (existing, False) if the user had
        already reacted with that content (GitHub answers 200 instead of 201 then)."""
        c = self.comment(repo, comment_id)
        if content not in REACTIONS:
            raise Unprocessable("Validation Failed", errors=[invalid_field("content")])
        self.user(user)
        for r in c.reactions:
            if r.user == user and r.content == content:
                return r, False
        r = Reaction(self._next_id("reaction", 7_000_000), content, user, self.timestamp())
        c.reactions.append(r)
        self.save()
        return r, True

    async def remove_reaction(self, repo: str, comment_id: int, reaction_id: int) -> None:
        c = self.comment(repo, comment_id)
        before = len(c.reactions)
        c.reactions = [r for r in c.reactions if r.id != reaction_id]
        if len(c.reactions) == before:
            raise NotFound("Not Found")
        self.save()
