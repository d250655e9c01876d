"""``prbot serve``: the long-running process (webhooks, API, metrics, workers, reconciler).

Start-up: open the store, load the deployment's definitions, start the workers and the
reconciler, then open the listener, so /readyz is true from the first request.
PRBOT_WORKERS=0 starts neither: the process only takes webhooks and serves the API, and
another ``prbot serve`` on the same store runs the jobs (see ``prbot.settings``).
PRBOT_WEB_PROCESSES > 1 starts more processes serving the same port once the listener is
up (see ``prbot.web_processes``); they run no workers.
Shutdown on SIGTERM/SIGINT, in the order that loses nothing: stop accepting and let
in-flight requests finish (a delivery is stored before it is answered), stop the other
web processes (each does the same), stop the reconciler, drain the workers (unfinished
jobs keep their lease and are retaken after it runs out), close the SCM clients, close
the store. Exit 0.

One wall clock (``prbot.clock``: time.time, or moved by PRBOT_CLOCK_FILE in tests and
the demo) reaches everything here that schedules or decides by time: the intake, the API
and the promotions' engine in the web app, the job handlers, the worker pool and the
reconciler; the store reads none (its callers pass ``now``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from aiohttp import web

from prbot import metrics
from prbot.clock import Clock, ClockFileError, clock_from
from prbot.engine.definitions import DefinitionsCache
from prbot.engine.promotions import PromotionEngine
from prbot.engine.providers import close_providers, scm_for
from prbot.engine.sandbox import sandbox_from
from prbot.settings import Settings
from prbot.store import StoreError, open_store
from prbot.store.url import parse_sqlite
from prbot.web.app import create_app
from prbot.web.ui.routes import UiServices
from prbot.web_processes import WebChildren, watch_parent
from prbot.worker.handlers import build_handlers
from prbot.worker.pool import WorkerPool
from prbot.worker.reconciler import Reconciler

log = logging.getLogger("prbot.serve")

# Kubernetes sends SIGKILL 30 s after SIGTERM by default: finish well within that
REQUEST_GRACE_SECONDS = 5.0
DRAIN_SECONDS = 20.0
GIL_SWITCH_SECONDS = 0.001
EXIT_OK = 0
EXIT_FAILED = 1


def _prepare_data_dir(settings: Settings) -> None:
    """Create the folder of a SQLite database file, so the default works out of the box."""
    try:
        target = parse_sqlite(settings.database_url)
    except ValueError:
        return  # open_store reports it
    if target is not None:
        Path(target.path).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _clock(settings: Settings) -> Clock | None:
    """The one clock of this process; None (logged) if PRBOT_CLOCK_FILE went unreadable
    since the settings read it."""
    try:
        clock = clock_from(settings.clock_file)
    except ClockFileError as exc:
        log.error("%s", exc)
        return None
    if settings.clock_file is not None:
        log.warning(
            "PRBOT_CLOCK_FILE is set: the clock is moved by the seconds in %s (%+.0f s "
            "now); for tests and the demo only, never in production",
            settings.clock_file,
            clock() - time.time(),
        )
    return clock


async def serve(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    stop: asyncio.Event | None = None,
    web_child_of: int | None = None,
) -> int:
    """Run until ``stop`` is set (or SIGTERM/SIGINT arrives); return the exit status.
    ``web_child_of``: this is another web process of a parent ``prbot serve``, which
    holds the other end of this pipe."""
    stop = stop or asyncio.Event()
    clock = _clock(settings)
    if clock is None:
        return EXIT_FAILED
    if web_child_of is not None:
        settings = dataclasses.replace(settings, workers=0, web_processes=1)
        watch_parent(web_child_of, stop.set)
    several = web_child_of is not None or settings.web_processes > 1
    metrics_dir: str | None = None
    if settings.web_processes > 1:
        # before any metric is recorded (children inherit it through the environment)
        metrics_dir = metrics.use_multiprocess()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)

    _prepare_data_dir(settings)
    store = open_store(settings.database_url)
    try:
        await store.open()
    except (StoreError, OSError) as exc:
        log.error("cannot open the store %s: %s", settings.database_url_display(), exc)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        return EXIT_FAILED

    # untrusted work (repository definitions, renders) runs in these processes; started
    # now where jobs run, on first use in an intake-only process (an API lookup)
    sandbox = sandbox_from(settings)
    if settings.workers > 0:
        sandbox.start()
    definitions = DefinitionsCache(
        settings.automations_dir,
        lambda platform: scm_for(settings, platform),
        sandbox=sandbox,
        limits=settings.limits,
    )
    definitions.reload()  # logs its counts and every broken definition (skipped)

    pool: WorkerPool | None = None
    reconciler: Reconciler | None = None
    if settings.workers > 0:
        pool = WorkerPool(
            store,
            build_handlers(settings, store, definitions, clock=clock, sandbox=sandbox),
            concurrency=settings.workers,
            lease_seconds=settings.lease_seconds,
            max_attempts=settings.max_attempts,
            clock=clock,
            secrets=settings.secret_values(),
        )
        reconciler = Reconciler(store, settings, clock=clock)
    elif web_child_of is None:
        log.info("intake only (PRBOT_WORKERS=0): jobs run in another process")
    promotions = PromotionEngine(
        store,
        definitions,
        lambda platform: scm_for(settings, platform),
        sandbox=sandbox,
        limits=settings.limits,
        clock=clock,
    )
    app = create_app(
        settings,
        store,
        # no pool: /readyz checks the store only
        ready=None if pool is None else (lambda: pool.running),
        definitions=lambda: definitions.deployment,
        repo_lookup=definitions.lookup,
        promotions=promotions,
        pipeline_lookup=definitions.pipeline,
        repo_definitions=definitions.repo_set,
        scm_for=lambda platform: scm_for(settings, platform),
        sandbox=sandbox,
        clock=clock,
        ui=UiServices(
            store, promotions, definitions, lambda platform: scm_for(settings, platform), clock
        ),
    )
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=REQUEST_GRACE_SECONDS)
    children: WebChildren | None = None
    try:
        if pool is not None and reconciler is not None:
            await pool.start()
            await reconciler.start()
        await runner.setup()
        site = web.TCPSite(
            runner,
            host or settings.host,
            settings.port if port is None else port,
            reuse_port=several,
        )
        await site.start()
        for address in runner.addresses:
            log.info(
                "listening",
                extra={
                    "address": f"{address[0]}:{address[1]}",
                    "github": settings.serves_github,
                    "gitlab": settings.serves_gitlab,
                    "api": settings.api_token is not None,
                    "workers": settings.workers,
                    "store": settings.database_url_display(),
                    "pid": os.getpid(),
                },
            )
        if settings.web_processes > 1:
            bound_host, bound_port = runner.addresses[0][:2]
            children = WebChildren(
                settings.web_processes - 1,
                host=bound_host,
                port=bound_port,
                config_file=settings.config_file or None,
            )
            await children.start()
        await stop.wait()
        log.info("stopping: no new requests; draining")
    except OSError as exc:  # the port is taken, or the address is not ours
        log.error("cannot listen: %s", exc)
        stop.set()
        return_code = EXIT_FAILED
    else:
        return_code = EXIT_OK
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        if runner.server is not None:
            await runner.cleanup()  # closes the listener, waits for in-flight requests
        if children is not None:
            await children.stop(REQUEST_GRACE_SECONDS + 2)
        if reconciler is not None:
            await reconciler.stop()
        if pool is not None:
            await pool.drain(DRAIN_SECONDS)
        await close_providers()
        sandbox.close()
        await store.close()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        log.info("stopped")
    return return_code


def run(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    web_child_of: int | None = None,
) -> int:
    # The event loop thread rarely blocks under load, so a store thread coming back from
    # SQLite (which runs without the GIL) waits for the GIL until the loop is forced to
    # let go: 5 ms by default, several times per write batch, and every request in the
    # batch waits with it. 1 ms (bench/webhooks.py, two web processes, 32 connections):
    # with bodies in SQLite, about 15% more deliveries per second and p99 51 -> 29 ms;
    # with bodies in files (bodies.py: shorter transactions), about 3% more.
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    return asyncio.run(serve(settings, host=host, port=port, web_child_of=web_child_of))
