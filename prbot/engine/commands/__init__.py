"""Slash-commands in PR and MR comments, carried out (issue 11). The pure core
(``prbot.commands``) reads a comment into commands and says who may use which; this is
the engine's side.

- The router's handler does no SCM work. A new comment on a PR or MR (never an edit, see
  ``prbot.web.normalize``), not written by a bot nor carrying a prbot marker (prbot's own
  replies and status comments), with at least one command line in it, becomes one
  ``command.run`` job keyed by the comment (``comment_key``): a redelivered or replayed
  webhook finds that job and adds nothing.
- The job (``job.CommandJob``) reacts 👀, carries out each command in order
  (``HANDLERS``: one per verb of the registry), writes one reply carrying a hidden marker
  of the comment (an upsert: a retry edits it), then reacts 🚀 when every command
  succeeded, 😕 when any did not.
- A run's PR opens later, in its own ``automation.run`` job: the reply says it is queued,
  and ``command.reply`` jobs, a little further apart each time, edit it until each run it
  started has its PR (or ended) and each promotion its first stage PR. The reply is made
  from the store each time, so an edit is the same whoever writes it. No worker waits.

Modules: ``work`` (one comment's context: its PR, the commenter's permission),
``access`` (the permission cache, what each verb needs), ``verbs`` and
``promotion_verbs`` (one handler per verb), ``reply`` (the reply's text), ``job`` (the
``command.run`` and ``command.reply`` jobs).

Exactly once: each command's effect carries its request key (``comment_key`` and the
command's place in the comment). A run or promotion is stored with it (a unique column),
a promotion command's happening is queued with it as its dedupe key; a retried job finds
what it made and says the same again, instead of making a second. Reactions and the
reply are idempotent on both platforms.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prbot.commands.parse import Command, parse_comment
from prbot.engine.commands.promotion_verbs import approve_verb, command_verb
from prbot.engine.commands.reply import Outcome
from prbot.engine.commands.verbs import help_verb, promote_verb, run_verb, status_verb
from prbot.engine.commands.work import CommentWork
from prbot.engine.router import Context, Router
from prbot.events import CommentCreated, Event
from prbot.store.base import NewJob

JOB = "command.run"
REPLY_JOB = "command.reply"
MARKER = "<!-- prbot:"  # in prbot's own comments (replies, status): never commands

Verb = Callable[[CommentWork, Command, str], Awaitable[Outcome]]
HANDLERS: dict[str, Verb] = {
    "help": help_verb,
    "run": run_verb,
    "promote": promote_verb,
    "status": status_verb,
    "approve": approve_verb,
    "hold": command_verb,
    "resume": command_verb,
    "retry": command_verb,
    "rollback": command_verb,
    "cancel": command_verb,
}


def comment_key(event: CommentCreated) -> str:
    """What a comment's commands are known by: its job, and (with the command's place)
    what each command makes."""
    return f"command:{event.platform}:{event.repo.lower()}:{event.comment_id}"


def command_job(event: CommentCreated) -> NewJob:
    return NewJob(JOB, {"event": event.to_dict()}, dedupe_key=comment_key(event))


def wants(event: CommentCreated) -> bool:
    """Whether the comment holds commands prbot should carry out (cheap: no SCM)."""
    if not event.on_pull_request or event.author_is_bot or event.comment_id <= 0:
        return False
    if MARKER in event.body:
        return False
    return bool(parse_comment(event.body))


router = Router()


@router.register(CommentCreated)
async def comment_queues_its_commands(event: Event, context: Context) -> None:
    assert isinstance(event, CommentCreated)
    if wants(event):
        await context.store.enqueue([command_job(event)], now=context.clock())
