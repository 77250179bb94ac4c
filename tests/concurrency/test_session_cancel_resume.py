"""A session with 200 orders in every state is cancelled; the worker dies halfway — inside an order's
transaction, the worst moment — and fresh workers resume it. Every order ends cancelled or refunded exactly once,
refunded == paid for each, the pool back to nothing held or sold, every ticket refused at the gate, and the
books balance. PostgreSQL (production's database, with real row locks between the two resuming workers)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from piaowu.app import create_app
from piaowu.audit.models import AuditEvent
from piaowu.bulkjobs import service as bulkjobs
from piaowu.bulkjobs.models import BulkJob, BulkJobItem
from piaowu.orders import payment_flow, session_cancel
from piaowu.orders.schemas import CashPaymentIn
from piaowu.payments import sandbox_gateway as gw
from piaowu.runtime import build_runtime
from piaowu.workers import bulk
from tests.cancel_world import (
    REFUNDED_KINDS,
    World,
    _scan,
    add_order,
    assert_books_after_cancellation,
    books,
    mixed_world,
    places_used,
    refresh_from_provider,
)
from tests.concurrency.ledger import assert_ledger, codes, in_uow, pools_of, settle, warm
from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import drain, wire_callbacks

pytestmark = pytest.mark.slow

ORDERS = 200
EXPIRED = 20
KILL_AT = 100


class Killed(BaseException):
    """The process died: nothing after this point runs, no handler catches it, the lease is left behind."""


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_200_orders_killed_halfway_and_resumed(runtime, tenant, db_url, clock):
    rt = runtime
    actor = await owner_actor(rt, tenant.owner_id)
    world = await mixed_world(rt, actor, ORDERS, EXPIRED)
    kinds = Counter(world.kinds.values())
    pools = await pools_of(rt, world.sale.session_id)
    await in_uow(rt, lambda uow: session_cancel.cancel_session(uow, actor, world.sale.session_id, "typhoon"))

    seen: list[str] = []

    def die_halfway(job_id: str, subject: str) -> None:
        seen.append(subject)
        if len(seen) == KILL_AT:
            raise Killed()  # inside the 100th order's transaction, after its refund, before its commit

    rt.extras[bulk.HOOK_KEY] = die_halfway
    with pytest.raises(Killed):
        await bulk.run_bulk_jobs(rt, max_items=10_000)
    await rt.db.dispose()

    async with (fresh := build_runtime(rt.settings, clock=clock)).uow() as uow:
        job = (await uow.session.execute(select(BulkJob))).scalar_one()
        items = (await uow.session.execute(select(func.count()).select_from(BulkJobItem))).scalar_one()
    assert job.status == "running" and job.processed == KILL_AT - 1 == items  # the 100th rolled back whole
    assert job.lease_owner is not None

    # Two fresh workers (two processes after a restart). The dead one's lease still runs: both wait.
    workers = [fresh, build_runtime(rt.settings, clock=clock)]
    assert [await bulk.run_bulk_jobs(w) for w in workers] == [0, 0]
    clock.advance(timedelta(seconds=bulkjobs.LEASE_SECONDS + 1))
    handled = await asyncio.gather(*(bulk.run_bulk_jobs(w, max_items=10_000) for w in workers))
    assert sorted(handled) == [0, ORDERS - (KILL_AT - 1)]  # one took the lease; it did the rest, nothing twice

    try:
        w = workers[0]
        wire_callbacks(w, create_app(runtime=w))
        await drain(w)  # provider refunds for the online payments
        for oid, kind in world.kinds.items():  # the late buyers' payments land after the cancellation
            if kind == "late":
                await refresh_from_provider(w, actor.organizer_id, oid)
        await drain(w)

        await assert_books_after_cancellation(w, world, pools)
        affected = [o for o, k in world.kinds.items() if k not in ("cancelled", "expired")]

        async with w.uow(readonly=True) as uow:
            out = await session_cancel.cancellation(uow, actor, world.sale.session_id)
            per_order = Counter(
                (r.subject_id, r.action)
                for r in (
                    await uow.session.execute(
                        select(AuditEvent.subject_id, AuditEvent.action).where(
                            AuditEvent.actor == "system:session-cancel",
                            AuditEvent.action.in_(["order.refunded", "order.cancelled"]),
                        )
                    )
                ).all()
            )
            items = list((await uow.session.execute(select(BulkJobItem))).scalars())
        assert max(per_order.values()) == 1 and len(per_order) == len(affected)  # each order changed once
        assert len(items) == ORDERS and {i.subject_id for i in items} == set(world.kinds)
        assert (out.status, out.processed, out.failed) == ("done", ORDERS, 0)
        assert out.refunded == sum(kinds[k] for k in REFUNDED_KINDS)
        assert out.cancelled == kinds["pending"] + kinds["late"]
        assert out.skipped == kinds["cancelled"] + kinds["expired"]
        assert out.refunded_minor == out.refunded * world.sale.price_minor
        assert out.report["pool_sold"] == places_used(world) and out.report["refunds_failed"] == []

        for qr in list(world.qr.values())[:10]:
            assert await _scan(w, actor, qr) == "session_cancelled"
    finally:
        for w in workers:
            await w.db.dispose()


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_payments_racing_the_cancellation_and_its_job_never_revive_or_keep_money(runtime, tenant):
    """Counter payments and gateway notifications land at the same moment as the cancellation, then again while
    its job runs: whichever wins each order's row, no order ends paid, nothing sold stays sold, and every fen taken
    is refunded exactly once (some notifications land only after the job has cancelled their orders)."""
    rt = runtime
    actor = await owner_actor(rt, tenant.owner_id)
    world = World(await on_sale_session(rt, actor, capacity=200, starts_in=timedelta(hours=1)))
    counter = [await add_order(rt, actor, world, "pending") for _ in range(10)]
    late = [await add_order(rt, actor, world, "late") for _ in range(10)]
    later = [await add_order(rt, actor, world, "late") for _ in range(10)]
    after = [await add_order(rt, actor, world, "late") for _ in range(5)]
    pools = await pools_of(rt, world.sale.session_id)

    async def notify(oid: str) -> str:
        async with rt.uow(readonly=True) as uow:
            trade = await gw.get_trade(uow.session, world.late_trades[oid])
        body = gw.notification_body(trade, f"N{trade.trade_no}")
        sig = gw.sign(gw.merchant_key(rt.secret_key), body)
        return await in_uow(
            rt, lambda uow: payment_flow.handle_notification(uow, "sandbox", {gw.SIGNATURE_HEADER: sig}, body)
        )

    def pay(oid: str):  # noqa: ANN202
        return in_uow(rt, lambda uow: payment_flow.pay_at_counter(uow, actor, oid, CashPaymentIn()))

    await warm(rt, 24)
    first = await settle(
        [
            in_uow(rt, lambda uow: session_cancel.cancel_session(uow, actor, world.sale.session_id)),
            *(pay(o) for o in counter),
            *(notify(o) for o in late),
        ]
    )
    assert not isinstance(first[0], BaseException), first[0]
    assert set(codes(first[1:])) <= {"ok", "session_cancelled"}, codes(first)
    second = await settle([bulk.run_bulk_jobs(rt), *(notify(o) for o in later)])
    assert not any(isinstance(x, BaseException) for x in second), second
    await bulk.run_bulk_jobs(rt)
    # and the stragglers, once the job has cancelled their orders: refunded, never revived
    assert set(codes(await settle([notify(o) for o in after]))) == {"ok"}
    wire_callbacks(rt, create_app(runtime=rt))
    await drain(rt)

    b = await books(rt, world)
    assert b.mismatched == []
    assert set(b.statuses) <= {"cancelled", "refunded"}, b.statuses
    assert (b.pool_held, b.pool_sold, b.valid_tickets) == (0, 0, 0)
    await assert_ledger(rt, pools)
