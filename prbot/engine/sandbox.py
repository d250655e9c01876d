"""A box for untrusted work: loading repository definitions and rendering changes run in
separate worker processes, each task under a wall-clock deadline, a CPU-time limit, an
address-space limit and a cap on the size of its answer.

Processes, not threads: a template that loops forever, or a YAML file that expands
without end, must be stoppable, and only a process can be killed. The parent never runs
untrusted work itself, so the webhook intake, ``/healthz`` and other runs go on while a
task misbehaves; a task that goes over a limit is killed, its process replaced, and the
caller gets a permanent ``BoxLimitExceeded`` that says which limit ("render of bump
exceeded 10 s").

The pool is thread-based on the parent side (a task waits for its answer in a thread of
the pool's own executor), so it belongs to no event loop: one pool serves the process.
Children start with ``spawn`` (a fresh interpreter: nothing of the parent's threads,
sockets or secrets is inherited) and set their own rlimits before they take any work.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import math
import multiprocessing
import os
import pickle
import queue
import resource
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, NoReturn, TypeVar

from prbot.errors import PrbotError
from prbot.settings import Settings

log = logging.getLogger("prbot.sandbox")

T = TypeVar("T")
MiB = 1024 * 1024
# the modules the children import before taking work, so the first task is not slow
WARM_MODULES = ("prbot.automation.render", "prbot.automation.loader", "prbot.engine.boxed")


class BoxLimitExceeded(PrbotError):
    """A task went over one of the box's limits: the same task would again."""

    permanent = True


@dataclass(frozen=True)
class BoxLimits:
    seconds: float = 10.0  # wall clock, per task
    cpu_seconds: float = 10.0  # CPU time, per task
    memory_mib: int = 512  # address space of a box process
    output_mib: int = 32  # the pickled answer of a task

    def describe(self) -> str:
        return (
            f"{self.seconds:g} s, {self.cpu_seconds:g} s of CPU, {self.memory_mib} MiB, "
            f"answers up to {self.output_mib} MiB"
        )


class _Worker:
    def __init__(self, limits: BoxLimits) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=_child_main, args=(child, limits), name="prbot-box", daemon=True
        )
        self.process.start()
        child.close()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        self.process.join(timeout=5)
        with contextlib.suppress(Exception):
            self.conn.close()


