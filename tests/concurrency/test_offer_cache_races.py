"""The sale path's caches under change: buyers buy while the catalog changes under them (issue 7).

Catalog offers are cached per process (``catalog.offers.OfferCache``) and re-verified by the one reservation
statement (``db.hotpath.RowCheck``). Here buyers buy concurrently while another task changes the ticket type's
price, deactivates and reactivates it, closes and reopens the session's sales window and changes its
capacity. Afterwards every order line is compared with the catalog's change log: its price must be the price
of a state that was in effect (committed) at some moment while that order was being placed, in a state that was
open for sale; and nothing is oversold. The clock of these tests is frozen, so the log is kept in real
(monotonic) time around each commit: a state is in effect from its change's start to the end of the next
change's commit.

The control injects a naive cache (no checks, never refreshed): the same race must catch it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from piaowu.catalog import offers as catalog_offers
from piaowu.catalog import session_service, ticket_type_service
from piaowu.catalog.schemas import SessionPatch, TicketTypePatch
from piaowu.core.errors import DomainError
from piaowu.db.engine import is_lock_timeout
from piaowu.orders import service as orders
from piaowu.orders.schemas import OrderIn, OrderItemIn, OrderOut
from tests.concurrency.ledger import BUYER, assert_ledger, in_uow, pools_of, warm
from tests.concurrency.naive import NaiveOfferCache
from tests.factories import on_sale_session, owner_actor

pytestmark = pytest.mark.slow


@dataclass
class State:
    """The catalog as one change left it: sold at ``price`` when ``open``."""

    price: int
    open: bool
    began: float  # the change's transaction started (it may be seen from here on)
    committed: float = 0.0  # its commit returned (surely seen from here on)


@dataclass
class Placed:
    started: float
    ended: float
    price: int


async def race(runtime: Any, tenant: Any, *, buyers: int = 8, changes: int = 24) -> tuple[list[Placed], list[State]]:
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=60, price_minor=10_000, max_per_order=10)
    await warm(runtime, buyers + 2)
    log = [State(10_000, True, 0.0, 0.0)]
    placed: list[Placed] = []
    done = asyncio.Event()
    now = runtime.clock.now()

    async def change(i: int) -> None:
        price, is_open = 10_000 + 100 * (i + 1), i % 3 != 1
        patch_tt: dict[str, Any] = {"price_minor": price}
        patch_s: dict[str, Any] = {"capacity": 60 + (i % 4) * 5}
        closed_by = ("inactive", "window", "paused")[i % 3] if not is_open else None
        # Each change leaves exactly one state; what closes a sale rotates: the type deactivated, the sales
        # window moved to tomorrow, the session paused. An open state undoes all three.
        patch_tt["is_active"] = closed_by != "inactive"
        patch_s["sales_start"] = now + timedelta(days=1) if closed_by == "window" else None
        patch_s["status"] = "paused" if closed_by == "paused" else "on_sale"
        state = State(price, is_open, time.monotonic())
        log.append(state)

        async def work(uow: Any) -> None:
            await ticket_type_service.update_ticket_type(uow, actor, sale.ticket_type_id, TicketTypePatch(**patch_tt))
            try:
                await session_service.update_session(uow, actor, sale.session_id, SessionPatch(**patch_s))
            except DomainError:  # a capacity below what is held: keep the rest of the change
                patch_s.pop("capacity")
                await uow.rollback()
                await ticket_type_service.update_ticket_type(
                    uow, actor, sale.ticket_type_id, TicketTypePatch(**patch_tt)
                )
                await session_service.update_session(uow, actor, sale.session_id, SessionPatch(**patch_s))

        for _ in range(20):  # SQLite: the writers queue on one lock; a wait past its timeout is retried
            try:
                await in_uow(runtime, work)
                break
            except Exception as exc:
                if not is_lock_timeout(exc):
                    raise
        else:
            raise AssertionError("the change never got the lock")
        state.committed = time.monotonic()

    async def changer() -> None:
        try:
            for i in range(changes):
                await asyncio.sleep(0.02)
                await change(i)
        finally:
            done.set()

    async def buyer(n: int) -> None:
        while not done.is_set():
            t0 = time.monotonic()
            data = OrderIn(items=[OrderItemIn(ticket_type_id=sale.ticket_type_id, quantity=1)], buyer=BUYER)
            try:
                # Both forms of the API: without a key (autocommit on PostgreSQL), with one (a transaction).
                async with runtime.uow(autocommit=n % 2 == 0) as uow:
                    out: OrderOut = await orders.create_order(uow, actor, data)
                    await uow.commit()
            except Exception as exc:  # sold out, not on sale, unknown (inactive), busy
                if not (isinstance(exc, DomainError) or is_lock_timeout(exc)):
                    raise
                await asyncio.sleep(0.002)
                continue
            placed.append(Placed(t0, time.monotonic(), out.lines[0].price_minor))

    await asyncio.gather(changer(), *(buyer(n) for n in range(buyers)))
    await assert_ledger(runtime, await pools_of(runtime, sale.session_id))
    return placed, log


def stale_orders(placed: list[Placed], log: list[State]) -> list[Placed]:
    """Orders whose price was not the price of an open state in effect at some moment while they were placed."""
    bad = []
    for p in placed:
        ok = False
        for i, s in enumerate(log):
            until = log[i + 1].committed if i + 1 < len(log) else float("inf")
            if s.open and s.price == p.price and s.began <= p.ended and p.started <= until:
                ok = True
                break
        if not ok:
            bad.append(p)
    return bad


async def test_no_order_at_a_stale_price_or_outside_its_window_while_the_catalog_changes(runtime, tenant):
    catalog_offers.OFFERS.clear()
    placed, log = await race(runtime, tenant)
    assert len(placed) > 10, "the buyers should have bought in the open states"
    assert {p.price for p in placed} - {10_000}, "orders after a price change: the race exercised the cache"
    assert stale_orders(placed, log) == []


async def test_control_a_naive_offer_cache_is_caught(runtime, tenant):
    """No checks in the statement, never refreshed: orders go on at the first price, also while closed."""
    runtime.strategies[catalog_offers.CACHE_KEY] = NaiveOfferCache()
    try:
        placed, log = await race(runtime, tenant)
    finally:
        runtime.strategies.pop(catalog_offers.CACHE_KEY)
    assert stale_orders(placed, log), "the naive cache should sell at a stale price; the race test is blind"
