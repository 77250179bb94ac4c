"""WCAG 2.2 A and AA, as axe-core checks them, on the pages a buyer, a clerk and a gate attendant use — in zh-CN on a
phone and in English on a desktop, in the states that matter (a form refused, an order to pay, tickets, a scan's
result), with each page's own Content-Security-Policy in force.

axe-core is an npm development package (package.json), read from ``node_modules`` by the test and evaluated in the
page; the server never serves it. What axe cannot judge (whether a text makes sense read aloud, the order of
focus through a task, the seat picker by keyboard) is tested where each page is (tests/e2e/test_seat_picker_browser.py
and the others); this walk catches the mechanical failures: contrast, names, labels, roles, landmarks.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest

from piaowu.config import Settings
from piaowu.demo import DEMO_LOGINS
from tests.browser import Tab
from tests.conftest import require_or_skip
from tests.servers import LiveServer, tonight_session

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = (390, 844)
DESKTOP = (1280, 900)
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# A refused form is answered 422 (its page with the errors), which the browser's console reports as a failed load.
REFUSED_FORM = "the server responded with a status of 422"


def axe_source() -> str:
    path = Path(Settings().browser_packages_dir) / "axe-core" / "axe.min.js"
    require_or_skip(path.exists(), f"axe-core ({path}: npm ci installs it)")
    return path.read_text(encoding="utf-8")


class Auditor:
    """Runs axe on a tab's current page; collects one line per violation and page."""

    def __init__(self) -> None:
        self.source = axe_source()
        self.problems: list[str] = []
        self.pages = 0

    def __call__(self, tab: Tab, what: str) -> None:
        page = tab.page
        page.wait_for_load_state("load")
        if not page.evaluate("typeof axe !== 'undefined'"):
            page.evaluate(self.source)  # through the browser's debugging protocol: the page's CSP stays on
        found = page.evaluate(
            """(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}}).then(r => r.violations.map(
                 v => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map(n => n.target).join('; ')}`))""",
            TAGS,
        )
        self.pages += 1
        self.problems += [f"{what} [{page.url}]: {line}" for line in found]


def _sessions(server: LiveServer) -> dict[str, str]:
    """The demo's sessions and event the walk opens: the concert (seated), its seat map, and an event with many
    dates (the calendar); names in the organizer's language, zh-CN."""
    api = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {server.demo_token}"}, timeout=10)
    events = api.get("/api/v1/events").json()["items"]
    concert = next(e for e in events if e["name"] == "新年音乐会")
    layouts = api.get(f"/api/v1/venues/{concert['venue_id']}/seat-layouts").json()["items"]
    return {
        "seated": next(s["id"] for s in concert["sessions"] if s["sale_state"] == "on_sale"),
        "calendar_event": next(e["id"] for e in events if e["name"] == "玉龙雪山景区"),
        "layout": f"/manage/venues/{concert['venue_id']}/layouts/{layouts[0]['id']}",
    }


