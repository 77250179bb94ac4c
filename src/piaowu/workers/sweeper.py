"""Periodic jobs that give expired units back."""

from __future__ import annotations

from piaowu.inventory import service as inventory
from piaowu.orders import service as orders
from piaowu.runtime import Runtime


async def expire_orders(rt: Runtime) -> int:
    """Pending orders past their ``expires_at`` expire (their holds are released with them)."""
    async with rt.uow() as uow:
        n = await orders.expire_due(uow)
        await uow.commit()
    return n


async def release_expired_holds(rt: Runtime) -> int:
    """Holds that expired without an order to close them (e.g. an order row lost to a crash)."""
    async with rt.uow() as uow:
        n = await inventory.release_expired(uow)
        await uow.commit()
    return n
