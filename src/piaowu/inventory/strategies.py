"""How units are taken from pools. The guarded strategy is the product; the naive one that the race tests use in a
control run, to show they do catch an oversell, lives with them (tests/concurrency/naive.py) and is injected
through ``uow.strategies``.

Guarded: one conditional ``UPDATE … SET held = held + n WHERE held + sold + n <= capacity + allowance`` per
pool, in pool-id order, with the row count checked. On PostgreSQL the row lock taken by the update serializes
competitors on that row and the condition is re-evaluated on the latest row version (READ COMMITTED), so the
check and the write are one atomic step; on SQLite the write transaction began with ``BEGIN IMMEDIATE`` and
holds the database write lock. Either way nothing can slip between check and write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.db.hotpath import Rows, guarded_take_and_insert
from piaowu.inventory.models import Pool
from piaowu.inventory.rules import Take


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


GUARDED = GuardedStrategy()
