"""Refunds on the pages: the back office confirms before refunding (tickets, amount, used tickets and the
override with a required reason, which lands in the audit event); the customer's order page shows what was
refunded; the customer's cancel button asks first (a confirmation page, no JavaScript needed)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from piaowu.audit.models import AuditEvent
from piaowu.catalog import views as catalog_views
from piaowu.checkin import service as checkin
from piaowu.checkin.schemas import ScanIn
from piaowu.orders import payment_flow
from piaowu.orders import service as orders
from piaowu.orders.refunds import refund_order
from piaowu.orders.schemas import CashPaymentIn, OrderOut, RefundIn
from piaowu.runtime import Runtime
from tests.concurrency.ledger import in_uow
from tests.factories import on_sale_session, owner_actor, pending_order
from tests.web.helpers import csrf_of, hidden, sign_in


async def _paid_one_admitted(rt: Runtime, tenant) -> tuple[OrderOut, str]:  # noqa: ANN001
    """A paid counter order of two ¥180 tickets; the first was admitted at gate "North"."""
    actor = await owner_actor(rt, tenant.owner_id)
    sale = await on_sale_session(rt, actor, capacity=10, price_minor=18000)
    order = await pending_order(rt, actor, sale.ticket_type_id, 2)
    paid = await in_uow(rt, lambda uow: payment_flow.pay_at_counter(uow, actor, order.id, CashPaymentIn()))
    async with rt.uow(readonly=True) as uow:
        label = (await catalog_views.session_labels(uow, tenant.organizer_id, [sale.session_id]))[sale.session_id]
    rt.clock.set(label.starts_at - timedelta(minutes=20))  # type: ignore[attr-defined]
    code = paid.lines[0].ticket.code
    assert (await in_uow(rt, lambda uow: checkin.scan(uow, actor, ScanIn(raw=code, gate="North")))).admitted
    return paid, sale.session_id


async def _state(rt: Runtime, tenant, order_id: str) -> OrderOut:  # noqa: ANN001
    actor = await owner_actor(rt, tenant.owner_id)
    async with rt.uow(readonly=True) as uow:
        return await orders.get_order(uow, actor, order_id)


async def test_refund_asks_for_confirmation_with_tickets_and_amount(client: httpx.AsyncClient, runtime, tenant):  # noqa: ANN001
    paid, _ = await _paid_one_admitted(runtime, tenant)
    fresh = paid.lines[1]
    await sign_in(client, tenant.owner_email, tenant.password)
    path = f"/manage/orders/{paid.id}"
    page = await client.get(path + "?lang=en")
    assert "Refund selected tickets…" in page.text
    r = await client.post(f"{path}/refund", data={"csrf": csrf_of(page.text), "line": fresh.id})
    assert r.status_code == 200
    assert "Confirm refund" in r.text and 'id="refund-amount">¥180.00<' in r.text
    assert fresh.ticket.code[:4] in r.text.replace(" ", "") and 'name="allow_used"' not in r.text  # none used
    assert f'name="line" value="{fresh.id}"' in r.text and 'name="confirmed" value="1"' in r.text
    assert (await _state(runtime, tenant, paid.id)).refunded_minor == 0  # asking changed nothing

    r = await client.post(
        f"{path}/refund",
        data={"csrf": csrf_of(r.text), "line": fresh.id, "confirmed": "1", "reason": "买错场次 wrong session"},
    )
    assert r.status_code == 303
    done = await _state(runtime, tenant, paid.id)
    assert done.refunded_minor == 18000 and done.status == "partially_refunded"
    async with runtime.uow(readonly=True) as uow:
        (event,) = (
            await uow.session.execute(select(AuditEvent).where(AuditEvent.action == "order.refunded"))
        ).scalars()
    assert event.after["reason"] == "买错场次 wrong session" and "allow_used" not in event.after
    history = (await client.get(path + "?lang=en")).text
    assert "Reason: 买错场次 wrong session" in history


async def test_used_ticket_needs_the_override_and_a_reason_which_lands_in_the_audit(
    client: httpx.AsyncClient,
    runtime,
    tenant,  # noqa: ANN001
):
    paid, session_id = await _paid_one_admitted(runtime, tenant)
    used = paid.lines[0]
    await sign_in(client, tenant.owner_email, tenant.password)
    path = f"/manage/orders/{paid.id}"
    page = await client.get(path + "?lang=en")
    both = {"csrf": csrf_of(page.text), "line": [line.id for line in paid.lines]}
    confirm = await client.post(f"{path}/refund?lang=en", data=both)
    assert confirm.status_code == 200 and 'id="refund-amount">¥360.00<' in confirm.text
    assert "Already used at a gate: 1 of these tickets." in confirm.text
    assert 'name="allow_used"' in confirm.text and "North" in confirm.text  # where it was used

    # confirmed without the override: refused inline, nothing refunded
    r = await client.post(f"{path}/refund?lang=en", data={**both, "confirmed": "1", "reason": "rain"})
    assert r.status_code == 409 and 'id="f-allow_used-error"' in r.text and "already used at a gate" in r.text
    assert 'value="1" id="f-allow_used" aria-invalid' in r.text and "rain</textarea>" in r.text  # kept
    # the override without a reason: the reason field says so
    r = await client.post(f"{path}/refund?lang=en", data={**both, "confirmed": "1", "allow_used": "1", "reason": " "})
    assert r.status_code == 422 and 'id="f-reason-error"' in r.text
    assert "Write why tickets already used at a gate are refunded." in r.text
    assert (await _state(runtime, tenant, paid.id)).refunded_minor == 0

    reason = "演出中断 show stopped at the interval"
    r = await client.post(f"{path}/refund", data={**both, "confirmed": "1", "allow_used": "1", "reason": reason})
    assert r.status_code == 303
    done = await _state(runtime, tenant, paid.id)
    assert done.status == "refunded" and done.refunded_minor == 36000
    async with runtime.uow(readonly=True) as uow:
        (event,) = (
            await uow.session.execute(select(AuditEvent).where(AuditEvent.action == "order.refunded"))
        ).scalars()
    assert event.after["reason"] == reason and event.after["allow_used"] is True
    assert event.after["used_lines"] == [used.id]
    history = (await client.get(path + "?lang=en")).text
    assert f"Reason: {reason}" in history and "Used tickets refunded (override)" in history
    zh = (await client.get(path + "?lang=zh-CN")).text
    assert "已检票仍退款" in zh and f"原因：{reason}" in zh


async def test_the_customer_order_page_shows_refunded_amount_and_tickets(
    client: httpx.AsyncClient,
    runtime,
    tenant,  # noqa: ANN001
):
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=10, price_minor=18000)
    url = f"/s/{tenant.slug}/sessions/{sale.session_id}"
    data = {**hidden((await client.get(url)).text), f"qty_{sale.ticket_type_id}": "2"}
    data |= {"buyer_name": "张三", "buyer_phone": "13812345678"}
    order_url = (await client.post(url, data=data)).headers["location"]
    code = order_url.rsplit("/", 1)[1]
    async with runtime.uow(readonly=True) as uow:
        order = next(o for o in (await orders.list_orders(uow, actor)).items if o.code == code)
    paid = await in_uow(runtime, lambda uow: payment_flow.pay_at_counter(uow, actor, order.id, CashPaymentIn()))
    page = await client.get(order_url + "?lang=en")
    assert "Refunded" not in page.text
    refunded = paid.lines[1]
    await in_uow(runtime, lambda uow: refund_order(uow, actor, order.id, RefundIn(line_ids=[refunded.id])))

    page = await client.get(order_url + "?lang=en")
    assert "Refunded: ¥180.00 for 1 ticket." in page.text  # one ticket: the singular
    assert "Refunded (1 ticket)" in page.text and "−¥180.00" in page.text
    assert page.text.count("Refunded ¥180.00") == 1  # on the refunded ticket only
    card = page.text[page.text.index(f'data-ticket-code="{refunded.ticket.code}"') - 1500 :]
    assert "Refunded ¥180.00" in card[:1600]
    zh = (await client.get(order_url + "?lang=zh-CN")).text
    assert "已退款：1 张票，共 ¥180.00。" in zh and "已退款 ¥180.00" in zh and "已退款（1 张）" in zh
    assert "tickets.pdf" in page.text  # one ticket still admits: its PDF and the entrance advice stay

    # Refunded whole: nothing on the page may still read as "your tickets are ready".
    await in_uow(runtime, lambda uow: refund_order(uow, actor, order.id, RefundIn()))
    page = await client.get(order_url + "?lang=en")
    assert "This order was refunded" in page.text and "Refunded: ¥360.00 for 2 tickets." in page.text
    for stale in ("your tickets are ready", "This page is your ticket", "tickets.pdf", "show the QR code"):
        assert stale not in page.text, stale
    assert "此订单已退款" in (await client.get(order_url + "?lang=zh-CN")).text


async def test_the_customer_cancel_button_asks_first(client: httpx.AsyncClient, runtime, tenant):  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=10)
    url = f"/s/{tenant.slug}/sessions/{sale.session_id}"
    data = {**hidden((await client.get(url)).text), f"qty_{sale.ticket_type_id}": "1"}
    data |= {"buyer_name": "张三", "buyer_phone": "13812345678"}
    order_url = (await client.post(url, data=data)).headers["location"]
    page = await client.get(order_url + "?lang=en")
    # the order page links to the question; it has no form that cancels at once
    assert f'href="{order_url}/cancel"' in page.text and f'action="{order_url}/cancel"' not in page.text
    ask = await client.get(f"{order_url}/cancel?lang=en")
    assert ask.status_code == 200 and "Cancel this order?" in ask.text
    assert "Yes, cancel the order" in ask.text and f'href="{order_url}"' in ask.text  # and a way back
    assert 'name="confirmed" value="1"' in ask.text
    # a cancel posted without the confirmation (an old page, a double tap) only asks
    r = await client.post(f"{order_url}/cancel", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == f"{order_url}/cancel"
    code = order_url.rsplit("/", 1)[1]
    async with runtime.uow(readonly=True) as uow:
        (o,) = [o for o in (await orders.list_orders(uow, actor)).items if o.code == code]
    assert o.status == "pending"
    r = await client.post(f"{order_url}/cancel", data={"csrf": csrf_of(ask.text), "confirmed": "1"})
    assert r.status_code == 303 and r.headers["location"] == order_url
    async with runtime.uow(readonly=True) as uow:
        assert (await orders.get_order(uow, actor, o.id)).status == "cancelled"
    # nothing left to cancel: the question is not asked again
    again = await client.get(f"{order_url}/cancel")
    assert again.status_code == 303 and again.headers["location"] == order_url
    zh = await client.get(order_url + "?lang=zh-CN")
    assert "订单已取消" in zh.text
