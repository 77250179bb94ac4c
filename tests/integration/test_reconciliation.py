"""Payment reconciliation (issue 5): a callback that never arrives still ends with the buyer holding tickets or
a full refund, never with the money kept and no tickets; running it again, or twice at once, changes nothing;
what it found is recorded for the back office and finance's daily summary."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select, update

from piaowu.audit.models import AuditEvent
from piaowu.payments import reconciliation as recon
from piaowu.payments.models import Payment, PaymentReconciliation, Refund, SandboxTransaction
from piaowu.tickets.models import Ticket
from piaowu.workers import reconcile
from tests.factories import on_sale_session, owner_actor
from tests.integration.test_lost_callback import lose_callbacks, paid_but_expired
from tests.order_helpers import BUYER, create_order, drain, gateway_pay, wire_callbacks


async def _order(client, tenant, order_id):  # noqa: ANN001, ANN202
    return (await client.get(f"/api/v1/orders/{order_id}", headers=tenant.auth)).json()


async def _count(rt, model, *where) -> int:  # noqa: ANN001
    async with rt.uow(readonly=True) as uow:
        return (await uow.session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def _rows(rt) -> list[PaymentReconciliation]:  # noqa: ANN001
    async with rt.uow(readonly=True) as uow:
        return list((await uow.session.execute(select(PaymentReconciliation))).scalars())


async def test_lost_callback_then_expiry_reconciliation_revives_the_order_with_tickets(
    runtime, app, client, clock, tenant
):
    wire_callbacks(runtime, app)
    order = await paid_but_expired(runtime, client, tenant, clock)

    run = await reconcile.reconcile_payments(runtime)

    assert run.checked == 1 and run.fixed == 1
    got = await _order(client, tenant, order["id"])
    assert got["status"] == "paid" and all(line["ticket"] for line in got["lines"])
    (row,) = await _rows(runtime)
    assert (row.mismatch, row.action, row.outcome) == ("paid_not_recorded", "revived", "fixed")
    assert (row.payment_status, row.order_status, row.provider_status) == ("cancelled", "expired", "paid")
    audit = await _count(runtime, AuditEvent, AuditEvent.action == "payment.reconciled")
    assert audit == 1

    # Again: nothing left to do, nothing changes (no second ticket set, no new row, no new audit event).
    tickets = await _count(runtime, Ticket, Ticket.order_id == order["id"])
    again = await reconcile.reconcile_payments(runtime)
    assert again.fixed == 0
    assert await _count(runtime, Ticket, Ticket.order_id == order["id"]) == tickets == 2
    assert len(await _rows(runtime)) == 1
    assert await _count(runtime, AuditEvent, AuditEvent.action == "payment.reconciled") == audit
    # A late callback after all that is still harmless.
    async with runtime.uow(readonly=True) as uow:
        assert (await uow.session.get(Payment, order["payment_id"])).status == "succeeded"


async def test_lost_callback_when_the_units_are_gone_is_refunded_in_full(runtime, app, client, clock, tenant):
    wire_callbacks(runtime, app)
    order = await paid_but_expired(runtime, client, tenant, clock, capacity=1, qty=1)
    other = (await create_order(client, tenant.auth, order["sale"].ticket_type_id, 1)).json()
    await client.post(f"/api/v1/orders/{other['id']}/pay", json={"method": "cash"}, headers=tenant.auth)

    run = await reconcile.reconcile_payments(runtime)
    await drain(runtime)  # the refund is paid out by the gateway

    assert run.fixed == 1
    got = await _order(client, tenant, order["id"])
    assert got["status"] == "expired" and not any(line["ticket"] for line in got["lines"])
    async with runtime.uow(readonly=True) as uow:
        trade = await uow.session.get(SandboxTransaction, order["trade_no"])
        refund = (await uow.session.execute(select(Refund).where(Refund.order_id == order["id"]))).scalar_one()
    assert refund.status == "succeeded" and refund.amount_minor == trade.amount_minor == trade.refunded_minor
    (row,) = await _rows(runtime)
    assert (row.action, row.outcome) == ("refunded_late", "fixed")

    assert (await reconcile.reconcile_payments(runtime)).fixed == 0
    assert await _count(runtime, Refund, Refund.order_id == order["id"]) == 1  # never refunded twice


async def test_lost_callback_on_a_pending_order_is_applied_after_the_grace_period(runtime, app, client, clock, tenant):
    wire_callbacks(runtime, app)
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=5)
    order = (await create_order(client, tenant.auth, sale.ticket_type_id, 1)).json()
    start = (await client.post(f"/api/v1/orders/{order['id']}/payments", json={}, headers=tenant.auth)).json()
    await gateway_pay(runtime, start["redirect_url"])
    await lose_callbacks(runtime)

    assert (await reconcile.reconcile_payments(runtime)).checked == 0  # fresh: left to its own notification
    clock.advance(timedelta(seconds=runtime.settings.reconcile_grace_seconds + 1))
    run = await reconcile.reconcile_payments(runtime)

    assert run.fixed == 1
    got = await _order(client, tenant, order["id"])
    assert got["status"] == "paid" and got["lines"][0]["ticket"]
    (row,) = await _rows(runtime)
    assert (row.action, row.outcome) == ("paid", "fixed")


async def test_two_runs_at_once_fix_the_payment_once(runtime, app, client, clock, tenant):
    wire_callbacks(runtime, app)
    order = await paid_but_expired(runtime, client, tenant, clock)

    runs = await asyncio.gather(*(reconcile.reconcile_payments(runtime) for _ in range(3)))

    assert sum(r.fixed for r in runs) == 1 and sum(r.outcomes["error"] for r in runs) == 0
    assert await _count(runtime, Ticket, Ticket.order_id == order["id"]) == 2
    (row,) = await _rows(runtime)
    assert row.outcome == "fixed" and row.checks == 3
    assert await _count(runtime, AuditEvent, AuditEvent.action == "order.paid") == 1


async def test_amount_differs_is_left_open_and_nothing_is_applied(runtime, app, client, clock, tenant):
    wire_callbacks(runtime, app)
    order = await paid_but_expired(runtime, client, tenant, clock)
    async with runtime.uow() as uow:  # the gateway's record says another amount than we asked for
        await uow.session.execute(
            update(SandboxTransaction)
            .where(SandboxTransaction.trade_no == order["trade_no"])
            .values(amount_minor=SandboxTransaction.amount_minor - 100)
        )
        await uow.commit()

    run = await reconcile.reconcile_payments(runtime)
    again = await reconcile.reconcile_payments(runtime)  # open items are checked again, still open

    assert run.outcomes["open"] == 1 and again.outcomes["open"] == 1
    assert (await _order(client, tenant, order["id"]))["status"] == "expired"
    (row,) = await _rows(runtime)
    assert (row.mismatch, row.action, row.outcome, row.checks) == ("amount_differs", "flagged", "open", 2)
    assert row.provider_amount_minor == row.amount_minor - 100
    actor = await owner_actor(runtime, tenant.owner_id)
    async with runtime.uow(readonly=True) as uow:
        day = row.day
        (summary,) = await recon.daily_summary(uow, actor, since=day)
        shown = await recon.findings(uow, actor, since=day)
    assert (summary.open, summary.open_minor, summary.fixed, summary.matched) == (1, row.amount_minor, 0, 0)
    assert [r.payment_id for r in shown] == [order["payment_id"]]


async def test_daily_summary_counts_matched_fixed_and_open_with_amounts(
    runtime, app, client, clock, tenant, other_tenant
):
    wire_callbacks(runtime, app)
    fixed = await paid_but_expired(runtime, client, tenant, clock)
    # A payment the buyer abandoned: the gateway agrees nothing was paid → matched.
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=5, price_minor=5000)
    unpaid = (await create_order(client, tenant.auth, sale.ticket_type_id, 1)).json()
    await client.post(f"/api/v1/orders/{unpaid['id']}/payments", json={}, headers=tenant.auth)
    clock.advance(timedelta(minutes=16))

    await reconcile.reconcile_payments(runtime)

    actor = await owner_actor(runtime, tenant.owner_id)
    async with runtime.uow(readonly=True) as uow:
        (day,) = {r.day for r in await _rows(runtime)}
        (summary,) = await recon.daily_summary(uow, actor, since=day)
        mismatches = await recon.findings(uow, actor, since=day)
        everything = await recon.findings(uow, actor, since=day, mismatches_only=False)
        other = await recon.daily_summary(uow, await owner_actor(runtime, other_tenant.owner_id), since=day)
    assert (summary.matched, summary.matched_minor) == (1, 5000)
    assert (summary.fixed, summary.fixed_minor) == (1, 2 * fixed["sale"].price_minor)
    assert summary.open == 0
    assert [r.payment_id for r in mismatches] == [fixed["payment_id"]] and len(everything) == 2
    assert other == []  # another organizer sees none of it


async def test_a_refund_stuck_at_the_provider_is_open_until_it_goes_through(runtime, app, client, clock, tenant):
    wire_callbacks(runtime, app)
    order = await paid_but_expired(runtime, client, tenant, clock, capacity=1, qty=1)
    other = (await create_order(client, tenant.auth, order["sale"].ticket_type_id, 1)).json()
    await client.post(f"/api/v1/orders/{other['id']}/pay", json={"method": "cash"}, headers=tenant.auth)
    assert (await reconcile.reconcile_payments(runtime)).fixed == 1  # refunded_late: a refund is queued
    clock.advance(timedelta(hours=1))  # ...and the outbox never ran it

    stuck = await reconcile.reconcile_payments(runtime)
    assert stuck.outcomes["open"] == 1
    (row,) = await _rows(runtime)
    assert (row.mismatch, row.outcome) == ("refund_pending", "open")

    await drain(runtime)  # the refund goes through
    done = await reconcile.reconcile_payments(runtime)
    assert done.outcomes["open"] == 0
    (row,) = await _rows(runtime)
    assert row.outcome == "fixed"  # a fix stays a fix once the records agree again


async def test_the_periodic_job_runs_beside_the_loop_once_per_interval(runtime, app, client, clock, tenant):
    from piaowu.workers.jobs import default_jobs
    from piaowu.workers.runner import Worker

    wire_callbacks(runtime, app)
    order = await paid_but_expired(runtime, client, tenant, clock)
    worker = Worker(runtime, default_jobs(), interval_s=60)
    runtime.extras["worker"] = worker
    try:
        assert await reconcile.periodic(runtime) == 1  # started beside the loop
        assert await reconcile.periodic(runtime) == 0  # not again before the interval is over
        for _ in range(200):
            if (await _order(client, tenant, order["id"]))["status"] == "paid":
                break
            await asyncio.sleep(0.05)
        assert (await _order(client, tenant, order["id"]))["status"] == "paid"
        clock.advance(timedelta(seconds=runtime.settings.reconcile_interval_seconds + 1))
        assert await reconcile.periodic(runtime) == 1
    finally:
        await worker.stop()


async def test_a_trade_paid_then_cancelled_by_the_buyer_is_recovered(runtime, app, client, clock, tenant):
    """The buyer paid on the gateway page, then — no confirmation in sight — cancelled the order in the shop:
    its payment was marked abandoned. The gateway has the money: reconciliation revives the order."""
    wire_callbacks(runtime, app)
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=5)
    order = (await create_order(client, tenant.auth, sale.ticket_type_id, 1)).json()
    start = (await client.post(f"/api/v1/orders/{order['id']}/payments", json={}, headers=tenant.auth)).json()
    await gateway_pay(runtime, start["redirect_url"])
    await lose_callbacks(runtime)
    shop = f"/api/v1/shop/{tenant.slug}"
    cancelled = await client.post(f"{shop}/orders/{order['code']}/cancel", json={"contact": BUYER["phone"]})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    run = await reconcile.reconcile_payments(runtime)

    assert run.fixed == 1
    got = await _order(client, tenant, order["id"])
    assert got["status"] == "paid" and got["lines"][0]["ticket"]
    (row,) = await _rows(runtime)
    assert (row.payment_status, row.order_status, row.action) == ("cancelled", "cancelled", "revived")
