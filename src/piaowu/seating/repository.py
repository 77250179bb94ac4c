"""Queries of seat layouts, session seats and zone prices. Every query filters by organizer (a layout or a seat of
another organizer reads as none)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import case, delete, exists, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.db import statements
from piaowu.inventory.models import Hold, HoldUnit, Unit
from piaowu.inventory.rules import FULL_MASK, HoldStatus
from piaowu.orders.models import OrderLineHolding
from piaowu.seating.models import LayoutSeat, SeatLayout, SessionSeat, SessionSeating, ZonePrice

# Bulk inserts go in slices: an 80,000-seat map in one statement would pass the drivers' parameter limits.
INSERT_BATCH = 2_000


async def insert_rows(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Plain rows in slices; many at once come with the table's statistics (``statements.analyze_after_bulk``: a
    worker's first read of a stadium's session seats and of those withheld from a channel plan by them)."""
    for start in range(0, len(rows), INSERT_BATCH):
        await session.execute(insert(model.__table__), list(rows[start : start + INSERT_BATCH]))
    await statements.analyze_after_bulk(session, model.__table__, len(rows))


async def layout(session: AsyncSession, organizer_id: str, layout_id: str) -> SeatLayout | None:
    q = select(SeatLayout).where(SeatLayout.id == layout_id, SeatLayout.organizer_id == organizer_id)
    return (await session.execute(q)).scalar_one_or_none()


async def layouts_of_venue(session: AsyncSession, organizer_id: str, venue_id: str) -> list[SeatLayout]:
    q = (
        select(SeatLayout)
        .where(SeatLayout.organizer_id == organizer_id, SeatLayout.venue_id == venue_id)
        .order_by(SeatLayout.name, SeatLayout.created_at, SeatLayout.id)
    )
    return list((await session.execute(q)).scalars())


async def layout_seats(session: AsyncSession, layout_id: str) -> list[Any]:
    """The seats of a layout (whose organizer the caller checked), by ordinal: plain rows (section, row, number,
    x, y, zone, attributes, blocked_reason), not ORM entities — a stadium's map is 80,000 of them."""
    s = LayoutSeat
    q = (
        select(s.section, s.row, s.number, s.x, s.y, s.zone, s.attributes, s.blocked_reason)
        .where(s.layout_id == layout_id)
        .order_by(s.ordinal)
    )
    return list(await session.execute(q))


async def delete_layout_seats(session: AsyncSession, layout_id: str) -> None:
    await session.execute(
        delete(LayoutSeat).where(LayoutSeat.layout_id == layout_id).execution_options(synchronize_session=False)
    )


async def delete_layout(session: AsyncSession, organizer_id: str, layout_id: str) -> None:
    await delete_layout_seats(session, layout_id)
    await session.execute(
        delete(SeatLayout)
        .where(SeatLayout.id == layout_id, SeatLayout.organizer_id == organizer_id)
        .execution_options(synchronize_session=False)
    )


async def sessions_using(session: AsyncSession, organizer_id: str, layout_id: str) -> list[str]:
    q = select(SessionSeating.session_id).where(
        SessionSeating.organizer_id == organizer_id, SessionSeating.layout_id == layout_id
    )
    return list((await session.execute(q)).scalars())


async def seating(session: AsyncSession, organizer_id: str, session_id: str) -> SessionSeating | None:
    q = select(SessionSeating).where(
        SessionSeating.session_id == session_id, SessionSeating.organizer_id == organizer_id
    )
    return (await session.execute(q)).scalar_one_or_none()


async def seating_stamp(session: AsyncSession, organizer_id: str, session_id: str) -> tuple[Any, ...] | None:
    """(layout id, layout version, seat count, assigned at, channels version) of the session's seating, or None:
    what tells a worker its cached seats (and the channels they are on sale through) are still the session's. A
    Core read of five columns (no ORM row, no sections JSON): it runs on every seat order."""
    q = select(
        SessionSeating.layout_id,
        SessionSeating.layout_version,
        SessionSeating.seat_count,
        SessionSeating.created_at,
        SessionSeating.channels_version,
    ).where(SessionSeating.session_id == session_id, SessionSeating.organizer_id == organizer_id)
    row = (await session.execute(q)).first()
    return None if row is None else tuple(row)


# A seat's state as one character (seating.availability: 0 free, 1 taken, 2 blocked; leg 0 of its unit).
_STATE_CHAR = case(
    (Unit.occupied.op("&")(1) != 0, "1"),
    (Unit.blocked.op("&")(1) != 0, "2"),
    else_="0",
)


