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
    tab.goto(live_server.url("/manage/login"))
    tab.page.locator("#f-email").fill(owner.email)
    tab.page.locator("#f-password").fill(owner.password)
    tab.page.locator("#f-password").press("Enter")
    tab.page.wait_for_url(re.compile(r"/manage$"))
    lang = "en" if locale == "en" else "zh-CN"
    tab.goto(live_server.url(f"/manage/sell?session={session_id}&lang={lang}"))
    tab.page.locator("[data-seat-picker] [data-map] svg").first.wait_for()
    assert tab.page.locator("[data-seat-picker] h3").inner_text().strip() == SEATS_TO_SELL[locale]
    assert tab.page.locator("input[name^=qty_]").count() == 0
    tab.shot(f"sell-seated-{device}-{locale}")
    assert tab.errors == []
