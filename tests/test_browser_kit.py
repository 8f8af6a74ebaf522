"""The browser tests' own tools (tests/browserkit.py) against a real server: signing in through
the form, and the page log that the other browser tests rely on to see nothing went wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING

import browserkit
import pytest
from browserkit import DemoHall

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_login_through_the_form_lands_on_the_account_page_signed_in(chromium: Browser, demo: DemoHall) -> None:
    page = browserkit.new_page(chromium, demo.url)
    bidder = demo.account("bidders")
    browserkit.login(page, bidder)
    assert page.url == demo.url + "/account"
    assert page.locator("header").get_by_text(bidder["name"]).is_visible()
    browserkit.close(page)


def test_page_log_reports_console_errors_and_error_answers(chromium: Browser, demo: DemoHall) -> None:
    page = browserkit.new_page(chromium, demo.url)
    log = browserkit.watch(page)
    page.goto("/lots/999999")  # no such lot: 404
    page.evaluate("() => console.error('broken on purpose')")
    assert any(p.startswith("HTTP 404: GET") and p.endswith("/lots/999999") for p in log.problems), log.problems
    assert any("broken on purpose" in p for p in log.problems), log.problems
    with pytest.raises(AssertionError, match="broken on purpose"):
        log.assert_clean()
    browserkit.close(page)
