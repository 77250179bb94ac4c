"""The whole product in a real browser against the real server: a buyer on a phone buys a ticket in the shop,
pays on the sandbox gateway's hosted page and gets a QR code; gate staff sign in, set up a gate, type the
ticket code: admitted; the same code again: refused as already checked in, saying when and at which gate.

Screenshots of every step go to test-artifacts/ (buyer at 390×844, the gate at a handheld's 412×915).
"""

from __future__ import annotations

import re
import time
import uuid

import pytest

from piaowu.demo import DEMO_LOGINS
from tests.servers import LiveServer, tonight_session

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = (390, 844)
HANDHELD = (412, 915)


def _tonight_session(server: LiveServer) -> tuple[str, str, str]:
    """A published event whose session starts in 30 minutes (admission is already open), created through the
    API with the demo organizer's token. → (event name, session id, ticket type id)."""
    name = f"检票演练 Gate rehearsal {uuid.uuid4().hex[:6]}"
    session_id, ticket_type_id = tonight_session(server, name, capacity=20)
    return name, session_id, ticket_type_id


def test_buy_pay_get_qr_then_check_in_once(tabs, live_server: LiveServer) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    event_name, session_id, ticket_type_id = _tonight_session(live_server)

    # ---- the buyer, on a phone -------------------------------------------------------------------------
    buyer = tabs(locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True)
    page = buyer.page
    # The demo organizer's shop: the live server is shared, and other tests add organizers to it (with more than one,
    # "/" lists the shops instead of one shop's events).
    buyer.goto(live_server.url("/s/demo"))
    event = page.locator("section.event", has=page.get_by_role("heading", name=event_name))
    expect(event).to_be_visible()
    expect(event.locator(".badge")).to_have_text("可购买")
    buyer.shot("01-shop")

    event.locator("a.session-row").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(event_name)
    page.get_by_role("button", name="增加：普通票 Standard").click()
    expect(page.locator(f"#qty-{ticket_type_id}")).to_have_value("1")
    expect(page.locator("[data-total]")).to_have_text("¥120.00")
    page.get_by_label("姓名", exact=True).fill("王小明")
    page.get_by_label("手机号", exact=True).fill("139 1234 5678")
    buyer.shot("02-session-filled")
    page.get_by_role("button", name="提交订单").click()

    expect(page.get_by_role("heading", name="确认并支付")).to_be_visible()
    order_code = page.locator(".order-code").inner_text().strip()
    assert re.fullmatch(r"[2-9A-Z]{8}", order_code), order_code
    expect(page.locator("[data-mmss]")).to_have_text(re.compile(r"1[45]:\d\d"))
    buyer.shot("03-order-pending")

    page.get_by_role("button", name=re.compile("使用沙箱支付付款")).click()
    expect(page.get_by_text("测试支付平台")).to_be_visible()  # the gateway's own page, clearly a test
    expect(page.locator(".gw-amount")).to_have_text("¥120.00")
    buyer.shot("04-gateway")
    page.get_by_role("button", name="确认支付 ¥120.00").click()

    # Back in the shop: "confirming…" refreshes itself until the gateway's notification has been applied.
    expect(page.locator(".qr-svg")).to_be_visible(timeout=20_000)
    expect(page.get_by_role("heading", name=re.compile("支付成功"))).to_be_visible()
    expect(page.locator(".order-code")).to_have_text(order_code)
    expect(page.get_by_role("link", name="下载 PDF")).to_be_visible()
    shown_code = page.locator("[data-ticket-code]").first.inner_text().strip()  # grouped: "ABCD EFGH …"
    assert len(shown_code.replace(" ", "")) == 20, shown_code
    buyer.shot("05-tickets")
    assert buyer.errors == []

    # ---- gate staff, on a handheld, in their own browser ------------------------------------------------
    gate_login = next(x for x in DEMO_LOGINS if x.role == "gate")
    staff = tabs(locale="zh-CN", viewport=HANDHELD)
    gp = staff.page
    staff.goto(live_server.url("/gate"))
    expect(gp).to_have_url(re.compile(r"/manage/login"))
    gp.locator("#f-email").fill(gate_login.email)
    gp.locator("#f-password").fill(gate_login.password)
    gp.locator("form button[type=submit]").click()

    expect(gp).to_have_url(re.compile(r"/gate$"))
    gate_name = f"北门 North {uuid.uuid4().hex[:4]}"
    gp.locator("#gate_name").fill(gate_name)
    gp.locator(f'input[name="session_ids"][value="{session_id}"]').check()
    staff.shot("06-gate-setup")
    gp.locator("button.gate-go").click()

    scan = gp.locator("#gate-raw")
    expect(scan).to_be_focused()  # a wedge scanner types straight into it
    scan.fill(shown_code)  # typed as printed on the ticket, spaces and all
    scan.press("Enter")
    result = gp.locator("#gate-result-box .gate-result").first
    expect(result).to_have_attribute("data-result", "admitted")
    expect(result).to_contain_text("已入场")
    staff.shot("07-gate-admitted")

    time.sleep(3.2)  # the scanner page ignores the same code re-read within 3 s (a double read, not a re-entry)
    scan.fill(shown_code.replace(" ", ""))
    scan.press("Enter")
    expect(result).to_have_attribute("data-result", "already_checked_in")
    text = result.inner_text()
    assert gate_name in text, text  # where the ticket was used
    assert re.search(r"\d\d:\d\d:\d\d", text), text  # and when
    staff.shot("08-gate-already-checked-in")
    assert staff.errors == []

    # ---- the buyer's page now says the ticket was used ---------------------------------------------------
    page.reload()
    expect(page.get_by_text("已检票入场。")).to_be_visible()
