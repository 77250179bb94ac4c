"""Cancelling a session, on SQLite and PostgreSQL: sales and payments stop at once, gates refuse its tickets,
and the job cancels or refunds every order exactly once, through the provider that took the money."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from piaowu.app import create_app
from piaowu.bulkjobs.models import BulkJobItem
from piaowu.catalog import session_service
from piaowu.catalog.schemas import SessionPatch
from piaowu.core.errors import InvalidState, NotOnSale, SessionCancelled, ValidationFailed
from piaowu.orders import payment_flow, session_cancel
from piaowu.orders import service as orders
from piaowu.orders.schemas import CashPaymentIn, OnlinePaymentIn
from piaowu.payments import sandbox_gateway as gw
from piaowu.payments.models import Refund, SandboxTransaction
from piaowu.workers import bulk
from tests.cancel_world import KINDS, World, _scan, add_expired, add_order, books, places_used, refresh_from_provider
from tests.concurrency.ledger import assert_ledger, buy, in_uow, pools_of
from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import drain, start_online, wire_callbacks


async def _world(rt, actor, kinds=KINDS, expired=1):  # noqa: ANN001, ANN202
    # Starts within the hour, so that its gates are open now (a ticket can be used before the cancellation).
    world = World(await on_sale_session(rt, actor, capacity=500, starts_in=timedelta(hours=1)))
    await add_expired(rt, actor, world, expired)
    for kind in kinds:
        await add_order(rt, actor, world, kind)
    return world


async def test_a_cancelled_session_sells_nothing_and_pays_nothing_at_once(runtime, tenant):
    rt = runtime
    actor = await owner_actor(rt, tenant.owner_id)
    world = await _world(rt, actor, kinds=("pending", "cash"), expired=0)
    pending = next(o for o, k in world.kinds.items() if k == "pending")
    cash = next(o for o, k in world.kinds.items() if k == "cash")
    await in_uow(rt, lambda uow: session_cancel.cancel_session(uow, actor, world.sale.session_id, "storm"))
    # No job has run yet: the refusals hold from the cancellation's commit.
    with pytest.raises(NotOnSale):
        await buy(rt, actor, world.sale.ticket_type_id)
    with pytest.raises(SessionCancelled):
        await in_uow(rt, lambda uow: payment_flow.pay_at_counter(uow, actor, pending, CashPaymentIn()))
    with pytest.raises(SessionCancelled):
        await start_online(rt, actor, pending, OnlinePaymentIn())
    assert await _scan(rt, actor, world.qr[cash]) == "session_cancelled"
    with pytest.raises(InvalidState):  # once only
        await in_uow(rt, lambda uow: session_cancel.cancel_session(uow, actor, world.sale.session_id))


async def test_the_status_field_cannot_cancel_behind_the_jobs_back(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor)
    async with runtime.uow() as uow:
        with pytest.raises(ValidationFailed) as err:
            await session_service.update_session(uow, actor, sale.session_id, SessionPatch(status="cancelled"))
    assert err.value.errors[0]["code"] == "use_cancel"


async def test_every_order_is_cancelled_or_refunded_once_and_the_books_balance(runtime, tenant):
    rt = runtime
    wire_callbacks(rt, create_app(runtime=rt))
    actor = await owner_actor(rt, tenant.owner_id)
    world = await _world(rt, actor)
    pools = await pools_of(rt, world.sale.session_id)
    job = await in_uow(rt, lambda uow: session_cancel.cancel_session(uow, actor, world.sale.session_id, "storm"))
    assert job.status == "running" and job.total == len(world.kinds)

    assert await bulk.run_bulk_jobs(rt) == len(world.kinds)
    await drain(rt)  # provider refunds (sandbox) and the late payment's notification
    # The late buyer's payment lands after the order was cancelled: refunded in full, the order stays cancelled.
    late = next(o for o, k in world.kinds.items() if k == "late")
    await refresh_from_provider(rt, actor.organizer_id, late)
    await drain(rt)

    b = await books(rt, world)
    assert b.mismatched == []
    assert b.valid_tickets == 0 and b.pool_held == 0 and b.pool_sold == places_used(world)
    # pending + late → cancelled; cash, online, card, used, partial → refunded; cancelled, expired untouched
    assert b.statuses == {"cancelled": 3, "refunded": 5, "expired": 1}
    affected = [o for o, k in world.kinds.items() if k not in ("cancelled", "expired")]
    assert b.notices == {o: 1 for o in affected}
    await assert_ledger(rt, pools)
    async with rt.uow(readonly=True) as uow:
        late_order = await orders.load(uow, actor.organizer_id, late)
        assert late_order.status == "cancelled" and late_order.paid_minor == 0
        late_refunds = list((await uow.session.execute(select(Refund).where(Refund.order_id == late))).scalars())
        assert [r.status for r in late_refunds] == ["succeeded"]
        trade = await gw.get_trade(uow.session, world.late_trades[late])
        assert trade.refunded_minor == trade.amount_minor  # the gateway paid it back
        out = await session_cancel.cancellation(uow, actor, world.sale.session_id)
    assert out.status == "done" and out.percent == 100
    assert (out.cancelled, out.refunded, out.skipped, out.failed) == (2, 5, 2, 0)
    # One ticket left to refund in each paid order (the partial one had refunded its second ticket before).
    assert out.refunded_minor == 5 * world.sale.price_minor
    assert out.report["pool_sold"] == places_used(world) and out.report["refunds_failed"] == []
    # Gates refuse every ticket with the reason.
    for qr in world.qr.values():
        assert await _scan(rt, actor, qr) == "session_cancelled"
    # Running it again changes nothing.
    assert await bulk.run_bulk_jobs(rt) == 0
    assert (await books(rt, world)).notices == b.notices


async def test_a_failing_order_is_listed_and_retried(runtime, tenant):
    rt = runtime
    actor = await owner_actor(rt, tenant.owner_id)
    world = await _world(rt, actor, kinds=("cash", "cash", "pending"), expired=0)
    first = next(iter(world.kinds))
    await in_uow(rt, lambda uow: session_cancel.cancel_session(uow, actor, world.sale.session_id))
    broken = {"on": True}

    def hook(job_id: str, subject: str) -> None:
        if subject == first and broken["on"]:
            raise RuntimeError("provider down")

    rt.extras[bulk.HOOK_KEY] = hook
    await bulk.run_bulk_jobs(rt)
    async with rt.uow(readonly=True) as uow:
        out = await session_cancel.cancellation(uow, actor, world.sale.session_id)
    assert out.status == "done" and out.failed == 1 and out.refunded == 1 and out.cancelled == 1
    assert [f.subject_id for f in out.failures] == [first] and "provider down" in out.failures[0].error
    assert out.report["failures"] == [first]
    async with rt.uow(readonly=True) as uow:  # the failed order's transaction left nothing behind
        assert (await orders.load(uow, actor.organizer_id, first)).status == "paid"

    broken["on"] = False
    out = await in_uow(rt, lambda uow: session_cancel.retry(uow, actor, world.sale.session_id))
    assert out.status == "running" and out.failures[0].status == "retry"
    assert await bulk.run_bulk_jobs(rt) == 1
    async with rt.uow(readonly=True) as uow:
        out = await session_cancel.cancellation(uow, actor, world.sale.session_id)
        items = list((await uow.session.execute(select(BulkJobItem))).scalars())
    assert out.status == "done" and (out.failed, out.refunded, out.cancelled) == (0, 2, 1) and out.failures == []
    assert sorted(i.attempts for i in items) == [1, 1, 2]
    assert (await books(rt, world)).mismatched == []


async def test_a_refund_the_provider_refuses_is_listed_and_asked_for_again(runtime, tenant):
    rt = runtime
    actor = await owner_actor(rt, tenant.owner_id)
    world = await _world(rt, actor, kinds=("online", "cash"), expired=0)
    online = next(o for o, k in world.kinds.items() if k == "online")
    await in_uow(rt, lambda uow: session_cancel.cancel_session(uow, actor, world.sale.session_id))
    assert await bulk.run_bulk_jobs(rt) == 2
    async with rt.uow() as uow:  # the gateway refuses refunds for a while (its trade is not "paid" for it)
        trade = (await uow.session.execute(select(SandboxTransaction))).scalars().one()
        trade.status = "closed"
        await uow.commit()
    await drain(rt)
    async with rt.uow(readonly=True) as uow:
        out = await session_cancel.cancellation(uow, actor, world.sale.session_id)
    assert out.status == "done" and out.failed == 0  # the order itself was handled: the money is owed by the gateway
    assert [(r["order_id"], r["amount_minor"]) for r in out.report["refunds_failed"]] == [
        (online, world.sale.price_minor)
    ]

    async with rt.uow() as uow:
        trade = await uow.session.get(SandboxTransaction, trade.trade_no)
        trade.status = "paid"
        await uow.commit()
    out = await in_uow(rt, lambda uow: session_cancel.retry(uow, actor, world.sale.session_id))
    await drain(rt)
    async with rt.uow(readonly=True) as uow:
        out = await session_cancel.cancellation(uow, actor, world.sale.session_id)
        refunds = list((await uow.session.execute(select(Refund).where(Refund.order_id == online))).scalars())
        trade = await gw.get_trade(uow.session, trade.trade_no)
    assert out.report["refunds_failed"] == [] and [r.status for r in refunds] == ["succeeded"]
    assert trade.refunded_minor == trade.amount_minor
    assert (await books(rt, world)).mismatched == []
