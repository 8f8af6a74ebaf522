"""The account pages that had no browser test driving them, every step a click as a person makes
it: a password reset by SMS code, a login by SMS code that lands where ``next`` said, and an
account that applies for an identity, is approved, opens a shop, is approved and finds the
seller centre in its header.

Each flow uses a demo bidder of its own (the demo's bidders are verified, each in an enterprise
of its own whose name is the account's name), so that the flows do not depend on their order.
What the pages say is checked against the message catalogue, and none of the pages may log a
console error or answer an error status on the way (``browserkit.watch``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import browserkit
import pytest
from browserkit import DemoHall, expect
from browserkit import zh as _
from hallkit import sms_code
from rediskit import redis_server

from hall.auth.codes import TTL_MS
from hall.demo import ENTERPRISES_MAX

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NEW_PASSWORD = "reset-by-sms-passw0rd"


def pdf() -> bytes:
    """A small well-formed PDF: one empty A4 page, with a cross-reference table whose offsets
    are the objects' real byte positions (what a reader, and the upload's check, look for)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"]  # fmt: skip
    out = b"%PDF-1.4\n"
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def header_link(page: Page, text: str) -> Locator:
    return page.locator("header").get_by_role("link", name=text, exact=True)


def code_sent(page: Page) -> None:
    """Press the send-code button of a code page and wait for the page that says it was sent."""
    send = page.locator("#send-code-form")
    send.get_by_role("button", name=_("send_code"), exact=True).click()
    expect(page.get_by_role("alert")).to_have_text(_("code_sent").format(minutes=TTL_MS // 60_000))


def sign_out(page: Page) -> None:
    page.locator("header").get_by_role("button", name=_("logout"), exact=True).click()
    expect(header_link(page, _("login"))).to_be_visible()


def test_a_bidder_resets_the_password_by_sms_code_and_logs_in_with_the_new_one(chromium: Browser,
                                                                               demo: DemoHall) -> None:  # fmt: skip
    account = demo.account("bidders", 0)
    page = browserkit.new_page(chromium, demo.url)
    log = browserkit.watch(page)

    page.goto("/login")
    page.locator("main").get_by_role("link", name=_("forgot_password"), exact=True).click()
    page.wait_for_url("**/password-reset")
    expect(page.get_by_role("heading", name=_("password_reset"), exact=True)).to_be_visible()
    page.locator("#send-code-form").get_by_label(_("phone")).fill(account["phone"])
    code_sent(page)
    form = page.locator("#reset-form")
    expect(form.get_by_label(_("phone"))).to_have_value(account["phone"])
    form.get_by_label(_("sms_code")).fill(sms_code(demo.server.db, account["phone"], "reset"))
    form.get_by_label(_("new_password"), exact=True).fill(NEW_PASSWORD)
    form.get_by_role("button", name=_("password_reset"), exact=True).click()
    page.wait_for_url(lambda url: "/password-reset" not in url)
    expect(header_link(page, account["name"])).to_be_visible()  # the reset signs the account in

    # Out, and in again through the login form: the new password opens the account.
    sign_out(page)
    browserkit.login(page, {"phone": account["phone"], "password": NEW_PASSWORD})
    expect(header_link(page, account["name"])).to_be_visible()

    log.assert_clean()
    browserkit.close(page)
    # The old password no longer opens it: asked outright, not through a page that would log a 4xx.
    answer = demo.server.post_json("/api/login", {"phone": account["phone"], "password": account["password"]})
    assert answer.status_code == 401, answer.text


def test_a_bidder_logs_in_by_sms_code_and_lands_where_next_said(chromium: Browser, demo: DemoHall) -> None:
    account = demo.account("bidders", 1)
    page = browserkit.new_page(chromium, demo.url)
    log = browserkit.watch(page)

    page.goto("/login?next=/account/bids")
    page.locator("main").get_by_role("link", name=_("login_by_code"), exact=True).click()
    page.wait_for_url(lambda url: "/login/code?next=" in url)
    expect(page.get_by_role("heading", name=_("login_by_code"), exact=True)).to_be_visible()
    page.locator("#send-code-form").get_by_label(_("phone")).fill(account["phone"])
    code_sent(page)
    form = page.locator("#code-login-form")
    form.get_by_label(_("sms_code")).fill(sms_code(demo.server.db, account["phone"], "login"))
    form.get_by_role("button", name=_("login"), exact=True).click()
    page.wait_for_url("**/account/bids")
    expect(page.get_by_role("heading", name=_("my_bids"), exact=True)).to_be_visible()
    expect(header_link(page, account["name"])).to_be_visible()

    log.assert_clean()
    browserkit.close(page)


@pytest.mark.redis
def test_with_redis_away_password_login_says_so_on_a_phone_and_the_code_login_it_points_to_works(
    chromium: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hall on Redis counts failed passwords there (hall/store/throttle.py). With Redis gone it
    checks no password: the login page answers 503 with the catalogue's message and a link to
    the SMS code login, which needs no Redis."""
    with redis_server(tmp_path / "redis") as server:
        monkeypatch.setenv("HALL_STORE", server.url)  # seed-demo and serve read it
        (tmp_path / "hall").mkdir()
        with browserkit.demo_hall(tmp_path / "hall") as hall:
            server.kill()
            account = hall.account("bidders", 0)
            page = browserkit.new_page(chromium, hall.url, phone=True)
            page.goto("/login")
            form = page.locator("form[action='/login']")
            form.locator("input[name=phone]").fill(account["phone"])
            form.locator("input[name=password]").fill(account["password"])
            with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST") as posted:
                form.locator("button").click()
            assert posted.value.status == 503
            alert = page.get_by_role("alert")
            expect(alert).to_contain_text(_("err_password_login_unavailable"))
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= browserkit.PHONE["width"], f"{width} px wide on a phone"

            alert.get_by_role("link", name=_("login_by_code"), exact=True).click()
            page.wait_for_url("**/login/code**")
            page.locator("#send-code-form").get_by_label(_("phone")).fill(account["phone"])
            code_sent(page)
            code_form = page.locator("#code-login-form")
            code_form.get_by_label(_("sms_code")).fill(sms_code(hall.server.db, account["phone"], "login"))
            code_form.get_by_role("button", name=_("login"), exact=True).click()
            page.wait_for_url(lambda url: "/login" not in url)
            expect(header_link(page, account["name"])).to_be_visible()
            browserkit.close(page)


def approve(staff: Page, kind: str, phone: str, document: bytes | None) -> None:
    """As staff: open the review queue from the header, filter it to ``kind`` (the catalogue key
    of its name), check the applicant's document is the file they sent (when there is one),
    approve their pending row and see it among the recent decisions."""
    header_link(staff, _("review_queue")).click()
    staff.locator("nav.filters").get_by_role("link", name=_(kind), exact=True).click()
    pending = staff.locator("tr", has_text=phone)
    expect(pending).to_have_count(1)
    if document is not None:
        with staff.expect_download() as download:
            pending.get_by_role("link", name=_("open_file"), exact=True).click()
        assert Path(download.value.path()).read_bytes() == document
    pending.get_by_role("button", name=_("approve"), exact=True).click()
    decided = staff.locator("tr", has_text=phone)
    expect(decided).to_have_count(1)
    expect(decided).to_contain_text(_("approved"))
    expect(decided.get_by_role("button")).to_have_count(0)  # out of the pending queue


@pytest.fixture(scope="module")
def plain_bidder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoHall]:
    """A demo with one bidder more than those the demo makes enterprises (``ENTERPRISES_MAX``):
    the last is a verified bidder who holds no identity yet."""
    args = ("--live", "--lots", "3", "--bidders", str(ENTERPRISES_MAX + 1), "--duration", "3600")
    with browserkit.demo_hall(tmp_path_factory.mktemp("plain"), *args) as found:
        yield found


def test_a_verified_bidder_is_approved_as_an_enterprise_opens_a_shop_and_sees_the_seller_centre(
    chromium: Browser, plain_bidder: DemoHall
) -> None:
    demo = plain_bidder
    account = demo.account("bidders", ENTERPRISES_MAX)
    org = account["name"]  # the demo names each bidder after its enterprise
    user = browserkit.new_page(chromium, demo.url)
    browserkit.login(user, account)
    user_log = browserkit.watch(user)
    staff = browserkit.new_page(chromium, demo.url)
    browserkit.login(staff, demo.account("staff"))
    staff_log = browserkit.watch(staff)

    # The identity: from the account page, the enterprise kind with its licence as a PDF.
    header_link(user, org).click()
    expect(header_link(user, _("seller_centre"))).to_have_count(0)
    user.locator("main").get_by_role("link", name=_("identity_page"), exact=True).click()
    expect(user.get_by_role("heading", name=_("identity_page"), exact=True)).to_be_visible()
    user.get_by_label(_("identity_kind")).select_option(label=_("identity_kind_enterprise"))
    licence = pdf()
    user.get_by_label(_("identity_documents")).set_input_files(
        {"name": "营业执照.pdf", "mimeType": "application/pdf", "buffer": licence})
    user.get_by_role("button", name=_("submit"), exact=True).click()
    mine = user.locator("tr[data-identity]")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text(_("identity_kind_enterprise"))
    expect(mine).to_contain_text(org)
    expect(mine).to_contain_text(_("pending"))

    approve(staff, "identity_application", account["phone"], licence)
    user.reload()
    expect(mine).to_contain_text(_("approved"))

    # The shop: the terms accepted, named as the organisation, a contact.
    user.locator(".crumbs").get_by_role("link", name=_("my_shop"), exact=True).click()
    expect(user.get_by_role("heading", name=_("my_shop"), exact=True)).to_be_visible()
    expect(user.get_by_text(_("shop_name_note"), exact=True)).to_be_visible()
    user.get_by_label(_("shop_terms_accept")).check()
    user.get_by_label(_("shop_name"), exact=True).fill(org)
    user.get_by_label(_("shop_intro")).fill(f"{org}的专利转让与许可。")
    user.get_by_label(_("contact_name"), exact=True).fill("王芳")
    user.get_by_label(_("contact_phone"), exact=True).fill(account["phone"])
    user.get_by_role("button", name=_("submit"), exact=True).click()
    shop = user.locator("table[data-shop]")
    expect(shop).to_have_attribute("data-state", "pending")
    expect(shop).to_contain_text(_("shop_state_pending"))
    expect(shop.get_by_role("link", name=org, exact=True)).to_be_visible()
    expect(user.get_by_text(_("shop_pending_note"), exact=True)).to_be_visible()
    expect(header_link(user, _("seller_centre"))).to_have_count(0)

    approve(staff, "shop_application", account["phone"], None)
    user.reload()
    expect(shop).to_have_attribute("data-state", "open")
    expect(shop).to_contain_text(_("shop_state_open"))
    expect(user.get_by_text(_("shop_open_note"), exact=True)).to_be_visible()
    header_link(user, _("seller_centre")).click()
    user.wait_for_url("**/seller")

    for log in (user_log, staff_log):
        log.assert_clean()
    for page in (user, staff):
        browserkit.close(page)
