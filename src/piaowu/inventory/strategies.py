"""How units are taken from pools. The guarded strategy is the product; the naive one exists only so that the
race tests can show, in a control run, that they do catch an oversell.

Guarded: one conditional ``UPDATE … SET held = held + n WHERE held + sold + n <= capacity + allowance`` per
pool, in pool-id order, with the row count checked. On PostgreSQL the row lock taken by the update serializes
competitors on that row and the condition is re-evaluated on the latest row version (READ COMMITTED), so the
check and the write are one atomic step; on SQLite the write transaction began with ``BEGIN IMMEDIATE`` and
holds the database write lock. Either way nothing can slip between check and write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from piaowu.db.hotpath import Rows, guarded_take_and_insert, insert_rows
from piaowu.inventory.models import Pool
from piaowu.inventory.rules import PoolCounts, Take


class ReserveStrategy(Protocol):
    async def take(self, session: AsyncSession, organizer_id: str, takes: Sequence[Take], rows: Rows) -> str | None:
        """Take every unit or none, and insert ``rows`` (the hold and what depends on it) only on success.
        → None on success, else the id of the first pool that was short. A partial take is left for the
        caller's rollback (the unit of work never commits after a failure)."""


class GuardedStrategy:
    async def take(self, session: AsyncSession, organizer_id: str, takes: Sequence[Take], rows: Rows) -> str | None:
        # ``takes`` are sorted by pool id (rules.plan): a fixed lock order, so reservations never deadlock.
        taken = await guarded_take_and_insert(
            session, Pool.__table__, organizer_id, [(t.pool_id, t.quantity) for t in takes], rows
        )
        return next((t.pool_id for t in takes if t.pool_id not in taken), None)


class NaiveStrategy:
    """Check-then-act with a stale read: the bug every race test must be able to catch. Tests only."""

    def __init__(self, read_sessions: async_sessionmaker[AsyncSession]) -> None:
        self.read_sessions = read_sessions

    async def take(self, session: AsyncSession, organizer_id: str, takes: Sequence[Take], rows: Rows) -> str | None:
        async with self.read_sessions() as reader:
            counted = (
                await reader.execute(
                    select(Pool.id, Pool.capacity, Pool.held, Pool.sold, Pool.allowance).where(
                        Pool.id.in_([t.pool_id for t in takes])
                    )
                )
            ).all()
        seen = {r.id: PoolCounts(r.capacity, r.held, r.sold, r.allowance) for r in counted}
        for t in takes:
            if not seen[t.pool_id].can_take(t.quantity):
                return t.pool_id
        await asyncio.sleep(0.001)  # a realistic gap (a network hop) between the check and the write
        for t in takes:
            await session.execute(
                update(Pool).where(Pool.id == t.pool_id).values(held=seen[t.pool_id].held + t.quantity)
            )
        await insert_rows(session, rows)
        return None


GUARDED = GuardedStrategy()
