"""Server-sent events for the pages that follow something live (a promotion, a run):
the value read from the store, sent each time it changes. The store is read once per
``EVERY`` seconds for at most ``LASTS`` seconds; the browser's EventSource reconnects."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

LASTS = 600.0
EVERY = 1.0


async def stream_changes(
    request: web.Request,
    key: str,
    read: Callable[[], Awaitable[Any]],
    *,
    done: Callable[[Any], bool] = lambda value: False,
) -> web.StreamResponse:
    """``data: {key: value}`` whenever ``read()`` gives a new value; the stream ends when
    it gives None (gone) or a value ``done`` says is final."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    seen: Any = None
    deadline = time.monotonic() + LASTS
    while time.monotonic() < deadline:
        value = await read()
        if value is None:
            break
        if value != seen:
            seen = value
            await response.write(f"data: {json.dumps({key: value})}\n\n".encode())
            if done(value):
                break
        await asyncio.sleep(EVERY)
    return response
