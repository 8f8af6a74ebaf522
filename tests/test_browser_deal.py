"""From the hammer to the certificate in real browsers, every step a click on the pages (issue 12):
the auctioneer opens the demo's auctioneer-run lot, a bidder bids on the lot page and the
auctioneer hammers it to them; then the buyer and the seller, each in a browser context of their
own, find the deal in 我的账户 > 交易记录, download the 《网络竞价成交通知书》, upload their signed
contracts, the buyer the payment proof, the seller confirms it, both confirm the handover, and
both download the 《交易凭证》. Last, a visitor with no account types the code printed on the
documents into /verify and sees the deal's public facts, without a phone number or a name.

The documents are read back with pypdf and held to what the pages and the public record say:
the organisations, the price in figures and in Chinese capitals, and the lot record's final
digest from ``GET /api/lots/{id}/record``. What each person reads is checked against the message
catalogue; no page may log a console error or answer an error status on the way.
"""

from __future__ import annotations

import contextlib
import io
import re
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import browserkit
import msgspec
import pypdf
import pytest
from browserkit import DemoHall, expect
from browserkit import zh as _

from hall.demo import LIVE_SESSION
from hall.engine.spec import LotSpec
from hall.money import capitals, figures

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STEPS = (
    ("notified", "exchange"), ("contract_uploaded", "buyer"), ("contract_uploaded", "seller"),
    ("contracted", "seller"), ("payment_uploaded", "buyer"), ("payment_confirmed", "seller"),
    ("handover_confirmed", "buyer"), ("handover_confirmed", "seller"), ("handed_over", "seller"),
    ("certified", "exchange"),
)  # fmt: skip
"""The deal's steps as its page lists them at the end: (action, by whom), the exchange's own
being the notice and the certificate."""
PHONE_NUMBER = re.compile(r"1[3-9]\d{9}")
"""A mainland mobile number, as the demo's accounts have (AC-1)."""


def signed_scan(title: str) -> bytes:
    """A one-page PDF standing for a signed and stamped document's scan (pypdf writes it): a real
    PDF as far as the upload's checks and a viewer are concerned."""
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)  # A4 in points
    writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-"), data[:20]
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def seller_of(demo: DemoHall, lot: int) -> dict[str, Any]:
    """The demo seller account of the organisation that sells ``lot`` (the lot's spec names it)."""
    with contextlib.closing(sqlite3.connect(demo.server.db)) as db:
        [(spec,)] = db.execute("SELECT spec FROM lots WHERE id = ?", (lot,)).fetchall()
    org = msgspec.msgpack.decode(spec, type=LotSpec).seller_org
    [seller] = [s for s in demo.seeded["sellers"] if s["org"] == org]
    found: dict[str, Any] = seller
    return found


def deal_of(demo: DemoHall, lot: int) -> int:
    """The deal the hammer made. It is derived from the journal's close by a task that runs once
    the close is durable, which may be a moment after the pages show the hammer: wait for it."""
    waited_until = time.monotonic() + browserkit.TIMEOUT_MS / 1000
    while True:
        with contextlib.closing(sqlite3.connect(demo.server.db)) as db:
            found = db.execute("SELECT id FROM deals WHERE lot = ?", (lot,)).fetchall()
        if found:
            [(deal,)] = found
            return int(deal)
        assert time.monotonic() < waited_until, f"no deal for lot {lot}"
        time.sleep(0.05)


def link(scope: Page | Locator, key: str) -> Locator:
    return scope.get_by_role("link", name=_(key), exact=True)


def download(page: Page, key: str) -> tuple[str, bytes]:
    """Click the page's download link named by ``key``: the file's suggested name and bytes."""
    with page.expect_download() as started:
        link(page, key).click()
    return started.value.suggested_filename, Path(started.value.path()).read_bytes()


def open_from_records(page: Page, account: dict[str, Any], deal: int, side: str) -> None:
    """As a party: from the header to 我的账户 > 交易记录, where the new deal stands with the
    party's side and its next step, then to the deal's page."""
    page.locator("header").get_by_role("link", name=account["name"], exact=True).click()
    link(page.locator("main"), "my_deals").click()
    expect(page.get_by_role("heading", name=_("my_deals"), exact=True)).to_be_visible()
    row = page.locator(f"tr[data-deal='{deal}']")
    expect(row).to_contain_text(_(f"deal_party_{side}"))
    expect(row).to_contain_text(_("deal_state_notified"))
    expect(link(row, "deal_next_notified")).to_be_visible()
    row.locator("a.data").click()  # the notice number
    expect(page.locator("#deal-state")).to_have_text(_("deal_state_notified"))
    expect(page.locator("table[data-deal]")).to_contain_text(_(f"deal_party_{side}"))


