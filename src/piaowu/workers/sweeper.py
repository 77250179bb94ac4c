"""Periodic jobs that give expired units back.

One transaction per order or hold, never one per batch: a transaction keeps every row it updated locked
until it commits, so a batch would hold the hot pool row from its first item to its last (stalling buyers)
and, holding many orders' and holds' rows at once, deadlock on PostgreSQL with a second sweeper or a
payment notification that locks them in another order (found by tests/concurrency).
"""

from __future__ import annotations

from piaowu.inventory import service as inventory
from piaowu.orders import service as orders
from piaowu.runtime import Runtime

BATCH = 200


async def expire_orders(rt: Runtime) -> int:
    """Pending orders past their ``expires_at`` expire (their holds are released with them)."""
    async with rt.uow(readonly=True) as uow:
        due = await orders.due_for_expiry(uow, BATCH)
    done = 0
    for order_id, organizer_id in due:
        async with rt.uow() as uow:
            if await orders.expire_order(uow, organizer_id, order_id):
                await uow.commit()
                done += 1
    return done


async def release_expired_holds(rt: Runtime) -> int:
    """Holds that expired without an order to close them (e.g. an order row lost to a crash)."""
    async with rt.uow(readonly=True) as uow:
        due = await inventory.due_holds(uow, BATCH)
    done = 0
    for hold_id in due:
        async with rt.uow() as uow:
            if await inventory.release(uow, hold_id, expired=True):
                await uow.commit()
                done += 1
    return done
