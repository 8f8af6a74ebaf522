"""Every main page on a 375 px phone, in both languages, as the visitor who sees it: nothing
wider than the screen, no console error, no failed request, a favicon that answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import browserkit
import pytest
from browserkit import DemoHall

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGES: Final[dict[str, tuple[str, ...]]] = {
    "": ("/", "/help", "/login", "/signup", "/lots/{lot}"),
    "bidders": ("/account", "/account/registrations", "/account/bids", "/account/verification", "/inbox",
                "/lots/{lot}", "/lots/{lot}/register"),
    "staff": ("/staff/verifications", "/staff/registrations"),
    "admins": ("/admin/roles",),
    "auctioneers": ("/console",),
}
"""By seed-demo's role ("" for anonymous): the pages that visitor reaches from the header."""


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("role", list(PAGES))
def test_pages_fit_a_phone_without_sideways_scroll_or_console_errors(
    chromium: Browser, demo: DemoHall, role: str, lang: str
) -> None:
    page = browserkit.new_page(chromium, demo.url, lang=lang, phone=True)
    if role:
        browserkit.login(page, demo.account(role))
    lot = demo.lots()[0]
    log = browserkit.watch(page)
    too_wide = {}
    for path in PAGES[role]:
        page.goto(path.format(lot=lot))
        browserkit.settle(page)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        if width > browserkit.PHONE["width"]:
            too_wide[path] = width
    log.check_favicon(page)
    browserkit.close(page)
    assert not too_wide, too_wide
    log.assert_clean()
