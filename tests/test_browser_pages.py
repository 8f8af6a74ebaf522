"""Every main page on a phone, in each language, as each kind of visitor who opens it: 375 CSS
pixels wide without scrolling sideways, the page in the language chosen, and nothing going
wrong in the browser (no console error, no uncaught exception, no failed or refused request, a
favicon that answers).

One server for the module (conftest.py's ``demo``, seed-demo's showcase: running timed lots, an
auctioneer-run lot, lots in publicity, closed lots sold and unsold). Each case is one fresh
browser context, signed in as the person who would open the pages, that walks through them.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

import browserkit
import pytest
from browserkit import DemoHall

from hall.demo import LIVE_SESSION

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOTS: Final = ("/lots/{lot}", "/lots/{publicity}", "/lots/{live}", "/lots/{live_open}", "/lots/{sold}", "/lots/{unsold}")
"""A lot page in each state the demo shows: running (timed), in publicity (timed), auctioneer-run
(every bidder admitted; registration open), sold, unsold."""
CROWD: Final = ("/demands", "/demands/hot", "/demands/{published}", "/demands/{adopted}", "/demands/{resolved}/roadshows")
"""Research crowdsourcing as everyone sees it: the home with its hot lists, a demand taking
responses (hidden fields withheld), one adopted, the roadshows of the resolved one."""
PAGES: Final[dict[str, tuple[str, ...]]] = {
    "": ("/", "/help", "/login", "/signup", "/login/code", "/password-reset", *LOTS, "/verify", "/verify/{code}",
         "/sessions/{session_id}", "/shops/{shop}", "/listings/{listing}", *CROWD),
    "bidders": ("/", "/account", "/account/registrations", "/account/bids", "/account/verification", "/inbox", *LOTS,
                "/lots/{publicity}/register", "/lots/{lot}/register", "/account/deals", "/deals/{deal}",
                # the first bidder is the demo's enterprise: its demands (CR-1 to CR-9)
                "/my/demands", "/demands/new", "/entrustments", "/demands/{published}", "/demands/{published}/responses",
                "/demands/{published}/messages", "/demands/{published}/patents", "/demands/{published}/roadshows",
                "/demands/{adopted}/responses", "/demands/{resolved}", "/demands/{resolved}/log",
                "/demands/{resolved}/outcome", "/demands/{unresolved}", "/demands/{rejected}",
                "/recommendations", "/my/responses"),
    "sellers": ("/account", "/account/identity", "/account/shop", "/lots/{lot}", "/seller", "/seller/listings/new",
                "/seller/listings/new?kind=achievement", "/seller/batches", "/listings/{listing}",
                # a solver: what is recommended to it, a response, a question, a roadshow it was invited to
                "/recommendations", "/my/responses", "/demands/{other}/respond", "/demands/{published}/messages",
                "/demands/{resolved}/roadshows"),
    "staff": ("/staff/reviews", "/staff/reviews?kind=all&state=all", "/staff/deals", "/deals/{deal}", "/staff/figures",
              "/staff/offline-deals", "/staff/sessions", "/staff/sessions/{session_id}", "/staff/reviews/{application}",
              "/staff/roadshows", "/staff/picks", "/staff/roadshows/{roadshow}", "/demands/{pending}",
              "/demands/{published}/responses", "/demands/{resolved}/reward"),
    "agencies": ("/account", "/entrustments", "/my/demands", "/demands/{resolved}", "/demands/{resolved}/responses",
                 "/demands/{resolved}/reward", "/recommendations"),
    "admins": ("/admin/roles",),
    "auctioneers": ("/console", "/console?session={session}", "/lots/{live}"),
}
"""By seed-demo's role ("" for a visitor): the pages that person reaches from the header and the lots."""
CODE_PAGES: Final = {"/signup": "#signup-form", "/login/code": "#code-login-form", "/password-reset": "#reset-form"}
"""The pages that prove a phone, and the form of their second step (after a code is sent)."""
HTML_LANG: Final = {"zh": "zh-CN", "en": "en"}
WIDEST: Final = """width => Array.from(document.body.querySelectorAll("*"))
    .filter(el => el.getBoundingClientRect().right > width && el.parentElement.getBoundingClientRect().right <= width)
    .slice(0, 5)
    .map(el => [el.parentElement, el].map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
                                             + (e.className ? "." + String(e.className).split(" ").join(".") : "")).join(" > ")
               + " to " + Math.round(el.getBoundingClientRect().right) + " px")"""
"""The outermost elements that stick out past ``width``, to say what makes a page too wide."""


