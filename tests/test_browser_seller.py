"""The seller centre's own flows in a real browser, every step a click: a batch listing (the
template downloaded, a filled sheet uploaded, its per-row report read, the good rows listed) and
a listed item delisted, edited and submitted again.

Both flows use the demo's first seller (南京大学), whose centre the demo fills with one pending,
one rejected and one listed item; the batch lists a patent of its own that the demo did not
list, and the delist takes the listed one, so that the two flows do not depend on their order.
What the pages say is checked against the message catalogue in Chinese, and none of the pages
may log a console error or answer an error status on the way (``browserkit.watch``).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import browserkit
import openpyxl
import pytest
from browserkit import DemoHall, expect, header_link
from browserkit import zh as _

from hall.demo import REJECTION_REASON
from hall.demo_patents import demo_patents
from hall.listing import ItemKind
from hall.listings import field_key
from hall.patents import LegalStatus
from hall.web.templating import yuan

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BAD_NUMBER = "ZL202110123456.0"
"""A patent number of the right shape whose check digit is wrong (the template's example's is 7)."""
BATCH_PRICE = 150_000
NEW_PRICE = 260_000


def column(field: str) -> str:
    """The patent template's header of a field, as the seller reads it."""
    return _("batch_col_holders" if field == "holders" else field_key(ItemKind.PATENT, field))


def seller_centre(page: Page) -> None:
    header_link(page, "seller_centre").click()
    expect(page.get_by_role("heading", name=_("seller_centre"), exact=True)).to_be_visible()


def test_a_seller_downloads_the_template_uploads_a_sheet_reads_the_row_report_and_lists_the_good_row(
    chromium: Browser, demo: DemoHall, tmp_path: Path
) -> None:
    holder = demo.account("sellers")["name"]
    own = [p for p in demo_patents() if p.holder == holder and p.legal_status is LegalStatus.VALID]
    patent = own[3]  # the demo lists the first three (pending, rejected, listed)
    assert patent.grant_date is not None
    page = browserkit.new_page(chromium, demo.url)
    log = browserkit.watch(page)
    browserkit.login(page, demo.account("sellers"))

    seller_centre(page)
    page.locator("main nav").get_by_role("link", name=_("batch_listing"), exact=True).click()
    expect(page.get_by_role("heading", name=_("batch_listing"), exact=True)).to_be_visible()
    with page.expect_download() as downloading:
        page.locator("main").get_by_role("link", name=_("kind_patent"), exact=True).click()
    template = tmp_path / downloading.value.suggested_filename
    downloading.value.save_as(template)
    assert template.suffix == ".xlsx"
    book = openpyxl.load_workbook(template)
    sheet = book.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    assert headers[:3] == [column("number"), column("title"), column("holders")]

    # The example row (row 2) stays; two rows of the seller's own below it: one good, one bad.
    example = [cell.value for cell in sheet[2]]
    good = dict(zip(headers, example, strict=True)) | {
        column("number"): patent.number, column("title"): patent.title, column("holders"): holder,
        column("inventors"): patent.inventors, column("application_date"): patent.application_date,
        column("grant_date"): patent.grant_date, column("ipc"): patent.ipc, column("abstract"): patent.abstract,
        column("start_price"): BATCH_PRICE,
    }  # fmt: skip
    bad = good | {column("number"): BAD_NUMBER, column("title"): "校验位错误的专利"}
    for row in (good, bad):
        sheet.append([row[h] for h in headers])
    filled = io.BytesIO()
    book.save(filled)
    upload = tmp_path / "filled.xlsx"
    upload.write_bytes(filled.getvalue())

    form = page.locator("form[action='/seller/batches']")
    form.get_by_label(_("item_kind")).select_option(value="patent")
    form.get_by_label(_("batch_file")).set_input_files(str(upload))
    form.get_by_role("button", name=_("batch_upload"), exact=True).click()
    expect(page.get_by_role("heading", name=_("batch_report"), exact=True)).to_be_visible()
    expect(page.locator("main")).to_contain_text(_("batch_summary").format(good=1, rows=2))
    expect(page.locator("tr[data-ok='1']")).to_contain_text(_("batch_row_ok"))
    refused = page.locator("tr[data-ok='0']")
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text(_("batch_row_bad"))
    expect(refused).to_contain_text(column("number"))
    expect(refused).to_contain_text(_("listing_bad_number"))

    submit = page.locator("form[action$='/submit']")
    submit.get_by_label(_("listing_agreement_accept")).check()
    submit.get_by_role("button", name=_("batch_list_good").format(n=1), exact=True).click()
    expect(page.get_by_role("heading", name=_("seller_centre"), exact=True)).to_be_visible()
    pending = page.locator("#state-pending")
    expect(pending.get_by_role("link", name=patent.title, exact=True)).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("校验位错误的专利")

    log.assert_clean()
    browserkit.close(page)


def test_a_seller_delists_its_listed_item_edits_it_and_submits_it_again_for_review(chromium: Browser,
                                                                                   demo: DemoHall) -> None:  # fmt: skip
    page = browserkit.new_page(chromium, demo.url)
    log = browserkit.watch(page)
    browserkit.login(page, demo.account("sellers"))

    seller_centre(page)
    listed = page.locator("#state-listed tr[data-listing]")
    expect(listed).to_have_count(1)
    title = listed.locator("a").first.inner_text()
    listed.get_by_role("button", name=_("listing_action_delist"), exact=True).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    expect(page.locator("[data-state]")).to_have_text(_("listing_state_delisted"))

    seller_centre(page)
    delisted = page.locator("#state-delisted tr", has_text=title)
    expect(delisted).to_have_count(1)
    delisted.get_by_role("link", name=_("listing_action_resubmit"), exact=True).click()
    expect(page.get_by_role("heading", name=_("listing_edit"), exact=True)).to_be_visible()
    form = page.locator("#listing-form")
    expect(form.get_by_label(_("listing_f_title_patent"))).to_have_value(title)
    form.get_by_label(_("start_price")).fill(str(NEW_PRICE))
    form.get_by_label(_("listing_agreement_accept")).check()
    form.get_by_role("button", name=_("listing_action_resubmit"), exact=True).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    expect(page.locator("[data-state]")).to_have_text(_("listing_state_pending"))

    seller_centre(page)
    row = page.locator("#state-pending tr", has_text=title)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(yuan(NEW_PRICE))
    expect(page.locator("#state-listed tr[data-listing]")).to_have_count(0)
    assert REJECTION_REASON not in row.inner_text()

    log.assert_clean()
    browserkit.close(page)
