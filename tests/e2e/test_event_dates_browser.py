"""A buyer on a phone finds a date of the demo's scenic area (30 daily sessions): the front page shows its next
four and "all dates"; the event page's calendar shows each day's price; a tap on a day opens that day's session.
In English on a desktop, the same page reads in English. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re

import pytest

from tests.servers import LiveServer

pytestmark = [pytest.mark.browser]


def test_pick_a_day_on_the_calendar_on_a_phone_and_read_it_in_english(tabs, live_server: LiveServer) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    buyer = tabs(locale="zh-CN", viewport=(390, 844), is_mobile=True, has_touch=True)
    page = buyer.page
    buyer.goto(live_server.url("/s/demo"))
    scenic = page.locator("section.event", has=page.get_by_role("heading", name="玉龙雪山景区"))
    expect(scenic.locator("a.session-row")).to_have_count(4)
    scenic.get_by_role("link", name=re.compile(r"全部日期（\d+）")).tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("玉龙雪山景区")
    open_days = page.locator("table.month td.open a")
    expect(open_days.first).to_be_visible()
    assert open_days.count() >= 28  # 30 daily sessions; the first may be over by the time the test runs
    buyer.shot("01-calendar-zh")
    third = open_days.nth(2)
    # Its name begins with what it shows (the day, the price: WCAG 2.5.3), then the whole date and the price.
    expect(third).to_have_accessible_name(re.compile(r"^\d+\s*¥\d+\s*\d{4}年\d+月\d+日 周.: 可购买, ¥\d+\.00 起$"))
    third.tap()
    expect(page).to_have_url(re.compile(r"/s/demo/sessions/\w+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("玉龙雪山景区")
    buyer.shot("02-session-zh")

    reader = tabs(locale="en")
    reader.goto(live_server.url("/s/demo"))
    reader.page.get_by_role("link", name=re.compile(r"All dates \(\d+\)")).first.click()
    expect(reader.page.get_by_role("heading", name="Choose a date")).to_be_visible()
    expect(reader.page.locator("table.month caption").first).to_have_text(re.compile(r"^[A-Z][a-z]+ \d{4}$"))
    reader.shot("03-calendar-en")
    assert not buyer.errors and not reader.errors
