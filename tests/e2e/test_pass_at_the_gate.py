"""A combo pass in a real browser: an operator makes a two-attraction pass on the back office's grants page,
the box office sells one (API), and gate staff at attraction B type its code: admitted, with the pass's parts
listed and B's marked as redeemed now; typed again: already checked in, still showing which part is used.

Screenshots go to test-artifacts/ (the gate at a handheld's 412×915).
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

from piaowu.demo import DEMO_LOGINS
from tests.browser import open_gate
from tests.servers import LiveServer, api_box_office_ticket, api_session

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HANDHELD = (412, 915)


def _attractions(server: LiveServer) -> tuple[tuple[str, str], tuple[str, str], str]:
    """Two attractions open now. → ((A's session, A's ticket type), (B's session, B's type), B's name)."""
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
    return sessions[0], sessions[1], f"博物馆 Museum {tag}"


def test_a_pass_at_the_second_attraction(tabs, live_server: LiveServer) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    (a_session, a_type), (b_session, _), b_name = _attractions(live_server)

    # ---- the operator makes the ticket type a pass over both attractions --------------------------------
    owner = next(x for x in DEMO_LOGINS if x.role == "owner")
    office = tabs(locale="zh-CN", viewport=(1280, 900))
    op = office.page
    office.goto(live_server.url(f"/manage/ticket-types/{a_type}/grants"))
    op.locator("#f-email").fill(owner.email)
    op.locator("#f-password").fill(owner.password)
    op.locator("form button[type=submit]").click()
    expect(op.get_by_role("heading", level=1)).to_have_text("此票包含的项目")
    op.locator("#f-target_0").select_option(f"s:{a_session}")
    op.locator("#f-target_1").select_option(f"s:{b_session}")
    office.shot("pass-00-grants-page")
    op.get_by_role("button", name="保存").click()
    expect(op.locator("#f-target_1")).to_have_value(f"s:{b_session}")
    assert office.errors == []

    ticket = api_box_office_ticket(live_server.base_url, live_server.demo_token, a_type)
    assert [e["session_id"] for e in ticket["entitlements"]] == [a_session, b_session]
    code = ticket["code"]

    gate_login = next(x for x in DEMO_LOGINS if x.role == "gate")
    staff = tabs(locale="zh-CN", viewport=HANDHELD)
    gp = staff.page
    open_gate(
        gp, live_server.url("/gate"), gate_login.email, gate_login.password, "博物馆入口 Museum gate", [b_session]
    )

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
