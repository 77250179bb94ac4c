"""A session's seats: giving a session a layout, prices per zone and ticket type, keeping seats back, and what
is free, held, sold and kept back per zone.

A session given a layout gets its own copy of the layout's seats (``session_seats``), each an inventory unit of
one leg in the session's pool (``inventory.create_units``); the pool's capacity and the session's become the
seat count. So a seat is held or owned by at most one order (the engine's claim on the unit), and editing the
layout afterwards changes nothing a buyer holds. Seats the layout marks blocked, and seats the operator keeps
back later, get the unit's blocked bit through ``inventory.block_legs`` — the one way a seat is kept back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.catalog import repository as catalog_repo
from piaowu.catalog import views
from piaowu.catalog.models import Session
from piaowu.catalog.texts import pick
from piaowu.core.actor import Actor
from piaowu.core.errors import NotFound, SeatingLocked, ValidationFailed
from piaowu.core.ids import new_id
from piaowu.core.reading_locale import current
from piaowu.db.uow import UnitOfWork
from piaowu.inventory import service as inventory
from piaowu.inventory.rules import SEATS_ONLY, Claim
from piaowu.seating import layout_service
from piaowu.seating import repository as repo
from piaowu.seating.channel_rules import ChannelCount, channel_counts
from piaowu.seating.layout import label_problem
from piaowu.seating.models import SessionSeat, SessionSeating, ZonePrice

SEAT_LEG = 0b1  # a concert seat is sold once: one leg
MAX_PRICE_MINOR = 100_000_000  # as a ticket type's price
MAX_PRICES = 1_000
MAX_SEAT_IDS = 5_000  # seats kept back or released in one request


def seat_label(seat: Any) -> str:
    """How a seat is named to people: section, row and number as printed (``A 3-12``)."""
    return f"{seat.section} {seat.row}-{seat.number}"


async def session_and_seating(uow: UnitOfWork, organizer_id: str, session_id: str) -> tuple[Session, SessionSeating]:
    s = await views.session_or_404(uow, organizer_id, session_id)
    seating = await repo.seating(uow.session, organizer_id, session_id)
    if seating is None:
        raise ValidationFailed(
            [{"field": "session_id", "code": "no_seating", "message": "This session has no seat layout yet."}]
        )
    return s, seating


async def assign_layout(uow: UnitOfWork, actor: Actor, session_id: str, layout_id: str) -> SessionSeating:
    """Makes the session sell the seats of ``layout_id`` (a layout of the session's event's venue; any other
    layout is ``NotFound``): one unit per seat in the session's pool, blocked where the layout keeps the seat
    back, pool and session capacity = seat count. A session that had seats gets the new ones instead (zone
    prices of zones the new layout lacks are dropped). Refused with ``seating_locked`` (409) once anything of
    the session is held or sold: admission by a conditional update of the pool's row, seats by locking the
    session's seat units (seat claims do not take the pool's row, ``inventory.rules.SEATS_ONLY``) — so a
    reservation racing it either comes first (and this is refused) or waits for this transaction and then finds
    its seats gone. Audited."""
    actor.require(Permission.CATALOG_WRITE)
    org = actor.organizer_id
    s = await views.session_or_404(uow, org, session_id)
    event = await catalog_repo.event(uow.session, org, s.event_id)
    layout = await repo.layout(uow.session, org, layout_id)
    if layout is None or event is None or layout.venue_id != event.venue_id:
        raise NotFound(kind="seat layout")
    seat_map = await layout_service.load_map(uow, org, layout.id)
    if not seat_map.seats:
        message = "This layout has no seats yet."
        raise ValidationFailed([{"field": "layout_id", "code": "no_seats", "message": message}])
    # The pool sells seats alone from now on (``SEATS_ONLY``): a counted ticket's take no longer matches its row,
    # even one that waited for this transaction on that row (the offer's own check cannot see this commit then).
    if not await inventory.resize_unused(uow, org, s.pool_id, len(seat_map.seats), kind=SEATS_ONLY):
        raise SeatingLocked()
    if not await inventory.lock_seats_unclaimed(uow, org, s.pool_id):
        raise SeatingLocked()
    previous = await repo.seating(uow.session, org, s.id)
    before = {"layout_id": previous.layout_id, "layout_version": previous.layout_version} if previous else None
    if previous is not None:
        await repo.remove_session_seats(uow.session, org, s.id)
    unit_ids = await inventory.create_units(
        uow, org, [seat_label(seat) for seat in seat_map.seats], legs=1, pool_id=s.pool_id
    )
    await repo.insert_rows(
        uow.session,
        SessionSeat,
        [
            {
                "unit_id": unit_id,
                "organizer_id": org,
                "session_id": s.id,
                "ordinal": i,
                "section": seat.section,
                "row": seat.row,
                "number": seat.number,
                "x": seat.x,
                "y": seat.y,
                "zone": seat.zone,
                "attributes": sorted(seat.attributes),
                "blocked_reason": seat.blocked_reason,
            }
            for i, (unit_id, seat) in enumerate(zip(unit_ids, seat_map.seats, strict=True))
        ],
    )
    seating = previous or SessionSeating(session_id=s.id, organizer_id=org)
    seating.layout_id = layout.id
    seating.layout_version = layout.version
    seating.sections = list(layout.sections or [])
    seating.seat_count = len(unit_ids)
    seating.created_at = uow.now()
    if previous is None:
        uow.session.add(seating)
    blocked = [Claim(u, SEAT_LEG) for u, seat in zip(unit_ids, seat_map.seats, strict=True) if seat.blocked]
    if blocked:
        await inventory.block_legs(uow, org, blocked)
    s.capacity = len(unit_ids)
    await repo.delete_zone_prices(uow.session, org, s.id, keep_zones=seat_map.zones())
    await uow.session.flush()
    after = {
        "layout_id": layout.id,
        "layout_version": layout.version,
        "seat_count": len(unit_ids),
        "blocked": len(blocked),
    }
    record(uow, actor, "session.seating_assigned", "session", s.id, before=before, after=after)
    return seating


async def session_seats(uow: UnitOfWork, organizer_id: str, session_id: str) -> list[SessionSeat]:
    """The seats a session sells, by ordinal (none for a session without seating or of another organizer)."""
    return await repo.session_seats(uow.session, organizer_id, session_id)


async def seating_of(uow: UnitOfWork, organizer_id: str, session_id: str) -> SessionSeating | None:
    """The session's seating (which layout, its sections), or None for a general-admission session."""
    return await repo.seating(uow.session, organizer_id, session_id)


