"""The box office's sell page for a seated session (the demo's New Year Concert), in a real browser: no quantity
inputs but the session's seat map with its legend in the page's language, on a phone and a desktop (screenshots
in test-artifacts/), no console error."""

from __future__ import annotations

import re

import httpx
import pytest

from piaowu.demo import DEMO_LOGINS
from tests.servers import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SEATS_TO_SELL = {"en": "Seats to sell", "zh-CN": "待售座位"}


def _seated_session(server: LiveServer) -> str:
    auth = {"Authorization": f"Bearer {server.demo_token}"}
    with httpx.Client(base_url=server.base_url, headers=auth, timeout=10) as api:
        slug = api.get("/api/v1/organizer").json()["slug"]
        for event in api.get("/api/v1/events").json()["items"]:
            for s in event["sessions"]:
                if s["sale_state"] != "on_sale":
                    continue
                page = api.get(f"/api/v1/shop/{slug}/sessions/{s['id']}").json()
                if page.get("seating"):
                    return s["id"]
    raise AssertionError("the demo has no seated session on sale")


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize(("device", "viewport"), [("phone", (390, 844)), ("desktop", (1280, 800))])
def test_the_sell_page_of_a_seated_session(tabs, live_server: LiveServer, locale, device, viewport) -> None:  # noqa: ANN001
    session_id = _seated_session(live_server)
    tab = tabs(locale=locale, viewport=viewport)
    owner = next(x for x in DEMO_LOGINS if x.role == "owner")
    tab.sign_in(live_server.url("/manage/login"), owner.email, owner.password)
    lang = "en" if locale == "en" else "zh-CN"
    tab.goto(live_server.url(f"/manage/sell?session={session_id}&lang={lang}"))
    tab.page.locator("[data-seat-picker] [data-map] svg").first.wait_for()
    assert tab.page.locator("[data-seat-picker] h3").inner_text().strip() == SEATS_TO_SELL[locale]
    assert tab.page.locator("input[name^=qty_]").count() == 0
    tab.shot(f"sell-seated-{device}-{locale}")
    assert tab.errors == []


def test_the_box_offices_days_on_a_phone(tabs, live_server: LiveServer) -> None:  # noqa: ANN001
    # The demo's scenic area sells a session a day for a month: the counter lists one day at a time, and the day
    # strip scrolls sideways on a phone with the day shown brought into view.
    tab = tabs(locale="zh-CN", viewport=(390, 844))
    clerk = next(x for x in DEMO_LOGINS if x.role == "sales")
    tab.sign_in(live_server.url("/manage/login"), clerk.email, clerk.password)
    tab.goto(live_server.url("/manage/sell"))
    chips = tab.page.locator(".day-strip .chip")
    assert chips.count() >= 10
    first_day = tab.page.locator("a[href^='/manage/sell?session=']").count()
    assert first_day >= 1
    day = chips.nth(9).get_attribute("href")
    chips.nth(9).click()
    tab.page.wait_for_url(re.compile(re.escape(day or "") + "$"))
    current = tab.page.locator(".day-strip [aria-current]")
    box = current.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert tab.page.locator("a[href^='/manage/sell?session=']").count() >= 1
    tab.shot("sell-days-phone-zh")
    assert tab.errors == []
