"""A payment whose return URL is on the organizer's own site (a per-organizer return origin) really brings the buyer
back there in a browser: the gateway page's Content-Security-Policy lets its form's redirect lead to that origin
(browsers check a form's redirect against ``form-action``), and nothing else is opened up."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest

from tests.servers import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


def test_the_buyer_returns_to_the_organizers_own_site(tabs, live_server: LiveServer) -> None:  # noqa: ANN001
    # Another origin that reaches the same server: what an organizer's own site is to the gateway.
    port = urlsplit(live_server.base_url).port
    own_site = f"http://localhost:{port}"
    auth = {"Authorization": f"Bearer {live_server.demo_token}"}
    with httpx.Client(base_url=live_server.base_url, headers=auth, timeout=10) as api:
        slug = api.get("/api/v1/organizer").json()["slug"]
        events = api.get("/api/v1/events").json()["items"]
        session = next(s for e in events for s in e["sessions"] if s["sale_state"] == "on_sale" and s["ticket_types"])
        order = api.post(
            "/api/v1/orders",
            json={
                "items": [{"ticket_type_id": session["ticket_types"][0]["id"], "quantity": 1}],
                "buyer": {"name": "回到自己网站", "phone": "13912345670"},
            },
        ).json()
        back = f"{own_site}/s/{slug}/lookup"
        refused = api.post(f"/api/v1/orders/{order['id']}/payments", json={"return_url": back})
        assert refused.status_code == 422, refused.text  # not listed yet
        listed = api.patch("/api/v1/organizer/settings", json={"return_origins": [own_site]})
        assert listed.status_code == 200, listed.text
        try:
            pay = api.post(f"/api/v1/orders/{order['id']}/payments", json={"return_url": back})
            assert pay.status_code == 201, pay.text
            tab = tabs(locale="en")
            tab.page.add_init_script(WATCH)
            response = tab.goto(live_server.url(pay.json()["redirect_url"]))
            assert f"form-action 'self' {own_site}" in response.headers["content-security-policy"]
            tab.page.locator("button.gw-pay").click()
            tab.page.wait_for_url(re.compile(re.escape(back) + r"\?gateway_result=paid"))
            assert tab.page.evaluate("window.__csp") == []
        finally:
            api.patch("/api/v1/organizer/settings", json={"return_origins": []})  # the server is shared
