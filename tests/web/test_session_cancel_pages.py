"""Back office: a session's orders before and after, cancelling it from its page, progress and report, retry."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from piaowu.orders import payment_flow, session_cancel
from piaowu.orders.schemas import CashPaymentIn
from piaowu.runtime import Runtime
from piaowu.workers import bulk
from tests.concurrency.ledger import in_uow
from tests.factories import on_sale_session, owner_actor, pending_order
from tests.web.helpers import csrf_of, hidden, sign_in


def _count(html: str, name: str) -> str:
    m = re.search(rf'data-count="{name}">([^<]*)<', html)
    assert m, name
    return m.group(1).strip()


async def test_cancel_from_the_session_page_with_progress_report_and_retry(
    client: httpx.AsyncClient,
    tenant,  # noqa: ANN001
    runtime: Runtime,
) -> None:
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=20)
    other = await on_sale_session(runtime, actor, capacity=20, name="Other")
    pending = await pending_order(runtime, actor, sale.ticket_type_id, 2)
    paid = await pending_order(runtime, actor, sale.ticket_type_id)
    await in_uow(runtime, lambda uow: payment_flow.pay_at_counter(uow, actor, paid.id, CashPaymentIn()))
    elsewhere = await pending_order(runtime, actor, other.ticket_type_id)
    await sign_in(client, tenant.owner_email, tenant.password)

    listed = await client.get(f"/manage/orders?session_id={sale.session_id}&lang=en")
    assert listed.status_code == 200
    assert pending.code in listed.text and paid.code in listed.text and elsewhere.code not in listed.text
    assert f'data-session-filter="{sale.session_id}"' in listed.text

    page = await client.get(f"/manage/sessions/{sale.session_id}?lang=en")
    assert f"/manage/orders?session_id={sale.session_id}" in page.text
    assert 'action="/manage/sessions/' + sale.session_id + '/cancel"' in page.text
    # Without the confirmation box: refused inline, what was typed is kept, nothing changed.
    r = await client.post(
        f"/manage/sessions/{sale.session_id}/cancel", data={"csrf": csrf_of(page.text), "reason": "Storm"}
    )
    assert r.status_code == 422 and 'id="f-confirm-error"' in r.text and 'value="Storm"' in r.text
    # The edit form no longer offers "cancelled" as a status: cancelling has its own action.
    edit = await client.get(f"/manage/sessions/{sale.session_id}/edit")
    assert 'value="cancelled"' not in edit.text

    calls = {"n": 0}

    def fail_first(job_id: str, subject: str) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("provider down")

    runtime.extras[bulk.HOOK_KEY] = fail_first
    r = await client.post(
        f"/manage/sessions/{sale.session_id}/cancel",
        data={"csrf": csrf_of(page.text), "reason": "Storm", "confirm": "1"},
    )
    assert r.status_code == 303
    page = await client.get(f"/manage/sessions/{sale.session_id}?lang=en")
    assert 'data-job-status="running"' in page.text and 'http-equiv="refresh"' in page.text
    assert "0 of 2 orders handled" in page.text and "Reason: Storm" in page.text
    assert "Cancel this session" not in page.text

    assert await bulk.run_bulk_jobs(runtime) == 2
    page = await client.get(f"/manage/sessions/{sale.session_id}?lang=en")
    assert 'data-job-status="done"' in page.text and 'http-equiv="refresh"' not in page.text
    assert _count(page.text, "failed") == "1" and "provider down" in page.text
    retry_action = f"/manage/sessions/{sale.session_id}/cancellation/retry"
    assert retry_action in page.text

    r = await client.post(retry_action, data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303
    assert await bulk.run_bulk_jobs(runtime) == 1
    page = await client.get(f"/manage/sessions/{sale.session_id}?lang=en")
    assert 'data-job-status="done"' in page.text and retry_action not in page.text
    assert (_count(page.text, "cancelled"), _count(page.text, "refunded"), _count(page.text, "failed")) == (
        "1",
        "1",
        "0",
    )
    assert _count(page.text, "refunded_minor").replace(",", "").endswith(f"{sale.price_minor // 100}.00")

    # After: the same orders, in their new states; the other session's order is not in the list.
    listed = await client.get(f"/manage/orders?session_id={sale.session_id}&lang=en")
    assert pending.code in listed.text and paid.code in listed.text and elsewhere.code not in listed.text
    assert "Refunded" in listed.text and "Cancelled" in listed.text

    # The refund's reason, written by the system in English, reads in the page's language; staff words as typed.
    en = (await client.get(f"/manage/orders/{paid.id}?lang=en")).text
    assert "Reason: The session was cancelled: Storm" in en and "session cancelled" not in en
    zh = (await client.get(f"/manage/orders/{paid.id}?lang=zh-CN")).text
    assert "原因：场次已取消：Storm" in zh and "session cancelled" not in zh


async def test_the_shop_stops_selling_and_refuses_to_take_payment_for_a_cancelled_session(
    client: httpx.AsyncClient,
    tenant,  # noqa: ANN001
    runtime: Runtime,
) -> None:
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=20)
    url = f"/s/{tenant.slug}/sessions/{sale.session_id}"
    assert url in (await client.get(f"/s/{tenant.slug}")).text
    form = hidden((await client.get(url)).text)
    bought = await client.post(
        url,
        data={**form, f"qty_{sale.ticket_type_id}": "1", "buyer_name": "张三", "buyer_phone": "13812345678"},
    )
    assert bought.status_code == 303
    order_url = bought.headers["location"]
    csrf = hidden((await client.get(order_url)).text)["csrf"]
    await in_uow(runtime, lambda uow: session_cancel.cancel_session(uow, actor, sale.session_id, "storm"))

    assert url not in (await client.get(f"/s/{tenant.slug}")).text  # not listed any more
    r = await client.post(f"{order_url}/pay", data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == order_url  # back to the order, not to the gateway
    assert "该场次已取消" in (await client.get(order_url)).text


async def test_an_ended_session_s_page_offers_no_cancellation_and_a_stale_form_is_refused_inline(
    client: httpx.AsyncClient,
    tenant,  # noqa: ANN001
    runtime: Runtime,
    clock,  # noqa: ANN001
) -> None:
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=20)
    await sign_in(client, tenant.owner_email, tenant.password)
    stale = await client.get(f"/manage/sessions/{sale.session_id}?lang=en")
    assert f'action="/manage/sessions/{sale.session_id}/cancel"' in stale.text
    clock.advance(timedelta(days=30))  # long after the session (it starts in 7 days)
    # A sign-in lasts 12 hours (accounts.sessions.LIFETIME): the clerk signs in again, the form stays as it was.
    await sign_in(client, tenant.owner_email, tenant.password)

    page = await client.get(f"/manage/sessions/{sale.session_id}?lang=en")
    assert f'action="/manage/sessions/{sale.session_id}/cancel"' not in page.text
    assert "it can no longer be cancelled as a whole" in page.text
    zh = await client.get(f"/manage/sessions/{sale.session_id}?lang=zh-CN")
    assert "该场次已结束，不能再整场取消" in zh.text
    r = await client.post(
        f"/manage/sessions/{sale.session_id}/cancel",
        data={"csrf": csrf_of(page.text), "reason": "late", "confirm": "1"},  # the new sign-in's token
    )
    assert (
        r.status_code == 409 and "该场次已结束，不能再整场取消。请逐个订单办理退款。" in r.text
    )  # the language chosen last
    assert await bulk.run_bulk_jobs(runtime) == 0
