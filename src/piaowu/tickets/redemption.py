"""How a gate loads a ticket and uses one of its entries. The guarded redeemer is the product; the naive one
exists only so that the race test can show, in a control run, that it does catch a double admission.

Guarded: the entry is taken by one conditional ``UPDATE … SET entries_used = entries_used + 1 WHERE id = :id
AND status = 'valid' AND entries_used < entries_allowed`` whose row count is checked. On PostgreSQL the row
lock taken by the update serializes competing scans of one ticket and the condition is re-evaluated on the
latest row version (READ COMMITTED), so check and write are one atomic step; on SQLite the write transaction
began with ``BEGIN IMMEDIATE`` and holds the database write lock. Either way, one ticket admits at most
``entries_allowed`` times however many gates scan it at once.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Protocol

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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


class NaiveRedeemer:
    """Check-then-act on a stale read, then an absolute write: the bug the race test must catch. Tests only.

    The read goes through a separate read session, outside the scan's write transaction: on SQLite a read
    inside it would be serialized by ``BEGIN IMMEDIATE`` and could never be stale."""

    def __init__(self, read_sessions: async_sessionmaker[AsyncSession]) -> None:
        self.read_sessions = read_sessions

    async def load(self, session: AsyncSession, organizer_id: str, code: str) -> GateView | None:
        async with self.read_sessions() as reader:
            return await repo.gate_view_by_code(reader, organizer_id, code)

    async def redeem(self, session: AsyncSession, ticket: GateView, gate: str, at: datetime) -> bool:
        if ticket.status != TicketStatus.VALID or ticket.entries_used >= ticket.entries_allowed:
            return False
        await asyncio.sleep(0.001)  # a realistic gap (a network hop) between the check and the write
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id)
            .values(entries_used=ticket.entries_used + 1, last_entry_at=at, last_gate=gate)
            .execution_options(synchronize_session=False)
        )
        return True


GUARDED = GuardedRedeemer()