def _problems(page: Page, log: browserkit.PageLog, lang: str, seen: int) -> list[str]:
    """What is wrong with the page as it stands: too wide, in the wrong language, and what the
    browser saw go wrong since ``seen`` problems were logged."""
    found = list(log.problems[seen:])
    phone = browserkit.PHONE["width"]
    width = page.evaluate("() => document.documentElement.scrollWidth")
    if width > phone:
        found.append(f"{width} px wide, scrolls sideways on a {phone} px phone: {page.evaluate(WIDEST, phone)}")
    if (shown := page.locator("html").get_attribute("lang")) != HTML_LANG[lang]:
        found.append(f'<html lang="{shown}">')
    return found


def _supply(demo: DemoHall) -> dict[str, object]:
    """The first demo seller's shop and a listed item of it, a published session, the newest
    application."""
    phone = demo.account("sellers")["phone"]
    with contextlib.closing(sqlite3.connect(demo.server.db)) as db:
        [(shop,)] = db.execute("SELECT s.id FROM shops s JOIN users u ON u.id = s.owner WHERE u.phone = ?",
                               (phone,)).fetchall()  # fmt: skip
        [(listing,)] = db.execute("SELECT min(id) FROM listings WHERE shop = ? AND state = 'listed'", (shop,)).fetchall()
        [(session,)] = db.execute("SELECT min(id) FROM auctions WHERE state = 'published'").fetchall()
        [(application,)] = db.execute("SELECT max(id) FROM applications").fetchall()
    return {"shop": shop, "listing": listing, "session_id": session, "application": application}


def _crowd(demo: DemoHall) -> dict[str, object]:
    """The demo's demands by the situation they show (``published`` the first, with responses, a
    roadshow and the first pick; ``other`` the second, unanswered), and the scheduled roadshow."""
    made = demo.seeded["demands"]
    with contextlib.closing(sqlite3.connect(demo.server.db)) as db:
        [(roadshow,)] = db.execute("SELECT id FROM roadshows WHERE state = 'scheduled'").fetchall()
    return {**{key: ids[0] for key, ids in made.items()}, "other": made["published"][1], "roadshow": roadshow}


def _deal(demo: DemoHall) -> dict[str, object]:
    """The demo's sold lot's deal (its first bidder is the buyer) and its verification code."""
    with contextlib.closing(sqlite3.connect(demo.server.db)) as db:
        [(deal, code)] = db.execute("SELECT id, verify_code FROM deals WHERE lot = ?",
                                    (demo.seeded["sold_lots"][0],)).fetchall()  # fmt: skip
    return {"deal": deal, "code": code}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("role", list(PAGES), ids=[role or "visitor" for role in PAGES])
def test_main_pages_fit_a_phone_and_log_no_error(chromium: Browser, demo: DemoHall, role: str, lang: str) -> None:
    page = browserkit.new_page(chromium, demo.url, lang=lang, phone=True)
    if role:
        browserkit.login(page, demo.account(role))
    log = browserkit.watch(page)
    seeded = demo.seeded
    fill = {"lot": demo.lots()[0], "publicity": seeded["publicity_lots"][0], "live": seeded["live_mode_lots"][0],
            "live_open": seeded["publicity_lots"][-1], "sold": seeded["sold_lots"][0], "unsold": seeded["unsold_lots"][0],
            "session": quote(LIVE_SESSION), **_deal(demo), **_supply(demo), **_crowd(demo)}  # fmt: skip
    problems: dict[str, list[str]] = {}
    for pattern in PAGES[role]:
        path = pattern.format(**fill)
        seen = len(log.problems)
        page.goto(path)
        browserkit.settle(page)
        found = _problems(page, log, lang, seen)
        if page.url.split("?")[0] != demo.url + path.split("?")[0]:
            found.append(f"sent elsewhere: {page.url}")
        if found:
            problems[path] = found
    seen = len(log.problems)
    log.check_favicon(page)
    if log.problems[seen:]:
        problems["favicon"] = log.problems[seen:]
    browserkit.close(page)
    assert not problems, problems


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_second_step_of_each_code_page_fits_a_phone(chromium: Browser, demo: DemoHall, lang: str) -> None:
    page = browserkit.new_page(chromium, demo.url, lang=lang, phone=True)
    log = browserkit.watch(page)
    problems: dict[str, list[str]] = {}
    for n, (path, second) in enumerate(CODE_PAGES.items()):
        seen = len(log.problems)
        page.goto(path)
        page.locator("#send-code-form input[name=phone]").fill(f"137{list(HTML_LANG).index(lang)}{n:07d}")  # its own number
        page.locator("#send-code").click()
        page.locator(second).wait_for()
        if found := _problems(page, log, lang, seen):
            problems[path] = found
    browserkit.close(page)
    assert not problems, problems
