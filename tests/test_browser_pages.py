"""Every main page on a phone, in each language: 375 CSS pixels wide without scrolling sideways,
and nothing going wrong in the browser (no console error, no uncaught exception, no failed or
refused request, a favicon).

One server for the module (conftest.py's ``demo``); each case is a fresh browser context, signed
in as the person who would open that page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import browserkit
import pytest
from browserkit import DemoHall, expect

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOT = "{lot}"
"""Stands for a running timed lot of the demo in a path."""

PAGES = [
    # (who opens it: an account role of seed-demo's JSON or None for a visitor, the path)
    (None, "/"),
    (None, f"/lots/{LOT}"),
    (None, "/login"),
    (None, "/signup"),
    ("bidders", f"/lots/{LOT}"),
    ("bidders", "/account"),
    ("bidders", "/inbox"),
    ("bidders", "/account/verification"),
    ("staff", "/staff/verifications"),
    ("staff", "/staff/registrations"),
    ("auctioneers", "/console"),
    ("admins", "/admin/roles"),
]
HTML_LANG = {"zh": "zh-CN", "en": "en"}
WIDEST = """width => Array.from(document.body.querySelectorAll("*"))
    .filter(el => el.getBoundingClientRect().right > width && el.parentElement.getBoundingClientRect().right <= width)
    .slice(0, 5)
    .map(el => [el.parentElement, el].map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
                                             + (e.className ? "." + String(e.className).split(" ").join(".") : "")).join(" > ")
               + " to " + Math.round(el.getBoundingClientRect().right) + " px")"""
"""The outermost elements that stick out past ``width``, to say what makes a page too wide."""


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("who", "path"), PAGES, ids=[f"{who or 'visitor'}:{path}" for who, path in PAGES])
def test_main_page_fits_a_phone_and_logs_no_error(
    chromium: Browser, demo: DemoHall, who: str | None, path: str, lang: str
) -> None:
    page = browserkit.new_page(chromium, demo.url, lang=lang, phone=True)
    if who is not None:
        browserkit.login(page, demo.account(who))
    log = browserkit.watch(page)
    path = path.replace(LOT, str(demo.lots()[0]))
    page.goto(path)
    browserkit.settle(page)

    expect(page.locator("html")).to_have_attribute("lang", HTML_LANG[lang])
    assert page.url.split("?")[0] == demo.url + path, "sent elsewhere"
    phone = browserkit.PHONE["width"]
    width = page.evaluate("() => document.documentElement.scrollWidth")
    log.check_favicon(page)
    problems = list(log.problems)
    if width > phone:
        problems.insert(0, f"{width} px wide, scrolls sideways on a {phone} px phone: {page.evaluate(WIDEST, phone)}")
    assert not problems, "\n".join(problems)
    browserkit.close(page)
