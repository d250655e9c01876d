"""The jobs of slash-commands: ``command.run`` carries out a comment's commands and
replies; ``command.reply`` edits that reply as what they started moves on (see
``prbot.engine.commands``)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from prbot.commands.parse import Command, Problem, parse_comment
from prbot.commands.registry import BY_NAME
from prbot.engine.commands import HANDLERS, JOB, REPLY_JOB, comment_key
from prbot.engine.commands.reply import (
    Outcome,
    literal,
    render_reply,
    reply_marker,
    settled,
)
from prbot.engine.commands.work import CommandServices, CommentWork
from prbot.errors import PermanentError
from prbot.events import CommentCreated, event_from_dict
from prbot.scm.port import NotFound, Scm
from prbot.store.base import Job, NewJob

log = logging.getLogger("prbot.commands")

# seconds between the reply's edits while a run or promotion it started has no PR yet:
# about 13 minutes in all, then the reply says where to look
FOLLOW_UP = (1, 2, 3, 5, 10, 20, 30, 60, 60, 120, 120, 360)


class CommandJob:
    """``command.run``: payload ``{"event": CommentCreated.to_dict()}``."""

    def __init__(self, services: CommandServices) -> None:
        self.services = services

    async def __call__(self, job: Job) -> None:
        event = _event(job)
        scm = self.services.scm_for(event.platform)
        try:
            await scm.add_reaction(event.repo, event.number, event.comment_id, "eyes")
        except NotFound:  # deleted (or its PR) before we got to it: nothing to answer
            log.info("comment %s on %s#%d is gone", event.comment_id, event.repo, event.number)
            return
        work = CommentWork(event, scm, self.services)
        key = comment_key(event)
        outcomes = [
            await self._one(work, item, f"{key}:{index}")
            for index, item in enumerate(parse_comment(event.body))
        ]
        done = await write_reply(self.services, scm, event, outcomes)
        ok = all(o.ok for o in outcomes)
        await scm.add_reaction(event.repo, event.number, event.comment_id,
                               "rocket" if ok else "confused")  # fmt: skip
        if not done:
            now = self.services.clock()
            await self.services.store.enqueue([reply_job(event, outcomes, 0, now)], now=now)
        log.info(
            "commands of %s on %s#%d: %s",
            event.author,
            event.repo,
            event.number,
            ", ".join(f"{o.verb or '?'} {'done' if o.ok else 'not done'}" for o in outcomes),
        )

    async def _one(self, work: CommentWork, item: Command | Problem, key: str) -> Outcome:
        if isinstance(item, Problem):
            verb = item.verb if item.verb in BY_NAME else ""
            return Outcome(verb, False, literal(item.message))
        return await HANDLERS[item.verb](work, item, key)

    async def on_dead(self, job: Job, error: str) -> None:
        """No attempt got through: the reply says so, so nobody waits for it."""
        try:
            event = _event(job)
            scm = self.services.scm_for(event.platform)
            text = f"prbot could not carry these out: {literal(error)}"
            await write_reply(self.services, scm, event, [Outcome("", False, text)])
            await scm.add_reaction(event.repo, event.number, event.comment_id, "confused")
        except Exception as exc:  # the platform may be what failed the job
            log.warning("could not tell comment of job %s that it failed: %s", job.id, exc)


class ReplyJob:
    """``command.reply``: payload ``{"event", "outcomes", "round"}``; the event carries no
    body (the reply is made from the outcomes and the store)."""

    def __init__(self, services: CommandServices) -> None:
        self.services = services

    async def __call__(self, job: Job) -> None:
        event = _event(job)
        try:
            outcomes = [Outcome.from_dict(o) for o in job.payload["outcomes"]]
            round_ = int(job.payload["round"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentError(f"not a {REPLY_JOB} job: {exc}") from exc
        scm = self.services.scm_for(event.platform)
        if await write_reply(self.services, scm, event, outcomes):
            return
        if round_ + 1 < len(FOLLOW_UP):
            now = self.services.clock()
            edit = reply_job(event, outcomes, round_ + 1, now)
            await self.services.store.enqueue([edit], now=now)


def reply_job(event: CommentCreated, outcomes: list[Outcome], round_: int, now: float) -> NewJob:
    """The ``round_``-th edit of the reply, due ``FOLLOW_UP[round_]`` seconds from now."""
    return NewJob(
        REPLY_JOB,
        {
            "event": dataclasses.replace(event, body="").to_dict(),
            "outcomes": [o.to_dict() for o in outcomes],
            "round": round_,
        },
        dedupe_key=f"{REPLY_JOB}:{comment_key(event)}:{round_}",
        run_at=now + FOLLOW_UP[round_],
    )


async def write_reply(
    services: CommandServices, scm: Scm, event: CommentCreated, outcomes: list[Outcome]
) -> bool:
    """Write (or edit) the reply as the store has it now; whether it says all it will."""
    store = services.store
    runs = {o.run_id: r for o in outcomes if o.run_id and (r := await store.run(o.run_id))}
    rows: dict[int, Any] = {
        o.promotion_id: r
        for o in outcomes
        if o.promotion_id and (r := await store.promotion(o.promotion_id))
    }
    body = render_reply(event.author, outcomes, runs, rows)
    await scm.upsert_comment(event.repo, event.number, reply_marker(event.comment_id), body)
    return settled(outcomes, runs, rows)


def _event(job: Job) -> CommentCreated:
    try:
        event = event_from_dict(job.payload["event"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentError(f"not a {JOB} job: {exc}") from exc
    if not isinstance(event, CommentCreated):
        raise PermanentError(f"not a {JOB} job: a {event.kind} event")
    return event
