"""Driving the manifest flow as a browser would, with plain HTTP: the local page's form is
posted to the forge, the forge's confirm form is posted as a signed-in forge user, and the
redirect to the local callback is followed."""

from __future__ import annotations

import asyncio
import re
from html import unescape

import httpx

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
FORM = re.compile(r'<form method="post" action="([^"]+)">')


def form_of(html: str) -> tuple[str, dict[str, str]]:
    """The first form's action and hidden fields."""
    action = FORM.search(html)
    assert action is not None, html
    return unescape(action.group(1)), {unescape(k): unescape(v) for k, v in HIDDEN.findall(html)}


async def announced_url(lines: list[str], task: asyncio.Task) -> str:
    """The local page's address, once ``prbot setup github`` printed it."""
    for _ in range(500):
        if task.done():
            task.result()  # raises what stopped it
        for line in lines:
            if match := re.search(r"http://127\.0\.0\.1:\d+/", line):
                return match.group(0)
        await asyncio.sleep(0.01)
    raise AssertionError(f"no address announced: {lines}")


async def register_app(
    page_url: str, login: str, *, http: httpx.AsyncClient | None = None
) -> httpx.Response:
    """Open the local page, post its manifest to the forge, confirm as ``login``, follow the
    redirect back; the last answer (the local callback's page)."""
    own = http is None
    http = http or httpx.AsyncClient(timeout=30)
    try:
        page = await http.get(page_url)
        assert page.status_code == 200, page.text
        action, fields = form_of(page.text)
        confirm = await http.post(action, data=fields)
        assert confirm.status_code == 200, confirm.text
        confirm_action, confirm_fields = form_of(confirm.text)
        confirm_url = httpx.URL(action).join(confirm_action)
        answer = await http.post(
            confirm_url, data={**confirm_fields, "login": login, "decision": "create"}
        )
        assert answer.status_code == 302, answer.text
        return await http.get(answer.headers["Location"])
    finally:
        if own:
            await http.aclose()
