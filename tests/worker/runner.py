"""A worker process for the crash tests: Settings from the environment (as ``prbot serve``
reads them), the real store, definitions and handlers, a WorkerPool; SIGTERM drains.

Test hooks (environment), around the SCM's ``commit_changes`` of an automation run:
  PRBOT_TEST_MARK_AFTER_COMMIT=FILE   create FILE once the commit is made
  PRBOT_TEST_SLEEP_AFTER_COMMIT=SECS  then sleep that long (the test kills us meanwhile)

Run: python tests/worker/runner.py
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from prbot.engine.definitions import DefinitionsCache
from prbot.engine.providers import close_providers, scm_for
from prbot.scm.port import Scm
from prbot.settings import load_settings
from prbot.store import open_store
from prbot.worker.handlers import build_handlers
from prbot.worker.pool import WorkerPool


class PausingScm:
    """The real provider, with a pause after ``commit_changes``: between the commit and
    the PR, the window a crash must survive."""

    def __init__(self, scm: Scm, mark: str, sleep: float):
        self._scm = scm
        self._mark = mark
        self._sleep = sleep

    def __getattr__(self, name: str) -> Any:
        return getattr(self._scm, name)

    async def commit_changes(self, *args: Any, **kwargs: Any) -> Any:
        result = await self._scm.commit_changes(*args, **kwargs)
        if self._mark:
            Path(self._mark).write_text(result.sha)
        await asyncio.sleep(self._sleep)
        return result


async def main() -> int:
    settings = load_settings()
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    mark = os.environ.get("PRBOT_TEST_MARK_AFTER_COMMIT", "")
    sleep = float(os.environ.get("PRBOT_TEST_SLEEP_AFTER_COMMIT", "0") or 0)

    def provider(platform: str) -> Scm:
        scm = scm_for(settings, platform)
        return PausingScm(scm, mark, sleep) if (mark or sleep) else scm  # type: ignore[return-value]

    store = open_store(settings.database_url)
    await store.open()
    definitions = DefinitionsCache(settings.automations_dir, provider)
    handlers = build_handlers(settings, store, definitions, scm_for=provider)
    pool = WorkerPool(
        store,
        handlers,
        concurrency=settings.workers,
        lease_seconds=settings.lease_seconds,
        max_attempts=settings.max_attempts,
        poll_interval=0.05,
        secrets=settings.secret_values(),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await pool.start()
    print("runner ready", file=sys.stderr, flush=True)
    await stop.wait()
    await pool.drain(timeout=30)
    await close_providers()
    await store.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
