"""Where a job's time goes: waiting on the platform, or not.

``measured()`` opens an account for the code it wraps (a job); an SCM wrapped by
``timed_scm`` adds the wall time of each of its calls to the open account. Asyncio tasks
started inside share it (a context variable holds the account object itself). The
promotion job logs the two figures, and ``bench/promotion.py`` reads them to tell
prbot's own time from the forge's.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

from prbot.scm.port import Scm


@dataclass
class Account:
    scm_seconds: float = 0.0  # wall time with at least one SCM call under way
    scm_calls: int = 0
    _open_calls: int = 0
    _since: float = 0.0

    def started(self) -> None:
        if self._open_calls == 0:
            self._since = time.monotonic()
        self._open_calls += 1

    def ended(self) -> None:
        self._open_calls -= 1
        self.scm_calls += 1
        if self._open_calls == 0:  # calls in parallel count once
            self.scm_seconds += time.monotonic() - self._since


_open: ContextVar[Account | None] = ContextVar("prbot_timing_account", default=None)


@contextlib.contextmanager
def measured() -> Iterator[Account]:
    account = Account()
    token = _open.set(account)
    try:
        yield account
    finally:
        _open.reset(token)


class _TimedScm:
    def __init__(self, scm: Scm) -> None:
        self._scm = scm

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._scm, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        async def timed(*args: Any, **kwargs: Any) -> Any:
            account = _open.get()
            if account is None:
                return await attr(*args, **kwargs)
            account.started()
            try:
                return await attr(*args, **kwargs)
            finally:
                account.ended()

        return timed


def timed_scm(scm: Scm) -> Scm:
    """``scm``, its calls counted into the open account (if any)."""
    return cast(Scm, _TimedScm(scm))
