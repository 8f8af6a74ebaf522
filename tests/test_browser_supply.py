"""The supply side in a real browser (issue 11), every step a click on the pages: a demo seller
lists one of its patents through the as-you-type lookup, staff approve it in the review queue,
create a session, add the item as a lot and publish it, and a bidder's hall page, open since
before the publish, shows the new lot without a reload.

Three people, each in a browser context of their own: the seller (南京大学, the demo's first),
a staff reviewer and a bidder. What they read is checked against the message catalogue in
Chinese, and none of their pages may log a console error or answer an error status on the way.
The session is created on the real clock: bidding on a session day (AU-1) at least two days
ahead, so that its registration is open and publishing is allowed whatever the hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import browserkit
import pytest
from browserkit import DemoHall, expect, header_link
from browserkit import zh as _

from hall.auctions import offered_days
from hall.demo_patents import demo_patents
from hall.patents import LegalStatus
from hall.registration import SHANGHAI

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TYPED = "图像分割"
"""What the seller types in the title: part of one of its demo patents' titles."""
SESSION = "人工智能专利专场"
START_PRICE = 300_000
INCREMENT = 5_000


def signed_in(browser: Browser, demo: DemoHall, role: str) -> tuple[Page, browserkit.PageLog]:
    page = browserkit.new_page(browser, demo.url)
    log = browserkit.watch(page)
    browserkit.login(page, demo.account(role))
    return page, log


def minute(instant: datetime) -> str:
    """A Beijing time as a datetime-local input takes it."""
    return instant.strftime("%Y-%m-%dT%H:%M")


