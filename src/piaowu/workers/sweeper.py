"""Periodic jobs that give expired units back.

Each order or hold is closed in a transaction of its own: a transaction closing several would hold the pool
locks of the first while waiting for the next one's rows — which a concurrent payment or sale may hold while
waiting for the same pools. One-at-a-time keeps every transaction's lock order the same as the sale's.
"""

from __future__ import annotations

from piaowu.inventory import service as inventory
from piaowu.orders import service as orders
from piaowu.runtime import Runtime


async def expire_orders(rt: Runtime, limit: int = 200) -> int:
    """Pending orders past their ``expires_at`` expire (their holds are released with them)."""
    async with rt.uow(readonly=True) as uow:
        due = await orders.due_for_expiry(uow, limit)
    done = 0
    for order_id, organizer_id in due:
        async with rt.uow() as uow:
            if await orders.expire_order(uow, organizer_id, order_id):
                done += 1
            await uow.commit()
    return done


async def release_expired_holds(rt: Runtime, limit: int = 200) -> int:
    """Holds that expired without an order closing them (e.g. an order whose sweep failed)."""
    async with rt.uow(readonly=True) as uow:
        due = await inventory.due_holds(uow, limit)
    done = 0
    for hold_id in due:
        async with rt.uow() as uow:
            if await inventory.release(uow, hold_id, expired=True):
                done += 1
            await uow.commit()
    return done
