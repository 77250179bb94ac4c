"""How a gate loads a ticket and uses one of its entitlements. The guarded redeemer is the product; the naive
one the race test uses in a control run, to show it does catch a double admission, lives with it
(tests/concurrency/naive.py).

Guarded, in the scan's own transaction:

1. ``SELECT … FROM tickets WHERE id = :id FOR UPDATE`` — the ticket's row lock, the same lock a refund takes
   (``tickets.usage``), so a scan and a refund of one ticket are serialized: a refund never reads a pass as
   unused while a gate is admitting on it. A ticket no longer ``valid`` is refused here.
2. One conditional ``UPDATE ticket_entitlements`` whose row count is checked: ``used = used + 1 WHERE id = :e
   AND used < allowed`` for entries; for a multi-day pass ``WHERE id = :e AND (days_used LIKE '%,<day>,%' OR
   used < allowed)``, counting the day (``used + 1``, day appended) only when it is not counted yet. Check and
   write are one statement: on PostgreSQL the row lock taken by the update serializes competing scans and the
   condition is re-evaluated on the latest row version (READ COMMITTED); on SQLite the write transaction began
   with ``BEGIN IMMEDIATE`` and holds the database write lock.
3. The ticket's sums (``entries_used``) and last entry, under the lock of step 1.

So one entitlement admits at most ``allowed`` times (or counts at most ``allowed`` days) however many gates
scan it at once, and two gates redeeming different entitlements of one pass both succeed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import case, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.tickets import repository as repo
from piaowu.tickets.grant_rules import Mode
from piaowu.tickets.models import Ticket, TicketEntitlement
from piaowu.tickets.schemas import EntitlementView, GateView, Redemption, TicketStatus


class Redeemer(Protocol):
    async def load(self, session: AsyncSession, organizer_id: str, code: str) -> GateView | None:
        """The ticket with this code and its entitlements, as the gate's rules will judge it."""

    async def redeem(
        self, session: AsyncSession, ticket: GateView, entitlement: EntitlementView, day: str, gate: str, at: datetime
    ) -> Redemption | None:
        """Use ``entitlement`` once on local day ``day`` (ISO date); → None when it could not be used (any more) at
        the moment of writing."""


def day_mark(day: str) -> str:
    """How a counted day is kept in ``days_used`` (",d1,d2,"): commas on both sides, so a LIKE finds whole days."""
    return f",{day},"


class GuardedRedeemer:
    async def load(self, session: AsyncSession, organizer_id: str, code: str) -> GateView | None:
        return await repo.gate_view_by_code(session, organizer_id, code)

    async def redeem(
        self, session: AsyncSession, ticket: GateView, entitlement: EntitlementView, day: str, gate: str, at: datetime
    ) -> Redemption | None:
        status = (
            await session.execute(select(Ticket.status).where(Ticket.id == ticket.id).with_for_update())
        ).scalar_one_or_none()
        if status != TicketStatus.VALID:
            return None
        E = TicketEntitlement
        where = [E.id == entitlement.id, E.ticket_id == ticket.id]
        values: dict = {"last_entry_at": at, "last_gate": gate}
        consumed = True
        if entitlement.mode == Mode.DAYS:
            # Read after the ticket's lock: every redemption of this ticket takes it first, so this is the row the
            # update below will see (another gate may have counted the same new day a moment ago: a re-entry).
            days = (await session.execute(select(E.days_used).where(E.id == entitlement.id))).scalar_one()
            consumed = day_mark(day) not in days
            counted = E.days_used.like(f"%{day_mark(day)}%")
            where.append(counted | (E.used < E.allowed))
            values["used"] = case((counted, E.used), else_=E.used + 1)
            # An empty column becomes ",day,"; otherwise "day," is appended after its trailing comma.
            appended = case((E.days_used == "", literal(day_mark(day))), else_=E.days_used + literal(f"{day},"))
            values["days_used"] = case((counted, E.days_used), else_=appended)
        else:
            where.append(E.used < E.allowed)
            values["used"] = E.used + 1
        res = await session.execute(
            update(E).where(*where).values(**values).execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:
            return None
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id)
            .values(
                entries_used=Ticket.entries_used + (1 if consumed else 0),
                last_entry_at=at,
                last_gate=gate,
            )
            .execution_options(synchronize_session=False)
        )
        return Redemption(entitlement.id, consumed)


GUARDED = GuardedRedeemer()
