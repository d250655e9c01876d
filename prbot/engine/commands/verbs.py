"""The verbs that need no promotion to act on: ``help``, ``run``, ``promote``, ``status``.

Each takes the comment's work, its command and the command's request key, checks who may
(``CommentWork.refusal``) before anything else (so a refusal says nothing of what exists),
and returns its ``Outcome``. What it starts carries the request key, so the job, retried
after a crash, finds the run or promotion it made instead of making a second.
"""

from __future__ import annotations

from prbot.commands.parse import Command
from prbot.commands.registry import BY_NAME, help_markdown
from prbot.engine.commands.reply import (
    Outcome,
    hint,
    literal,
    name,
    run_line,
    unechoed,
)
from prbot.engine.commands.work import CommentWork
from prbot.engine.definitions import UnknownAutomation, UnknownPipeline
from prbot.engine.promotion_requests import input_problems
from prbot.engine.promotions import UNFINISHED, parse_branch
from prbot.engine.run_requests import (
    PASSWORD_REFUSED,
    REPO_PATHS,
    CheckedInputs,
    check_inputs,
    request_run,
    target_problem,
)
from prbot.errors import PrbotError, describe, is_permanent
from prbot.pipeline.codec import from_data
from prbot.pipeline.status import link
from prbot.store.base import PromotionRow, Run

# a comment is public: a password typed in one is published already
PASSWORD_IN_COMMENT = (
    "is a password input: refused, since comments are public (delete the comment and "
    "change that secret; prbot never stores secrets)"
)
MAX_LISTED = 5  # promotions listed by a status outside a stage PR


async def help_verb(work: CommentWork, command: Command, key: str) -> Outcome:
    if refused := await work.refusal("help"):
        return refused
    only = command.args[0] if command.args else None
    if only is not None and only not in BY_NAME:
        return Outcome("help", False, f"no command {name(only)}{hint(only, BY_NAME)}")
    return Outcome("help", True, f"the commands:\n\n{help_markdown(only)}")


async def run_verb(work: CommentWork, command: Command, key: str) -> Outcome:
    event, services = work.event, work.services
    given = command.flags.get("repo")
    repo = given if isinstance(given, str) else event.repo
    if not REPO_PATHS[event.platform].fullmatch(repo):
        return Outcome("run", False, "--repo needs a repository path like owner/name")
    for where in dict.fromkeys((event.repo, repo)):  # the PR's, and the one changed
        if refused := await work.refusal("run", where):
            return refused
    wanted = command.args[0]
    try:
        automation = await services.definitions.lookup(event.platform, repo, wanted)
    except UnknownAutomation:
        known = [*services.definitions.deployment.automations]
        cached = services.definitions.cached(event.platform, repo)
        known += [*cached.definitions.automations] if cached else []
        text = f"no automation {name(wanted)} for `{repo}`{hint(wanted, known)}"
        return Outcome("run", False, text)
    except PrbotError as exc:
        return failed("run", exc)
    if problem := target_problem(automation, repo):
        return Outcome("run", False, literal(problem))
    checked = check_inputs(automation, command.values, services.limits)
    if checked.errors:
        return Outcome("run", False, problems_text(checked.errors))
    run = await start_run(work, automation.name, repo, checked, key)
    return Outcome("run", True, run_line(run), run_id=run.id)


async def start_run(
    work: CommentWork, automation: str, repo: str, checked: CheckedInputs, key: str
) -> Run:
    """The run, asked for by the commenter in this comment (``request_run``)."""
    services, event = work.services, work.event
    run, _job_id = await request_run(
        services.store,
        automation=automation,
        repo=repo,
        platform=event.platform,
        requested_by=event.author,
        inputs=checked,
        max_attempts=services.max_attempts,
        now=services.clock(),
        via="comment",
        request_key=key,
        requested_in=event.url,
    )
    return run


async def promote_verb(work: CommentWork, command: Command, key: str) -> Outcome:
    event, services = work.event, work.services
    if refused := await work.refusal("promote"):
        return refused
    made = await work.store.promotion_by_key(key)
    if made is not None:  # this job made it before a crash: it is the one asked for
        return promotion_started(made)
    wanted = command.args[0]
    try:
        pipeline = await services.definitions.pipeline(event.platform, event.repo, wanted)
    except UnknownPipeline as exc:
        return Outcome("promote", False, f"no pipeline {name(wanted)} for `{event.repo}`{exc.hint}")
    except PrbotError as exc:
        return failed("promote", exc)
    lookup = services.definitions.lookup
    refused = await input_problems(
        lookup, event.platform, event.repo, pipeline, command.values, services.limits
    )
    if refused:
        return Outcome("promote", False, problems_text(refused))
    try:
        promotion_id, _ = await services.promotions.create(
            platform=event.platform,
            repo=event.repo,
            pipeline=pipeline,
            inputs=dict(command.values),
            requested_by=event.author,
            request_key=key,
            requested_in=event.url,
        )
    except PrbotError as exc:  # the definition does not make a valid pipeline
        return failed("promote", exc)
    row = await work.store.promotion(promotion_id)
    assert row is not None
    return promotion_started(row)


def promotion_started(row: PromotionRow) -> Outcome:
    text = f"started promotion {row.id} of `{row.pipeline}` ({promotion_refs(row.id)})"
    return Outcome("promote", True, text, promotion_id=row.id)


def promotion_refs(promotion_id: int) -> str:
    return f"`prbot promotions {promotion_id}`, `GET /api/promotions/{promotion_id}`"


async def status_verb(work: CommentWork, command: Command, key: str) -> Outcome:
    if refused := await work.refusal("status"):
        return refused
    given = command.flags.get("promotion")
    if not isinstance(given, str) and parse_branch((await work.pull_request()).head) is None:
        return await running_here(work)
    row = await work.promotion("status", given)
    if isinstance(row, Outcome):
        return row
    return Outcome("status", True, promotion_status(row))


async def running_here(work: CommentWork) -> Outcome:
    event = work.event
    rows = await work.store.promotions(
        platform=event.platform, repo=event.repo, status=list(UNFINISHED), limit=MAX_LISTED
    )
    if not rows:
        return Outcome("status", True, "no promotion is under way in this repository")
    return Outcome("status", True, "under way here: " + "; ".join(map(promotion_status, rows)))


def promotion_status(row: PromotionRow) -> str:
    if not row.data:  # stored this moment, its state not yet
        return f"promotion {row.id} of `{row.pipeline}` is starting"
    p = from_data(row.data)
    stages = ", ".join(
        f"{s.name} {s.status}" + (f" {link(f'#{s.pr.number}', s.pr.url)}" if s.pr else "")
        for s in p.stages
    )
    return f"promotion {row.id} of `{row.pipeline}` is {p.status} ({stages})"


def problems_text(errors: dict[str, str]) -> str:
    """The checks' messages, by input, without the values they quote."""
    parts = []
    for field, message in errors.items():
        if PASSWORD_REFUSED in message:
            message = PASSWORD_IN_COMMENT
        parts.append(f"`{field}` {literal(unechoed(message))}")
    return "; ".join(parts)


def failed(verb: str, exc: PrbotError) -> Outcome:
    """A failure that no retry mends is the outcome; any other is the job's to retry."""
    if not is_permanent(exc):
        raise exc
    return Outcome(verb, False, f"failed: {literal(describe(exc))}")
