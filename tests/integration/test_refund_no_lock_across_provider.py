"""No lock of ours is held while a provider is called (SQLite and PostgreSQL).

Starting an online payment calls the provider in a unit of work of its own, after a read-only check and before
the payment's row is written (that row references the order's: on PostgreSQL inserting it locks the order's
row; on SQLite any write transaction is the database's lock). The provider refund runs from the outbox after
commit. A stub around the sandbox provider checks, at the moment of its "network call", that another connection
can take our rows at once (PostgreSQL ``FOR UPDATE NOWAIT``) or the database's write lock (SQLite ``BEGIN
IMMEDIATE`` with no wait): a transaction of ours left open across the call would make either fail."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from piaowu.orders import refunds
from piaowu.orders.schemas import RefundIn
from piaowu.payments import service as payments
from piaowu.payments.models import Payment, Refund
from piaowu.runtime import Runtime
from piaowu.workers import outbox_dispatch
from tests.cancel_world import World, add_order
from tests.concurrency.ledger import in_uow
from tests.factories import on_sale_session, owner_actor, pending_order
from tests.order_helpers import start_online


@dataclass
class Probe:
    rt: Runtime
    db_url: str
    rows: dict[str, str]  # table → id
    seen: list[str]

    async def __call__(self) -> None:
        if self.db_url.startswith("sqlite"):
            con = sqlite3.connect(make_url(self.db_url).database, timeout=0, isolation_level=None)
            try:
                con.execute("BEGIN IMMEDIATE")  # "database is locked" at once if a writer of ours is open
                con.execute("ROLLBACK")
            finally:
                con.close()
        else:
            async with self.rt.uow() as uow:
                for table, row_id in self.rows.items():
                    await uow.session.execute(
                        text(f"SELECT id FROM {table} WHERE id = :id FOR UPDATE NOWAIT"), {"id": row_id}
                    )
                await uow.rollback()
        self.seen.append("free")


class ProbingProvider:
    """The real provider, but its refund first runs the probe (the network hop happens before anything else)."""

    def __init__(self, inner: Any, probe: Probe) -> None:
        self.inner, self.probe = inner, probe

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def refund(self, *args: Any) -> Any:
        await self.probe()
        return await self.inner.refund(*args)

    async def start(self, session: Any, req: Any) -> Any:
        await self.probe()  # another connection can lock the order's row / take the write lock at once…
        # …and our payment's row is not written yet (nothing of ours references the order's row).
        assert await session.get(Payment, req.payment_id) is None, "the payment row was written before the call"
        return await self.inner.start(session, req)


async def test_the_provider_refund_runs_with_no_lock_of_ours_held(runtime, tenant, db_url, monkeypatch):
    actor = await owner_actor(runtime, tenant.owner_id)
    world = World(sale=await on_sale_session(runtime, actor, capacity=5))
    oid = await add_order(runtime, actor, world, "online")
    await in_uow(runtime, lambda uow: refunds.refund_order(uow, actor, oid, RefundIn(reason="changed plans")))
    async with runtime.uow(readonly=True) as uow:
        r = (await uow.session.execute(select(Refund).where(Refund.order_id == oid))).scalar_one()
    assert r.status == "pending"  # an online refund waits for the outbox
    probe = Probe(runtime, db_url, {"orders": oid, "payments": r.payment_id, "refunds": r.id}, [])
    real = payments.provider
    monkeypatch.setattr(payments, "provider", lambda uow, name: ProbingProvider(real(uow, name), probe))

    await outbox_dispatch.run_refund(runtime, {"refund_id": r.id})

    assert probe.seen == ["free"]
    async with runtime.uow(readonly=True) as uow:
        done = await uow.session.get(Refund, r.id)
        assert done is not None and done.status == "succeeded" and done.completed_at is not None
    # Run again (a redelivered outbox message): nothing is asked twice, nothing changes.
    await outbox_dispatch.run_refund(runtime, {"refund_id": r.id})
    assert probe.seen == ["free"]


async def test_an_online_payment_starts_at_the_provider_with_no_transaction_of_ours_open(
    runtime, tenant, db_url, monkeypatch
):
    """Staff's online payment (the API's two steps): on PostgreSQL no row lock, on SQLite not even the
    database's write lock, is held while the provider opens its trade; the payment row is written after."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=5)
    order = await pending_order(runtime, actor, sale.ticket_type_id, 1)
    probe = Probe(runtime, db_url, {"orders": order.id}, [])
    real = payments.provider
    monkeypatch.setattr(payments, "provider", lambda uow, name: ProbingProvider(real(uow, name), probe))

    start = await start_online(runtime, actor, order.id)

    assert probe.seen == ["free"]
    async with runtime.uow(readonly=True) as uow:
        pay = await uow.session.get(Payment, start.payment_id)
        assert pay is not None and pay.provider_ref and pay.redirect_url == start.redirect_url


async def test_the_buyer_s_payment_through_the_api_holds_no_lock_and_a_replay_asks_the_provider_nothing(
    runtime, tenant, db_url, client, monkeypatch
):
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=5)
    order = await pending_order(runtime, actor, sale.ticket_type_id, 1)
    probe = Probe(runtime, db_url, {"orders": order.id}, [])
    real = payments.provider
    monkeypatch.setattr(payments, "provider", lambda uow, name: ProbingProvider(real(uow, name), probe))
    url = f"/api/v1/shop/{tenant.slug}/orders/{order.code}/payments"
    body = {"contact": order.buyer_phone, "provider": "sandbox"}

    first = await client.post(url, json=body, headers={"Idempotency-Key": "pay-1"})
    again = await client.post(url, json=body, headers={"Idempotency-Key": "pay-1"})

    assert first.status_code == 201, first.text
    assert probe.seen == ["free"]  # asked once, with nothing of ours locked; the replay did not ask again
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
