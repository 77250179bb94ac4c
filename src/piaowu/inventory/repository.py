"""Queries of the inventory engine. The reserve statements themselves live in ``inventory.strategies``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Select, String, bindparam, cast, func, insert, literal_column, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.db import hotpath, statements
from piaowu.db.hotpath import Guard
from piaowu.db.types import UTCDateTime
from piaowu.inventory.models import LEG0_IN_USE, Hold, HoldItem, HoldUnit, Pool, Unit
from piaowu.inventory.rules import SEATS_ONLY, HoldStatus, PoolCounts, Take


async def counts(session: AsyncSession, organizer_id: str, pool_ids: Sequence[str]) -> dict[str, PoolCounts]:
    """Each pool's capacity, held and sold. A seats-only pool's held and sold are its seats' live claims
    (``seat_counts``), not its row's counters, which seat claims do not take."""
    if not pool_ids:
        return {}
    rows = (
        await session.execute(
            select(Pool.id, Pool.kind, Pool.capacity, Pool.held, Pool.sold, Pool.allowance).where(
                Pool.id.in_(list(pool_ids)), Pool.organizer_id == organizer_id
            )
        )
    ).all()
    seated = await seat_counts(session, [r.id for r in rows if r.kind == SEATS_ONLY])
    return {
        r.id: PoolCounts(r.capacity, *seated.get(r.id, (0, 0)), r.allowance)
        if r.kind == SEATS_ONLY
        else PoolCounts(r.capacity, r.held, r.sold, r.allowance)
        for r in rows
    }


