"""The lot page and the console in a real browser, on the demo hall (``hall seed-demo``): the
auctioneer runs the demo's auctioneer-run lot from open to hammer while bidders' pages follow
live; the bid form follows the live price and stops a wrong amount before the confirmation; a
closed lot tells the bidder who lost that they did not win."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import browserkit
import pytest
from browserkit import DemoHall, expect

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIVE_SESSION = "拍卖师主持现场竞价专场"


def _signed_in(browser: Browser, demo: DemoHall, role: str, n: int, path: str) -> tuple[Page, browserkit.PageLog]:
    page, log = browserkit.signed_in(browser, demo, demo.account(role, n))
    page.goto(path)
    browserkit.settle(page)
    return page, log


def _lot(demo: DemoHall, lot: int) -> dict[str, Any]:
    found: dict[str, Any] = demo.server.get_json(f"/api/lots/{lot}")
    return found


def _shown_commands(console: Page, lot: int) -> list[str]:
    forms = console.locator(f"#lot-{lot}-controls form.command:visible")
    return [name.removeprefix("command command-") for name in forms.evaluate_all("fs => fs.map(f => f.className)")]


def test_the_auctioneer_runs_the_demos_live_lot_from_open_to_hammer_and_bidders_follow(
    chromium: Browser, demo: DemoHall
) -> None:
    lot = demo.seeded["live_mode_lots"][0]
    start = _lot(demo, lot)["start_price"]
    console, console_log = _signed_in(chromium, demo, "auctioneers", 0, f"/console?session={LIVE_SESSION}")
    winner, winner_log = _signed_in(chromium, demo, "bidders", 0, f"/lots/{lot}")  # bidder number 0001
    loser, loser_log = _signed_in(chromium, demo, "bidders", 1, f"/lots/{lot}")  # 0002
    assert _shown_commands(console, lot) == ["open", "withdraw"]
    expect(winner.locator(".bid-form")).to_be_hidden()
    expect(winner.get_by_text("竞价尚未开始")).to_be_visible()

    def command(action: str) -> None:
        console.locator(f"#lot-{lot}-controls .command-{action} button").click()
        expect(console.locator(f"#lot-{lot}-result .message")).to_have_text("操作成功")

    command("open")
    expect(winner.locator(f"#lot-{lot}-state")).to_have_text("竞价中")
    expect(winner.locator(".bid-form")).to_be_visible()  # it opened: the form appears by itself
    expect(console.locator(f"#lot-{lot}-controls .command-pause")).to_be_visible()
    assert _shown_commands(console, lot) == ["pause", "floor_bid", "hammer", "withdraw"]

    for number, amount in (("0002", start), ("0001", start + _lot(demo, lot)["increment"])):
        floor = console.locator(f"#lot-{lot}-controls .command-floor_bid")
        floor.locator("input[name=bidder]").fill(number)
        floor.locator("input[name=amount]").fill(str(amount))
        floor.locator("button").click()
        expect(winner.locator(f"#lot-{lot}-leader")).to_have_text(number)
    expect(winner.locator(f"#lot-{lot}-record li").first).to_contain_text("现场")
    expect(winner.locator("#my-status")).to_have_text("您当前领先")
    expect(loser.locator("#my-status")).to_have_text("您的出价已被超越")

    command("fair_warning")
    expect(winner.locator(f"#lot-{lot}-state")).to_contain_text("即将落槌")
    command("pause")
    expect(loser.locator(f"#lot-{lot}-state")).to_contain_text("已暂停")
    expect(loser.locator(".bid-form")).to_be_hidden()
    expect(loser.get_by_text("拍卖已暂停：恢复后即可继续出价。")).to_be_visible()
    assert _shown_commands(console, lot) == ["resume", "hammer", "withdraw"]
    command("resume")
    expect(loser.locator(".bid-form")).to_be_visible()
    command("hammer")

    expect(winner.locator(f"#lot-{lot}-state")).to_have_text("已结束 · 成交")
    expect(winner.locator("#my-status")).to_have_text("您已竞得本拍品")
    expect(loser.locator("#my-status")).to_have_text("未竞得")
    for page in (winner, loser):
        expect(page.locator(f"#lot-{lot}-price-label")).to_have_text("成交价")
        expect(page.locator("#hall-conn")).to_have_text("竞价已结束，页面不再变化")
        expect(page.locator(".bid-form")).to_be_hidden()
    assert _shown_commands(console, lot) == []
    for log in (console_log, winner_log, loser_log):
        log.assert_clean()
    for page in (console, winner, loser):
        browserkit.close(page)


def test_the_bid_form_follows_the_live_price_and_stops_a_wrong_amount_before_the_confirmation(
    chromium: Browser, demo: DemoHall
) -> None:
    lot = demo.seeded["lots"][0]
    facts = _lot(demo, lot)
    increment = facts["increment"]
    a, a_log = _signed_in(chromium, demo, "bidders", 2, f"/lots/{lot}")
    b, b_log = _signed_in(chromium, demo, "bidders", 3, f"/lots/{lot}")
    lowest = facts["start_price"] if facts["price"] is None else facts["price"] + increment

    a.locator("#bid-amount").fill(str(lowest))
    a.locator(".bid-form button.primary").click()
    a.locator("#bid-result .confirm button").click()
    expect(a.locator("#bid-result .message")).to_have_text("出价成功")

    following = lowest + increment  # B's form moved on without a reload
    expect(b.locator("#bid-amount")).to_have_value(str(following))
    expect(b.locator(".bid-form .lowest")).to_have_text(f"{following:,}")
    quick = b.locator(".bid-form button[name=steps]").first
    expect(quick).to_have_text(f"¥{following:,}")
    quick.click()
    expect(b.locator("#bid-result .confirm")).to_contain_text(f"¥{following:,}")
    b.locator("#bid-result .confirm button").click()
    expect(b.locator("#bid-result .message")).to_have_text("出价成功")
    expect(b.locator("#my-status")).to_have_text("您当前领先")

    lowest = following + increment
    expect(a.locator("#bid-amount")).to_have_value(str(lowest))
    a.locator("#bid-amount").fill(str(lowest + 1))  # off the increment
    a.locator(".bid-form button.primary").click()
    message = a.locator("#bid-result .message")
    expect(message).to_have_attribute("data-code", "bad_increment")
    expect(message).to_have_text(f"加价须为加价幅度 ¥{increment:,} 的整数倍：可出 ¥{lowest:,} 或 ¥{lowest + increment:,}。")
    expect(a.locator("#bid-result .confirm")).to_have_count(0)  # no confirmation was asked for
    a.locator("#bid-amount").fill(str(following * 1000))
    a.locator(".bid-form button.primary").click()
    expect(message).to_have_attribute("data-code", "too_high")
    assert _lot(demo, lot)["bid_count"] == facts["bid_count"] + 2
    for log in (a_log, b_log):
        log.assert_clean()
    browserkit.close(a)
    browserkit.close(b)


def test_a_closed_lot_tells_the_outbid_bidder_they_did_not_win_and_shows_the_result(
    chromium: Browser, demo: DemoHall
) -> None:
    sold, unsold = demo.seeded["sold_lots"][0], demo.seeded["unsold_lots"][0]
    page, log = _signed_in(chromium, demo, "bidders", 1, f"/lots/{sold}")  # outbid by the first bidder
    expect(page.locator("#my-status")).to_have_text("未竞得")
    expect(page.locator(f"#lot-{sold}-price-label")).to_have_text("成交价")
    expect(page.locator("#hall-conn")).to_have_text("竞价已结束，页面不再变化")
    expect(page.get_by_text("您的出价已被超越")).to_have_count(0)
    expect(page.locator(".bid-form")).to_have_count(0)
    page.goto(f"/lots/{unsold}")
    browserkit.settle(page)
    expect(page.locator(f"#lot-{unsold}-state")).to_have_text("已结束 · 流拍")
    expect(page.locator(f"#lot-{unsold}-price-label")).to_have_text("流拍，最高出价")
    expect(page.locator("#my-status")).to_have_text("未竞得")
    log.assert_clean()
    browserkit.close(page)
