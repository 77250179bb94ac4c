"""The naive strategies of the race tests' control runs: each is the bug its race test must be able to catch.
They are injected through ``Runtime.strategies`` / ``uow.strategies`` under the key the product module names;
none of them is importable from production code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from piaowu.catalog.offers import OfferCache
from piaowu.db.hotpath import RowCheck, Rows, checks_hold, insert_rows
from piaowu.inventory.models import Pool, Unit
from piaowu.inventory.rules import Claim, PoolCounts, Take, free_on
from piaowu.inventory.strategies import Refusal
from piaowu.tickets import repository as ticket_repo
from piaowu.tickets.models import Ticket, TicketEntitlement
from piaowu.tickets.schemas import EntitlementView, GateView, Redemption, TicketStatus, TicketUse


class NaiveStrategy:
    """Check-then-act with a stale read: the bug every race test must be able to catch (an oversold pool, a
    seat's leg sold twice)."""

    def __init__(self, read_sessions: async_sessionmaker[AsyncSession]) -> None:
        self.read_sessions = read_sessions

    async def take(
        self,
        session: AsyncSession,
        organizer_id: str,
        takes: Sequence[Take],
        rows: Rows,
        claims: Sequence[Claim] = (),
        checks: Sequence[RowCheck] = (),
    ) -> Refusal | None:
        async with self.read_sessions() as reader:
            stale = await checks_hold(reader, organizer_id, checks) if checks else ()
            if stale:  # the catalog's checks stay right: this strategy's bug is the pools' stale read
                return Refusal(stale=tuple(checks[i] for i in stale))
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


class NaiveRedeemer:
    """Check-then-act on a stale read, then an absolute write: the bug the race test must catch. Tests only.

    The read goes through a separate read session, outside the scan's write transaction: on SQLite a read
    inside it would be serialized by ``BEGIN IMMEDIATE`` and could never be stale."""

    def __init__(self, read_sessions: async_sessionmaker[AsyncSession]) -> None:
        self.read_sessions = read_sessions

    async def load(self, session: AsyncSession, organizer_id: str, code: str) -> GateView | None:
        async with self.read_sessions() as reader:
            return await ticket_repo.gate_view_by_code(reader, organizer_id, code)

    async def redeem(
        self, session: AsyncSession, ticket: GateView, entitlement: EntitlementView, day: str, gate: str, at: datetime
    ) -> Redemption | None:
        # No ticket lock, no condition in the write: what was read when the ticket was loaded is trusted.
        if ticket.status != TicketStatus.VALID or entitlement.used >= entitlement.allowed:
            return None
        await asyncio.sleep(0.001)  # a realistic gap (a network hop) between the check and the write
        await session.execute(
            update(TicketEntitlement)
            .where(TicketEntitlement.id == entitlement.id)
            .values(used=entitlement.used + 1, last_entry_at=at, last_gate=gate)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id)
            .values(entries_used=ticket.entries_used + 1, last_entry_at=at, last_gate=gate)
            .execution_options(synchronize_session=False)
        )
        return Redemption(entitlement.id, consumed=True)


class StaleUseReader:
    """A plain read, then a gap (a network hop) before the refund writes: the bug the race test must catch.
    Tests only."""

    def __init__(self, gap_s: float = 0.005) -> None:
        self.gap_s = gap_s

    async def read(self, session: AsyncSession, organizer_id: str, line_ids: Sequence[str]) -> list[TicketUse]:
        rows = await ticket_repo.use_by_order_lines(session, organizer_id, line_ids, lock=False)
        await asyncio.sleep(self.gap_s)
        return rows


async def no_series_lock(session: AsyncSession, organizer_id: str, event_id: str) -> None:
    """Series generation without the event's lock: two operators generating the same rule at once both see no
    session and both make every one (catalog.series_service, key ``LOCK_STRATEGY_KEY``)."""


class NaiveOfferCache(OfferCache):
    """An offer cache with no invalidation: rows cached forever, never read again, and offers that carry no
    checks for the reservation statement. The cache race test's control must catch it."""

    def __init__(self) -> None:
        super().__init__(ttl=float("inf"))

    def checks(self, row: Any) -> tuple[RowCheck, ...]:
        return ()

    async def rows(self, uow: Any, organizer_id: str, ticket_type_ids: Any, *, fresh: bool = False) -> list[Any]:
        return await super().rows(uow, organizer_id, ticket_type_ids)  # never fresh


async def naive_outbox_claim(session: AsyncSession, now: datetime, limit: int = 20, lease_s: float = 60) -> list:
    """Claim the outbox by reading the due ids, then leasing them unconditionally: two workers that read before
    either writes both run the same messages (the bug ``db.outbox.claim_batch``'s race test must catch)."""
    from datetime import timedelta

    from piaowu.db.outbox import Claimed, OutboxMessage

    ids = list(
        (
            await session.execute(
                select(OutboxMessage.id)
                .where(OutboxMessage.status == "pending", OutboxMessage.claimed_until.is_(None))
                .limit(limit)
            )
        ).scalars()
    )
    await asyncio.sleep(0.005)  # the other workers read the same rows meanwhile
    rows = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(claimed_until=now + timedelta(seconds=lease_s))
        .returning(OutboxMessage.id, OutboxMessage.topic, OutboxMessage.payload, OutboxMessage.attempts)
        .execution_options(synchronize_session=False)
    )
    return [Claimed(r.id, r.topic, r.payload, r.attempts) for r in rows]
