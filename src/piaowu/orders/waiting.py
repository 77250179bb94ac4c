"""Telling the buyer: a status read that may wait until the order changes (the push channel, db/wakeups.py).

A "waiting for payment" page asks once with ``wait`` seconds instead of polling: the request is answered as soon
as the payment's transaction commits (or the order expires or is cancelled), or with the unchanged status when
``wait`` runs out — the client then simply asks again. No database connection is held while waiting: each read
is its own short read-only unit of work, and every read is the ordinary authorized one, so a waiter learns
nothing that the plain status read would not tell it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from piaowu.core.actor import Actor
from piaowu.db.uow import UnitsOfWork
from piaowu.db.wakeups import WaitersFull, Wakeups
from piaowu.orders import service as orders
from piaowu.orders.schemas import OrderStatusOut
from piaowu.orders.states import OrderStatus

MAX_WAIT_S = 30.0  # below common proxy idle timeouts (60 s); the client asks again


def still_waiting(out: OrderStatusOut) -> bool:
    """Only a pending order can still change by itself (paid, expired); any other answer is final for a page."""
    return out.status == OrderStatus.PENDING


Read = Callable[[], Awaitable[OrderStatusOut]]


async def hold(wakeups: Wakeups, key: str, read: Read, wait_s: float, *, final: Read | None = None) -> OrderStatusOut:
    """``read()`` now; if the order is pending, again when a commit announces ``key`` or after ``wait_s``.
    ``final``: how to read the answer once the order is known or woken to have changed (e.g. the whole order),
    instead of ``read`` again — it must answer a pending order as ``read`` would.

    The waiter is registered before the read that decides to wait, so a commit between that read and the wait
    still wakes it. When this process holds too many requests already, the answer is immediate (the client's
    polling fallback takes over)."""
    wait_s = min(max(wait_s, 0.0), MAX_WAIT_S)

    async def now() -> OrderStatusOut:
        out = await read()
        return out if final is None or still_waiting(out) else await final()

    if wait_s == 0:
        return await now()
    try:
        async with wakeups.watch(key) as woken:
            out = await read()
            if not still_waiting(out):
                return out if final is None else await final()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken, wait_s)
    except WaitersFull:
        return await now()
    return await (final or read)()


async def order_status(
    uows: UnitsOfWork, wakeups: Wakeups, actor: Actor, order_id: str, wait_s: float = 0, *, with_order: bool = False
) -> OrderStatusOut:
    """The status read of ``orders.order_status`` (same permission, same tenant scope, same 404), optionally
    held until the order changes — see ``hold``. ``with_order``: a final answer (not pending) also carries the
    whole order as ``orders.get_order`` reads it (same permission): the waiting page shows the tickets without
    a second request, which was one request of five per paid order through the whole stack."""

    async def read() -> OrderStatusOut:
        async with uows(readonly=True, autocommit=True) as uow:  # one indexed read, no BEGIN … ROLLBACK
            return await orders.order_status(uow, actor, order_id)

    async def read_order() -> OrderStatusOut:
        # In place of the status read once the order changed or is known final: the answer is the order as it is
        # now. One statement (the order, its lines, tickets and payments: one snapshot), so no BEGIN … ROLLBACK.
        async with uows(readonly=True, autocommit=True) as uow:
            order = await orders.get_order(uow, actor, order_id)
        return OrderStatusOut(
            id=order.id,
            status=order.status,
            expires_at=order.expires_at,
            paid_at=order.paid_at,
            order=None if order.status == OrderStatus.PENDING else order,
        )

    return await hold(wakeups, order_id, read, wait_s, final=read_order if with_order else None)


async def customer_status(
    uows: UnitsOfWork, wakeups: Wakeups, organizer_id: str, code: str, contact: str, wait_s: float = 0
) -> OrderStatusOut:
    """The buyer's own order's status (code and contact must match, as for the order page), optionally held."""

    async def read() -> OrderStatusOut:
        async with uows(readonly=True) as uow:
            o = await orders.order_for_customer(uow, organizer_id, code, contact)
            return OrderStatusOut(id=o.id, status=o.status, expires_at=o.expires_at, paid_at=o.paid_at)

    first = await read()  # finds the order's id (the key its commits announce) and checks the buyer's right
    if not still_waiting(first) or wait_s <= 0:
        return first
    return await hold(wakeups, first.id, read, wait_s)