class Sandbox:
    """``await box.run(what, fn, *args)``: ``fn(*args)`` in a box process.

    ``fn`` must be a module-level function (it is pickled by name), and its arguments and
    result plain picklable values. Errors ``fn`` raises come back as themselves (prbot's
    errors keep their type and text); going over a limit raises ``BoxLimitExceeded``
    naming ``what``."""

    def __init__(self, limits: BoxLimits | None = None, processes: int = 2) -> None:
        if processes < 1:
            raise ValueError("a sandbox needs at least one process")
        self.limits = limits or BoxLimits()
        self.processes = processes
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(processes, thread_name_prefix="prbot-box")
        self._closed = False
        self.killed = 0  # tasks stopped for going over a limit (for tests and metrics)

    def __repr__(self) -> str:
        return f"Sandbox(processes={self.processes}, limits=({self.limits.describe()}))"

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start every process now (otherwise the first tasks start them)."""
        with self._lock:
            missing = self.processes - len(self._all)
        for _ in range(missing):
            self._idle.put(self._spawn())

    def pids(self) -> list[int]:
        with self._lock:
            return sorted(w.pid for w in self._all if w.pid is not None)

    def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            workers, self._all = list(self._all), set()
        for worker in workers:
            with contextlib.suppress(Exception):
                worker.conn.send_bytes(b"")  # asks it to stop
            worker.process.join(timeout=1)
            worker.kill()

    def _spawn(self) -> _Worker:
        worker = _Worker(self.limits)
        with self._lock:
            self._all.add(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)
        if not self._closed:
            # replaced at once, so the pool is whole again before the next task
            self._idle.put(self._spawn())

    def _take(self) -> _Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            room = len(self._all) < self.processes
        return self._spawn() if room else self._idle.get()

    # -- running ------------------------------------------------------------------------

    async def run(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise RuntimeError("the sandbox is closed")
        future = self._executor.submit(self.run_blocking, what, fn, *args)
        return await asyncio.wrap_future(future)

    def run_blocking(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """The same, for code that is not async (the command line)."""
        task = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)
        worker = self._take()
        limits = self.limits
        answer: bytes | None = None
        died = False
        try:
            worker.conn.send_bytes(task)
            if worker.conn.poll(limits.seconds):
                answer = worker.conn.recv_bytes()
        except (EOFError, OSError):
            died = True  # the process ended without an answer: a limit, or a crash
        except BaseException:
            self._retire(worker)
            raise
        if died:
            self._over(worker, self._death_reason(worker, what))
        if answer is None:
            self._over(worker, f"{what} exceeded {limits.seconds:g} s")
        kind, value = pickle.loads(answer)
        if kind == "limit":
            self._over(worker, f"{what} exceeded {value}")
        self._idle.put(worker)
        if kind == "error":
            raise value
        return value  # type: ignore[no-any-return]

    def _over(self, worker: _Worker, message: str) -> NoReturn:
        self.killed += 1
        log.warning("sandbox: %s; its process is replaced", message)
        self._retire(worker)
        raise BoxLimitExceeded(message)

    def _death_reason(self, worker: _Worker, what: str) -> str:
        worker.process.join(timeout=2)
        code = worker.process.exitcode
        if code == -signal.SIGXCPU:  # the soft CPU limit's signal
            return f"{what} exceeded {self.limits.cpu_seconds:g} s of CPU"
        if code == MEMORY_EXIT:
            return f"{what} exceeded {self.limits.memory_mib} MiB"
        return f"{what} stopped its box process (exit {code})"


# -- the child --------------------------------------------------------------------------

MEMORY_EXIT = 75  # a child that ran out of memory and could not answer
NICENESS = 5
KEEP_ENV = frozenset({"PATH", "HOME", "LANG", "TZ", "TMPDIR"})


def _child_main(conn: Connection, limits: BoxLimits) -> None:
    """A box process: set the limits, warm up, then answer tasks until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    # nothing untrusted code could reach should hold a credential: the environment came
    # from the parent (spawn passes it on), so what is not plainly harmless goes
    for name in list(os.environ):
        if name not in KEEP_ENV and not name.startswith(("LC_", "PYTHON")):
            del os.environ[name]
    with contextlib.suppress(OSError):
        os.nice(NICENESS)  # a runaway render yields the CPU to the webhook intake
    memory = limits.memory_mib * MiB
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    import importlib

    for name in WARM_MODULES:
        importlib.import_module(name)
    output_limit = limits.output_mib * MiB
    while True:
        try:
            task = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if not task:
            return
        _limit_cpu(limits.cpu_seconds)
        try:
            fn, args = pickle.loads(task)
            answer = pickle.dumps(("ok", fn(*args)), protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            answer = _limit_answer(f"{limits.memory_mib} MiB")
        except RecursionError:
            answer = _error_answer(BoxLimitExceeded("recursion too deep"))
        except Exception as exc:
            answer = _error_answer(exc)
        if len(answer) > output_limit:
            answer = _limit_answer(f"{limits.output_mib} MiB of output")
        try:
            conn.send_bytes(answer)
        except MemoryError:
            os._exit(MEMORY_EXIT)
        except (OSError, ValueError):
            return


def _limit_cpu(seconds: float) -> None:
    """CPU time is counted per process: allow ``seconds`` more than spent so far. Going
    over sends SIGXCPU, whose default action ends the process. Only the soft limit moves
    (up to the hard one, which stays as inherited), so this works without privileges."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    spent = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(spent + seconds)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _limit_answer(what: str) -> bytes:
    return pickle.dumps(("limit", what))


def _error_answer(exc: Exception) -> bytes:
    try:
        return pickle.dumps(("error", exc), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an error that does not pickle: its text, as a prbot error
        return pickle.dumps(("error", PrbotError(f"{type(exc).__name__}: {exc}")))


def sandbox_from(settings: Settings) -> Sandbox:
    """The box ``prbot serve`` runs untrusted work in, as configured."""
    limits = BoxLimits(
        seconds=settings.sandbox_seconds,
        cpu_seconds=settings.sandbox_cpu_seconds,
        memory_mib=settings.sandbox_memory_mib,
        output_mib=settings.sandbox_output_mib,
    )
    return Sandbox(limits, processes=settings.sandbox_processes)


# -- the process's default box ------------------------------------------------------------

_shared: Sandbox | None = None
_shared_lock = threading.Lock()


def shared_sandbox() -> Sandbox:
    """The process's box with the default limits, for callers not handed one (tests, the
    benchmarks); ``prbot serve`` and the command line build theirs from the settings."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Sandbox()
            atexit.register(_shared.close)
        return _shared
