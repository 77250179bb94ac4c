"""How units are taken from pools and claimed. The guarded strategy is the product; the naive one that the race
tests use in a control run, to show they do catch an oversell or a seat sold twice, lives with them
(tests/concurrency/naive.py) and is injected through ``uow.strategies``.

Guarded: one conditional ``UPDATE … SET held = held + n WHERE held + sold + n <= capacity + allowance`` per
pool, in pool-id order, then one ``UPDATE … SET occupied = occupied | mask WHERE (occupied | blocked) & mask
= 0`` per unit, in unit-id order, each with its row count checked (``db.hotpath``: one statement on
PostgreSQL). On PostgreSQL the row lock taken by the update serializes competitors on that row and the
condition is re-evaluated on the latest row version (READ COMMITTED), so the check and the write are one
atomic step; on SQLite the write transaction began with ``BEGIN IMMEDIATE`` and holds the database write lock.
Either way nothing can slip between check and write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import BigInteger, String, literal_column
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.db.hotpath import Guard, GuardedWrite, RowCheck, Rows, guarded_write_and_insert
from piaowu.inventory.models import Pool, Unit
from piaowu.inventory.rules import SEATS_ONLY, Claim, Take


@dataclass(frozen=True)
class Refusal:
    """Why a reservation was refused: the pools that were short and the units whose legs were taken."""

    pool_ids: tuple[str, ...] = ()
    unit_ids: tuple[str, ...] = ()
    stale: tuple[RowCheck, ...] = ()  # the caller's checks that no longer held: nothing was taken


class ReserveStrategy(Protocol):
    async def take(
        self,
        session: AsyncSession,
        organizer_id: str,
        takes: Sequence[Take],
        rows: Rows,
        claims: Sequence[Claim] = (),
        checks: Sequence[RowCheck] = (),
    ) -> Refusal | None:
        """Take every unit and claim every unit's legs, or none, and insert ``rows`` (the hold and what depends
        on it) only on success, and only while every one of ``checks`` holds (``db.hotpath.RowCheck``). → None
        on success, else what was short, taken or stale. A partial take is left for the caller's rollback (the
        unit of work never commits after a failure)."""


def _take_condition(c: Any, n: Any) -> Any:
    return c.held + c.sold + n <= c.capacity + c.allowance


def _claim_condition(c: Any, mask: Any) -> Any:
    # A constant, not a parameter: the hot path's compiled statement binds only the key and the mask.
    return c.occupied.bitwise_or(c.blocked).bitwise_and(mask) == literal_column("0", BigInteger)


def _seatless_take_condition(c: Any, n: Any) -> Any:
    # A constant, not a parameter (as the claim's): the compiled statement binds only the key and the amount.
    return _take_condition(c, n) & (c.kind != literal_column(f"'{SEATS_ONLY}'", String))


TAKE = Guard("take", Pool.__table__, "held", _take_condition, lambda c, n: {"held": c.held + n})
# Counted admission: the same take, on a pool that does not sell seats alone. On the pool's own row, so the
# condition PostgreSQL re-evaluates on the row's latest version after a wait sees a layout just assigned.
SEATLESS_TAKE = Guard(
    "take_seatless", Pool.__table__, "held", _seatless_take_condition, lambda c, n: {"held": c.held + n}
)
CLAIM = Guard(
    "claim", Unit.__table__, "occupied", _claim_condition, lambda c, m: {"occupied": c.occupied.bitwise_or(m)}
)
_CHANNEL_CLAIMS: dict[int, Guard] = {}


def channel_claim(channel_bit: int) -> Guard:
    """The claim for an order of one sales channel: also only where the unit is not withheld from it. The bit is
    a constant of the guard (one guard, one compiled statement shape, per channel): the hot path binds only the
    key and the mask. On the unit's own row, so a withdraw that committed while the claim waited for the row is
    seen by the condition PostgreSQL re-evaluates (a subquery of another table would read the old snapshot)."""
    if channel_bit == 0:
        return CLAIM
    guard = _CHANNEL_CLAIMS.get(channel_bit)
    if guard is None:
        bits = literal_column(str(int(channel_bit)), BigInteger)

        def condition(c: Any, mask: Any) -> Any:
            return _claim_condition(c, mask) & (c.withheld.bitwise_and(bits) == literal_column("0", BigInteger))

        guard = Guard(f"claim_c{channel_bit}", Unit.__table__, "occupied", condition, CLAIM.change)
        _CHANNEL_CLAIMS[channel_bit] = guard
    return guard


class GuardedStrategy:
    async def take(
        self,
        session: AsyncSession,
        organizer_id: str,
        takes: Sequence[Take],
        rows: Rows,
        claims: Sequence[Claim] = (),
        checks: Sequence[RowCheck] = (),
    ) -> Refusal | None:
        # ``takes`` are sorted by pool id and ``claims`` by unit id (rules.plan, rules.plan_claims), pools before
        # units: a fixed lock order, so reservations never deadlock.
        writes = [GuardedWrite(SEATLESS_TAKE if t.seatless else TAKE, t.pool_id, t.quantity) for t in takes]
        writes += [GuardedWrite(channel_claim(c.channel_bit), c.unit_id, c.mask) for c in claims]
        outcome = await guarded_write_and_insert(session, organizer_id, writes, rows, checks)
        if not outcome:
            return None
        refused = [writes[i] for i in outcome.failed]
        return Refusal(
            tuple(w.key for w in refused if w.guard.table is not Unit.__table__),
            tuple(w.key for w in refused if w.guard.table is Unit.__table__),
            tuple(checks[i] for i in outcome.stale),
        )


GUARDED = GuardedStrategy()