async def seat_counts(session: AsyncSession, pool_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(held, sold) of seats-only pools, from their units. Every claimed seat carries exactly one live claim
    (the ledger's invariant): held while its hold is active, sold while its hold is converted and the claim not
    returned. So sold = seats claimed − held, and neither count joins the sold seats to their holds: the claimed
    seats are counted on the partial index of units in use (``ix_inventory_units_leg0_in_use``), the held ones
    from the active holds (``ix_inventory_holds_status_expires``; a hold lives 15 minutes, so they are few). A
    sold-out 80,000-seat house joined every sold seat to its claim and hold: 270-310 ms per read on a loaded
    machine, paid on each shop cache miss. Pools with nothing taken are left out."""
    if not pool_ids:
        return {}
    ids = list(pool_ids)
    claimed = (
        select(Unit.pool_id, func.count())
        .where(Unit.pool_id.in_(ids), LEG0_IN_USE, Unit.occupied.op("&")(1) != 0)
        .group_by(Unit.pool_id)
    )
    held = (
        select(Unit.pool_id, func.count())
        .select_from(Hold)
        .join(HoldUnit, HoldUnit.hold_id == Hold.id)
        .join(Unit, Unit.id == HoldUnit.unit_id)
        .where(Hold.status == HoldStatus.ACTIVE.value, HoldUnit.returned_at.is_(None), Unit.pool_id.in_(ids))
        .group_by(Unit.pool_id)
    )
    taken: dict[str, int] = {pid: n for pid, n in (await session.execute(claimed)).all()}
    active: dict[str, int] = {pid: n for pid, n in (await session.execute(held)).all()}
    return {pid: (active.get(pid, 0), n - active.get(pid, 0)) for pid, n in taken.items()}


async def pool(session: AsyncSession, organizer_id: str, pool_id: str) -> Pool | None:
    q = select(Pool).where(Pool.id == pool_id, Pool.organizer_id == organizer_id)
    return (await session.execute(q)).scalar_one_or_none()


async def hold_items(session: AsyncSession, hold_id: str) -> list[HoldItem]:
    return list((await session.execute(select(HoldItem).where(HoldItem.hold_id == hold_id))).scalars())


async def close_hold(session: AsyncSession, hold_id: str, target: HoldStatus, now: datetime) -> bool:
    """Move an active hold to ``target``; True only for the one caller that made the move."""
    res = await session.execute(
        update(Hold).where(Hold.id == hold_id, Hold.status == HoldStatus.ACTIVE).values(status=target, closed_at=now)
    )
    return res.rowcount == 1


# A hold read by a caller that confirms it later in a statement of its own (``service.confirm_writes``): its
# status, with its row locked until COMMIT (``FOR UPDATE`` in the scalar subquery; SQLite's write transaction
# holds the database), so that nothing closes it in between — the sweeper's release of an order's hold takes the
# order's row first, but the release of holds left behind (``release_expired_holds``) takes the hold's alone —
# and its items, "pool:quantity" joined by commas (one column of the caller's row, whatever its dialect).
HOLD_PREFIX = "hold_"
_ITEM_SEPARATOR, _QUANTITY_SEPARATOR = ",", ":"


def with_hold(stmt: Select[Any], hold_id: Any, *, lock: bool) -> Select[Any]:
    """``stmt`` (a prebuilt read whose rows name a hold: an order's) with that hold's ``hold_status`` (NULL: no
    such hold) and ``hold_items`` (``takes_of``), the hold's row locked until COMMIT when ``lock``."""
    status = select(Hold.status).where(Hold.id == hold_id)
    items = select(
        func.aggregate_strings(
            HoldItem.pool_id + _QUANTITY_SEPARATOR + cast(HoldItem.quantity, String), _ITEM_SEPARATOR
        )
    ).where(HoldItem.hold_id == hold_id)
    return stmt.add_columns(
        (status.with_for_update() if lock else status).scalar_subquery().label(HOLD_PREFIX + "status"),
        items.scalar_subquery().label(HOLD_PREFIX + "items"),
    )


def takes_of(items: str | None) -> list[Take]:
    """The takes of a ``with_hold`` read's ``hold_items``: one per item (``rules.plan`` merges them per pool)."""
    if not items:
        return []
    out = []
    for item in items.split(_ITEM_SEPARATOR):
        pool_id, _, quantity = item.rpartition(_QUANTITY_SEPARATOR)
        out.append(Take(pool_id, int(quantity)))
    return out


# The confirm as guarded writes (``service.confirm_writes``): the hold closed as sold only while active (the
# amount is the closing time), then each pool's held → sold (the amount is the quantity; never below zero).
CONVERT = Guard(
    "hold_convert",
    Hold.__table__,
    "closed_at",
    lambda c, now: c.status == literal_column(f"'{HoldStatus.ACTIVE}'", String),
    lambda c, now: {"status": literal_column(f"'{HoldStatus.CONVERTED}'", String), "closed_at": now},
)
HELD_TO_SOLD = Guard(
    "held_to_sold",
    Pool.__table__,
    "held",
    lambda c, n: c.held >= n,
    lambda c, n: {"held": c.held - n, "sold": c.sold + n},
)


# Close an active hold and move its items' counts in ONE statement (PostgreSQL): the hold's conditional update,
# then its pools locked in id order (``ORDER BY id FOR UPDATE``: the order every reservation locks them in, so
# no deadlock), then the counters. ``lk`` is counted whole before the first pool is updated (an init plan), so
# every lock is taken in order first. Nothing is shifted when the hold was not active (``i`` is then empty).
_CLOSE_AND_SHIFT = text(
    """
WITH h AS (
    UPDATE inventory_holds SET status = :target, closed_at = :now
    WHERE id = :hold_id AND status = :active
    RETURNING id
), i AS MATERIALIZED (
    SELECT pool_id, sum(quantity) AS q FROM inventory_hold_items
    WHERE hold_id = :hold_id AND EXISTS (SELECT 1 FROM h)
    GROUP BY pool_id
), lk AS MATERIALIZED (
    SELECT id FROM inventory_pools WHERE id IN (SELECT pool_id FROM i) ORDER BY id FOR UPDATE
), p AS (
    UPDATE inventory_pools SET held = inventory_pools.held + :held * i.q, sold = inventory_pools.sold + :sold * i.q
    FROM i
    WHERE inventory_pools.id = i.pool_id AND (SELECT count(*) FROM lk) = (SELECT count(*) FROM i)
    RETURNING inventory_pools.id
)
SELECT (SELECT count(*) FROM h) AS closed, (SELECT count(*) FROM p) AS shifted, (SELECT count(*) FROM i) AS pools
"""
).bindparams(bindparam("now", type_=UTCDateTime()))


async def close_and_shift(
    session: AsyncSession, hold_id: str, target: HoldStatus, now: datetime, *, held: int, sold: int
) -> bool:
    """``close_hold`` and, only for the caller that closed it, ``shift_units`` of its items — one statement
    and one round trip on PostgreSQL (three plus one per pool before), the same statements in order elsewhere.
    True only for the one caller that closed the hold."""
    if session.get_bind().dialect.name != "postgresql":
        if not await close_hold(session, hold_id, target, now):
            return False
        await shift_units(session, await hold_items(session, hold_id), held=held, sold=sold)
        return True
    row = (
        await hotpath.execute(
            session,
            _CLOSE_AND_SHIFT,
            {
                "target": str(target),
                "now": now,
                "hold_id": hold_id,
                "active": str(HoldStatus.ACTIVE),
                "held": held,
                "sold": sold,
            },
        )
    ).one()
    # Every item's pool exists (a foreign key): a shift that missed one would be a broken invariant, not a race.
    assert row.shifted == row.pools, (hold_id, row)
    return row.closed == 1


async def shift_units(session: AsyncSession, items: Sequence[HoldItem], *, held: int, sold: int) -> None:
    """Add ``held``/``sold`` multiples of each item's quantity to its pool, in pool-id order."""
    for item in sorted(items, key=lambda i: i.pool_id):
        await session.execute(
            update(Pool)
            .where(Pool.id == item.pool_id)
            .values(held=Pool.held + held * item.quantity, sold=Pool.sold + sold * item.quantity)
        )


async def due_holds(session: AsyncSession, now: datetime, limit: int) -> list[str]:
    q = (
        select(Hold.id)
        .where(Hold.status == HoldStatus.ACTIVE, Hold.expires_at <= now)
        .order_by(Hold.expires_at)
        .limit(limit)
    )
    return list((await session.execute(q)).scalars())


async def hold(session: AsyncSession, hold_id: str) -> Hold | None:
    return await session.get(Hold, hold_id)


async def units(session: AsyncSession, organizer_id: str, unit_ids: Sequence[str]) -> list[Unit]:
    if not unit_ids:
        return []
    q = select(Unit).where(Unit.id.in_(list(unit_ids)), Unit.organizer_id == organizer_id)
    return list((await session.execute(q)).scalars())


async def hold_units(session: AsyncSession, hold_id: str) -> list[HoldUnit]:
    return list((await session.execute(select(HoldUnit).where(HoldUnit.hold_id == hold_id))).scalars())


async def mark_returned(
    session: AsyncSession, hold_id: str, unit_ids: Sequence[str] | None, now: datetime
) -> list[HoldUnit]:
    """Mark the not yet returned claims of a converted hold returned. → the claims this call marked (a racing
    return waits for the row lock, then finds ``returned_at`` set and marks nothing)."""
    converted = select(Hold.id).where(Hold.id == hold_id, Hold.status == HoldStatus.CONVERTED)
    q = select(HoldUnit).where(HoldUnit.hold_id == hold_id, HoldUnit.returned_at.is_(None))
    if unit_ids is not None:
        q = q.where(HoldUnit.unit_id.in_(list(unit_ids)))
    marked = []
    for claim in sorted((await session.execute(q)).scalars(), key=lambda c: c.unit_id):
        res = await session.execute(
            update(HoldUnit)
            .where(HoldUnit.id == claim.id, HoldUnit.returned_at.is_(None), HoldUnit.hold_id.in_(converted))
            .values(returned_at=now)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount == 1:
            marked.append(claim)
    return marked


async def vacate(session: AsyncSession, claims: Sequence[HoldUnit]) -> None:
    """Clear each claim's legs of its unit, in unit-id order. Callers guarantee once (a hold closed, a claim
    marked returned, by this caller only): clearing bits a later buyer set again would free a sold seat."""
    for claim in sorted(claims, key=lambda c: c.unit_id):
        await session.execute(
            update(Unit)
            .where(Unit.id == claim.unit_id)
            .values(occupied=Unit.occupied.bitwise_and(~claim.mask))  # ~mask: every other bit, as a signed BIGINT
        )


async def unit_masks(
    session: AsyncSession, organizer_id: str, unit_ids: Sequence[str]
) -> dict[str, tuple[int, int, int]]:
    """unit id → (legs, occupied, blocked), read as columns: always the newest values, never an ORM entity that
    this session may hold from earlier in the transaction."""
    if not unit_ids:
        return {}
    q = select(Unit.id, Unit.legs, Unit.occupied, Unit.blocked).where(
        Unit.id.in_(list(unit_ids)), Unit.organizer_id == organizer_id
    )
    return {r.id: (r.legs, r.occupied, r.blocked) for r in await session.execute(q)}


async def pool_unit_masks(
    session: AsyncSession, organizer_id: str, pool_id: str, in_use: int | None = None
) -> dict[str, tuple[int, int]]:
    """unit id → (occupied, blocked) of every unit grouped under ``pool_id`` — with ``in_use``, of those only
    whose ``occupied | blocked`` has one of its bits —, read as columns (newest values). A Core select: tens of
    thousands of rows (a stadium's seats) skip the ORM's row loading."""
    ids, occupied, blocked, _ = await pool_unit_mask_columns(session, organizer_id, pool_id, in_use)
    return dict(zip(ids, zip(occupied, blocked, strict=True), strict=True))


class MaskColumns(NamedTuple):
    """Units' masks as three columns in one order, and the read's ``horizon`` (PostgreSQL; None elsewhere): a
    later read ``changed_since`` it returns every unit written since this one (``db.statements.written_since``)."""

    ids: Sequence[str]
    occupied: Sequence[int]
    blocked: Sequence[int]
    horizon: str | None = None


async def pool_unit_mask_columns(
    session: AsyncSession,
    organizer_id: str,
    pool_id: str,
    in_use: int | None = None,
    *,
    changed_since: str | None = None,
) -> MaskColumns:
    """``pool_unit_masks`` as its three columns (ids, occupied, blocked; one order), for a caller that walks them
    once (a worker's live states, ``seating.live``) rather than looking units up by id. ``changed_since`` (the
    ``horizon`` of an earlier read; PostgreSQL only): only the units written since that read, and maybe a few
    more — a read of what changed instead of the whole pool (a deleted unit is not reported)."""
    t = Unit.__table__
    where = [t.c.pool_id == pool_id, t.c.organizer_id == organizer_id]
    if in_use is not None:
        # Constants, not parameters: with ``in_use`` 1 (a seat's one leg) this is the condition of the partial
        # index ``ix_inventory_units_leg0_in_use``, which the planner uses only when it can see that it holds.
        bits = literal_column(str(int(in_use)), BigInteger)
        where.append(t.c.occupied.op("|")(t.c.blocked).op("&")(bits) != literal_column("0", BigInteger))
    if session.get_bind().dialect.name == "postgresql":
        if changed_since is not None:
            where.append(statements.written_since(t, changed_since))
        # One row of three arrays, decoded by the driver in C: a stadium's seats read every half second by each
        # worker (seating.live) cost it a Python row apiece otherwise — a quarter of a worker's time under load.
        # The horizon in the same statement: the same snapshot as the masks.
        cols = (
            func.array_agg(t.c.id),
            func.array_agg(t.c.occupied),
            func.array_agg(t.c.blocked),
            statements.read_horizon(),
        )
        ids, occupied, blocked, horizon = (await session.execute(select(*cols).where(*where))).one()
        return MaskColumns(ids, occupied, blocked, horizon) if ids else MaskColumns((), (), (), horizon)
    if changed_since is not None:
        raise ValueError("changed_since: PostgreSQL only")
    rows = (await session.execute(select(t.c.id, t.c.occupied, t.c.blocked).where(*where))).all()
    return MaskColumns(tuple(r[0] for r in rows), tuple(r[1] for r in rows), tuple(r[2] for r in rows))


async def block(session: AsyncSession, organizer_id: str, unit_id: str, mask: int) -> bool:
    """Set ``mask``'s bits in ``blocked`` only where none of them is occupied: one conditional update, so a
    racing claim (which needs ``(occupied | blocked) & mask = 0``) and this block cannot both match. → matched."""
    res = await session.execute(
        update(Unit)
        .where(Unit.id == unit_id, Unit.organizer_id == organizer_id, Unit.occupied.bitwise_and(mask) == 0)
        .values(blocked=Unit.blocked.bitwise_or(mask))
        .execution_options(synchronize_session=False)
    )
    return res.rowcount == 1


async def unblock(session: AsyncSession, organizer_id: str, unit_id: str, mask: int) -> None:
    await session.execute(
        update(Unit)
        .where(Unit.id == unit_id, Unit.organizer_id == organizer_id)
        .values(blocked=Unit.blocked.bitwise_and(~mask))  # ~mask: every other bit, as a signed BIGINT
        .execution_options(synchronize_session=False)
    )


async def free_units(session: AsyncSession, organizer_id: str, pool_id: str, mask: int, limit: int) -> list[str]:
    q = (
        select(Unit.id)
        .where(
            Unit.pool_id == pool_id,
            Unit.organizer_id == organizer_id,
            Unit.occupied.bitwise_or(Unit.blocked).bitwise_and(mask) == 0,
        )
        .order_by(Unit.label, Unit.id)
        .limit(limit)
    )
    return list((await session.execute(q)).scalars())


async def resize_unused(
    session: AsyncSession, organizer_id: str, pool_id: str, capacity: int, kind: str | None = None
) -> bool:
    values: dict[str, object] = {"capacity": capacity} if kind is None else {"capacity": capacity, "kind": kind}
    res = await session.execute(
        update(Pool)
        .where(Pool.id == pool_id, Pool.organizer_id == organizer_id, Pool.held == 0, Pool.sold == 0)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return res.rowcount == 1


async def lock_units_unclaimed(session: AsyncSession, organizer_id: str, pool_id: str) -> bool:
    """Locks every unit of the pool, in id order (the order claims lock them in), then says whether none is
    claimed. A claim in flight is waited for and then seen (the second statement reads what committed); a claim
    that comes later waits for the caller's transaction. PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already holds
    the database's write lock, so there it is the check alone."""
    if session.get_bind().dialect.name == "postgresql":
        locked = select(Unit.id).where(Unit.pool_id == pool_id, Unit.organizer_id == organizer_id)
        await session.execute(select(func.count()).select_from(locked.order_by(Unit.id).with_for_update().subquery()))
    taken = select(Unit.id).where(Unit.pool_id == pool_id, Unit.organizer_id == organizer_id, Unit.occupied != 0)
    return (await session.execute(taken.limit(1))).first() is None


UNIT_BATCH = 2_000


async def insert_units(session: AsyncSession, rows: Sequence[dict[str, object]]) -> None:
    """Plain rows in slices, not ORM objects: a stadium's 80,000 seats are made in seconds, each statement within
    the drivers' parameter limits; many at once come with the table's statistics (``statements.analyze_after_bulk``:
    the live states' read of the units in use plans the partial index ``ix_inventory_units_leg0_in_use`` only
    when the planner knows the pool's units)."""
    for start in range(0, len(rows), UNIT_BATCH):
        await session.execute(insert(Unit.__table__), list(rows[start : start + UNIT_BATCH]))
    await statements.analyze_after_bulk(session, Unit.__table__, len(rows))
