"""How units are taken from pools and claimed. The guarded strategy is the product; the naive one exists only
so that the race tests can show, in a control run, that they do catch an oversell or a seat sold twice.

Guarded: one conditional ``UPDATE … SET held = held + n WHERE held + sold + n <= capacity + allowance`` per
pool, in pool-id order, then one ``UPDATE … SET occupied = occupied | mask WHERE (occupied | blocked) & mask
= 0`` per unit, in unit-id order, each with its row count checked (``db.hotpath``: one statement on
PostgreSQL). On PostgreSQL the row lock taken by the update serializes competitors on that row and the
condition is re-evaluated on the latest row version (READ COMMITTED), so the check and the write are one
atomic step; on SQLite the write transaction began with ``BEGIN IMMEDIATE`` and holds the database write lock.
Either way nothing can slip between check and write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import BigInteger, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from piaowu.db.hotpath import Guard, GuardedWrite, Rows, guarded_write_and_insert, insert_rows
from piaowu.inventory.models import Pool, Unit
from piaowu.inventory.rules import Claim, PoolCounts, Take, free_on


@dataclass(frozen=True)
class Refusal:
    """Why a reservation was refused: the pools that were short and the units whose legs were taken."""

    pool_ids: tuple[str, ...] = ()
    unit_ids: tuple[str, ...] = ()


class ReserveStrategy(Protocol):
    async def take(
        self, session: AsyncSession, organizer_id: str, takes: Sequence[Take], rows: Rows, claims: Sequence[Claim] = ()
    ) -> Refusal | None:
        """Take every unit and claim every unit's legs, or none, and insert ``rows`` (the hold and what depends
        on it) only on success. → None on success, else what was short or taken. A partial take is left for
        the caller's rollback (the unit of work never commits after a failure)."""


def _take_condition(c: Any, n: Any) -> Any:
    return c.held + c.sold + n <= c.capacity + c.allowance


def _claim_condition(c: Any, mask: Any) -> Any:
    # A constant, not a parameter: the hot path's compiled statement binds only the key and the mask.
    return c.occupied.bitwise_or(c.blocked).bitwise_and(mask) == literal_column("0", BigInteger)


TAKE = Guard("take", Pool.__table__, "held", _take_condition, lambda c, n: {"held": c.held + n})
CLAIM = Guard(
    "claim", Unit.__table__, "occupied", _claim_condition, lambda c, m: {"occupied": c.occupied.bitwise_or(m)}
)


class GuardedStrategy:
    async def take(
        self, session: AsyncSession, organizer_id: str, takes: Sequence[Take], rows: Rows, claims: Sequence[Claim] = ()
    ) -> Refusal | None:
        # ``takes`` are sorted by pool id and ``claims`` by unit id (rules.plan, rules.plan_claims), pools before
        # units: a fixed lock order, so reservations never deadlock.
        writes = [GuardedWrite(TAKE, t.pool_id, t.quantity) for t in takes]
        writes += [GuardedWrite(CLAIM, c.unit_id, c.mask) for c in claims]
        failed = await guarded_write_and_insert(session, organizer_id, writes, rows)
        if not failed:
            return None
        refused = [writes[i] for i in failed]
        return Refusal(
            tuple(w.key for w in refused if w.guard is TAKE), tuple(w.key for w in refused if w.guard is CLAIM)
        )


class NaiveStrategy:
    """Check-then-act with a stale read: the bug every race test must be able to catch. Tests only."""

    def __init__(self, read_sessions: async_sessionmaker[AsyncSession]) -> None:
        self.read_sessions = read_sessions

    async def take(
        self, session: AsyncSession, organizer_id: str, takes: Sequence[Take], rows: Rows, claims: Sequence[Claim] = ()
    ) -> Refusal | None:
        async with self.read_sessions() as reader:
            counted = (
                await reader.execute(
                    select(Pool.id, Pool.capacity, Pool.held, Pool.sold, Pool.allowance).where(
                        Pool.id.in_([t.pool_id for t in takes])
                    )
                )
            ).all()
            units = (
                await reader.execute(
                    select(Unit.id, Unit.occupied, Unit.blocked).where(Unit.id.in_([c.unit_id for c in claims]))
                )
            ).all()
        seen = {r.id: PoolCounts(r.capacity, r.held, r.sold, r.allowance) for r in counted}
        masks = {r.id: (r.occupied, r.blocked) for r in units}
        short = tuple(t.pool_id for t in takes if not seen[t.pool_id].can_take(t.quantity))
        taken = tuple(c.unit_id for c in claims if not free_on(*masks[c.unit_id], c.mask))
        if short or taken:
            return Refusal(short, taken)
        await asyncio.sleep(0.001)  # a realistic gap (a network hop) between the check and the write
        for t in takes:
            await session.execute(
                update(Pool).where(Pool.id == t.pool_id).values(held=seen[t.pool_id].held + t.quantity)
            )
        for c in claims:
            await session.execute(
                update(Unit).where(Unit.id == c.unit_id).values(occupied=masks[c.unit_id][0] | c.mask)
            )
        await insert_rows(session, rows)
        return None


GUARDED = GuardedStrategy()
