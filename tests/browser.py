"""Playwright (sync API) driving Debian's chromium: a session browser and per-test tabs that record console errors.

Never ``playwright install``: the pip package's driver runs /usr/bin/chromium. Without chromium the browser tests
skip locally and fail in CI (``require_or_skip``). Screenshots go to ``test-artifacts/`` (git-ignored): every
test that fails gets one per open tab, and ``tab.shot(name)`` takes one on purpose.
The sync API marks its event loop as running in this thread between calls, so while a browser is open no
other asyncio code can run here: browser tests are plain (sync) tests, the browser lives for one module only,
and a browser test that must touch the database uses ``tests.servers.run_async`` (another thread).
Import the fixtures into a conftest: ``from tests.browser import browser, tabs  # noqa: F401``, together with
``pytest_runtest_makereport`` from the same module (it tells ``tabs`` whether the test failed).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import require_or_skip

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, Response

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# As root, without a sandbox; no GPU; and no calls home, which this machine's closed network refuses noisily.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@dataclass
class Tab:
    """A page in its own browser context (own cookies, own language) plus what its console said."""

    page: Page
    errors: list[str] = field(default_factory=list)
    test_name: str = "test"

    def goto(self, url: str) -> Response:
        response = self.page.goto(url, wait_until="load")
        assert response is not None, f"no response for {url}"
        return response

    def sign_in(self, login_url: str, email: str, password: str, lands: str = r"/manage$") -> None:
        """Signs in on the back office's form at ``login_url`` and waits for the page it leads to."""
        self.goto(login_url)
        self.page.locator("#f-email").fill(email)
        self.page.locator("#f-password").fill(password)
        self.page.locator("#f-password").press("Enter")
        self.page.wait_for_url(re.compile(lands))

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{_slug(self.test_name)}--{_slug(name)}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:120]


def _ignored(msg: ConsoleMessage) -> bool:
    # The browser asks for /favicon.ico by itself; a page without one is not a page error.
    return msg.location.get("url", "").endswith("/favicon.ico")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    require_or_skip(path is not None, "chromium (/usr/bin/chromium, Debian package 'chromium')")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def tabs(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[..., Tab]]:
    """``tab = tabs(locale="en")`` opens a tab in a fresh context; closed (and photographed on failure) after."""
    opened: list[tuple[Tab, BrowserContext]] = []

    def open_tab(locale: str = "zh-CN", viewport: tuple[int, int] = (1280, 900), **context_args: object) -> Tab:
        context = browser.new_context(
            locale=locale,
            timezone_id="Asia/Shanghai",
            viewport={"width": viewport[0], "height": viewport[1]},
            **context_args,  # type: ignore[arg-type]
        )
        context.set_default_timeout(10_000)
        tab = Tab(context.new_page(), test_name=request.node.name)
        tab.page.on("console", lambda m: m.type == "error" and not _ignored(m) and tab.errors.append(m.text))
        tab.page.on("pageerror", lambda e: tab.errors.append(f"uncaught: {e}"))
        opened.append((tab, context))
        return tab

    yield open_tab
    report = getattr(request.node, "rep_call", None)
    failed = report is not None and report.failed
    for i, (tab, context) in enumerate(opened):
        if failed:
            try:
                tab.shot(f"failed-{i}")
            except Exception:  # a crashed page cannot be photographed; the test's own error says enough
                pass
        context.close()


def open_gate(page: Page, gate_url: str, email: str, password: str, name: str, session_ids: list[str]) -> None:
    """Signs in at ``gate_url`` (/gate sends to the sign-in form) and sets the gate up: its name and the sessions
    it admits (none ticked: every session); the page is then the scanner."""
    from playwright.sync_api import expect

    page.goto(gate_url)
    page.locator("#f-email").fill(email)
    page.locator("#f-password").fill(password)
    page.locator("form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/gate$"))
    page.locator("#gate_name").fill(name)
    for sid in session_ids:
        page.locator(f'input[name="session_ids"][value="{sid}"]').check()
    page.locator("button.gate-go").click()
    expect(page.locator("#gate-raw")).to_be_visible()


def drag_box(page: Page, seats: Locator, first: int, last: int) -> None:
    """Drag a rectangle with the mouse from just outside seat ``first``'s top left to just outside seat ``last``'s
    bottom right (the seat editors' box selection)."""
    a, b = seats.nth(first).bounding_box(), seats.nth(last).bounding_box()
    assert a and b
    page.mouse.move(a["x"] - 6, a["y"] - 6)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] + 6, b["y"] + b["height"] + 6, steps=8)
    page.mouse.up()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