async def zone_prices(uow: UnitOfWork, organizer_id: str, session_id: str) -> list[ZonePrice]:
    """The session's prices per zone and ticket type, by zone, then dearest first."""
    return await repo.zone_prices(uow.session, organizer_id, session_id)


async def set_zone_prices(
    uow: UnitOfWork, actor: Actor, session_id: str, prices: Sequence[tuple[str, str, int]]
) -> list[ZonePrice]:
    """Replaces the session's zone prices with ``prices`` — (zone, ticket type id, price in minor units) — all or
    none: a zone the session's seats do not have, a ticket type of another session, a price below 0 or above
    the ticket types' limit, or the same zone and ticket type twice are each reported (``prices.N.field``) and
    nothing changes. A zone left without a price for a ticket type is not sold as that type. Audited."""
    actor.require(Permission.CATALOG_WRITE)
    org = actor.organizer_id
    s, _ = await session_and_seating(uow, org, session_id)
    zones = set(await repo.session_zones(uow.session, org, s.id))
    types = {t.id for t in await catalog_repo.ticket_types_of(uow.session, org, [s.id])}
    errors: list[dict[str, Any]] = []
    if len(prices) > MAX_PRICES:
        errors.append({"field": "prices", "code": "too_many", "message": "Enter at most 1,000 prices."})
    seen: set[tuple[str, str]] = set()
    for i, (zone, ticket_type_id, price) in enumerate(prices[:MAX_PRICES]):
        at = f"prices.{i}"
        if zone not in zones:
            message = "This zone is not one of the session's zones."
            errors.append({"field": f"{at}.zone", "code": "unknown_zone", "message": message, "zone": zone})
        if ticket_type_id not in types:
            message = "No such ticket type in this session."
            errors.append({"field": f"{at}.ticket_type_id", "code": "unknown_ticket_type", "message": message})
        if isinstance(price, bool) or not isinstance(price, int) or not 0 <= price <= MAX_PRICE_MINOR:
            message = "Enter a price from 0 to 1,000,000.00."
            errors.append({"field": f"{at}.price_minor", "code": "out_of_range", "message": message})
        if (zone, ticket_type_id) in seen:
            message = "This zone and ticket type already have a price."
            errors.append({"field": f"{at}.zone", "code": "duplicate_price", "message": message})
        seen.add((zone, ticket_type_id))
    if errors:
        raise ValidationFailed(errors)
    before = [[p.zone, p.ticket_type_id, p.price_minor] for p in await repo.zone_prices(uow.session, org, s.id)]
    await repo.delete_zone_prices(uow.session, org, s.id)
    await uow.session.flush()
    rows = [
        ZonePrice(id=new_id(), organizer_id=org, session_id=s.id, zone=zone, ticket_type_id=tt, price_minor=price)
        for zone, tt, price in prices
    ]
    uow.session.add_all(rows)
    await uow.session.flush()
    after = [[zone, tt, price] for zone, tt, price in prices]
    if sorted(before) != sorted(after):
        record(
            uow, actor, "session.zone_prices_set", "session", s.id, before={"prices": before}, after={"prices": after}
        )
    return await repo.zone_prices(uow.session, org, s.id)


