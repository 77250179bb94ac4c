"""How a gate loads a ticket and uses one of its entries. The guarded redeemer is the product; the naive
one the race test uses in a control run, to show it does catch a double admission, lives with it
(tests/concurrency/naive.py).

Guarded: the entry is taken by one conditional ``UPDATE … SET entries_used = entries_used + 1 WHERE id = :id
AND status = 'valid' AND entries_used < entries_allowed`` whose row count is checked. On PostgreSQL the row
lock taken by the update serializes competing scans of one ticket and the condition is re-evaluated on the
latest row version (READ COMMITTED), so check and write are one atomic step; on SQLite the write transaction
began with ``BEGIN IMMEDIATE`` and holds the database write lock. Either way, one ticket admits at most
``entries_allowed`` times however many gates scan it at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.tickets import repository as repo
from piaowu.tickets.models import Ticket
from piaowu.tickets.schemas import GateView, TicketStatus


class Redeemer(Protocol):
    async def load(self, session: AsyncSession, organizer_id: str, code: str) -> GateView | None:
        """The ticket with this code, as the gate's rules will judge it."""

    async def redeem(self, session: AsyncSession, ticket: GateView, gate: str, at: datetime) -> bool:
        """Use one entry; → False when the ticket could not be used (any more) at the moment of writing."""


class GuardedRedeemer:
    async def load(self, session: AsyncSession, organizer_id: str, code: str) -> GateView | None:
        return await repo.gate_view_by_code(session, organizer_id, code)

    async def redeem(self, session: AsyncSession, ticket: GateView, gate: str, at: datetime) -> bool:
        res = await session.execute(
            update(Ticket)
            .where(
                Ticket.id == ticket.id,
                Ticket.status == TicketStatus.VALID,
                Ticket.entries_used < Ticket.entries_allowed,
            )
            .values(entries_used=Ticket.entries_used + 1, last_entry_at=at, last_gate=gate)
            .execution_options(synchronize_session=False)
        )
        return res.rowcount == 1


GUARDED = GuardedRedeemer()
