"""More web processes on one port (PRBOT_WEB_PROCESSES > 1).

Python runs one core per process, and webhook intake is CPU-bound (TLS aside: verify the
HMAC, parse JSON, store). So ``prbot serve`` can start more processes that serve the same
app on the same port: each binds with SO_REUSEPORT and the kernel spreads connections
over them. They share the store (one SQLite file; the writer's cross-process lock keeps
their transactions in turn) and the metrics (prometheus-client's multiprocess mode).

The first process (the one started by hand) is the parent: it alone runs the workers
and the reconciler, starts the others as ``prbot serve --web-child-of FD`` once its
own listener is up (so an ephemeral port is known), restarts one that dies, and stops
them on shutdown. Each child watches FD, the read end of a pipe the parent holds open:
when the parent goes, even by SIGKILL, the pipe closes and the child shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable

log = logging.getLogger("prbot.web_processes")

RESTART_DELAY = 1.0  # seconds before a child that died is started again
MAX_RESTART_DELAY = 30.0


def watch_parent(fd: int, on_gone: Callable[[], None]) -> None:
    """Call ``on_gone`` when the parent's end of the pipe ``fd`` closes (it never writes:
    readable means end of file)."""
    loop = asyncio.get_running_loop()

    def gone() -> None:
        loop.remove_reader(fd)
        log.warning("the parent process is gone: stopping")
        on_gone()

    loop.add_reader(fd, gone)


class WebChildren:
    """The extra web processes of a parent ``prbot serve``."""

    def __init__(self, count: int, *, host: str, port: int, config_file: str | None = None) -> None:
        self.count = count
        self.host = host
        self.port = port
        self.config_file = config_file
        self._procs: dict[int, asyncio.subprocess.Process] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        # the children's end of the pipe is inherited by each; ours stays open until stop
        self._read_fd, self._write_fd = os.pipe()
        os.set_inheritable(self._read_fd, True)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs.values() if p.returncode is None]

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-m", "prbot", "serve", "--host", self.host]
        cmd += ["--port", str(self.port), "--web-child-of", str(self._read_fd)]
        if self.config_file:
            cmd += ["--config", self.config_file]
        return cmd

    async def _spawn(self) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self._command(), pass_fds=(self._read_fd,), stdin=asyncio.subprocess.DEVNULL
        )

    async def start(self) -> None:
        for slot in range(self.count):
            self._procs[slot] = await self._spawn()
            self._tasks.append(asyncio.create_task(self._supervise(slot)))
        log.info("started %d more web process(es)", self.count, extra={"pids": self.pids})

    async def _supervise(self, slot: int) -> None:
        delay = RESTART_DELAY
        while True:
            proc = self._procs[slot]
            code = await proc.wait()
            if self._stopping:
                return
            log.error("web process %d exited with %s; restarting in %.0f s", proc.pid, code, delay)
            await asyncio.sleep(delay)
            if self._stopping:
                return
            self._procs[slot] = await self._spawn()
            delay = min(delay * 2, MAX_RESTART_DELAY)

    async def stop(self, grace: float) -> None:
        """SIGTERM every child (each drains its requests), SIGKILL any left after
        ``grace`` seconds."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        procs = [p for p in self._procs.values() if p.returncode is None]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        waits = [asyncio.create_task(p.wait()) for p in procs]
        if waits:
            _, late = await asyncio.wait(waits, timeout=grace)
            for proc in procs:
                if proc.returncode is None:
                    log.warning("web process %d did not stop in time: killed", proc.pid)
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            if late:
                await asyncio.wait(late)
        os.close(self._read_fd)
        os.close(self._write_fd)
