"""Bidding from the lot page in a real browser: the form, its confirmation, the live update of
another bidder's open page, and the message a refused bid leaves, in each language.

One server for the module; each test bids on a running timed lot of its own, so that none sees
another's bids.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import browserkit
import pytest
from browserkit import DemoHall, expect

from hall.web.i18n import text, translate

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoHall]:
    """Running timed lots enough for every test of the module to have its own."""
    with browserkit.demo_hall(tmp_path_factory.mktemp("bidding"), "--live", "--lots", "6", "--bidders", "2",
                              "--duration", "3600") as found:  # fmt: skip
        yield found


@pytest.fixture(scope="module")
def free_lots(demo: DemoHall) -> Iterator[int]:
    """Running timed lots nobody has bid on, one for each test that asks."""
    return iter(demo.lots(state="live", mode="timed"))


def bidder_on_lot(chromium: Browser, demo: DemoHall, bidder: int, lot: int, lang: str | None = None) -> Page:
    """A signed-in bidder's open lot page, following the lot live."""
    page = browserkit.new_page(chromium, demo.url, lang=lang)
    browserkit.login(page, demo.account("bidders", bidder))
    page.goto(f"/lots/{lot}")
    browserkit.settle(page)
    return page


def yuan(amount: int) -> str:
    return f"¥{amount:,}"


def bid_and_confirm_if_asked(page: Page, amount: int) -> None:
    """Type ``amount`` into the bid form and press 出价; confirm when the page asks. A refused
    bid may be caught before the confirmation (the page's own check) or after it (the server's):
    either way the bidder must end up reading a message. The page must show no message before."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.locator("#bid-amount").fill(str(amount))
    page.locator(".bid-form button.primary").click()
    confirmation = page.locator(".confirm")
    try:
        confirmation.or_(page.get_by_role("alert")).first.wait_for()
    except PlaywrightTimeout:
        native = page.locator("#bid-amount").evaluate("el => el.validationMessage")
        raise AssertionError(f"pressing 出价 with {amount} showed neither a confirmation nor a message; "
                             f"the browser's own form check says: {native!r}") from None  # fmt: skip
    if confirmation.is_visible():
        confirmation.locator("button.primary").click()


def test_a_bid_through_the_form_shows_on_another_bidders_open_page_without_a_reload(
    chromium: Browser, demo: DemoHall, free_lots: Iterator[int]
) -> None:
    lot = next(free_lots)
    bidder = bidder_on_lot(chromium, demo, 0, lot)
    watcher = bidder_on_lot(chromium, demo, 1, lot)
    # From here on: the pages' loading is the smoke test's (test_browser_pages.py), the bid is this one's.
    bidder_log, watcher_log = browserkit.watch(bidder), browserkit.watch(watcher)
    watcher.evaluate("() => { window.loadedOnce = true; }")  # gone if the page reloads
    number = bidder.locator("#my-status").get_attribute("data-number")
    amount = int(bidder.locator("#bid-amount").input_value())  # the lowest acceptable bid, filled in

    bidder.locator(".bid-form button.primary").click()
    confirmation = bidder.locator(".confirm")
    expect(confirmation).to_contain_text(translate("confirm_bid_text", "zh").format(amount=f"{amount:,}"))
    confirmation.get_by_role("button", name=translate("confirm_bid", "zh")).click()

    expect(bidder.locator("#bid-result [role=alert]")).to_have_text(translate("bid_accepted", "zh"))
    expect(bidder.locator("#my-status")).to_have_text(translate("status_leading", "zh"))
    expect(watcher.locator(f"#lot-{lot}-price")).to_have_attribute("data-price", str(amount))
    expect(watcher.locator(f"#lot-{lot}-price")).to_have_text(yuan(amount))
    expect(watcher.locator(f"#lot-{lot}-leader")).to_have_text(str(number))
    row = watcher.locator(f"#lot-{lot}-record li").first
    expect(row).to_have_attribute("data-bidder", str(number))
    expect(row.locator(".amount")).to_have_text(yuan(amount))
    assert watcher.evaluate("() => window.loadedOnce === true"), "the watcher's page was reloaded"
    bidder_log.assert_clean()
    watcher_log.assert_clean()
    browserkit.close(bidder)
    browserkit.close(watcher)


@pytest.mark.parametrize("refusal", ["bad_increment", "too_low"])
def test_a_refused_bid_tells_the_bidder_why_in_chinese_then_in_english(
    chromium: Browser, demo: DemoHall, free_lots: Iterator[int], refusal: str
) -> None:
    lot = next(free_lots)
    page = bidder_on_lot(chromium, demo, 0, lot)
    snapshot = demo.server.snapshot(lot)
    start, increment = snapshot["start_price"], snapshot["increment"]
    if refusal == "too_low":  # a first bid, then the same amount again
        bid_and_confirm_if_asked(page, start)
        expect(page.get_by_role("alert")).to_have_text(translate("bid_accepted", "zh"))
        page.reload()  # no message left over from the first bid to be mistaken for the next one's
        browserkit.settle(page)
        wrong = start
        key, fields = "bid_below_lowest", {"lowest": f"{start + increment:,}"}
    else:  # half an increment over the start price
        wrong = start + increment // 2
        key, fields = "bid_wrong_increment", {"increment": f"{increment:,}", "below": f"{start:,}",
                                              "above": f"{start + increment:,}"}  # fmt: skip

    # Said by the page's own check before the confirmation, in the words the server's would use.
    bid_and_confirm_if_asked(page, wrong)
    expect(page.get_by_role("alert")).to_have_attribute("data-code", refusal)
    expect(page.get_by_role("alert")).to_have_text(text(key, "zh", fields))

    page.locator("header").get_by_role("link", name="English").click()  # /lang/en
    page.goto(f"/lots/{lot}")
    browserkit.settle(page)
    bid_and_confirm_if_asked(page, wrong)
    expect(page.get_by_role("alert")).to_have_text(text(key, "en", fields))
    browserkit.close(page)