async def seat_states(session: AsyncSession, organizer_id: str, session_id: str) -> tuple[str, str] | None:
    """Every seat's state as one character, in ordinal order, aggregated by PostgreSQL into one text value (a
    stadium's 80,000 seats are one 80 KB string instead of rows to load one by one), and the read's horizon
    (``db.statements.read_horizon``). None on other databases (``string_agg … ORDER BY`` is PostgreSQL's): read
    the units' masks instead."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    q = (
        select(
            func.string_agg(_STATE_CHAR, aggregate_order_by(literal(""), SessionSeat.ordinal)),
            statements.read_horizon(),
        )
        .select_from(SessionSeat)
        .join(Unit, Unit.id == SessionSeat.unit_id)
        .where(SessionSeat.organizer_id == organizer_id, SessionSeat.session_id == session_id)
    )
    text, horizon = (await session.execute(q)).one()
    return text or "", horizon


async def session_seats(session: AsyncSession, organizer_id: str, session_id: str) -> list[SessionSeat]:
    q = (
        select(SessionSeat)
        .where(SessionSeat.organizer_id == organizer_id, SessionSeat.session_id == session_id)
        .order_by(SessionSeat.ordinal)
    )
    return list((await session.execute(q)).scalars())


async def session_seat_rows(session: AsyncSession, organizer_id: str, session_id: str) -> list[Any]:
    """The session's seats by ordinal as plain rows (unit_id, section, row, number, x, y, zone, attributes): what
    a worker keeps of them. A Core select, not ``SessionSeat`` entities: a stadium's 80,000 ORM rows took most of
    a worker's first seat request (its identity map, instance states and attribute events)."""
    s = SessionSeat
    q = (
        select(s.unit_id, s.section, s.row, s.number, s.x, s.y, s.zone, s.attributes)
        .where(s.organizer_id == organizer_id, s.session_id == session_id)
        .order_by(s.ordinal)
    )
    return list(await session.execute(q))


async def seats_by_id(
    session: AsyncSession, organizer_id: str, session_id: str, unit_ids: Iterable[str]
) -> dict[str, SessionSeat]:
    """The seats of this session among ``unit_ids`` (a seat of another session or organizer is left out)."""
    ids = list(set(unit_ids))
    if not ids:
        return {}
    q = select(SessionSeat).where(
        SessionSeat.organizer_id == organizer_id,
        SessionSeat.session_id == session_id,
        SessionSeat.unit_id.in_(ids),
    )
    return {s.unit_id: s for s in (await session.execute(q)).scalars()}


async def set_blocked_reason(session: AsyncSession, unit_ids: Sequence[str], reason: str) -> None:
    if unit_ids:
        await session.execute(
            update(SessionSeat)
            .where(SessionSeat.unit_id.in_(list(unit_ids)))
            .values(blocked_reason=reason)
            .execution_options(synchronize_session=False)
        )


async def remove_session_seats(session: AsyncSession, organizer_id: str, session_id: str) -> None:
    """Forgets a session's seats: its seat rows go; units that no hold or order line ever named are
    deleted, the others (kept for the history of released holds and expired orders) leave the session's pool
    and are blocked on every leg, so nothing can ever claim them again."""
    unit_ids = select(SessionSeat.unit_id).where(
        SessionSeat.organizer_id == organizer_id, SessionSeat.session_id == session_id
    )
    ids = list((await session.execute(unit_ids)).scalars())
    await session.execute(
        delete(SessionSeat)
        .where(SessionSeat.organizer_id == organizer_id, SessionSeat.session_id == session_id)
        .execution_options(synchronize_session=False)
    )
    for start in range(0, len(ids), INSERT_BATCH):
        chunk = ids[start : start + INSERT_BATCH]
        named = exists().where(HoldUnit.unit_id == Unit.id) | exists().where(OrderLineHolding.unit_id == Unit.id)
        await session.execute(
            update(Unit)
            .where(Unit.id.in_(chunk), named)
            .values(pool_id=None, blocked=FULL_MASK)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            delete(Unit).where(Unit.id.in_(chunk), ~named).execution_options(synchronize_session=False)
        )


