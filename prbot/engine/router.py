"""From internal events to the handlers that care about them.

In the spirit of gidgethub's ``routing.Router`` as python/bedevere uses it: each concern
(definitions, automation runs; promotions and commands next) keeps a ``Router`` of its
own and registers its handlers on it by event type (and, optionally, action); the worker's
``event`` job dispatches through one router made of all of them. A handler gets the event
and the ``Context`` (the store, the definitions, the SCM providers, the clock), so no
concern needs to know how the others are built.

Handlers run one after another, in the order they were registered; one that raises stops
the dispatch and fails the job, which the pool retries, so every handler must be
idempotent (all of them are: they move state to where the event says it is).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prbot.events import Event
from prbot.scm.port import Scm
from prbot.store.base import Store

if TYPE_CHECKING:  # the definitions module registers on a Router itself
    from prbot.engine.definitions import DefinitionsCache

ScmFor = Callable[[str], Scm]
Clock = Callable[[], float]


@dataclass(frozen=True)
class Context:
    """What handlers work with; built once per process by the composition root."""

    store: Store
    definitions: DefinitionsCache
    scm_for: ScmFor
    clock: Clock = time.time
    secrets: tuple[str, ...] = field(default=(), repr=False)  # to redact from errors


EventHandler = Callable[[Event, Context], Awaitable[None]]


class Router:
    """Handlers by event type (exact type: events are flat) and optional action."""

    def __init__(self, *others: Router) -> None:
        self._routes: dict[type[Event], list[tuple[str | None, EventHandler]]] = {}
        for other in others:
            for event_type, routes in other._routes.items():
                self._routes.setdefault(event_type, []).extend(routes)

    def register(
        self, event_type: type[Event], *, action: str | None = None
    ) -> Callable[[EventHandler], EventHandler]:
        """Decorator: call the function for events of this type (and action, if given)."""

        def add(handler: EventHandler) -> EventHandler:
            self._routes.setdefault(event_type, []).append((action, handler))
            return handler

        return add

    def handlers_for(self, event: Event) -> list[EventHandler]:
        action = getattr(event, "action", None)
        return [h for a, h in self._routes.get(type(event), ()) if a is None or a == action]

    async def dispatch(self, event: Event, context: Context) -> int:
        """Run every handler for ``event``; returns how many ran."""
        handlers = self.handlers_for(event)
        for handler in handlers:
            await handler(event, context)
        return len(handlers)
