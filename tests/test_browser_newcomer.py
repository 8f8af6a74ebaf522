"""A newcomer's whole path through the hall in a real browser, every step a click on the pages:
sign up with an SMS code, real-name verification with a licence upload, staff approval,
registration for a lot in publicity with the commitment letter, staff approval, and a bid.

The lot is the demo's auctioneer-run lot in publicity whose registration is open
(``publicity_lots``, mode ``live``): approval admits the bidder at once, and the auctioneer may
open such a lot before its planned start, so the bid is real and needs no clock tricks. A timed
lot in publicity would not open for days.

Three people, each in a browser context of their own: the newcomer, a staff reviewer and the
auctioneer. What they read is checked against the message catalogue, and none of their pages may
log a console error or answer an error status on the way.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import browserkit
import pytest
from browserkit import DemoHall, expect, header_link
from browserkit import zh as _
from hallkit import PDF, sms_code

from hall.auth.codes import TTL_MS
from hall.demo import LIVE_SESSION
from hall.registration import beijing, deadline

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = "13800138000"
"""The newcomer's own number, no demo account's (those are 1390000xxxx and 1390001xxxx)."""
NAME = "张伟"
ORG = "苏州启明智能科技有限公司"
PASSWORD = "newcomer-passw0rd"


def png() -> bytes:
    """A real 1×1 white PNG (signature, IHDR, IDAT, IEND with their CRCs): a scan as far as the
    upload's content check and any image viewer are concerned."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1×1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\xff\xff")  # filter byte, one white pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def row_of(page: Page, text: str) -> Locator:
    """The one table row of a review queue that mentions ``text`` (the applicant's phone)."""
    row = page.locator("tr", has_text=text)
    expect(row).to_have_count(1)
    return row


def approve(page: Page, kind: str, phone: str, document: bytes) -> Locator:
    """As staff: open the review queue from the header, filter it to one kind of application
    (``kind``: the catalogue key of its name), open the applicant's document (it must be the
    file they uploaded, byte for byte), approve their pending row, and return the row as it
    stands among the recent decisions.

    Chromium reports a link whose answer is a download (the files are served as attachments) as
    a request it cancelled (``net::ERR_ABORTED``): the navigation is abandoned for the download.
    ``browserkit.PageLog`` does not count such requests as failures."""
    header_link(page, "review_queue").click()
    expect(page.get_by_role("heading", name=_("review_queue"), exact=True)).to_be_visible()
    page.locator("nav.filters").get_by_role("link", name=_(kind), exact=True).click()
    pending = row_of(page, phone)
    with page.expect_download() as download:
        pending.get_by_role("link", name=_("open_file"), exact=True).click()
    assert Path(download.value.path()).read_bytes() == document
    pending.get_by_role("button", name=_("approve"), exact=True).click()
    decided = row_of(page, phone)
    expect(decided).to_contain_text(_("approved"))
    expect(decided.get_by_role("button")).to_have_count(0)  # out of the pending queue
    return decided


def auctioneer_run_lot_open_for_registration(demo: DemoHall) -> dict[str, Any]:
    """The demo's one auctioneer-run lot among those whose registration is open, as listed."""
    (found,) = [listed for listed in demo.server.get_json("/api/lots")
                if listed["id"] in demo.seeded["publicity_lots"] and listed["mode"] == "live"]  # fmt: skip
    assert found["state"] == "publicity" and found["bid_count"] == 0
    return found