def hand_in(page: Page, step: str, name: str, data: bytes) -> None:
    """Upload a document through the deal page's form for ``step`` (contract or payment)."""
    form = page.locator(f"form[data-step={step}]")
    form.get_by_label(_("deal_file")).set_input_files({"name": name, "mimeType": "application/pdf", "buffer": data})
    form.get_by_role("button", name=_(f"deal_step_{step}"), exact=True).click()


def documents(page: Page, kind: str, by: str) -> Locator:
    """The rows of the deal page's documents of ``kind`` handed in by ``by`` (buyer, seller)."""
    return page.locator(f"tr[data-kind={kind}]", has_text=_(f"deal_by_{by}"))


def state_is(page: Page, state: str) -> None:
    """Reload the deal page (another person acted) and expect the deal in ``state``."""
    page.reload()
    expect(page.locator("#deal-state")).to_have_text(_(f"deal_state_{state}"))


def test_the_buyer_and_the_seller_take_a_hammered_lot_to_its_certificate_and_anyone_can_verify_it(
    chromium: Browser, demo: DemoHall
) -> None:
    lot = demo.seeded["live_mode_lots"][0]
    listed = demo.server.get_json(f"/api/lots/{lot}")
    title, price = listed["title"], listed["start_price"]
    buyer_account, seller_account = demo.account("bidders", 0), seller_of(demo, lot)
    buyer_org, seller_org = buyer_account["name"], seller_account["name"]  # the demo names accounts after their org
    auctioneer, auctioneer_log = browserkit.signed_in(chromium, demo, demo.account("auctioneers"))
    buyer, buyer_log = browserkit.signed_in(chromium, demo, buyer_account)
    seller, seller_log = browserkit.signed_in(chromium, demo, seller_account)

    # The hammer: the auctioneer opens the lot, the buyer bids the start price, the auctioneer hammers.
    auctioneer.goto(f"/console?session={LIVE_SESSION}")
    buyer.goto(f"/lots/{lot}")
    browserkit.settle(buyer)
    tile = auctioneer.locator(f"#lot-{lot}")
    tile.locator(".command-open").get_by_role("button", name=_("action_open"), exact=True).click()
    expect(tile.get_by_role("alert")).to_have_text(_("done_command"))
    expect(buyer.locator("#bid-amount")).to_have_value(str(price))
    buyer.locator(".bid-form").get_by_role("button", name=_("place_bid"), exact=True).click()
    buyer.locator(".confirm").get_by_role("button", name=_("confirm_bid"), exact=True).click()
    expect(buyer.locator("#my-status")).to_have_text(_("status_leading"))
    number = buyer.locator("#my-status").get_attribute("data-number")
    assert number and number.isdigit(), number
    expect(tile.locator(f"#lot-{lot}-leader")).to_have_text(number)
    tile.locator(".command-hammer").get_by_role("button", name=_("action_hammer"), exact=True).click()
    expect(buyer.locator("#my-status")).to_have_text(_("status_won"))

    deal = deal_of(demo, lot)  # the close is durable: the record is whole
    record = demo.server.get_json(f"/api/lots/{lot}/record")
    assert record["next"] is None and record["events"][-1]["kind"] == "closed"
    digest = record["digest"]

    # Each party finds the deal in the records and downloads the notice.
    for page, account, side in ((buyer, buyer_account, "buyer"), (seller, seller_account, "seller")):
        open_from_records(page, account, deal, side)
        facts = page.locator("table[data-deal]")
        for shown in (title, buyer_org, seller_org, f"¥{figures(price)}", number, digest):
            expect(facts).to_contain_text(shown)
        notice_number = page.locator("h1 .data").inner_text()
        name, notice = download(page, "deal_download_notice")
        assert name == f"{_('doc_notice')}-{notice_number}.pdf", name
        text = pdf_text(notice)
        for printed in (_("doc_notice"), notice_number, buyer_org, seller_org, title, capitals(price), digest):
            assert printed in text, printed

    # The contract: each party uploads theirs; the second makes the deal contracted.
    hand_in(buyer, "contract", "技术转让合同-买方签章.pdf", signed_scan("contract, buyer"))
    expect(documents(buyer, "contract", "buyer")).to_contain_text(_("deal_doc_state_submitted"))
    expect(buyer.locator("#deal-state")).to_have_text(_("deal_state_notified"))
    hand_in(seller, "contract", "技术转让合同-卖方签章.pdf", signed_scan("contract, seller"))
    expect(seller.locator("#deal-state")).to_have_text(_("deal_state_contracted"))
    expect(documents(seller, "contract", "buyer")).to_have_count(1)  # each sees the other's
    expect(documents(seller, "contract", "seller")).to_have_count(1)
    expect(seller.locator("form[data-step]")).to_have_count(0)  # nothing to do before the payment

    # The payment: the buyer's proof, which the seller opens and confirms.
    state_is(buyer, "contracted")
    proof = signed_scan("payment")
    hand_in(buyer, "payment", "银行回单.pdf", proof)
    expect(documents(buyer, "payment", "buyer")).to_contain_text(_("deal_doc_state_submitted"))
    state_is(seller, "contracted")
    with seller.expect_download() as opened:
        documents(seller, "payment", "buyer").locator("a.data").click()
    assert Path(opened.value.path()).read_bytes() == proof
    confirm = seller.locator("form[data-step=confirm_payment]")
    confirm.get_by_role("button", name=_("deal_step_confirm_payment"), exact=True).click()
    expect(seller.locator("#deal-state")).to_have_text(_("deal_state_paid"))

    # The handover: the buyer first, then the seller, whose confirmation issues the certificate.
    state_is(buyer, "paid")
    buyer.locator("form[data-step=handover]").get_by_role("button", name=_("deal_step_handover"), exact=True).click()
    expect(buyer.locator("form[data-step=handover]")).to_have_count(0)
    expect(buyer.locator("main")).to_contain_text(_("deal_handover_confirmed"))
    state_is(seller, "paid")
    seller.locator("form[data-step=handover]").get_by_role("button", name=_("deal_step_handover"), exact=True).click()
    expect(seller.locator("#deal-state")).to_have_text(_("deal_state_certified"))
    state_is(buyer, "certified")

    certificates = []
    for page in (buyer, seller):
        steps = page.locator("tr[data-action]")
        expect(steps.locator("td:nth-child(3)")).to_have_text([_(f"deal_audit_{action}") for action, _by in STEPS])
        expect(steps.locator("td:nth-child(2)")).to_have_text([_(f"deal_by_{by}") for _action, by in STEPS])
        certificate_number = page.locator("table[data-deal] tr", has_text=_("deal_certificate_number")).locator(
            ".data").inner_text()
        name, certificate = download(page, "deal_download_certificate")
        assert name == f"{_('doc_certificate')}-{certificate_number}.pdf", name
        text = pdf_text(certificate)
        for printed in (_("doc_certificate"), certificate_number, notice_number, buyer_org, seller_org, title,
                        capitals(price), digest):  # fmt: skip
            assert printed in text, printed
        certificates.append(certificate)
    assert certificates[0] == certificates[1]  # one document, made again from the deal's facts
    code = buyer.locator("table[data-deal] a[href^='/verify/'] code").inner_text()  # as printed: 7KQM-2XHD-9RTW
    buyer.goto("/account/deals")
    row = buyer.locator(f"tr[data-deal='{deal}']")
    expect(row).to_contain_text(_("deal_state_certified"))
    expect(link(row, "deal_next_certified")).to_be_visible()

    # Anyone: the code as printed, typed in lower case, shows the deal's public facts.
    visitor = browserkit.new_page(chromium, demo.url)
    visitor_log = browserkit.watch(visitor)
    visitor.goto("/verify")
    visitor.get_by_label(_("deal_verify_code")).fill(code.lower())
    visitor.get_by_role("button", name=_("deal_verify_go"), exact=True).click()
    expect(visitor.get_by_text(_("deal_verify_found"))).to_be_visible()
    assert visitor.url.endswith("/verify/" + code.replace("-", ""))
    facts = visitor.locator("main table")
    for shown in (notice_number, certificate_number, _("deal_state_certified"), title, buyer_org, seller_org,
                  f"¥{figures(price)}", digest):  # fmt: skip
        expect(facts).to_contain_text(shown)
    expect(visitor.locator(f"main a[href='/api/lots/{lot}/record']")).to_be_visible()  # where the digest comes from
    public = visitor.locator("main").inner_text().replace(digest, "")
    assert PHONE_NUMBER.search(public) is None, public
    for private in (_("bidder_number"), demo.account("auctioneers")["name"]):
        assert private not in public, private

    for log in (auctioneer_log, buyer_log, seller_log, visitor_log):
        log.assert_clean()
    for page in (auctioneer, buyer, seller, visitor):
        browserkit.close(page)
