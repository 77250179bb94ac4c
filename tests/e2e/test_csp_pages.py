"""Every kind of page under its Content-Security-Policy, in a real browser: no violation reported, no console
error, scripts still run (the shop's quantity buttons, the sell page's total), capacity bars still drawn."""

from __future__ import annotations

import httpx
import pytest

from piaowu.demo import DEMO_LOGINS
from tests.servers import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Collects what the browser refused under the page's CSP (added before any of the page's own code runs).
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sourceFile || '')));
"""


def _ids(server: LiveServer) -> dict[str, str]:
    auth = {"Authorization": f"Bearer {server.demo_token}"}
    with httpx.Client(base_url=server.base_url, headers=auth, timeout=10) as api:
        events = api.get("/api/v1/events").json()["items"]
        event, session = next(
            (e, s) for e in events for s in e["sessions"] if s["sale_state"] == "on_sale" and s["ticket_types"]
        )
        slug = api.get("/api/v1/organizer").json()["slug"]
        order = api.post(
            "/api/v1/orders",
            json={
                "items": [{"ticket_type_id": session["ticket_types"][0]["id"], "quantity": 1}],
                "buyer": {"name": "内容安全", "phone": "13912345678"},
            },
        )
        assert order.status_code == 201, order.text
        pay = api.post(f"/api/v1/orders/{order.json()['id']}/payments", json={"return_url": server.url(f"/s/{slug}")})
        assert pay.status_code == 201, pay.text
    return {
        "slug": slug,
        "event": event["id"],
        "session": session["id"],
        "tt": session["ticket_types"][0]["id"],
        "order": order.json()["id"],
        "gateway": pay.json()["redirect_url"].split("/sandbox-gateway", 1)[1],
    }


def test_pages_work_under_their_content_security_policy(tabs, live_server: LiveServer) -> None:  # noqa: ANN001
    ids = _ids(live_server)
    tab = tabs(locale="zh-CN")
    tab.page.add_init_script(WATCH)
    owner = next(x for x in DEMO_LOGINS if x.role == "owner")
    tab.sign_in(live_server.url("/manage/login"), owner.email, owner.password)

    pages = [
        "/",
        f"/s/{ids['slug']}",
        f"/s/{ids['slug']}/sessions/{ids['session']}",
        f"/s/{ids['slug']}/lookup",
        f"/sandbox-gateway{ids['gateway']}",
        "/manage",
        "/manage/events",
        f"/manage/events/{ids['event']}",
        f"/manage/events/{ids['event']}/edit",
        "/manage/venues",
        "/manage/venues/new",
        f"/manage/events/{ids['event']}/series",
        f"/manage/events/{ids['event']}/ticket-types/new",
        f"/manage/sessions/{ids['session']}",
        f"/manage/sessions/{ids['session']}/edit",
        f"/manage/sessions/{ids['session']}/ticket-types/{ids['tt']}/edit",
        "/manage/orders",
        f"/manage/orders/{ids['order']}",
        f"/manage/sell?session={ids['session']}",
        "/manage/staff",
        "/manage/tokens",
        "/manage/settings",
        "/manage/payments/reconciliation",
        "/gate",
    ]
    problems: list[str] = []
    for path in pages:
        response = tab.goto(live_server.url(path))
        csp = response.headers.get("content-security-policy", "")
        if "script-src 'self'" not in csp:
            problems.append(f"{path}: CSP {csp!r}")
        if response.status != 200:
            problems.append(f"{path}: {response.status}")
        problems += [f"{path}: refused {v}" for v in tab.page.evaluate("window.__csp")]
        problems += [f"{path}: console {e}" for e in tab.errors]
        tab.errors.clear()
        if path.endswith("/venues/new") or (path.startswith("/manage/events/") and path.endswith("/edit")):
            tab.shot(path)  # the catalog forms' fields in each language
        if path.startswith("/manage/sessions/") and path.count("/") == 3:
            tab.shot("session-capacity-bar")
            bar = tab.page.locator("svg.capbar").first
            assert bar.bounding_box() and bar.bounding_box()["width"] > 50, "the capacity bar is not drawn"
    assert not problems, "\n".join(problems)

    # The pages' own scripts still run under the policy: the sell page adds up its total as quantities change.
    tab.goto(live_server.url(f"/manage/sell?session={ids['session']}"))
    total_before = tab.page.locator("output[data-total]").first.text_content()
    tab.page.locator(f"#f-qty_{ids['tt']}").fill("2")
    tab.page.locator(f"#f-qty_{ids['tt']}").dispatch_event("input")
    assert tab.page.locator("output[data-total]").first.text_content() != total_before
    assert tab.page.evaluate("window.__csp") == [] and tab.errors == []