async def seats_of_request(
    uow: UnitOfWork, organizer_id: str, session_id: str, seat_ids: Sequence[str]
) -> list[SessionSeat]:
    """The session's seats named by ``seat_ids``, or ``ValidationFailed`` naming each id that is not one (a seat
    of another session or organizer, or no seat), an empty or too long list, or an id given twice."""
    errors: list[dict[str, Any]] = []
    if not seat_ids:
        errors.append({"field": "seat_ids", "code": "required", "message": "Choose at least one seat."})
    if len(seat_ids) > MAX_SEAT_IDS:
        errors.append({"field": "seat_ids", "code": "too_many", "message": "Choose at most 5,000 seats at once."})
    if errors:
        raise ValidationFailed(errors)
    found = await repo.seats_by_id(uow.session, organizer_id, session_id, seat_ids)
    seen: set[str] = set()
    for k, seat_id in enumerate(seat_ids):
        if seat_id not in found:
            message = "This is not a seat of this session."
            errors.append({"field": f"seat_ids.{k}", "code": "unknown_seat", "message": message, "seat_id": seat_id})
        elif seat_id in seen:
            message = "This seat is named twice."
            errors.append({"field": f"seat_ids.{k}", "code": "seat_twice", "message": message, "seat_id": seat_id})
        seen.add(seat_id)
    if errors:
        raise ValidationFailed(errors)
    return sorted(found.values(), key=lambda seat: seat.ordinal)


def _reason(reason: str, *, required: bool) -> str:
    problem = label_problem(reason, required=required)
    if problem:
        raise ValidationFailed([{"field": "reason", "code": "bad_label", "message": problem}])
    return reason


async def block_seats(
    uow: UnitOfWork, actor: Actor, session_id: str, seat_ids: Sequence[str], reason: str
) -> list[SessionSeat]:
    """Keeps seats of the session back from sale (house, press, technical — ``reason`` is required and stored on
    each seat): all or none. A seat held or sold is refused with ``legs_occupied`` (409, ``unit_ids``) and
    nothing is kept back; a seat kept back already just gets the new reason. Audited."""
    actor.require(Permission.CATALOG_WRITE)
    org = actor.organizer_id
    reason = _reason(reason, required=True)
    s, _ = await session_and_seating(uow, org, session_id)
    seats = await seats_of_request(uow, org, s.id, seat_ids)
    await inventory.block_legs(uow, org, [Claim(seat.unit_id, SEAT_LEG) for seat in seats])
    await repo.set_blocked_reason(uow.session, [seat.unit_id for seat in seats], reason)
    after = {"seats": [seat_label(seat) for seat in seats], "seat_ids": [seat.unit_id for seat in seats]}
    record(uow, actor, "session.seats_blocked", "session", s.id, after={**after, "reason": reason})
    await uow.session.flush()
    for seat in seats:
        await uow.session.refresh(seat)
    return seats


