"""The engine's one router: every concern's handlers, in the order they run."""

from __future__ import annotations

from prbot.engine import commands, definitions, promotions, runs
from prbot.engine.router import Router

router = Router(definitions.router, runs.router, promotions.router, commands.router)
