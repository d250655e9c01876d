"""The verbs that act on a promotion: ``approve``, ``hold``, ``resume``, ``retry``,
``rollback``, ``cancel``. On a stage PR they act on its promotion; elsewhere they need
``--promotion ID`` (of this repository).

Each is judged as ``/api/promotions/{id}/{verb}`` judges it (``promotion_requests.judge``)
and, when it would change something, queued as the promotion's happening with the
command's request key as the job's dedupe key: a retried job finds its job queued and
says so, rather than judging again a promotion its own command has changed since.
"""

from __future__ import annotations

import dataclasses

from prbot.commands.parse import Command
from prbot.commands.permissions import allowed
from prbot.commands.registry import APPROVER
from prbot.engine.commands.reply import SAFE_NAME, Outcome, literal
from prbot.engine.commands.verbs import failed, promotion_refs
from prbot.engine.commands.work import CommentWork
from prbot.engine.promotion_requests import Judged, gate_lists, judge
from prbot.engine.promotions import happen_job
from prbot.errors import PrbotError
from prbot.store.base import PromotionRow

DONE = {
    "approve": "is approved at stage {stage}",
    "hold": "will be held",
    "resume": "will resume",
    "retry": "will retry its failed stage",
    "rollback": "will be rolled back: a revert PR of its last merged stage opens",
    "cancel": "will be cancelled",
}


async def approve_verb(work: CommentWork, command: Command, key: str) -> Outcome:
    stage = command.args[0] if command.args else None
    if stage is not None and not SAFE_NAME.fullmatch(stage):
        return Outcome("approve", False, "no such stage")
    row = await work.promotion("approve", command.flags.get("promotion"))
    if isinstance(row, Outcome):
        return row
    if await work.store.job_by_key(key) is not None:
        return accepted("approve", row, stage or "")  # queued by this job, before a crash
    try:
        judged = await judge(work.services.promotions, row, "approve", work.author, stage=stage,
                             now=work.services.clock())  # fmt: skip
    except PrbotError as exc:  # the platform cannot say who is in the listed teams
        return failed("approve", exc)
    if not gate_lists(row, judged.stage, work.author, judged.teams):
        have = await work.services.access.permission(work.scm, row.repo, work.author)
        if not allowed(APPROVER, have):
            return work.not_permitted("approve", APPROVER, have, row.repo)
    if not judged.stage:
        return Outcome("approve", False, f"no stage of promotion {row.id} waits for approval")
    return await carry_out(work, row, "approve", judged, key)


async def command_verb(work: CommentWork, command: Command, key: str) -> Outcome:
    """hold, resume, retry, rollback, cancel."""
    verb = command.verb
    if refused := await work.refusal(verb):
        return refused
    row = await work.promotion(verb, command.flags.get("promotion"))
    if isinstance(row, Outcome):
        return row
    if await work.store.job_by_key(key) is not None:
        return accepted(verb, row)
    judged = await judge(work.services.promotions, row, verb, work.author,
                         now=work.services.clock())  # fmt: skip
    return await carry_out(work, row, verb, judged, key)


async def carry_out(
    work: CommentWork, row: PromotionRow, verb: str, judged: Judged, key: str
) -> Outcome:
    if judged.refusal:
        return Outcome(verb, False, f"refused: {literal(judged.refusal)}")
    now = work.services.clock()
    job = dataclasses.replace(happen_job(row.id, judged.happening), dedupe_key=key)
    await work.store.enqueue([job], now=now)
    return accepted(verb, row, judged.stage)


def accepted(verb: str, row: PromotionRow, stage: str = "") -> Outcome:
    done = DONE[verb].format(stage=stage or "(the waiting one)")
    text = f"promotion {row.id} of `{row.pipeline}` {done} ({promotion_refs(row.id)})"
    return Outcome(verb, True, text)
