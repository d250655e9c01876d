"""A real headless browser for the pages' tests: Debian's chromium (``./dev test``
installs it) driven by playwright, with JavaScript on or off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import Browser, BrowserContext, async_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def context(
    browser: Browser, *, javascript: bool = True, headers: dict[str, str] | None = None
) -> AsyncIterator[BrowserContext]:
    """One person's browser: its own cookies; ``headers`` on every request it sends."""
    ctx = await browser.new_context(
        java_script_enabled=javascript, extra_http_headers=headers or {}
    )
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        await ctx.close()
