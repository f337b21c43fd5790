"""Debian's Chromium for the browser tests, driven by Playwright (nothing is downloaded).

Every page is held to loopback (:func:`loopback_only` aborts and lists anything else),
and a failing test leaves a screenshot in its tmp directory, named in the failure
(:func:`screenshot_on_failure`): CI keeps those directories as artifacts.
"""

from __future__ import annotations

import ipaddress
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, Route, async_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@asynccontextmanager
async def system_chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium; fails (never skips) when it cannot run."""
    assert shutil.which(CHROMIUM), "chromium is missing: apt-get install -y chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    """A browser for one test."""
    async with system_chromium() as browser:
        yield browser


async def loopback_only(page: Page) -> list[str]:
    """Aborts every request of ``page`` to anywhere but loopback; the list names them."""
    elsewhere: list[str] = []

    def loopback(host: str) -> bool:
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return host == "localhost"

    async def route(route: Route) -> None:
        if loopback(urlsplit(route.request.url).hostname or ""):
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort()

    await page.route("**/*", route)
    return elsewhere


@asynccontextmanager
async def screenshot_on_failure(page: Page, directory: Path) -> AsyncIterator[None]:
    """On failure, a full-page screenshot in ``directory``, named in the error."""
    try:
        yield
    except BaseException as err:
        shot = directory / "failure.png"
        try:
            await page.screenshot(path=str(shot), full_page=True)
        except Exception as trouble:  # the page may be gone; the failure matters more
            err.add_note(f"no screenshot ({trouble})")
        else:
            print(f"screenshot of the failure: {shot}")
            err.add_note(f"screenshot of the failure: {shot}")
        raise