def test_every_page_meets_wcag_aa_as_axe_checks_it(tabs, live_server: LiveServer) -> None:  # noqa: ANN001, PLR0915
    from playwright.sync_api import expect

    audit = Auditor()
    ids = _sessions(live_server)
    tonight, _ = tonight_session(live_server, f"无障碍 Access {uuid.uuid4().hex[:6]}")

    # ---- a buyer on a phone (zh-CN) and on a desktop (en) ---------------------------------------------------
    tickets: list[str] = []
    for locale, viewport, mobile in (("zh-CN", PHONE, True), ("en", DESKTOP, False)):
        buyer = tabs(locale=locale, viewport=viewport, is_mobile=mobile, has_touch=mobile)
        page = buyer.page
        for path, what in (
            ("/s/demo", "shop"),
            (f"/s/demo/events/{ids['calendar_event']}", "an event's calendar"),
            (f"/s/demo/sessions/{ids['seated']}", "the seat picker"),
            ("/s/demo/lookup", "order lookup"),
        ):
            buyer.goto(live_server.url(path))
            audit(buyer, f"{locale}: {what}")
        page.locator("form button[type=submit]").last.click()  # the lookup, empty: its errors
        expect(page.locator("[aria-invalid=true]").first).to_be_visible()
        audit(buyer, f"{locale}: order lookup refused")

        buyer.goto(live_server.url(f"/s/demo/sessions/{tonight}"))
        audit(buyer, f"{locale}: a session")
        page.locator("button.buy-submit").click()  # nothing chosen, no name: the form's errors
        expect(page.locator("[role=alert]").first).to_be_visible()
        audit(buyer, f"{locale}: a session's form refused")
        page.locator("input[id^=qty-]").first.fill("1")
        page.locator("input[name=buyer_name]").fill("无障碍 Reader")
        page.locator("input[name=buyer_phone]").fill("13912345678")
        page.locator("button.buy-submit").click()
        expect(page.locator("[data-mmss]")).to_be_visible()
        audit(buyer, f"{locale}: an order to pay")
        page.locator("form[action$='/pay'] button[type=submit]").click()
        expect(page.locator(".gw-amount")).to_be_visible()
        audit(buyer, f"{locale}: the sandbox gateway")
        page.locator("button.gw-pay").click()
        expect(page.locator(".qr-svg")).to_be_visible(timeout=20_000)
        audit(buyer, f"{locale}: tickets")
        tickets.append(page.locator("[data-ticket-code]").first.inner_text().replace(" ", ""))
        assert not [e for e in buyer.errors if REFUSED_FORM not in e], buyer.errors

    # ---- a clerk in the back office (en, desktop) -------------------------------------------------------------
    owner = next(x for x in DEMO_LOGINS if x.role == "owner")
    clerk = tabs(locale="en", viewport=DESKTOP)
    cp = clerk.page
    clerk.goto(live_server.url("/manage/login"))
    audit(clerk, "sign-in")
    cp.locator("form button[type=submit]").click()
    audit(clerk, "sign-in refused")
    clerk.sign_in(live_server.url("/manage/login"), owner.email, owner.password)
    for path, what in (
        ("/manage", "dashboard"),
        ("/manage/sell", "box office"),
        (f"/manage/sell?session={tonight}", "box office: a session"),
        (f"/manage/sell?session={ids['seated']}", "box office: a seated session"),
        ("/manage/orders", "orders"),
        ("/manage/events", "events"),
        (f"/manage/events/{ids['calendar_event']}", "an event"),
        (f"/manage/events/{ids['calendar_event']}/edit", "an event's form"),
        (f"/manage/sessions/{ids['seated']}", "a seated session"),
        (f"/manage/sessions/{ids['seated']}/edit", "a session's form"),
        (f"/manage/sessions/{ids['seated']}/seating", "a session's seats and zone prices"),
        (f"/manage/events/{ids['calendar_event']}/series", "sessions in series"),
        (ids["layout"], "the seat map editor"),
        ("/manage/venues/new", "a new venue"),
        ("/manage/venues", "venues"),
        ("/manage/staff", "staff"),
        ("/manage/tokens", "API tokens"),
        ("/manage/settings", "settings"),
        ("/manage/payments/reconciliation", "reconciliation"),
    ):
        clerk.goto(live_server.url(path))
        audit(clerk, what)
    clerk.goto(live_server.url("/manage/orders"))
    cp.locator("a[href^='/manage/orders/']").first.click()
    expect(cp).to_have_url(re.compile(r"/manage/orders/\w+$"))
    audit(clerk, "an order")
    clerk.goto(live_server.url("/manage/events/new"))
    cp.locator("form button[type=submit]").last.click()
    expect(cp.locator("[role=alert]").first).to_be_visible()
    audit(clerk, "a new event refused")
    assert not [e for e in clerk.errors if REFUSED_FORM not in e], clerk.errors

    # ---- a gate attendant on a handheld (zh-CN): set-up, a ticket admitted, a code refused ------------------------
    gate = next(x for x in DEMO_LOGINS if x.role == "gate")
    staff = tabs(locale="zh-CN", viewport=PHONE)
    gp = staff.page
    staff.goto(live_server.url("/gate"))
    gp.locator("#f-email").fill(gate.email)
    gp.locator("#f-password").fill(gate.password)
    gp.locator("form button[type=submit]").click()
    expect(gp).to_have_url(re.compile(r"/gate$"))
    audit(staff, "gate set-up")
    gp.locator("#gate_name").fill(f"北门 {uuid.uuid4().hex[:4]}")
    gp.locator(f'input[name="session_ids"][value="{tonight}"]').check()
    gp.locator("button.gate-go").click()
    expect(gp.locator("#gate-raw")).to_be_visible()
    audit(staff, "gate: the scanner")
    for result, code in (("ok", tickets[0]), ("deny", "NOSUCHTICKET")):  # admitted; no such ticket
        gp.locator("#gate-raw").fill(code)
        gp.locator("#gate-raw").press("Enter")
        expect(gp.locator(f"#gate-result-box .gate-{result}")).to_be_visible()
        audit(staff, f"gate: a scan's result ({result})")
    assert not staff.errors, staff.errors

    assert audit.pages == 47  # the walk above, every page of it
    assert not audit.problems, f"{len(audit.problems)} WCAG failures:\n" + "\n".join(audit.problems)
