"""The one inventory engine: pools, holds, reserve / confirm / release. It knows nothing of orders or money.

Guarantees (proven by tests/concurrency on SQLite and PostgreSQL):
- ``held + sold <= capacity + allowance`` for every pool under any interleaving (a seats-only pool's held and
  sold are its units' live claims, ``rules.SEATS_ONLY``: bounded by its units, one leg each);
- a reservation takes all its units or none;
- a hold is closed (sold, released or expired) exactly once, so units are never returned twice;
- a leg of a unit with identity (a seat, a room, a berth) has at most one owner: a claim sets its mask's bits
  only where none of them was set, atomically with the reservation's counter takes; releasing or expiring the
  hold clears exactly those bits once, confirming keeps them, returning a sold claim clears them once;
- a leg is never both kept back (blocked) and held or sold: a block and a claim are conditional updates of
  the same row, each matching only where the other's bits are clear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from piaowu.core.errors import HoldExpired, LegsOccupied, NotFound, SeatTaken, SoldOut, ValidationFailed
from piaowu.core.ids import new_id
from piaowu.core.inputs import fit
from piaowu.db.hotpath import GuardedWrite, RowCheck, Rows, StaleRead
from piaowu.db.uow import UnitOfWork
from piaowu.inventory import repository as repo
from piaowu.inventory.models import Hold, HoldItem, HoldUnit, Pool
from piaowu.inventory.rules import (
    SEATS_ONLY,
    Claim,
    HoldStatus,
    LockedHold,
    PoolCounts,
    Take,
    beyond_legs,
    check_capacity_change,
    check_legs,
    check_mask,
    legs_of,
    merge_masks,
    plan,
    plan_claims,
    seated_capacity_change,
)
from piaowu.inventory.strategies import GUARDED, ReserveStrategy

STRATEGY_KEY = "inventory.reserve"


@dataclass(frozen=True)
class HoldInfo:
    id: str
    expires_at: datetime
    takes: tuple[Take, ...]
    claims: tuple[Claim, ...] = ()


@dataclass(frozen=True)
class UnitState:
    legs: int
    occupied: int
    blocked: int
    withheld: int = 0  # sales channels the unit is not on sale through (``core.channels``)


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
    """Changes a pool's capacity; refuses to go below what is already held or sold. A seats-only pool's
    capacity is its seat count (``rules.seated_capacity_change``): only the layout changes it."""
    pool = await repo.pool(uow.session, organizer_id, pool_id)
    if pool is None:
        raise NotFound(kind="pool")
    if pool.kind == SEATS_ONLY:
        if errors := seated_capacity_change(pool.capacity, capacity):
            raise ValidationFailed(errors)
        return (await repo.counts(uow.session, organizer_id, [pool_id]))[pool_id]
    errors = check_capacity_change(capacity, PoolCounts(pool.capacity, pool.held, pool.sold, pool.allowance))
    if errors:
        raise ValidationFailed(errors)
    pool.capacity = capacity
    await uow.session.flush()
    return PoolCounts(pool.capacity, pool.held, pool.sold, pool.allowance)


async def resize_unused(
    uow: UnitOfWork, organizer_id: str, pool_id: str, capacity: int, *, kind: str | None = None
) -> bool:
    """Sets a pool's capacity only while nothing of it is held or sold, by one conditional update of the pool's
    row (so a reservation racing it waits for this transaction, or ran first and makes it refuse). → whether it
    was set. The row stays locked until the caller's transaction ends (PostgreSQL), so what the caller changes
    next (a session's seats) cannot be sold from before it commits. ``kind``: what the pool counts from now on
    (``rules.SEATS_ONLY``: seats alone, so a take marked ``seatless`` no longer matches it), in the same update."""
    if capacity < 0:
        raise ValidationFailed([{"field": "capacity", "code": "negative", "message": "Capacity cannot be negative."}])
    return await repo.resize_unused(uow.session, organizer_id, pool_id, capacity, kind)


async def lock_seats_unclaimed(uow: UnitOfWork, organizer_id: str, pool_id: str) -> bool:
    """Locks a seats-only pool's units until the caller's transaction ends and says whether none of them is held
    or sold. Seat claims do not take the pool's row (``rules.SEATS_ONLY``), so what must not change under a hold
    (the pool's seats themselves) is guarded on the units: a claim in flight is waited for and then seen, a later
    one waits for the caller and then finds the units as the caller left them."""
    return await repo.lock_units_unclaimed(uow.session, organizer_id, pool_id)


async def create_units(
    uow: UnitOfWork, organizer_id: str, labels: Sequence[str], *, legs: int = 1, pool_id: str | None = None
) -> list[str]:
    """Units with identity (seats, rooms, berths), each sold per leg (``legs`` ≤ 63), all free. → their ids,
    in the order of ``labels``."""
    check_legs(legs)
    ids = [new_id() for _ in labels]
    now, blocked = uow.now(), beyond_legs(legs)
    rows = [
        {
            "id": uid,
            "organizer_id": organizer_id,
            "pool_id": pool_id,
            "label": fit(label, LABEL_LENGTH),
            "legs": legs,
            "occupied": 0,
            "blocked": blocked,
            "created_at": now,
        }
        for uid, label in zip(ids, labels, strict=True)
    ]
    await repo.insert_units(uow.session, rows)
    return ids


async def unit_states(uow: UnitOfWork, organizer_id: str, unit_ids: Sequence[str]) -> dict[str, UnitState]:
    return {
        u.id: UnitState(u.legs, u.occupied, u.blocked, u.withheld)
        for u in await repo.units(uow.session, organizer_id, unit_ids)
    }


async def pool_unit_masks(
    uow: UnitOfWork, organizer_id: str, pool_id: str, *, in_use: int | None = None
) -> dict[str, tuple[int, int]]:
    """(occupied, blocked) of every unit of a pool (a session's seats), by unit id: one query, for availability
    maps. With ``in_use`` (a leg mask), only the units taken or kept back on one of those legs: a unit left out is
    free on them — what a map of a house still mostly free needs to read. A hint like ``free_units``: a claim is
    what decides."""
    return await repo.pool_unit_masks(uow.session, organizer_id, pool_id, in_use)


async def pool_unit_mask_columns(
    uow: UnitOfWork,
    organizer_id: str,
    pool_id: str,
    *,
    in_use: int | None = None,
    changed_since: str | None = None,
) -> repo.MaskColumns:
    """``pool_unit_masks`` as three columns in one order (ids, occupied, blocked): the same read, for a caller
    that walks every unit once. On PostgreSQL with the read's ``horizon``; ``changed_since`` an earlier read's
    horizon: only the units written since then (and maybe a few more), not the whole pool — deletions unseen."""
    return await repo.pool_unit_mask_columns(uow.session, organizer_id, pool_id, in_use, changed_since=changed_since)


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
    claims: Sequence[Claim] = (),
    checks: Sequence[RowCheck] = (),
) -> HoldInfo:
    """Takes all units and claims every unit's legs atomically, or raises ``SoldOut`` (``SeatTaken`` when some
    claimed unit was taken on a leg asked for) naming the pools that were short (``pool_ids``) and the units
    that were taken (``unit_ids``); the caller's unit of work then rolls back.

    ``with_rows`` are inserted together with the hold, only if every unit was taken: the caller's own rows
    (an order and its lines) ride along in the same statement, so the hot pool row stays locked as briefly as
    possible (``db.hotpath``). The engine inserts them without reading them.

    ``checks`` are the caller's preconditions, verified by the same statement (``db.hotpath.RowCheck``): when
    one no longer holds, nothing is taken and ``StaleRead`` names them (the caller refreshes and may retry in
    the same unit of work).
    """
    planned, claimed = plan(takes), plan_claims(claims)
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
        (
            HoldUnit.__table__,
            [
                {"id": new_id(), "hold_id": hold_id, "unit_id": c.unit_id, "mask": c.mask, "returned_at": None}
                for c in claimed
            ],
        ),
    ]
    strategy: ReserveStrategy = uow.strategies.get(STRATEGY_KEY, GUARDED)
    # Without claims the strategy is called exactly as before (the general-admission hot path is unchanged).
    extra: tuple[Any, ...] = (claimed, tuple(checks)) if checks else (claimed,) if claimed else ()
    refusal = await strategy.take(uow.session, organizer_id, planned, [*hold_rows, *with_rows], *extra)
    if refusal is not None and refusal.stale:
        raise StaleRead(refusal.stale)
    if refusal is not None:
        # No read here: the refused statement may have aborted this transaction (PostgreSQL), and a second
        # connection per refused buyer would drain the pool in a flash sale. Clients re-read availability.
        data = {"pool_ids": list(refusal.pool_ids), "unit_ids": list(refusal.unit_ids)}
        if refusal.unit_ids:
            raise SeatTaken(**data)
        raise SoldOut(pool_id=refusal.pool_ids[0] if refusal.pool_ids else None, **data)
    return HoldInfo(hold_id, expires_at, tuple(planned), tuple(claimed))


async def confirm(uow: UnitOfWork, hold_id: str) -> None:
    """Held → sold. Raises ``HoldExpired`` when the hold was already released or expired (units gone back)."""
    if not await repo.close_and_shift(uow.session, hold_id, HoldStatus.CONVERTED, uow.now(), held=-1, sold=+1):
        hold = await repo.hold(uow.session, hold_id)
        if hold is not None and hold.status == HoldStatus.CONVERTED:
            return  # already sold: confirming twice changes nothing
        raise HoldExpired()


def confirm_writes(hold: LockedHold, now: datetime) -> list[GuardedWrite]:
    """``confirm`` as guarded writes, for a caller that sends them in a statement of its own: the payment
    notification's tickets' write (``tickets.Along``), so that the sale's pool rows are locked by its last
    statement only, not from a confirm of their own until COMMIT. The hold is closed as sold, then each pool's
    held → sold, in the lock order of every reservation (pools by id). ``hold`` must be active and locked by the
    caller (``repository.with_hold``): then every write matches, and a write that did not is a broken invariant
    which refuses the whole statement (``hotpath.guarded_write_and_insert``)."""
    assert hold.active, hold
    writes = [GuardedWrite(repo.CONVERT, hold.id, now)]
    return writes + [GuardedWrite(repo.HELD_TO_SOLD, t.pool_id, t.quantity) for t in plan(hold.takes)]


async def release(uow: UnitOfWork, hold_id: str, *, expired: bool = False) -> bool:
    """Gives held units back. Returns False when the hold was already closed (nothing is returned twice)."""
    target = HoldStatus.EXPIRED if expired else HoldStatus.RELEASED
    if not await repo.close_and_shift(uow.session, hold_id, target, uow.now(), held=-1, sold=0):
        return False
    # The hold was closed by this caller only: its claimed legs are cleared once.
    await repo.vacate(uow.session, await repo.hold_units(uow.session, hold_id))
    return True


async def return_sold(uow: UnitOfWork, organizer_id: str, takes: Sequence[Take]) -> None:
    """Sold units come back (refund, cancellation of a paid ticket)."""
    items = [HoldItem(hold_id="", pool_id=t.pool_id, quantity=t.quantity) for t in plan(takes)]
    await repo.shift_units(uow.session, items, held=0, sold=-1)


async def return_claims(uow: UnitOfWork, hold_id: str, unit_ids: Sequence[str] | None = None) -> list[str]:
    """Sold claims come back (refund): the legs that a converted hold claimed of ``unit_ids`` (all its units
    when None) are cleared, each claim once — the caller whose conditional update marked it returned clears it,
    a second or racing return finds nothing. → the ids of the units returned by this call. A hold that is not
    converted returns nothing (an active hold is released instead; a released one gave its legs back)."""
    claims = await repo.mark_returned(uow.session, hold_id, unit_ids, uow.now())
    await repo.vacate(uow.session, claims)
    return sorted(c.unit_id for c in claims)


async def hold_claims(uow: UnitOfWork, hold_id: str) -> list[Claim]:
    return [Claim(c.unit_id, c.mask) for c in await repo.hold_units(uow.session, hold_id)]


async def hold_takes(uow: UnitOfWork, hold_id: str) -> list[Take]:
    return [Take(i.pool_id, i.quantity) for i in await repo.hold_items(uow.session, hold_id)]


async def due_holds(uow: UnitOfWork, limit: int = 200) -> list[str]:
    """Active holds past ``expires_at`` (the sweeper releases each in its own transaction)."""
    return await repo.due_holds(uow.session, uow.now(), limit)


async def free_units(uow: UnitOfWork, organizer_id: str, pool_id: str, mask: int, *, limit: int = 20) -> list[str]:
    """Up to ``limit`` units of ``pool_id`` free on every leg of ``mask`` (neither occupied nor blocked), by
    label. A hint for choosing: the claim itself is what decides, and may still find a unit taken."""
    return await repo.free_units(uow.session, organizer_id, pool_id, mask, limit)


# A block refused because a leg was occupied is tried again when the leg turns out free on the re-read (it was
# released in between, PostgreSQL READ COMMITTED): a few times, then the refusal stands.
BLOCK_ATTEMPTS = 3


async def block_legs(uow: UnitOfWork, organizer_id: str, blocks: Sequence[Claim]) -> None:
    """Keeps legs of units back from sale (an operator keeps house seats, a broken berth, a room out of order):
    all of them or none. Each unit's legs are set in ``blocked`` by one conditional update that matches only
    where none of them is held or sold; a claim matches only where none of its legs is occupied or blocked. So a
    block racing a claim on the same leg cannot both succeed, on PostgreSQL (the row lock and the re-evaluated
    condition) and on SQLite (``BEGIN IMMEDIATE``): a leg is never both kept back and sold.

    Raises ``NotFound`` for a unit of another organizer or none, ``ValidationFailed`` for a mask with legs
    the unit does not have, and ``LegsOccupied`` (``unit_ids``; ``legs``: unit id → the occupied leg numbers)
    when some leg is held or sold; the caller's unit of work then rolls back the blocks already made. We refuse
    rather than block the free legs only or block "after the sale": an operator who keeps seats back must
    know at once which ones are not theirs to keep. Blocking a blocked leg again changes nothing. Why legs are
    kept back is recorded by the caller (audit), not here.
    """
    planned = merge_masks(blocks)
    masks = await repo.unit_masks(uow.session, organizer_id, [c.unit_id for c in planned])
    if len(masks) != len(planned):
        raise NotFound(kind="unit")
    for c in planned:
        check_mask(masks[c.unit_id][0], c.mask)
    legs: dict[str, list[int]] = {}  # unit id → its occupied legs of the mask, for the refusal
    todo = planned
    for attempt in range(BLOCK_ATTEMPTS):
        refused = [c for c in todo if not await repo.block(uow.session, organizer_id, c.unit_id, c.mask)]
        now = await repo.unit_masks(uow.session, organizer_id, [c.unit_id for c in refused])
        todo = []
        for c in refused:
            if taken := legs_of(now[c.unit_id][1] & c.mask):
                legs[c.unit_id] = taken
            elif attempt + 1 < BLOCK_ATTEMPTS:
                todo.append(c)  # freed since the update: try it again
            else:
                legs[c.unit_id] = legs_of(c.mask)
        if not todo:
            break
    if legs:
        raise LegsOccupied(unit_ids=sorted(legs), legs=legs)


async def unblock_legs(uow: UnitOfWork, organizer_id: str, blocks: Sequence[Claim]) -> None:
    """Gives legs kept back by ``block_legs`` back to sale. Only legs the unit has can be unblocked (the bits
    beyond them stay blocked for ever); unblocking a leg that is not blocked changes nothing. Raises
    ``NotFound`` / ``ValidationFailed`` as ``block_legs`` does, before changing anything."""
    planned = merge_masks(blocks)
    masks = await repo.unit_masks(uow.session, organizer_id, [c.unit_id for c in planned])
    if len(masks) != len(planned):
        raise NotFound(kind="unit")
    for c in planned:
        check_mask(masks[c.unit_id][0], c.mask)
    for c in planned:
        await repo.unblock(uow.session, organizer_id, c.unit_id, c.mask)


async def claim_for_hold(uow: UnitOfWork, organizer_id: str, hold_id: str, claims: Sequence[Claim]) -> None:
    """Claims more units for a hold that already exists — a sold order's hold taking its ticket's new seat in an
    exchange —, all or none, by the same guarded statement as ``reserve`` (``SeatTaken`` names the units that
    were taken or are blocked; the caller's unit of work then rolls back). The claims are recorded under the
    hold, so a later refund returns them with ``return_claims`` like the ones the hold was made with."""
    claimed = plan_claims(claims)
    rows: Rows = [
        (
            HoldUnit.__table__,
            [
                {"id": new_id(), "hold_id": hold_id, "unit_id": c.unit_id, "mask": c.mask, "returned_at": None}
                for c in claimed
            ],
        )
    ]
    strategy: ReserveStrategy = uow.strategies.get(STRATEGY_KEY, GUARDED)
    refusal = await strategy.take(uow.session, organizer_id, [], rows, claimed)
    if refusal is not None:
        raise SeatTaken(pool_ids=[], unit_ids=list(refusal.unit_ids))