def test_a_newcomer_signs_up_is_verified_registers_is_admitted_and_bids(chromium: Browser, demo: DemoHall) -> None:
    listed = auctioneer_run_lot_open_for_registration(demo)
    lot, title, start = listed["id"], listed["title"], listed["start_price"]
    user = browserkit.new_page(chromium, demo.url)
    user_log = browserkit.watch(user)
    staff, staff_log = browserkit.signed_in(chromium, demo, demo.account("staff"))
    auctioneer, auctioneer_log = browserkit.signed_in(chromium, demo, demo.account("auctioneers"))

    # Sign up: the phone first, then the code that came by SMS, a name and a password.
    user.goto("/")
    header_link(user, "signup").click()
    expect(user.get_by_role("heading", name=_("signup"), exact=True)).to_be_visible()
    send = user.locator("#send-code-form")
    send.get_by_label(_("phone")).fill(PHONE)
    send.get_by_role("button", name=_("send_code"), exact=True).click()
    expect(user.get_by_role("alert")).to_have_text(_("code_sent").format(minutes=TTL_MS // 60_000))
    form = user.locator("#signup-form")
    expect(form.get_by_label(_("phone"))).to_have_value(PHONE)
    form.get_by_label(_("sms_code")).fill(sms_code(demo.server.db, PHONE))
    form.get_by_label(_("name"), exact=True).fill(NAME)
    form.get_by_label(_("password"), exact=True).fill(PASSWORD)
    form.get_by_role("button", name=_("signup"), exact=True).click()
    user.wait_for_url(lambda url: "/signup" not in url)
    expect(header_link(user, "signup")).to_have_count(0)  # signed in: the header names the newcomer

    # Real-name verification, as an organisation with its licence, from the account page.
    user.locator("header").get_by_role("link", name=NAME, exact=True).click()
    expect(user.locator("main")).to_contain_text(_("not_verified"))
    user.locator("main").get_by_role("link", name=_("verification"), exact=True).click()
    user.get_by_label(_("organisation"), exact=True).check()
    user.get_by_label(_("real_name"), exact=True).fill(NAME)
    user.get_by_label(_("org_name"), exact=True).fill(ORG)
    user.get_by_label(_("org_kind")).select_option(label=_("org_kind_enterprise"))
    licence = png()
    user.get_by_label(_("document"), exact=True).set_input_files(
        {"name": "营业执照.png", "mimeType": "image/png", "buffer": licence})
    user.get_by_role("button", name=_("submit"), exact=True).click()
    expect(user.get_by_text(_("verification_pending"), exact=True)).to_be_visible()

    decided = approve(staff, "verification", PHONE, licence)
    expect(decided).to_contain_text(ORG)
    user.reload()
    expect(user.get_by_text(_("verification_done"), exact=True)).to_be_visible()

    # Registration for the lot, found in the hall's list, with the commitment letter.
    header_link(user, "site").click()
    user.get_by_role("link", name=title, exact=True).click()
    expect(user.get_by_role("heading", name=title, exact=True)).to_be_visible()
    expect(user.locator("#bid")).to_contain_text(_("not_registered_note"))
    user.locator("#bid").get_by_role("link", name=_("register_for_lot"), exact=True).click()
    expect(user.locator("main")).to_contain_text(beijing(deadline(listed["bidding_start"])))  # 16:00 the day before
    user.get_by_label(_("letter"), exact=True).set_input_files(
        {"name": "网络竞价承诺函.pdf", "mimeType": "application/pdf", "buffer": PDF})
    user.get_by_role("button", name=_("submit"), exact=True).click()
    expect(user.locator("[data-status]")).to_have_text(_("pending"))

    approve(staff, "registration_kind", PHONE, PDF)
    user.reload()
    expect(user.locator("[data-status]")).to_have_text(_("approved"))
    number = user.locator("[data-number]").inner_text()
    assert number.isdigit(), number
    expect(row_of(staff, PHONE)).to_contain_text(number)

    # Back on the lot page: the bidder number, and a note that bidding has not started.
    user.get_by_role("link", name=_("back_to_lot"), exact=True).click()
    browserkit.settle(user)
    expect(user.locator("#my-status")).to_have_attribute("data-number", number)
    expect(user.locator("#bid")).to_contain_text(f"{_('your_number')}：{number}")
    expect(user.get_by_text(_("bid_not_open_note"), exact=True)).to_be_visible()
    expect(user.locator(".bid-form")).to_be_hidden()
    user.evaluate("() => { window.loadedOnce = true; }")  # gone if the page reloads

    # The auctioneer opens the lot; the newcomer's open page shows the bid form by itself.
    header_link(auctioneer, "console").click()
    auctioneer.locator("nav").get_by_role("link", name=LIVE_SESSION, exact=True).click()
    tile = auctioneer.locator(f"#lot-{lot}")
    tile.locator(".command-open").get_by_role("button", name=_("action_open"), exact=True).click()
    expect(tile.get_by_role("alert")).to_have_text(_("done_command"))
    expect(user.locator(".bid-form")).to_be_visible()
    expect(user.get_by_text(_("bid_not_open_note"), exact=True)).to_be_hidden()

    # The first bid: the form offers the start price; confirm it.
    expect(user.locator("#bid-amount")).to_have_value(str(start))
    user.locator(".bid-form").get_by_role("button", name=_("place_bid"), exact=True).click()
    confirmation = user.locator(".confirm")
    expect(confirmation).to_contain_text(_("confirm_bid_text").format(amount=f"{start:,}"))
    confirmation.get_by_role("button", name=_("confirm_bid"), exact=True).click()
    expect(user.locator("#bid-result").get_by_role("alert")).to_have_text(_("bid_accepted"))
    expect(user.locator("#my-status")).to_have_text(_("status_leading"))
    expect(user.locator(f"#lot-{lot}-leader")).to_have_text(number)
    expect(tile.locator(f"#lot-{lot}-leader")).to_have_text(number)  # the auctioneer sees it live too
    assert user.evaluate("() => window.loadedOnce === true"), "the newcomer's lot page was reloaded"
    after = demo.server.get_json(f"/api/lots/{lot}")
    assert (after["state"], after["price"], after["bid_count"]) == ("live", start, 1)

    for log in (user_log, staff_log, auctioneer_log):
        log.assert_clean()
    for page in (user, staff, auctioneer):
        browserkit.close(page)
