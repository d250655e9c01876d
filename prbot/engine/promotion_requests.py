"""Asking something of a promotion: the checks that ``/api/promotions`` and the
slash-commands share, so both refuse the same requests with the same words.

- ``password_problems``: a promotion's inputs are stored and shown, so a value for a
  password input of any stage's automation is refused, as ``/api/runs`` refuses it.
- ``judge``: whether a command (approve, hold, resume, retry, rollback, cancel) would
  change anything, judged as the machine will (``command_refusal``, ``approval_refusal``),
  and the happening that carries it out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from prbot.automation.definitions import Pipeline
from prbot.engine.promotions import PromotionEngine
from prbot.engine.run_requests import PASSWORD_REFUSED
from prbot.errors import PrbotError
from prbot.pipeline import happenings as hap
from prbot.pipeline.codec import from_data
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


async def password_problems(
    lookup: AutomationLookup,
    platform: str,
    repo: str,
    pipeline: Pipeline,
    inputs: Mapping[str, Any],
) -> dict[str, str]:
    """``{"inputs.NAME": PASSWORD_REFUSED}`` for each password input given a value."""
    refused: dict[str, str] = {}
    for name in sorted({stage.automation for stage in pipeline.stages}):
        try:
            automation = await lookup(platform, repo, name)
        except PrbotError:
            continue  # the stage fails when it runs, naming the automation
        for field in automation.configuration:
            if field.type == "password" and inputs.get(field.name) not in (None, ""):
                refused[f"inputs.{field.name}"] = PASSWORD_REFUSED
    return refused


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