def test_a_seller_lists_a_patent_through_the_lookup_staff_approve_and_publish_it_and_an_open_hall_shows_it(
    chromium: Browser, demo: DemoHall
) -> None:
    holder = demo.account("sellers")["name"]
    (patent,) = [p for p in demo_patents() if p.holder == holder and TYPED in p.title]
    assert patent.legal_status is LegalStatus.VALID and patent.grant_date is not None
    seller, seller_log = signed_in(chromium, demo, "sellers")
    staff, staff_log = signed_in(chromium, demo, "staff")
    bidder, bidder_log = signed_in(chromium, demo, "bidders")

    # The bidder's hall page is open from the start, and never reloads.
    bidder.goto("/")
    browserkit.settle(bidder)
    bidder.evaluate("() => { window.loadedOnce = true; }")
    expect(bidder.get_by_role("link", name=patent.title, exact=True)).to_have_count(0)

    # The seller: seller centre, the patent form, the lookup as it types, a pick fills the fields.
    header_link(seller, "seller_centre").click()
    expect(seller.get_by_role("heading", name=_("seller_centre"), exact=True)).to_be_visible()
    seller.get_by_role("link", name=f"{_('listing_new')} · {_('kind_patent')}", exact=True).click()
    expect(seller.get_by_role("heading", name=_("listing_new"), exact=True)).to_be_visible()
    form = seller.locator("#listing-form")
    form.get_by_label(_("listing_f_title_patent")).press_sequentially(TYPED, delay=60)
    pick = seller.locator("#patent-matches button.patent-pick", has_text=patent.number)
    expect(pick).to_contain_text(patent.title)
    expect(pick).to_contain_text(holder)
    expect(pick).to_contain_text(_("legal_status_valid"))
    pick.click()
    expect(form.get_by_label(_("listing_f_title_patent"))).to_have_value(patent.title)
    expect(form.get_by_label(_("listing_f_number_patent"))).to_have_value(patent.number)
    expect(form.get_by_label(_("listing_holders"), exact=True)).to_have_value(holder)
    expect(form.get_by_label(_("listing_f_grant_date"))).to_have_value(patent.grant_date.isoformat())
    expect(form.get_by_label(_("listing_f_ipc"))).to_have_value(patent.ipc)
    expect(form.get_by_label(_("listing_f_legal_status"))).to_have_value("valid")
    form.get_by_label(_("form_transfer"), exact=True).check()
    form.get_by_label(_("start_price")).fill(str(START_PRICE))
    form.get_by_label(_("listing_agreement_accept")).check()
    form.get_by_role("button", name=_("listing_submit"), exact=True).click()
    expect(seller.get_by_role("heading", name=patent.title, exact=True)).to_be_visible()
    expect(seller.locator("[data-state]")).to_have_text(_("listing_state_pending"))
    expect(seller.locator("[data-ownership]")).to_have_text(_("ownership_own"))
    listing_url = seller.url

    # Staff: the review queue, filtered to listings; approve the seller's new item.
    header_link(staff, "review_queue").click()
    staff.locator("nav.filters").get_by_role("link", name=_("review_kind_listing"), exact=True).click()
    row = staff.locator("tr", has_text=patent.title)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(patent.number)
    row.get_by_role("button", name=_("approve"), exact=True).click()
    decided = staff.locator("tr", has_text=patent.title)
    expect(decided).to_contain_text(_("approved"))
    seller.reload()
    expect(seller.locator("[data-state]")).to_have_text(_("listing_state_listed"))

    # Staff: a new session, the item as its lot, publish.
    header_link(staff, "au_sessions").click()
    now = datetime.now(SHANGHAI)
    day = next(d for d in offered_days(now.date()) if d >= now.date() + timedelta(days=2))
    new = staff.locator("form[action='/staff/sessions']")
    new.get_by_label(_("au_name")).fill(SESSION)
    new.get_by_label(_("au_industry")).select_option(label=_("industry_new_it"))
    new.get_by_label(_("au_date")).select_option(value=day.isoformat())
    new.get_by_label(_("mode")).select_option(label=_("mode_timed"))
    new.get_by_label(_("publicity_start")).fill(minute(now - timedelta(minutes=1)))
    new.get_by_label(_("bidding_start")).fill(f"{day.isoformat()}T10:00")
    new.get_by_label(_("au_bidding_end")).fill(f"{day.isoformat()}T12:00")
    new.get_by_role("button", name=_("au_create"), exact=True).click()
    expect(staff.get_by_role("heading", name=SESSION, exact=True)).to_be_visible()
    add = staff.locator("form[action$='/lots']")
    option = add.locator("option", has_text=patent.title)
    add.get_by_label(_("au_listing")).select_option(value=option.get_attribute("value"))
    add.get_by_label(_("increment")).fill(str(INCREMENT))
    add.get_by_role("button", name=_("au_add"), exact=True).click()
    expect(staff.get_by_role("status")).to_have_text(_("au_done_add"))
    expect(staff.locator("main table")).to_contain_text(patent.title)
    staff.locator("form[action$='/publish']").get_by_role("button", name=_("au_publish"), exact=True).click()
    expect(staff.get_by_role("status")).to_have_text(_("au_done_publish"))

    # The bidder's open hall page shows the new lot, in publicity, without a reload.
    fresh = bidder.locator("#hall-new")
    expect(fresh).to_contain_text(f"{_('au_new_lots')}{_('colon')}{SESSION}")
    expect(fresh.get_by_role("link", name=patent.title, exact=True)).to_be_visible()
    expect(fresh).to_contain_text(_("state_publicity"))
    assert bidder.evaluate("() => window.loadedOnce === true"), "the bidder's hall page was reloaded"
    (lot,) = [listed for listed in demo.server.get_json("/api/lots") if listed["title"] == patent.title]
    assert (lot["state"], lot["session"], lot["start_price"]) == ("publicity", SESSION, START_PRICE)

    # The seller reads that its item is in a session, and sees its lot.
    seller.goto(listing_url)
    expect(seller.locator("[data-state]")).to_have_text(_("listing_state_in_session"))
    header_link(seller, "seller_centre").click()
    expect(seller.locator("#state-in_session")).to_contain_text(patent.title)
    expect(seller.locator("main").get_by_role("link", name=f"#{lot['id']}", exact=True)).to_be_visible()

    for log in (seller_log, staff_log, bidder_log):
        log.assert_clean()
    for page in (seller, staff, bidder):
        browserkit.close(page)
