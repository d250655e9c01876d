"""Asking something of a promotion: the checks that ``/api/promotions`` and the
slash-commands share, so both refuse the same requests with the same words.

- ``input_problems``: the inputs checked as each stage will use them (the promotion's
  inputs plus the stage's context, against the stage automation's inputs), with the
  messages ``/api/runs`` gives; an input no stage takes is refused (a typo would
  otherwise be carried through every stage unused); and since a promotion's inputs are
  stored and shown, a value for a password input of any stage is refused.
- ``judge``: whether a command (approve, hold, resume, retry, rollback, cancel) would
  change anything, judged as the machine will (``command_refusal``, ``approval_refusal``),
  and the happening that carries it out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from prbot.automation.definitions import Pipeline
from prbot.automation.limits import LIMITS, Limits
from prbot.engine.promotions import PromotionEngine, stage_inputs
from prbot.engine.run_requests import check_inputs
from prbot.errors import PrbotError, did_you_mean
from prbot.pipeline import happenings as hap
from prbot.pipeline.codec import from_data
from prbot.pipeline.gates import is_listed
from prbot.pipeline.machine import approval_refusal, command_refusal
from prbot.pipeline.model import Promotion
from prbot.store.base import PromotionRow

COMMANDS = ("hold", "resume", "retry", "rollback", "cancel")
# (platform, repo, name) -> the automation (DefinitionsCache.lookup)
AutomationLookup = Callable[[str, str, str], Awaitable[Any]]


@dataclass(frozen=True)
class Judged:
    refusal: str | None  # why it would change nothing; None: it will be carried out
    happening: Any  # what to queue for the promotion (``happen_job``)
    stage: str = ""  # approve: the stage approved
    teams: tuple[str, ...] = ()  # approve: the listed teams the approver is in


async def input_problems(
    lookup: AutomationLookup,
    platform: str,
    repo: str,
    pipeline: Pipeline,
    inputs: Mapping[str, Any],
    limits: Limits = LIMITS,
) -> dict[str, str]:
    """``{"inputs.NAME": message}`` for each input a stage would refuse (the first
    stage's message wins), a password given a value, and an input no stage takes."""
    problems: dict[str, str] = {}
    taken: set[str] = set()
    for stage in pipeline.stages:
        try:
            automation = await lookup(platform, repo, stage.automation)
        except PrbotError:
            continue  # the stage fails when it runs, naming the automation
        taken |= {f.name for f in automation.configuration}
        given = stage_inputs(automation, inputs, stage.context)
        for key, message in check_inputs(automation, given, limits).errors.items():
            if key.removeprefix("inputs.") in stage.context and key != "inputs":
                message = f"{message} (from stage {stage.name}'s context)"
            problems.setdefault(key, message)
    for name in sorted(set(inputs) - taken):
        known = sorted(taken)
        problems.setdefault(
            f"inputs.{name}",
            f"no stage of {pipeline.name} takes {name!r}{did_you_mean(name, known)}",
        )
    return problems


def waiting_stage(p: Promotion) -> str | None:
    """The stage waiting at its gates, if any (what ``approve`` approves by default)."""
    return next((s.name for s in p.stages if s.status == "gates"), None)


async def judge(
    engine: PromotionEngine,
    row: PromotionRow,
    verb: str,
    by: str,
    *,
    stage: str | None = None,
    now: float,
) -> Judged:
    """Judge ``verb`` by ``by`` on the promotion of ``row``. Approving reads ``by``'s
    teams from the platform: a ``PrbotError`` when it cannot say."""
    promotion = from_data(row.data)
    if verb == "approve":
        stage = stage or waiting_stage(promotion) or ""
        teams = await engine.approver_teams(row, stage, by)
        refusal = approval_refusal(promotion, stage, by, teams, now)
        return Judged(refusal, hap.Approved(stage, by, teams), stage, teams)
    refusal = command_refusal(promotion, verb, now)  # type: ignore[arg-type]
    return Judged(refusal, hap.Command(verb, by))  # type: ignore[arg-type]


def gate_lists(row: PromotionRow, stage: str, by: str, teams: tuple[str, ...]) -> bool:
    """Whether an approval gate of ``stage`` names ``by``, or one of ``teams`` (theirs). A
    gate that names nobody lets anyone approve through the API; a person asking through
    a comment or a page then needs maintain."""
    spec = next((s for s in from_data(row.data).pipeline.stages if s.name == stage), None)
    rules = spec.approvals if spec else ()
    return any((r.users or r.teams) and is_listed(r, by, teams) for r in rules)
