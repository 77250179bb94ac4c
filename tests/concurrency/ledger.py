"""What the race tests check after every race: the pool counters equal the rows they summarise.

For every pool P (all quantities in units):

- ``held(P)`` = Σ quantity of P's items in holds that are ``active``;
- ``sold(P)`` = Σ quantity of P's items in holds that are ``converted`` (paid)
  − the refunded order lines that consumed P and whose ticket was never used (a refund gives one unit of each
  of the line's pools back; a ticket refunded after entry, by the override, keeps its place: it was used);
- ``sold(P)`` also = the ``active`` lines of ``paid`` / ``partially_refunded`` orders that consumed P, plus
  the lines refunded after entry (every valid sold ticket, or used one, is one sold unit, and no unit is sold
  without one);
- ``held(P) + sold(P) <= capacity(P) + allowance(P)``.

A seats-only pool (a seated session's, ``inventory.rules.SEATS_ONLY``) is its seats: a seat order claims a unit
and takes nothing of the pool's row, and its ``held``/``sold`` are its units' live claims (``inventory.counts``).
The rows they are checked against are then the order lines holding one of its units — ``held`` = the active lines
of ``pending`` orders, ``sold`` = the valid sold tickets as above — and the units' occupied bits:
``held + sold`` = the pool's units with the bit set.

A counter updated twice (a hold released twice, a payment applied twice, a lost update) breaks one of
these equalities even when the capacity bound still holds, so they are checked separately.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, select

from piaowu.core.actor import Actor
from piaowu.core.errors import DomainError
from piaowu.inventory import service as inventory
from piaowu.inventory.models import Hold, HoldItem, Pool, Unit
from piaowu.inventory.rules import SEATS_ONLY
from piaowu.orders import service as orders
from piaowu.orders.models import Order, OrderLine, OrderLineHolding
from piaowu.orders.schemas import BuyerIn, OrderIn, OrderItemIn, OrderOut
from piaowu.runtime import Runtime
from piaowu.tickets.models import Ticket

T = TypeVar("T")
BUYER = BuyerIn(name="张三", phone="13812345678", email="zhang@example.com")


@dataclass(frozen=True)
class PoolLedger:
    pool_id: str
    capacity: int
    allowance: int
    held: int
    sold: int
    held_rows: int  # from the holds
    sold_rows: int  # from the holds, minus refunded lines
    sold_tickets: int  # from the active lines of paid orders, and the lines refunded after entry

    @property
    def consistent(self) -> bool:
        return self.held == self.held_rows and self.sold == self.sold_rows == self.sold_tickets

    @property
    def within_capacity(self) -> bool:
        return self.held >= 0 and self.sold >= 0 and self.held + self.sold <= self.capacity + self.allowance


async def ledger(rt: Runtime, pool_ids: Iterable[str]) -> dict[str, PoolLedger]:
    ids = list(pool_ids)
    async with rt.uow(readonly=True) as uow:
        s = uow.session
        pools = {p.id: p for p in (await s.execute(select(Pool).where(Pool.id.in_(ids)))).scalars()}
        items = (
            await s.execute(
                select(HoldItem.pool_id, HoldItem.quantity, Hold.status)
                .join(Hold, Hold.id == HoldItem.hold_id)
                .where(HoldItem.pool_id.in_(ids))
            )
        ).all()
        lines = (
            await s.execute(
                select(
                    OrderLineHolding.pool_id,
                    OrderLineHolding.quantity,
                    OrderLine.status,
                    Order.status,
                    func.coalesce(Ticket.entries_used, 0),
                )
                .join(OrderLine, OrderLine.id == OrderLineHolding.line_id)
                .join(Order, Order.id == OrderLine.order_id)
                .outerjoin(Ticket, Ticket.order_line_id == OrderLine.id)
                .where(OrderLineHolding.pool_id.in_(ids))
            )
        ).all()
    held, converted = Counter[str](), Counter[str]()
    for pool_id, qty, status in items:
        if status == "active":
            held[pool_id] += qty
        elif status == "converted":
            converted[pool_id] += qty
    refunded, valid = Counter[str](), Counter[str]()
    for pool_id, units, line_status, order_status, entries_used in lines:
        if line_status == "refunded" and entries_used == 0:
            refunded[pool_id] += units
        elif line_status == "refunded" or (line_status == "active" and order_status in ("paid", "partially_refunded")):
            valid[pool_id] += units
    books = {
        pid: PoolLedger(
            pid, p.capacity, p.allowance, p.held, p.sold, held[pid], converted[pid] - refunded[pid], valid[pid]
        )
        for pid, p in pools.items()
    }
    seated = [pid for pid, p in pools.items() if p.kind == SEATS_ONLY]
    if seated:
        books |= await _seat_ledger(rt, {pid: pools[pid] for pid in seated})
    return books


async def _seat_ledger(rt: Runtime, pools: dict[str, Pool]) -> dict[str, PoolLedger]:
    ids = list(pools)
    async with rt.uow(readonly=True) as uow:
        s = uow.session
        counts = await inventory.counts(uow, next(iter(pools.values())).organizer_id, ids)
        lines = (
            await s.execute(
                select(Unit.pool_id, OrderLine.status, Order.status, func.coalesce(Ticket.entries_used, 0))
                .select_from(OrderLineHolding)
                .join(Unit, Unit.id == OrderLineHolding.unit_id)
                .join(OrderLine, OrderLine.id == OrderLineHolding.line_id)
                .join(Order, Order.id == OrderLine.order_id)
                .outerjoin(Ticket, Ticket.order_line_id == OrderLine.id)
                .where(Unit.pool_id.in_(ids))
            )
        ).all()
        occupied = Counter[str](
            dict(
                (
                    await s.execute(
                        select(Unit.pool_id, func.count())
                        .where(Unit.pool_id.in_(ids), Unit.occupied.bitwise_and(1) == 1)
                        .group_by(Unit.pool_id)
                    )
                ).all()
            )
        )
    held, valid = Counter[str](), Counter[str]()
    for pool_id, line_status, order_status, entries_used in lines:
        if line_status == "active" and order_status == "pending":
            held[pool_id] += 1
        elif (line_status == "refunded" and entries_used) or (
            line_status == "active" and order_status in ("paid", "partially_refunded")
        ):
            valid[pool_id] += 1
    books = {}
    for pid, p in pools.items():
        c = counts[pid]
        # The bits stand for the claims' total: a claim left live on a freed seat (or a bit on a seat no claim
        # holds) shows as a ``sold`` that no row explains.
        sold_rows = occupied[pid] - c.held
        books[pid] = PoolLedger(pid, p.capacity, p.allowance, c.held, c.sold, held[pid], sold_rows, valid[pid])
    return books


async def assert_ledger(rt: Runtime, pool_ids: Iterable[str]) -> dict[str, PoolLedger]:
    books = await ledger(rt, pool_ids)
    for book in books.values():
        assert book.within_capacity, f"oversold: {book}"
        assert book.consistent, f"counters disagree with the rows: {book}"
    return books


async def warm(rt: Runtime, n: int) -> None:
    """Open ``n`` connections first, so that the race is between the use cases, not connection set-ups."""

    async def touch() -> None:
        async with rt.uow() as uow:
            await uow.session.execute(select(1))
            await uow.rollback()
        async with rt.db.read_sessions() as s:
            await s.execute(select(1))
            await asyncio.sleep(0.02)

    await asyncio.gather(*(touch() for _ in range(n)))


async def settle(tasks: Iterable[Awaitable[T]]) -> list[T | BaseException]:
    """Run concurrently; keep every outcome (a result or the exception it raised)."""
    return list(await asyncio.gather(*tasks, return_exceptions=True))


def codes(outcomes: Iterable[Any]) -> Counter[str]:
    """'ok' for results, the error code for DomainErrors, the class name for anything else."""
    out = Counter[str]()
    for o in outcomes:
        if isinstance(o, DomainError):
            out[o.code] += 1
        elif isinstance(o, BaseException):
            out[type(o).__name__] += 1
        else:
            out["ok"] += 1
    return out


async def buy(rt: Runtime, actor: Actor, ticket_type_id: str, qty: int = 1) -> OrderOut:
    """One buyer: create an order in its own unit of work (own connection, own transaction)."""
    async with rt.uow() as uow:
        out = await orders.create_order(
            uow, actor, OrderIn(items=[OrderItemIn(ticket_type_id=ticket_type_id, quantity=qty)], buyer=BUYER)
        )
        await uow.commit()
    return out


async def in_uow(rt: Runtime, work: Callable[[Any], Awaitable[T]]) -> T:
    async with rt.uow() as uow:
        result = await work(uow)
        await uow.commit()
    return result


async def pools_of(rt: Runtime, session_id: str) -> list[str]:
    """The session's pool and its ticket types' quota pools."""
    from piaowu.catalog.models import Session, TicketType

    async with rt.uow(readonly=True) as uow:
        s = uow.session
        ids = [(await s.execute(select(Session.pool_id).where(Session.id == session_id))).scalar_one()]
        ids += [
            pid
            for pid in (
                await s.execute(select(TicketType.pool_id).where(TicketType.session_id == session_id))
            ).scalars()
            if pid
        ]
    return ids
