"""A combo pass in a real browser: an operator makes a two-attraction pass (grants API), the box office sells
one, and gate staff at attraction B type its code: admitted, with the pass's parts listed and B's marked as this
scan; typed again: already checked in, still showing which part is used.

Screenshots go to test-artifacts/ (the gate at a handheld's 412×915).
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta

import httpx
import pytest

from piaowu.demo import DEMO_LOGINS
from tests.order_helpers import BUYER
from tests.servers import LiveServer, api_session

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HANDHELD = (412, 915)


def _sold_pass(server: LiveServer) -> tuple[str, str, str]:
    """Two attractions open now, a pass over both sold at the counter. → (B's session id, code, B's name)."""
    assert server.demo_token, "the live server was seeded without the demo organizer"
    tag = uuid.uuid4().hex[:4]
    sessions = []
    for name in (f"古镇 Old Town {tag}", f"博物馆 Museum {tag}"):
        sessions.append(
            api_session(
                server.base_url,
                server.demo_token,
                event={"name": name, "venue_name": "景区 Scenic area"},
                session_name="",
                starts_in=timedelta(minutes=30),
                hours=8,
                capacity=50,
                ticket_type={"name": "联票 Combo pass", "price_minor": 9000, "max_per_order": 4},
            )
        )
    (a_session, a_type), (b_session, _b_type) = sessions
    auth = {"Authorization": f"Bearer {server.demo_token}"}
    with httpx.Client(base_url=server.base_url, headers=auth, timeout=10) as api:
        body = {"grants": [{"session_id": a_session}, {"session_id": b_session}]}
        assert api.put(f"/api/v1/ticket-types/{a_type}/grants", json=body).status_code == 200
        sale = {"items": [{"ticket_type_id": a_type, "quantity": 1}], "buyer": BUYER, "payment": {"method": "cash"}}
        r = api.post("/api/v1/box-office/sales", json=sale)
        assert r.status_code == 201, r.text
    ticket = r.json()["lines"][0]["ticket"]
    assert [e["session_id"] for e in ticket["entitlements"]] == [a_session, b_session]
    return b_session, ticket["code"], f"博物馆 Museum {tag}"


def test_a_pass_at_the_second_attraction(tabs, live_server: LiveServer) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    b_session, code, b_name = _sold_pass(live_server)
    gate_login = next(x for x in DEMO_LOGINS if x.role == "gate")
    staff = tabs(locale="zh-CN", viewport=HANDHELD)
    gp = staff.page
    staff.goto(live_server.url("/gate"))
    gp.locator("#f-email").fill(gate_login.email)
    gp.locator("#f-password").fill(gate_login.password)
    gp.locator("form button[type=submit]").click()
    expect(gp).to_have_url(re.compile(r"/gate$"))
    gp.locator("#gate_name").fill("博物馆入口 Museum gate")
    gp.locator(f'input[name="session_ids"][value="{b_session}"]').check()
    gp.locator("button.gate-go").click()

    scan = gp.locator("#gate-raw")
    scan.fill(code)
    scan.press("Enter")
    result = gp.locator("#gate-result-box .gate-result").first
    expect(result).to_have_attribute("data-result", "admitted")
    parts = result.locator(".gate-part")
    expect(parts).to_have_count(2)
    expect(parts.nth(0)).to_contain_text("已用 0 / 1 次")
    expect(parts.nth(1)).to_contain_text(b_name)
    expect(parts.nth(1)).to_contain_text("本次核销")
    expect(result.locator(".gate-part-this")).to_have_count(1)
    expect(gp.locator("#gate-in")).to_have_text("1")  # the museum gate counts the pass it admitted
    staff.shot("pass-01-gate-admitted")

    time.sleep(3.2)  # the page ignores the same code re-read within 3 s
    scan.fill(code)
    scan.press("Enter")
    expect(result).to_have_attribute("data-result", "already_checked_in")
    expect(result.locator(".gate-part").nth(1)).to_contain_text("已用 1 / 1 次")
    expect(result.locator(".gate-part").nth(1)).to_contain_text("本次查验")  # judged, not redeemed
    staff.shot("pass-02-gate-already-used")
    assert staff.errors == []
