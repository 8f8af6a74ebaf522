"""A real browser for the tests: Playwright driving Debian's Chromium against ``hall serve``.

The browser is the system's (``/usr/bin/chromium``, package ``chromium``; the CJK fonts from
``fonts-noto-cjk``), never one Playwright downloads: the machines reach package registries only.
Tests that need it are marked ``browser``; conftest.py skips them when Chromium or Playwright is
missing, and fails them instead when ``HALL_REQUIRE_BROWSER=1`` (CI), so that a broken install
cannot pass as a green run.

Pieces:
- ``unavailable`` says why the browser cannot run, ``require`` skips or fails on it;
- ``chromium`` launches the browser, headless, without its calls home (no sandbox: the
  tests run as root);
- ``demo_hall`` seeds a database with ``hall seed-demo`` and runs ``hall serve`` on it
  (tests/hallkit.py and tests/liveserver.py do the work);
- ``new_page`` opens a page in a context of its own (its own cookies: one person), with a
  language and a viewport; ``login`` signs it in through /login as a person would;
- ``PageLog`` collects what went wrong as the browser saw it: console errors, uncaught
  exceptions, failed requests and responses of 400 and over, and a missing favicon;
- ``expect`` is Playwright's retrying assertions, imported late.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import pytest
from hallkit import seed_demo
from liveserver import Server, running

from hall.web.i18n import translate

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Request, Response

CHROMIUM = Path("/usr/bin/chromium")
ARGS = (
    "--no-sandbox",  # the tests run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    # Without these Chromium calls Google's services at start, and the refused connections
    # would be noise at best.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
REQUIRE = "HALL_REQUIRE_BROWSER"
TIMEOUT_MS = 10_000
"""How long a step waits for the page (Playwright's default is 30 s): long enough for a
loaded machine, short enough that a broken page fails the run quickly."""
ABORTED = "net::ERR_ABORTED"
"""How Chromium reports a request it cancelled itself (``PageLog.failed``)."""
PHONE = {"width": 375, "height": 812}
"""A phone's viewport in CSS pixels (the narrowest the pages must fit without scrolling sideways)."""
DEMO_ARGS = ("--live", "--lots", "3", "--bidders", "4", "--duration", "3600")
"""The default demo: a few running timed lots, far from their end, and a few bidders admitted."""


def unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (sudo apt-get install chromium fonts-noto-cjk)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is missing (make setup installs the dev extras)"
    return None


def required() -> bool:
    return os.environ.get(REQUIRE) == "1"


def require() -> None:
    """Skip the calling test when the browser cannot run, or fail it when it must."""
    reason = unavailable()
    if reason is None:
        return
    if required():
        pytest.fail(f"{REQUIRE}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Playwright and the system's Chromium, for a block: both stopped on the way out.

    Playwright's sync API marks its own event loop as the thread's running loop between calls,
    so while it is started no asyncio loop can run in this thread (the anyio tests do): keep
    the block to the browser tests (conftest.py gives each module its own)."""
    require()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(ARGS), headless=True)
        try:
            yield browser
        finally:
            browser.close()


# ---------------------------------------------------------------------- the server


@dataclass(frozen=True)
class DemoHall:
    """A running ``hall serve`` on a database seeded by ``hall seed-demo``: its base URL and
    what seed-demo printed (lots, and each account's phone and password by role)."""

    server: Server
    seeded: dict[str, Any]

    @property
    def url(self) -> str:
        return self.server.url

    def account(self, role: str, n: int = 0) -> dict[str, Any]:
        """The ``n``-th account of a role as seed-demo names it: bidders, staff, auctioneers,
        sellers, admins."""
        found: dict[str, Any] = self.seeded[role][n]
        return found

    def lots(self, *, state: str = "live", mode: str = "timed") -> list[int]:
        """The demo's lots in that state and mode, by id, as the server reports them now."""
        listed = self.server.get_json("/api/lots")
        return [lot["id"] for lot in listed if lot["state"] == state and lot["mode"] == mode
                and lot["id"] in self.seeded["lots"]]  # fmt: skip


@contextlib.contextmanager
def demo_hall(directory: Path, *seed_args: str) -> Iterator[DemoHall]:
    """Seed ``directory/hall.db`` with ``hall seed-demo`` (``DEMO_ARGS`` unless given) and run
    ``hall serve`` on it, on a free port, for the block."""
    db = directory / "hall.db"
    seeded = seed_demo(db, *(seed_args or DEMO_ARGS))
    with running(db, directory / "server.log") as server:
        yield DemoHall(server, seeded)


# ---------------------------------------------------------------------- pages


def new_page(browser: Browser, base_url: str, *, lang: str | None = None, phone: bool = False) -> Page:
    """A page in a fresh context (no cookies: another person), whose relative URLs go to
    ``base_url``; ``lang`` chooses the interface language through /lang/{lang} as the header's
    link does; ``phone`` gives it a 375 px wide touch screen."""
    options: dict[str, Any] = {"base_url": base_url}
    if phone:
        options |= {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    if lang is not None:
        page.goto(f"/lang/{lang}")
    return page


def login(page: Page, account: dict[str, Any]) -> None:
    """Sign the page's context in through the login form; fail unless it leaves /login."""
    page.goto("/login")
    form = page.locator("form[action='/login']")
    form.locator("input[name=phone]").fill(account["phone"])
    form.locator("input[name=password]").fill(account["password"])
    form.locator("button").click()
    page.wait_for_url(lambda url: not url.split("?")[0].endswith("/login"))


def signed_in(browser: Browser, demo: DemoHall, account: dict[str, Any]) -> tuple[Page, PageLog]:
    """A page of its own for ``account`` (one of ``demo.account``'s), signed in, and the log of
    what went wrong on it from then on."""
    page = new_page(browser, demo.url)
    login(page, account)
    return page, watch(page)


def close(page: Page) -> None:
    page.context.close()


@dataclass
class PageLog:
    """What went wrong on a page as its browser saw it, one line each; ``watch`` starts one."""

    problems: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text} at {message.location.get('url', '?')}")

    def uncaught(self, exc: Exception) -> None:
        self.problems.append(f"uncaught exception: {exc}")

    def failed(self, request: Request) -> None:
        """A request that got no answer. Not one the browser itself cancelled (``ERR_ABORTED``):
        leaving a page cancels what it still fetches, such as the icon Chromium asks for after
        the load, and that is the test moving on, not the hall failing."""
        if request.failure != ABORTED:
            self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def answered(self, response: Response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def check_favicon(self, page: Page) -> None:
        """Fetch the icon the page names (or /favicon.ico): a headless Chromium asks for it once
        per context at most and not through the page's request events, so ask outright."""
        named = page.evaluate("() => { const l = document.querySelector('link[rel~=icon]'); return l ? l.href : null; }")
        url = named or urljoin(page.url, "/favicon.ico")
        answer = page.request.get(url)
        if not answer.ok:
            self.problems.append(f"favicon: HTTP {answer.status} for {url}")

    def assert_clean(self) -> None:
        assert not self.problems, "the browser saw:\n" + "\n".join(self.problems)


def watch(page: Page) -> PageLog:
    """Start collecting what goes wrong on ``page`` (from its next request on)."""
    log = PageLog()
    page.on("console", log.console)
    page.on("pageerror", log.uncaught)
    page.on("requestfailed", log.failed)
    page.on("response", log.answered)
    return log


def settle(page: Page) -> None:
    """Wait until the page has loaded and, on a live page, its connection badge says it follows
    its lots (online) or, on a lot that is over, that nothing more will change (over)."""
    page.wait_for_load_state("load")
    if page.locator("#hall-conn").count():
        page.locator("#hall-conn[data-conn=online], #hall-conn[data-conn=over]").wait_for(state="attached")


def expect(target: Any) -> Any:
    """Playwright's retrying assertions (``expect(locator).to_have_text(...)``), imported only
    once a browser test runs so that a machine without Playwright still collects the tests."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def zh(key: str) -> str:
    """A catalogue string as the pages say it in Simplified Chinese (the tests' language)."""
    return translate(key, "zh")


def header_link(page: Page, key: str) -> Locator:
    """The header's link named by catalogue ``key``, in Chinese."""
    return page.locator("header").get_by_role("link", name=zh(key), exact=True)