async def release_seats(
    uow: UnitOfWork, actor: Actor, session_id: str, seat_ids: Sequence[str], reason: str = ""
) -> list[SessionSeat]:
    """Gives seats kept back by the operator (or by the layout) back to sale; ``reason`` (optional) is kept in
    the audit log. Releasing a seat that is not kept back changes nothing. Audited."""
    actor.require(Permission.CATALOG_WRITE)
    org = actor.organizer_id
    reason = _reason(reason, required=False)
    s, _ = await session_and_seating(uow, org, session_id)
    seats = await seats_of_request(uow, org, s.id, seat_ids)
    before = {seat.unit_id: seat.blocked_reason for seat in seats}
    await inventory.unblock_legs(uow, org, [Claim(seat.unit_id, SEAT_LEG) for seat in seats])
    await repo.set_blocked_reason(uow.session, [seat.unit_id for seat in seats], "")
    record(
        uow,
        actor,
        "session.seats_released",
        "session",
        s.id,
        before={"blocked": before},
        after={"seats": [seat_label(seat) for seat in seats], "reason": reason},
    )
    await uow.session.flush()
    for seat in seats:
        await uow.session.refresh(seat)
    return seats


@dataclass(frozen=True)
class ZoneSummary:
    zone: str
    total: int
    free: int
    held: int
    sold: int
    blocked: int
    prices: list[tuple[str, int]] = field(default_factory=list)  # (ticket type id, price in minor units)


@dataclass(frozen=True)
class SeatingSummary:
    session_id: str
    layout_id: str
    layout_version: int
    seat_count: int
    zones: list[ZoneSummary]
    channels: list[ChannelCount] = field(default_factory=list)  # seats published and free per sales channel

    def totals(self) -> dict[str, int]:
        keys = ("total", "free", "held", "sold", "blocked")
        return {k: sum(getattr(z, k) for z in self.zones) for k in keys}


async def seating_summary(uow: UnitOfWork, actor: Actor, session_id: str) -> SeatingSummary:
    """Per zone: seats, free, held (an unpaid order's), sold, kept back — read from the seats' units at the
    moment of asking — and the zone's prices; per sales channel: seats published to it and free for it
    (``channel_rules``)."""
    actor.require(Permission.CATALOG_READ)
    org = actor.organizer_id
    s, seating = await session_and_seating(uow, org, session_id)
    held = await repo.zone_held(uow.session, org, s.id)
    prices: dict[str, list[tuple[str, int]]] = {}
    for p in await repo.zone_prices(uow.session, org, s.id):
        prices.setdefault(p.zone, []).append((p.ticket_type_id, p.price_minor))
    zones = []
    for row in await repo.zone_states(uow.session, org, s.id):
        occupied, zone_held = int(row.occupied), held.get(row.zone, 0)
        zones.append(
            ZoneSummary(
                zone=row.zone,
                total=int(row.total),
                free=int(row.total) - occupied - int(row.blocked),
                held=zone_held,
                sold=occupied - zone_held,
                blocked=int(row.blocked),
                prices=prices.get(row.zone, []),
            )
        )
    per_channel = channel_counts(await repo.channel_groups(uow.session, org, s.id))
    return SeatingSummary(s.id, seating.layout_id, seating.layout_version, seating.seat_count, zones, per_channel)


@dataclass(frozen=True)
class PricedZone:
    zone: str
    ticket_type_id: str
    ticket_type_name: str  # in the reader's language
    price_minor: int
    currency: str


async def priced_zones(uow: UnitOfWork, actor: Actor, session_id: str) -> list[PricedZone]:
    """The session's zone prices with their ticket types' names (in the reader's language) and currency."""
    actor.require(Permission.CATALOG_READ)
    s = await views.session_or_404(uow, actor.organizer_id, session_id)
    types = {t.id: t for t in await catalog_repo.ticket_types_of(uow.session, actor.organizer_id, [s.id])}
    lang = current()
    return [
        PricedZone(
            p.zone,
            p.ticket_type_id,
            pick(types[p.ticket_type_id].name_i18n, lang, types[p.ticket_type_id].name),
            p.price_minor,
            types[p.ticket_type_id].currency,
        )
        for p in await repo.zone_prices(uow.session, actor.organizer_id, s.id)
        if p.ticket_type_id in types
    ]
