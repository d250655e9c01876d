"""The job kinds a worker runs, and what runs each:

- ``automation.run``: the engine's ``AutomationRunHandler`` (see ``prbot.engine.runs``).
- ``promotion.happen`` / ``promotion.status``: one happening of a promotion / its status
  comments (see ``prbot.engine.promotions``).
- ``command.run`` / ``command.reply``: a comment's slash-commands / the edits of their
  reply (see ``prbot.engine.commands``).
- ``event`` (payload: ``Event.to_dict()``): the event, decoded, goes through the engine's
  router to every handler registered for it (``prbot.engine.routes``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prbot.engine.commands.access import Access
from prbot.engine.commands.job import CommandJob, ReplyJob
from prbot.engine.commands.work import CommandServices
from prbot.engine.definitions import DefinitionsCache
from prbot.engine.promotions import PromotionEngine, PromotionJob, PromotionStatusJob
from prbot.engine.providers import scm_for as default_scm_for
from prbot.engine.router import Context, Router
from prbot.engine.routes import router as engine_router
from prbot.engine.runs import AutomationRunHandler
from prbot.engine.sandbox import Sandbox
from prbot.errors import PermanentError
from prbot.events import event_from_dict
from prbot.scm.port import Scm
from prbot.settings import Settings
from prbot.store.base import Job, Store
from prbot.worker.pool import Handler

log = logging.getLogger("prbot.worker")

ScmFor = Callable[[str], Scm]
Clock = Callable[[], float]


def build_handlers(
    settings: Settings,
    store: Store,
    definitions: DefinitionsCache,
    *,
    scm_for: ScmFor | None = None,
    clock: Clock = time.time,
    router: Router = engine_router,
    sandbox: Sandbox | None = None,
) -> dict[str, Handler]:
    provider = scm_for or (lambda platform: default_scm_for(settings, platform))
    context = Context(store, definitions, provider, clock, tuple(settings.secret_values()))
    promotions = PromotionEngine(
        store, definitions, provider, sandbox=sandbox, limits=settings.limits, clock=clock
    )
    commands = CommandServices(
        store,
        definitions,
        provider,
        promotions,
        Access(definitions, settings.command_permissions),
        limits=settings.limits,
        max_attempts=settings.max_attempts,
        clock=clock,
    )
    return {
        "automation.run": OneRunAtATime(
            store,
            AutomationRunHandler(
                store,
                definitions,
                provider,
                clock=clock,
                secrets=context.secrets,
                sandbox=sandbox,
                limits=settings.limits,
            ),
        ),
        "command.run": CommandJob(commands),
        "command.reply": ReplyJob(commands),
        "event": EventJob(router, context),
        "promotion.happen": PromotionJob(promotions),
        "promotion.status": PromotionStatusJob(promotions),
    }


class OneRunAtATime:
    """An ``automation.run`` job under the store's lock ``run:ID``: two jobs of one run
    (a reconciler's re-enqueue beside a slow original, a job retaken after its lease)
    never work on it at once, in one process or across replicas."""

    def __init__(self, store: Store, handler: Handler) -> None:
        self.store = store
        self.handler = handler
        # the wrapped handler's dead-letter hook, which the pool looks for here
        on_dead = getattr(handler, "on_dead", None)
        if on_dead is not None:
            self.on_dead = on_dead

    async def __call__(self, job: Job) -> None:
        run_id = job.payload.get("run_id") if isinstance(job.payload, dict) else None
        if run_id is None:
            await self.handler(job)  # the handler reports the bad payload
            return
        async with self.store.lock(f"run:{run_id}"):
            await self.handler(job)


class EventJob:
    """Runs an ``event`` job: decode the stored event, dispatch it through the router."""

    def __init__(self, router: Router, context: Context) -> None:
        self.router = router
        self.context = context

    async def __call__(self, job: Job) -> None:
        try:
            event = event_from_dict(job.payload)
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentError(f"not an event payload: {exc}") from exc
        if not await self.router.dispatch(event, self.context):
            log.debug("event %s on %s: no handler", event.kind, event.repo)
