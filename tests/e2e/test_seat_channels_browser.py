"""Seats per sales channel in a real browser against the real server: the operator drags a rectangle of seats on
the session seating page and withholds them from the online shop (the table of seats per channel follows, the
seats get their ring), withholds one from the box office, and the box office cannot pick that one.

Screenshots (desktop zh-CN, phone en) go to test-artifacts/.
"""

from __future__ import annotations

import httpx
import pytest

from tests.browser import drag_box
from tests.e2e.test_seat_office_browser import DESKTOP, PHONE, _pause, _seated_session, _sign_in
from tests.servers import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _sell_seats(server: LiveServer, ids: dict[str, str]) -> None:
    """A layout of one 5 × 12 section (zone A) given to the session, priced (API)."""
    auth = {"Authorization": f"Bearer {server.demo_token}"}
    with httpx.Client(base_url=server.base_url, headers=auth, timeout=10) as api:
        layout = api.post(f"/api/v1/venues/{ids['venue']}/seat-layouts", json={"name": "渠道 Channels"})
        assert layout.status_code == 201, layout.text
        section = {"kind": "rect", "section_id": "A", "rows": 5, "seats_per_row": 12, "zone": "A"}
        r = api.post(f"/api/v1/seat-layouts/{layout.json()['id']}/sections", json={"section": section})
        assert r.status_code == 200, r.text
        r = api.put(f"/api/v1/sessions/{ids['session']}/seating", json={"layout_id": layout.json()["id"]})
        assert r.status_code == 200, r.text
        prices = [{"zone": "A", "ticket_type_id": ids["adult"], "price_minor": 88000}]
        r = api.put(f"/api/v1/sessions/{ids['session']}/zone-prices", json={"prices": prices})
        assert r.status_code == 200, r.text


def test_withhold_seats_from_a_channel_on_the_map(tabs, live_server: LiveServer) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    ids = _seated_session(live_server)
    try:
        _sell_seats(live_server, ids)
        op = tabs(locale="zh-CN", viewport=DESKTOP)
        page = op.page
        _sign_in(op, live_server)
        op.goto(live_server.url(f"/manage/sessions/{ids['session']}/seating"))
        web = page.locator("[data-channel-stats] tr[data-channel=web] [data-k=published]")
        expect(web).to_have_text("60")
        seats = page.locator("[data-seat-picker] circle.seat")
        page.locator("[data-seat-picker] [data-map]").scroll_into_view_if_needed()
        drag_box(page, seats, 0, 11)
        expect(page.locator("[data-picked-list] li")).to_have_count(12)
        page.locator("#f-channel").select_option("web")
        page.get_by_role("button", name="对该渠道停售").click()
        expect(page.locator(".flash")).to_contain_text("12")
        expect(web).to_have_text("48")
        expect(page.locator("[data-seat-picker] circle.seat.withheld")).to_have_count(12)
        op.shot("01-withheld-from-web-zh")

        page.locator("[data-seat-picker] circle.seat").nth(30).click()
        page.locator("#f-channel").select_option("box_office")
        page.get_by_role("button", name="对该渠道停售").click()
        expect(page.locator("[data-channel-stats] tr[data-channel=box_office] [data-k=published]")).to_have_text("59")
        assert not op.errors, op.errors

        op.goto(live_server.url(f"/manage/sell?session={ids['session']}"))
        sell_seats = page.locator("[data-seat-picker] circle.seat")
        sell_seats.nth(30).click()  # withheld from the box office: not picked
        expect(page.locator("[data-picked-list] li")).to_have_count(0)
        sell_seats.nth(0).click()  # withheld from the web only: the box office sells it
        expect(page.locator("[data-picked-list] li")).to_have_count(1)
        op.shot("02-box-office-zh")

        phone = tabs(locale="en", viewport=PHONE, is_mobile=True, has_touch=True)
        _sign_in(phone, live_server)
        phone.goto(live_server.url(f"/manage/sessions/{ids['session']}/seating?lang=en"))
        expect(phone.page.get_by_text("Seats published per sales channel")).to_be_visible()
        phone.shot("03-seating-phone-en")
        assert not phone.errors, phone.errors
    finally:
        _pause(live_server, ids["session"])
