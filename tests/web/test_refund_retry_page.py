"""The order page's refunds in the back office, on SQLite and PostgreSQL, in zh-CN and en: a refund the provider
refused, or one the outbox gave up on, shows its state and why, with *Retry refund* for staff holding
``payment.refund``; a retry that is no longer possible is explained beside the refund; the reconciliation page's
open item links to the refunds and offers the same retry."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from piaowu.runtime import Runtime
from piaowu.workers import reconcile
from tests.conftest import Tenant
from tests.factories import staff_member
from tests.integration.test_refund_retry import Gateway, give_up, refunded_online, retry
from tests.order_helpers import drain
from tests.web.helpers import csrf_of, sign_in

RECONCILIATION = "/manage/payments/reconciliation"


def refund_entry(html: str, refund_id: str) -> str:
    """The refund's entry in the page's list of refunds."""
    found = re.search(rf'<li id="refund-{refund_id}".*?</li>', html, re.S)
    assert found, f"refund {refund_id} is not on the page"
    return found.group(0)


async def refused(
    runtime: Runtime, app: Any, client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict, Gateway]:
    order = await refunded_online(runtime, app, client, tenant)
    gateway = Gateway(monkeypatch, "refuse")
    assert await drain(runtime) == 1
    return order, gateway


async def test_a_refused_refund_shows_why_and_is_retried_from_the_order_page(
    runtime: Runtime, app: Any, client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    order, gateway = await refused(runtime, app, client, tenant, monkeypatch)
    rid, url = order["refund_id"], f"/manage/orders/{order['id']}"
    await sign_in(client, tenant.owner_email, tenant.password)
    action = f'action="{url}/refunds/{rid}/retry"'

    zh = await client.get(f"{url}?lang=zh-CN")
    entry = refund_entry(zh.text, rid)
    assert "退款记录" in zh.text and 'data-refund-state="failed"' in entry and "渠道拒绝退款" in entry
    assert "支付渠道拒绝了此退款：“merchant balance too low”。款项仍应退还购票人。" in entry
    assert action in entry and "重试退款" in entry
    en = await client.get(f"{url}?lang=en")
    entry = refund_entry(en.text, rid)
    assert "Refused by the provider" in entry and "¥180.00" in entry
    assert "The provider refused it: “merchant balance too low”. The money is still owed to the buyer." in entry
    assert "Retry refund" in entry and "<strong>Refund failed</strong>" in en.text

    gateway.mode = "up"
    done = await client.post(f"{url}/refunds/{rid}/retry", data={"csrf": csrf_of(en.text)})
    assert done.status_code == 303 and done.headers["location"] == url, done.text
    after = await client.get(f"{url}?lang=en")
    assert "Refund of ¥180.00 asked for again from the payment provider" in after.text
    entry = refund_entry(after.text, rid)
    assert 'data-refund-state="pending"' in entry and "With the provider" in entry and action not in entry
    assert "<strong>Refund asked for again</strong>" in after.text

    assert await drain(runtime) == 1
    paid = await client.get(f"{url}?lang=zh-CN")
    assert 'data-refund-state="succeeded"' in refund_entry(paid.text, rid) and "已到账" in paid.text
    # The same form sent again (a stale tab): refused beside the refund, in the page's language, nothing done.
    again = await client.post(f"{url}/refunds/{rid}/retry?lang=en", data={"csrf": csrf_of(en.text)})
    assert again.status_code == 409
    said = refund_entry(again.text, rid)
    assert f'id="refund-{rid}-error"' in said
    assert "This refund was already paid out by the provider; it is never asked for twice." in said
    assert await drain(runtime) == 0 and gateway.asked == 2


async def test_a_retry_someone_else_made_first_is_explained_inline(
    runtime: Runtime, app: Any, client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    order, _ = await refused(runtime, app, client, tenant, monkeypatch)
    rid, url = order["refund_id"], f"/manage/orders/{order['id']}"
    await sign_in(client, tenant.owner_email, tenant.password)
    page = await client.get(f"{url}?lang=zh-CN")  # the button is shown…
    assert (await retry(client, rid, tenant.auth)).status_code == 200  # …and a colleague retries it through the API
    late = await client.post(f"{url}/refunds/{rid}/retry", data={"csrf": csrf_of(page.text)})
    assert late.status_code == 409
    assert "此退款仍在向支付渠道申请中" in refund_entry(late.text, rid)
    # A refund id that is not this order's: said on the order page, not an error page.
    other = await client.post(f"{url}/refunds/01{'0' * 24}/retry?lang=en", data={"csrf": csrf_of(page.text)})
    assert other.status_code == 404 and 'id="order-error"' in other.text and "No refund with this id." in other.text


async def test_a_refund_the_outbox_gave_up_on_is_shown_stuck_and_retried(
    runtime: Runtime,
    app: Any,
    client: httpx.AsyncClient,
    tenant: Tenant,
    clock: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order = await refunded_online(runtime, app, client, tenant)
    rid, url = order["refund_id"], f"/manage/orders/{order['id']}"
    gateway = Gateway(monkeypatch, "unreachable")
    await give_up(runtime, clock)
    await sign_in(client, tenant.owner_email, tenant.password)
    en = await client.get(f"{url}?lang=en")
    entry = refund_entry(en.text, rid)
    assert 'data-refund-state="stuck"' in entry and "Not paid out: the provider could not be reached" in entry
    assert "The provider was asked 8 times and could not be reached; nothing asks again by itself." in entry
    assert "the gateway cannot be reached" in entry and "Retry refund" in entry
    zh = await client.get(f"{url}?lang=zh-CN")
    assert "未到账：无法连接支付渠道" in refund_entry(zh.text, rid)
    gateway.mode = "up"
    r = await client.post(f"{url}/refunds/{rid}/retry", data={"csrf": csrf_of(en.text)})
    assert r.status_code == 303
    assert await drain(runtime) == 1
    assert 'data-refund-state="succeeded"' in refund_entry((await client.get(url)).text, rid)


async def test_the_reconciliation_page_offers_the_retry_of_its_open_refund(
    runtime: Runtime, app: Any, client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    order, gateway = await refused(runtime, app, client, tenant, monkeypatch)
    rid = order["refund_id"]
    assert (await reconcile.reconcile_payments(runtime)).outcomes["open"] == 1
    await sign_in(client, tenant.owner_email, tenant.password)
    page = await client.get(f"{RECONCILIATION}?lang=en&show=open")
    assert "Refund refused by the provider" in page.text
    assert f'href="/manage/orders/{order["id"]}#refunds">See the refunds</a>' in page.text
    assert f'action="/manage/orders/{order["id"]}/refunds/{rid}/retry"' in page.text
    assert "Retry refund of ¥180.00" in page.text
    assert "重试退款 ¥180.00" in (await client.get(f"{RECONCILIATION}?lang=zh-CN")).text

    gateway.mode = "up"
    form = {"csrf": csrf_of(page.text), "from": "reconciliation"}
    done = await client.post(f"/manage/orders/{order['id']}/refunds/{rid}/retry?lang=en", data=form)
    assert done.status_code == 303 and done.headers["location"] == RECONCILIATION, done.text
    back = await client.get(f"{RECONCILIATION}?lang=en")
    assert "Refund of ¥180.00 asked for again from the payment provider" in back.text
    assert f"/refunds/{rid}/retry" not in back.text  # pending again: nothing to retry until it fails or gets stuck
    assert await drain(runtime) == 1
    assert (await reconcile.reconcile_payments(runtime)).outcomes["open"] == 0


@pytest.mark.parametrize(("role", "retries"), [("sales", False), ("service", True), ("finance", True)])
async def test_only_staff_with_the_refund_permission_get_the_retry(
    runtime: Runtime,
    app: Any,
    client: httpx.AsyncClient,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    role: str,
    retries: bool,
) -> None:
    order, _ = await refused(runtime, app, client, tenant, monkeypatch)
    rid, url = order["refund_id"], f"/manage/orders/{order['id']}"
    email = f"{role}@demo-theatre.test"
    await staff_member(runtime, tenant.organizer_id, role, email)
    await sign_in(client, email, "correct horse")
    page = await client.get(f"{url}?lang=en")
    entry = refund_entry(page.text, rid)
    assert "merchant balance too low" in entry  # everyone who reads the order sees why
    assert ("Retry refund" in entry) is retries
    r = await client.post(f"{url}/refunds/{rid}/retry", data={"csrf": csrf_of(page.text)})
    assert r.status_code == (303 if retries else 403), r.text
