"""The back office shows each role only what it can use: navigation, pages and action buttons follow the one
access table (accounts/access.py); a page a role cannot use answers a clear "not for your role" page, never a
form that fails on submit."""

from __future__ import annotations

import re

from tests.factories import staff_member
from tests.tenant_world import build_world
from tests.web.helpers import sign_in

NAV = re.compile(r'<nav class="site-nav".*?</nav>', re.S)


def _nav_links(html: str) -> list[str]:
    found = NAV.search(html)
    return re.findall(r'href="([^"]+)"', found.group(0)) if found else []


async def _as(runtime, client, tenant, role: str) -> None:  # noqa: ANN001
    await staff_member(runtime, tenant.organizer_id, role, f"{role}@example.com")
    await sign_in(client, f"{role}@example.com", "correct horse")


async def test_a_box_office_clerk_cannot_open_the_new_event_form(runtime, client, tenant):
    await _as(runtime, client, tenant, "sales")
    r = await client.get("/manage/events/new", headers={"Accept-Language": "en"})
    assert r.status_code == 403
    assert "This page is not for your role" in r.text and "Box-office clerk" in r.text
    assert 'name="name"' not in r.text and 'action="/manage/events/new"' not in r.text  # no form to fill in
    assert _nav_links(r.text) == ["/manage", "/manage/sell", "/manage/orders", "/gate"]


async def test_navigation_shows_each_role_only_its_pages(runtime, client, tenant):
    expected = {
        "owner": [
            "/manage",
            "/manage/sell",
            "/manage/orders",
            "/manage/payments/reconciliation",
            "/manage/events",
            "/manage/venues",
            "/manage/staff",
            "/manage/tokens",
            "/manage/settings",
            "/gate",
        ],
        "admin": [
            "/manage",
            "/manage/sell",
            "/manage/orders",
            "/manage/payments/reconciliation",
            "/manage/events",
            "/manage/venues",
            "/manage/staff",
            "/manage/settings",
            "/gate",
        ],
        "service": ["/manage", "/manage/orders"],
        "finance": ["/manage", "/manage/orders", "/manage/payments/reconciliation"],
        "gate": ["/manage", "/gate"],
    }
    for role, links in expected.items():
        client.cookies.clear()
        if role == "owner":
            await sign_in(client, tenant.owner_email, tenant.password)
        else:
            await _as(runtime, client, tenant, role)
        page = await client.get("/manage")
        assert page.status_code == 200, (role, page.text)
        assert _nav_links(page.text) == links, role
        for link in links:  # every link shown opens
            assert (await client.get(link)).status_code == 200, (role, link)


async def test_order_actions_are_shown_only_to_roles_that_may_do_them(runtime, client, tenant):
    w = await build_world(runtime, client, tenant)
    pending, paid = f"/manage/orders/{w.pending_order_id}", f"/manage/orders/{w.paid_order_id}"
    forms = {
        "sales": ({"pay", "cancel"}, set()),
        "service": ({"cancel"}, {"refund"}),
        "finance": (set(), {"refund"}),
    }
    for role, (on_pending, on_paid) in forms.items():
        client.cookies.clear()
        await _as(runtime, client, tenant, role)
        shown_pending = set(re.findall(rf'action="{pending}/(\w+)"', (await client.get(pending)).text))
        shown_paid = set(re.findall(rf'action="{paid}/(\w+)"', (await client.get(paid)).text))
        assert (shown_pending, shown_paid) == (on_pending, on_paid), role
