"""Fixtures of the browser tests: one ``tokenfutures serve --demo`` process and one headless
Chromium (Debian's ``chromium`` package driven by Playwright) for the whole session, and a
fresh tab per test that records what the page logs.

The tests marked ``browser`` are skipped, with the reason, where ``/usr/bin/chromium`` or
Playwright is missing (``make chromium`` installs the browser); Playwright's own browser
downloads are never used. The static-file tests need only the server.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .demo_server import DemoServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
VIEWPORT = {"width": 1440, "height": 900}  # a laptop screen
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
TIMEOUT_MS = 20_000


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium package"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (it is a dev dependency)"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = _missing()
    if reason is None:
        return
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    server = DemoServer(tmp_path_factory.mktemp("demo"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
        )
        try:
            yield context
        finally:
            context.close()


@dataclass
class Tab:
    """A browser tab on the demo exchange, with what its console logged."""

    page: Any
    base_url: str
    errors: list[str] = field(default_factory=list)

    def open(self, route: str) -> None:
        self.page.goto(f"{self.base_url}/{route}")

    def screenshot(self, name: str) -> None:
        """The whole page into docs/images/NAME, from the top (the header is sticky)."""
        IMAGES.mkdir(parents=True, exist_ok=True)
        self.page.evaluate("window.scrollTo(0, 0)")
        self.page.screenshot(path=str(IMAGES / name), full_page=True)

    def unexpected_errors(self, *allowed: str) -> list[str]:
        """Console errors and uncaught exceptions, less those containing an allowed text."""
        return [e for e in self.errors if not any(a in e for a in allowed)]


@pytest.fixture
def tab(browser_context: Any, demo: DemoServer) -> Iterator[Tab]:
    page = browser_context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    opened = Tab(page, demo.url)
    page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: opened.errors.append(f"uncaught: {e}"))
    try:
        yield opened
    finally:
        page.close()
