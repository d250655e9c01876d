"""Polling until something holds, for tests that watch work done elsewhere."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


async def wait_for(
    check: Callable[[], Any], *, timeout: float = 10.0, every: float = 0.02, what: str = ""
) -> Any:
    """Call ``check`` (sync, or returning an awaitable) until it returns something truthy,
    and return that; an AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what or check}")
        await asyncio.sleep(every)