async def zone_prices(session: AsyncSession, organizer_id: str, session_id: str) -> list[ZonePrice]:
    q = (
        select(ZonePrice)
        .where(ZonePrice.organizer_id == organizer_id, ZonePrice.session_id == session_id)
        .order_by(ZonePrice.zone, ZonePrice.price_minor.desc(), ZonePrice.ticket_type_id)
    )
    return list((await session.execute(q)).scalars())


async def delete_zone_prices(
    session: AsyncSession, organizer_id: str, session_id: str, *, keep_zones: Sequence[str] | None = None
) -> None:
    """Drops a session's zone prices (all, or those of zones not in ``keep_zones``)."""
    q = delete(ZonePrice).where(ZonePrice.organizer_id == organizer_id, ZonePrice.session_id == session_id)
    if keep_zones is not None:
        q = q.where(ZonePrice.zone.not_in(list(keep_zones)))
    await session.execute(q.execution_options(synchronize_session=False))


async def zone_states(session: AsyncSession, organizer_id: str, session_id: str) -> list[Any]:
    """Per zone, in the order their first seats come: seats, seats blocked, seats occupied (held or sold) —
    read from the units, which are the seats' state."""
    occupied = case((Unit.occupied.bitwise_and(1) != 0, 1), else_=0)
    blocked = case((Unit.blocked.bitwise_and(1) != 0, 1), else_=0)
    q = (
        select(
            SessionSeat.zone,
            func.count().label("total"),
            func.coalesce(func.sum(occupied), 0).label("occupied"),
            func.coalesce(func.sum(blocked), 0).label("blocked"),
            func.min(SessionSeat.ordinal).label("first"),
        )
        .join(Unit, Unit.id == SessionSeat.unit_id)
        .where(SessionSeat.organizer_id == organizer_id, SessionSeat.session_id == session_id)
        .group_by(SessionSeat.zone)
        .order_by(func.min(SessionSeat.ordinal))
    )
    return list(await session.execute(q))


async def session_zones(session: AsyncSession, organizer_id: str, session_id: str) -> list[str]:
    """The zones of a session's seats, in the order their first seats come."""
    q = (
        select(SessionSeat.zone)
        .where(SessionSeat.organizer_id == organizer_id, SessionSeat.session_id == session_id)
        .group_by(SessionSeat.zone)
        .order_by(func.min(SessionSeat.ordinal))
    )
    return list((await session.execute(q)).scalars())


async def zone_held(session: AsyncSession, organizer_id: str, session_id: str) -> dict[str, int]:
    """Per zone: seats claimed by a hold that is still active (not yet paid for); the rest of the occupied seats
    are sold."""
    q = (
        select(SessionSeat.zone, func.count(func.distinct(SessionSeat.unit_id)))
        .join(HoldUnit, HoldUnit.unit_id == SessionSeat.unit_id)
        .join(Hold, Hold.id == HoldUnit.hold_id)
        .where(
            SessionSeat.organizer_id == organizer_id,
            SessionSeat.session_id == session_id,
            Hold.status == HoldStatus.ACTIVE.value,
        )
        .group_by(SessionSeat.zone)
    )
    return {zone: n for zone, n in await session.execute(q)}


async def withheld_seats(session: AsyncSession, organizer_id: str, session_id: str) -> dict[str, int]:
    """Seat id → the channels it is withheld from, for the session's seats withheld from some channel."""
    q = (
        select(SessionSeat.unit_id, Unit.withheld)
        .join(Unit, Unit.id == SessionSeat.unit_id)
        .where(SessionSeat.organizer_id == organizer_id, SessionSeat.session_id == session_id, Unit.withheld != 0)
    )
    return {u: int(w) for u, w in await session.execute(q)}


async def channel_groups(
    session: AsyncSession, organizer_id: str, session_id: str
) -> list[tuple[int, bool, bool, int]]:
    """The session's seats grouped by (withheld channels, occupied, blocked): ``(withheld, occupied, blocked,
    seats)`` — what ``channel_rules.channel_counts`` counts per channel."""
    occupied = Unit.occupied.bitwise_and(1) != 0
    blocked = Unit.blocked.bitwise_and(1) != 0
    q = (
        select(Unit.withheld, occupied, blocked, func.count())
        .select_from(SessionSeat)
        .join(Unit, Unit.id == SessionSeat.unit_id)
        .where(SessionSeat.organizer_id == organizer_id, SessionSeat.session_id == session_id)
        .group_by(Unit.withheld, occupied, blocked)
    )
    return [(int(w), bool(o), bool(b), int(n)) for w, o, b, n in await session.execute(q)]
