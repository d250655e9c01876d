"""What the verbs of one comment work with: the services of the process, the comment, its
platform's SCM, and what they ask of the platform once per comment (its PR, the
commenter's permission) however many commands it holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from prbot.automation.limits import LIMITS, Limits
from prbot.commands.registry import APPROVER, Permission
from prbot.engine.commands.access import Access, may, shown
from prbot.engine.commands.reply import Outcome, literal
from prbot.engine.definitions import DefinitionsCache
from prbot.engine.promotions import PromotionEngine, parse_branch
from prbot.events import CommentCreated
from prbot.scm.port import PullRequest, Scm
from prbot.store.base import PromotionRow, Store

ScmFor = Callable[[str], Scm]


@dataclass(frozen=True)
class CommandServices:
    """Built once per process by ``build_handlers``."""

    store: Store
    definitions: DefinitionsCache
    scm_for: ScmFor
    promotions: PromotionEngine
    access: Access
    limits: Limits = LIMITS
    max_attempts: int = 8
    clock: Callable[[], float] = time.time


@dataclass
class CommentWork:
    """One comment's commands being carried out (one ``command.run`` job)."""

    event: CommentCreated
    scm: Scm
    services: CommandServices
    _pull: PullRequest | None = field(default=None, repr=False)

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def author(self) -> str:
        return self.event.author

    async def pull_request(self) -> PullRequest:
        """The PR (MR) commented on: read once, when a verb needs its head branch."""
        if self._pull is None:
            self._pull = await self.scm.get_pull_request(self.event.repo, self.event.number)
        return self._pull

    async def refusal(self, verb: str, repo: str | None = None) -> Outcome | None:
        """``not permitted`` (with what it needs) if the commenter may not use ``verb`` on
        ``repo`` (the commented one by default); None if they may."""
        repo = repo or self.event.repo
        verdict = await may(self.services.access, self.scm, repo, self.author, verb)
        if verdict.broken:
            return Outcome(verb, False, f"not carried out: {broken_text(verdict.broken)}")
        if verdict.allowed:
            return None
        assert verdict.have is not None
        return self.not_permitted(verb, verdict.need, verdict.have, repo)

    def not_permitted(self, verb: str, need: str, have: Permission, repo: str) -> Outcome:
        platform = self.event.platform
        if need == APPROVER:
            wanted = f"to be listed by the gate (or {shown('maintain', platform)})"
        else:
            wanted = f"{shown(need, platform)} or more on `{repo}`"
        text = f"not permitted: it needs {wanted}; @{self.author} has {shown(have, platform)}"
        return Outcome(verb, False, text)

    async def promotion(self, verb: str, given: str | bool | None) -> PromotionRow | Outcome:
        """The promotion a command is about: ``--promotion ID`` if given, else the one
        whose stage (or revert) PR this is; an ``Outcome`` saying why there is none."""
        event = self.event
        if isinstance(given, str):
            if not (given.isascii() and given.isdigit()):
                return Outcome(verb, False, "--promotion needs a promotion's id (a number)")
            promotion_id = int(given)
        else:
            parts = parse_branch((await self.pull_request()).head)
            if parts is None:
                text = "this is not a stage PR of a promotion: name one with --promotion ID"
                return Outcome(verb, False, text)
            promotion_id = parts[1]
        row = await self.store.promotion(promotion_id)
        # another repository's promotion is refused as unknown: its existence is not ours
        if row is None or row.platform != event.platform or row.repo.lower() != event.repo.lower():
            return Outcome(verb, False, f"no promotion {promotion_id} in this repository")
        return row


def broken_text(problem: str) -> str:
    return f"the repository's settings cannot be read ({literal(problem)}); fix them first"
