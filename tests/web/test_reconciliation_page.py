"""The back-office reconciliation page: finance, owners and administrators see the mismatches between the
providers' records and ours with what was done, and the daily summary, in zh-CN and en; others see neither the
page nor its link. "Reconcile now" recovers a lost callback on the spot."""

from __future__ import annotations

import httpx
import pytest

from piaowu.runtime import Runtime
from piaowu.workers import reconcile
from tests.factories import staff_member
from tests.integration.test_lost_callback import paid_but_expired
from tests.order_helpers import wire_callbacks
from tests.web.helpers import csrf_of, sign_in

PAGE = "/manage/payments/reconciliation"


@pytest.mark.parametrize("role", ["finance", "admin", "owner"])
async def test_finance_owner_and_admin_see_the_page_and_its_link(
    runtime: Runtime, client: httpx.AsyncClient, tenant, role: str
) -> None:  # noqa: ANN001
    email = tenant.owner_email
    if role != "owner":
        email = f"{role}@demo-theatre.test"
        await staff_member(runtime, tenant.organizer_id, role, email)
    await sign_in(client, email, "correct horse")
    dash = await client.get("/manage?lang=en")
    assert f'href="{PAGE}"' in dash.text
    page = await client.get(PAGE)
    assert page.status_code == 200 and "Payment reconciliation" in page.text
    assert "Nothing was reconciled in this period." in page.text


@pytest.mark.parametrize("role", ["sales", "service", "gate"])
async def test_other_roles_see_neither_page_nor_link(
    runtime: Runtime, client: httpx.AsyncClient, tenant, role: str
) -> None:  # noqa: ANN001
    email = f"{role}@demo-theatre.test"
    await staff_member(runtime, tenant.organizer_id, role, email)
    await sign_in(client, email, "correct horse")
    assert PAGE not in (await client.get("/manage/orders?lang=en")).text
    assert (await client.get(PAGE)).status_code == 403
    assert (await client.post(f"{PAGE}/run", data={"csrf": "x"})).status_code == 403


async def test_the_page_shows_what_reconciliation_fixed_and_the_summary(
    runtime: Runtime, app, client: httpx.AsyncClient, tenant, clock
) -> None:  # noqa: ANN001
    wire_callbacks(runtime, app)
    order = await paid_but_expired(runtime, client, tenant, clock)
    await reconcile.reconcile_payments(runtime)
    await sign_in(client, tenant.owner_email, tenant.password)

    zh = await client.get(f"{PAGE}?lang=zh-CN")
    assert zh.status_code == 200
    assert order["code"] in zh.text and f"/manage/orders/{order['id']}" in zh.text
    assert "支付渠道已收款，本系统未入账" in zh.text and "订单已恢复，已出票" in zh.text and "已修正" in zh.text
    assert "每日汇总" in zh.text and "1 笔 · ¥360.00" in zh.text

    en = await client.get(f"{PAGE}?lang=en")
    assert "Paid at the provider, not recorded here" in en.text and "Order revived, tickets issued" in en.text
    assert "Payment abandoned" in en.text  # what we had: the payment was marked abandoned when the order expired
    only_open = await client.get(f"{PAGE}?show=open&days=30")
    assert order["code"] not in only_open.text  # it was fixed, nothing is open


async def test_reconcile_now_recovers_a_lost_callback(runtime: Runtime, app, client: httpx.AsyncClient, tenant, clock):  # noqa: ANN001
    wire_callbacks(runtime, app)
    order = await paid_but_expired(runtime, client, tenant, clock)
    await sign_in(client, tenant.owner_email, tenant.password)
    page = await client.get(f"{PAGE}?lang=en")

    r = await client.post(f"{PAGE}/run", data={"csrf": csrf_of(page.text)})

    assert r.status_code == 303 and r.headers["location"] == PAGE
    after = await client.get(PAGE)
    assert "Reconciliation checked 1 payment: 1 fixed, 0 open." in after.text  # one: the singular
    got = (await client.get(f"/api/v1/orders/{order['id']}", headers=tenant.auth)).json()
    assert got["status"] == "paid"
    assert (await client.post(f"{PAGE}/run", data={})).status_code in (400, 403)  # no CSRF token, no run
