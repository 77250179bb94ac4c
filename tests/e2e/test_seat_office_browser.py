"""The back office's seat maps in a real browser against the real server: an operator builds a section in the map
editor (generated with a preview, then edited on the map: a rectangle of seats flagged, one seat moved with the
arrow keys), gives the session that layout and its zone prices, and a clerk sells two of its seats at the box
office by clicking them on the map, then moves one ticket to another seat from the order page.

Screenshots (desktop 1280×800 and phone 390×844, zh-CN and en) go to test-artifacts/.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from piaowu.demo import DEMO_LOGINS
from tests.browser import drag_box
from tests.servers import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESKTOP = (1280, 800)
PHONE = (390, 844)


def _seated_session(server: LiveServer) -> dict[str, str]:
    """A venue, a published event there and an on-sale session with ticket types adult and student (API)."""
    assert server.demo_token
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    tag = uuid.uuid4().hex[:6]
    auth = {"Authorization": f"Bearer {server.demo_token}"}
    with httpx.Client(base_url=server.base_url, headers=auth, timeout=10) as api:
        venue = api.post("/api/v1/venues", json={"name": f"音乐厅 Concert Hall {tag}", "timezone": "Asia/Shanghai"})
        assert venue.status_code == 201, venue.text
        ev = api.post(
            "/api/v1/events",
            json={"name": f"交响之夜 Symphony {tag}", "venue_id": venue.json()["id"], "is_published": True},
        )
        assert ev.status_code == 201, ev.text
        s = api.post(
            f"/api/v1/events/{ev.json()['id']}/sessions",
            json={
                "name": "晚场 Evening",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=2)).isoformat(),
                "capacity": 1,
                "status": "on_sale",
            },
        )
        assert s.status_code == 201, s.text
        ids = {"venue": venue.json()["id"], "session": s.json()["id"], "event_name": ev.json()["name"]}
        for name, price in (("成人 Adult", 88000), ("学生 Student", 68000)):
            tt = api.post(f"/api/v1/sessions/{ids['session']}/ticket-types", json={"name": name, "price_minor": price})
            assert tt.status_code == 201, tt.text
            ids[name.split()[1].lower()] = tt.json()["id"]
    return ids


def _sign_in(tab, server: LiveServer) -> None:  # noqa: ANN001
    owner = next(login for login in DEMO_LOGINS if login.role == "owner")
    tab.sign_in(server.url("/manage/login"), owner.email, owner.password)


def _pause(server: LiveServer, session_id: str) -> None:
    """The server is shared: other tests pick "the first session on sale", which must not be this seated one."""
    auth = {"Authorization": f"Bearer {server.demo_token}"}
    with httpx.Client(base_url=server.base_url, headers=auth, timeout=10) as api:
        r = api.patch(f"/api/v1/sessions/{session_id}", json={"status": "paused"})
        assert r.status_code == 200, r.text


def test_build_a_section_and_sell_from_it(tabs, live_server: LiveServer) -> None:  # noqa: ANN001
    ids = _seated_session(live_server)
    try:
        _build_and_sell(tabs, live_server, ids)
    finally:
        _pause(live_server, ids["session"])


def _build_and_sell(tabs, live_server: LiveServer, ids: dict[str, str]) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    op = tabs(locale="zh-CN", viewport=DESKTOP)
    page = op.page
    _sign_in(op, live_server)

    # ---- a layout, and a section generated with a preview --------------------------------------------------
    op.goto(live_server.url(f"/manage/venues/{ids['venue']}/layouts"))
    page.locator("#f-name").fill("音乐会 Concert")
    page.get_by_role("button", name="新建座位图").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("音乐会 Concert")
    page.locator("#f-rows").fill("5")
    page.locator("#f-seats_per_row").fill("12")
    page.locator("#f-aisles_after").fill("6")
    page.locator("#f-origin_y").fill("0")
    page.get_by_role("button", name="预览").click()
    expect(page.get_by_text("预览：60 个座位")).to_be_visible()
    expect(page.locator("circle.preview")).to_have_count(60)
    op.shot("01-editor-preview-zh")
    page.get_by_role("button", name="添加分区").click()
    expect(page.locator(".flash")).to_contain_text("60")
    expect(page.locator("circle.seat:not(.preview)")).to_have_count(60)

    # ---- edit on the map: a rectangle of seats flagged, one seat moved with the arrow keys ------------------
    seats = page.locator("[data-seat-editor] circle.seat")
    drag_box(page, seats, 0, 5)
    expect(page.locator("[data-count]")).to_have_text("已选 6 个座位")
    page.locator("#e-attribute").select_option("restricted_view")
    page.locator("[data-action=attr-set]").click()
    seats.nth(59).click()
    expect(page.locator("[data-count]")).to_have_text("已选 1 个座位")
    page.locator("[data-map]").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.locator("[data-unsaved]")).to_be_visible()
    op.shot("02-editor-edited-zh")
    page.get_by_role("button", name="保存座位图").click()
    expect(page.locator(".flash")).to_contain_text("60")
    doc = page.locator("[data-seat-editor]").get_attribute("data-doc") or ""
    assert doc.count("restricted_view") == 6, doc[:400]

    # ---- in English the count has both forms: one seat, then six (the script picks what the page sent) ------
    editor_url = page.url.split("?")[0]
    op.goto(editor_url + "?lang=en")
    seats = page.locator("[data-seat-editor] circle.seat")
    expect(page.locator("[data-count]")).to_have_text("0 seats selected")
    seats.nth(0).click()
    expect(page.locator("[data-count]")).to_have_text("1 seat selected")
    drag_box(page, seats, 0, 5)
    expect(page.locator("[data-count]")).to_have_text("6 seats selected")
    op.shot("02b-editor-selected-en")
    op.goto(editor_url + "?lang=zh-CN")  # the cookie follows ?lang=: back to Chinese for the rest

    # ---- the session sells this layout, priced per zone ------------------------------------------------------
    op.goto(live_server.url(f"/manage/sessions/{ids['session']}/seating"))
    page.get_by_role("button", name="出售此座位图的座位").click()
    expect(page.locator(".flash")).to_contain_text("60")
    page.locator(f"[id='f-price.0.{ids['adult']}']").fill("880")
    page.locator(f"[id='f-price.0.{ids['student']}']").fill("680")
    page.get_by_role("button", name="保存价格").click()
    expect(page.locator(".flash")).to_be_visible()
    expect(page.locator("[data-seat-picker] circle.seat")).to_have_count(60)
    op.shot("03-session-seating-zh")

    # ---- the box office sells two seats picked on the map ----------------------------------------------------
    op.goto(live_server.url(f"/manage/sell?session={ids['session']}"))
    map_seats = page.locator("[data-seat-picker] circle.seat")
    # By keyboard: the first arrow key lands on the front-left seat, the next one goes right, Enter picks it.
    page.locator("[data-seat-picker] [data-map]").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-announce]")).to_contain_text("A 1-2")
    page.keyboard.press("Enter")
    expect(page.locator("[data-picked-list] li")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(page.locator("[data-picked-list] li")).to_have_count(0)
    map_seats.nth(20).click()
    map_seats.nth(21).click(modifiers=["Shift"])
    picked = page.locator("[data-picked-list] li")
    expect(picked).to_have_count(2)
    picked.nth(1).locator("select").select_option(ids["student"])
    expect(page.locator("[data-total]")).to_have_text("¥1,560.00")
    page.locator("#f-buyer_name").fill("王小明")
    page.locator("#f-buyer_phone").fill("139 1234 5678")
    op.shot("04-box-office-zh")
    page.get_by_role("button", name="售票并收款").click()
    expect(page.locator(".flash")).to_contain_text("已收款")
    expect(page.get_by_text("座位 A 2-9")).to_be_visible()
    op.shot("05-order-zh")

    # ---- and moves one ticket to another seat ----------------------------------------------------------------
    page.get_by_role("link", name=re.compile("换座")).first.click()
    page.locator("[data-seat-picker] circle.seat").nth(40).click()
    expect(page.locator("[data-picked-list] li")).to_have_count(1)
    op.shot("06-exchange-zh")
    page.get_by_role("button", name="换座").click()
    expect(page.locator(".flash")).to_contain_text("A 4-5")
    assert not op.errors, op.errors

    # ---- the same pages in English and on a phone ------------------------------------------------------------
    for locale, lang in (("en", "en"), ("zh-CN", "zh-CN")):
        for viewport, label in ((PHONE, "phone"), (DESKTOP, "desktop")):
            if (lang, label) == ("zh-CN", "desktop"):
                continue  # taken above
            tab = tabs(locale=locale, viewport=viewport, is_mobile=label == "phone", has_touch=label == "phone")
            _sign_in(tab, live_server)
            suffix = f"{label}-{'en' if lang == 'en' else 'zh'}"
            tab.goto(live_server.url(f"/manage/venues/{ids['venue']}/layouts?lang={lang}"))
            tab.shot(f"10-layouts-{suffix}")
            tab.page.locator("table a").first.click()
            expect(tab.page.locator("[data-seat-editor] circle.seat")).to_have_count(60)
            tab.shot(f"11-editor-{suffix}")
            tab.goto(live_server.url(f"/manage/sessions/{ids['session']}/seating?lang={lang}"))
            tab.shot(f"12-seating-{suffix}")
            tab.goto(live_server.url(f"/manage/sell?session={ids['session']}&lang={lang}"))
            tab.page.locator("[data-seat-picker] circle.seat").nth(30).click()
            tab.shot(f"13-sell-{suffix}")
            assert not tab.errors, tab.errors
