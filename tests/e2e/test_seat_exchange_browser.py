"""Changing a sold ticket's seat to a dearer one on the order page, in a real browser (chromium): the seat picked
on the map, the amount due shown before anything moves, then confirmed and collected in cash. Screenshots of
the confirmation on a desktop in zh-CN go to test-artifacts/."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.test_seat_picker_browser import DESKTOP, seated_session
from tests.order_helpers import BUYER
from tests.servers import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_dearer_seat_shows_the_amount_due_then_collects_it(tabs, live_server: LiveServer) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    world = seated_session(live_server)
    item = {"product": "seat", "selection": {"ticket_type_id": world.adult_id, "seats": [world.seat("B", "1", "5")]}}
    sale = httpx.post(
        live_server.url("/api/v1/box-office/sales"),
        json={"items": [item], "buyer": BUYER, "payment": {"method": "cash"}},
        headers=world.auth,
    )
    assert sale.status_code == 201, sale.text
    order = sale.json()
    tab = tabs(locale="zh-CN", viewport=DESKTOP)
    tab.goto(live_server.url("/manage/login"))
    tab.page.locator("#f-email").fill(world.tenant.owner_email)
    tab.page.locator("#f-password").fill(world.tenant.password)
    tab.page.locator("form button[type=submit]").first.click()
    tab.page.wait_for_url(re.compile(r"/manage"))
    page = tab.page
    page.goto(live_server.url(f"/manage/orders/{order['id']}?lang=zh-CN"))
    page.get_by_role("link", name=re.compile("换座")).first.click()
    expect(page.locator(".zone-legend")).to_contain_text("需补 ¥400.00")
    page.locator("[data-seat-picker] circle.seat").nth(15).click()  # A 2-6: zone A, ¥880 instead of ¥480
    expect(page.locator("[data-picked-list] li")).to_have_count(1)
    page.get_by_role("button", name="换座").click()
    notice = page.locator("[data-price-difference]")
    expect(notice).to_contain_text("购票人需补差价：¥400.00")
    expect(page.locator("[data-picked-list] li")).to_have_count(1)  # the seat stays chosen on the map
    page.locator("#xchg-tendered").fill("500")
    tab.shot("01-desktop-zh-exchange-amount-due")
    page.get_by_role("button", name="确认差价并换座").click()
    flash = page.locator(".flash")
    expect(flash).to_contain_text("A 2-6")
    expect(flash).to_contain_text("已收取 ¥400.00")
    read = httpx.get(live_server.url(f"/api/v1/orders/{order['id']}"), headers=world.auth).json()
    assert (read["paid_minor"], read["total_minor"]) == (88000, 88000)
    assert tab.errors == []
