"""The one inventory engine: pools, holds, reserve / confirm / release. It knows nothing of orders or money.

Guarantees (proven by tests/concurrency on SQLite and PostgreSQL):
- ``held + sold <= capacity + allowance`` for every pool under any interleaving;
- a reservation takes all its units or none;
- a hold is closed (sold, released or expired) exactly once, so units are never returned twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from piaowu.core.errors import HoldExpired, NotFound, SoldOut, ValidationFailed
from piaowu.core.ids import new_id
from piaowu.core.inputs import fit
from piaowu.db.hotpath import Rows
from piaowu.db.uow import UnitOfWork
from piaowu.inventory import repository as repo
from piaowu.inventory.models import Hold, HoldItem, Pool
from piaowu.inventory.rules import HoldStatus, PoolCounts, Take, check_capacity_change, plan
from piaowu.inventory.strategies import GUARDED, ReserveStrategy

STRATEGY_KEY = "inventory.reserve"


@dataclass(frozen=True)
class HoldInfo:
    id: str
    expires_at: datetime
    takes: tuple[Take, ...]


# Labels are derived from longer names (event + session): cut to the column, on every database alike.
LABEL_LENGTH = 200


async def create_pool(
    uow: UnitOfWork, organizer_id: str, *, kind: str, capacity: int, label: str = "", allowance: int = 0
) -> str:
    if capacity < 0 or allowance < 0:
        raise ValidationFailed([{"field": "capacity", "code": "negative", "message": "Capacity cannot be negative."}])
    pool = Pool(
        organizer_id=organizer_id,
        kind=kind,
        label=fit(label, LABEL_LENGTH),
        capacity=capacity,
        allowance=allowance,
        created_at=uow.now(),
    )
    uow.session.add(pool)
    await uow.session.flush()
    return pool.id


async def set_capacity(uow: UnitOfWork, organizer_id: str, pool_id: str, capacity: int) -> PoolCounts:
    """Changes a pool's capacity; refuses to go below what is already held or sold."""
    pool = await repo.pool(uow.session, organizer_id, pool_id)
    if pool is None:
        raise NotFound(kind="pool")
    errors = check_capacity_change(capacity, PoolCounts(pool.capacity, pool.held, pool.sold, pool.allowance))
    if errors:
        raise ValidationFailed(errors)
    pool.capacity = capacity
    await uow.session.flush()
    return PoolCounts(pool.capacity, pool.held, pool.sold, pool.allowance)


async def counts(uow: UnitOfWork, organizer_id: str, pool_ids: Sequence[str]) -> dict[str, PoolCounts]:
    return await repo.counts(uow.session, organizer_id, pool_ids)


async def reserve(
    uow: UnitOfWork,
    organizer_id: str,
    takes: Sequence[Take],
    *,
    expires_at: datetime,
    owner_ref: str = "",
    hold_id: str | None = None,
    with_rows: Rows = (),
) -> HoldInfo:
    """Takes all units atomically or raises ``SoldOut`` (the caller's unit of work then rolls back).

    ``with_rows`` are inserted together with the hold, only if every unit was taken: the caller's own rows
    (an order and its lines) ride along in the same statement, so the hot pool row stays locked as briefly as
    possible (``db.hotpath``). The engine inserts them without reading them.
    """
    planned = plan(takes)
    hold_id = hold_id or new_id()
    hold_rows: Rows = [
        (
            Hold.__table__,
            [
                {
                    "id": hold_id,
                    "organizer_id": organizer_id,
                    "status": HoldStatus.ACTIVE.value,
                    "expires_at": expires_at,
                    "closed_at": None,
                    "owner_ref": owner_ref,
                    "created_at": uow.now(),
                }
            ],
        ),
        (
            HoldItem.__table__,
            [{"id": new_id(), "hold_id": hold_id, "pool_id": t.pool_id, "quantity": t.quantity} for t in planned],
        ),
    ]
    strategy: ReserveStrategy = uow.strategies.get(STRATEGY_KEY, GUARDED)
    short = await strategy.take(uow.session, organizer_id, planned, [*hold_rows, *with_rows])
    if short is not None:
        # No read here: the refused statement may have aborted this transaction (PostgreSQL), and a second
        # connection per refused buyer would drain the pool in a flash sale. Clients re-read availability.
        raise SoldOut(pool_id=short)
    return HoldInfo(hold_id, expires_at, tuple(planned))


async def confirm(uow: UnitOfWork, hold_id: str) -> None:
    """Held → sold. Raises ``HoldExpired`` when the hold was already released or expired (units gone back)."""
    if not await repo.close_hold(uow.session, hold_id, HoldStatus.CONVERTED, uow.now()):
        hold = await repo.hold(uow.session, hold_id)
        if hold is not None and hold.status == HoldStatus.CONVERTED:
            return  # already sold: confirming twice changes nothing
        raise HoldExpired()
    items = await repo.hold_items(uow.session, hold_id)
    await repo.shift_units(uow.session, items, held=-1, sold=+1)


async def release(uow: UnitOfWork, hold_id: str, *, expired: bool = False) -> bool:
    """Gives held units back. Returns False when the hold was already closed (nothing is returned twice)."""
    target = HoldStatus.EXPIRED if expired else HoldStatus.RELEASED
    if not await repo.close_hold(uow.session, hold_id, target, uow.now()):
        return False
    items = await repo.hold_items(uow.session, hold_id)
    await repo.shift_units(uow.session, items, held=-1, sold=0)
    return True


async def return_sold(uow: UnitOfWork, organizer_id: str, takes: Sequence[Take]) -> None:
    """Sold units come back (refund, cancellation of a paid ticket)."""
    items = [HoldItem(hold_id="", pool_id=t.pool_id, quantity=t.quantity) for t in plan(takes)]
    await repo.shift_units(uow.session, items, held=0, sold=-1)


async def hold_takes(uow: UnitOfWork, hold_id: str) -> list[Take]:
    return [Take(i.pool_id, i.quantity) for i in await repo.hold_items(uow.session, hold_id)]


async def due_holds(uow: UnitOfWork, limit: int = 200) -> list[str]:
    """Active holds past ``expires_at`` (the sweeper releases each in its own transaction)."""
    return await repo.due_holds(uow.session, uow.now(), limit)
