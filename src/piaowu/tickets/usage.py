"""How a refund reads what the gates did with its tickets. The locking reader is the product; the stale one the
refund-versus-scan race test uses in a control run (to show it does catch a ticket both admitted and refunded
with its place put back on sale) lives with it (tests/concurrency/naive.py).

Locking: ``SELECT … FOR UPDATE`` on the tickets, in the refund's own transaction. On PostgreSQL a scan that
already took a ticket's row (its conditional ``entries_used + 1`` update) makes the refund wait and then read
the admitted row (READ COMMITTED re-reads the newest version after the wait); a scan that comes later waits for
the refund to commit and then finds the ticket refunded (its update's ``status = 'valid'`` no longer matches).
On SQLite the refund's write transaction began with ``BEGIN IMMEDIATE`` and holds the database write lock. Either
way, a ticket ends admitted-and-not-refunded, refused-at-the-gate-and-refunded, or (override) refunded with its
place kept sold — never admitted and refunded as if unused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.tickets import repository as repo
from piaowu.tickets.schemas import TicketUse


class UseReader(Protocol):
    async def read(self, session: AsyncSession, organizer_id: str, line_ids: Sequence[str]) -> list[TicketUse]:
        """The tickets of these order lines; a gate must not change them before the caller's transaction ends."""


class LockingUseReader:
    async def read(self, session: AsyncSession, organizer_id: str, line_ids: Sequence[str]) -> list[TicketUse]:
        return await repo.use_by_order_lines(session, organizer_id, line_ids, lock=True)


LOCKING = LockingUseReader()
