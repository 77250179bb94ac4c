"""What the shop shows of a seated session, publicly: the seat map (its sections, and each section's seats), the
live availability (full or as a delta), a best-available preview, and the brief that tells a page the session
sells seats.

Only sessions the shop shows are answered (``event_service.check_shown``: not a draft, event published);
anything else is ``not_found``, as for the session itself. The JSON shapes are the contract of the seat picker
(docs/api.md, "Buying seats").
"""

from __future__ import annotations

from typing import Any

import orjson

from piaowu.catalog import event_service
from piaowu.catalog import offers as catalog_offers
from piaowu.core import channels
from piaowu.core.errors import NotEnoughSeats, NotFound, ValidationFailed
from piaowu.db.uow import UnitOfWork
from piaowu.seating import best_available as ba
from piaowu.seating.layout import ATTRIBUTES
from piaowu.seating.live import live_of, zone_prices
from piaowu.seating.map_parts import INLINE_SEATS
from piaowu.seating.resolver import refusal_error
from piaowu.seating.session_live import SNAPSHOT_SECONDS, SessionLive


async def _public_seats(uow: UnitOfWork, organizer_id: str, session_id: str) -> SessionLive:
    await event_service.check_shown(uow, organizer_id, session_id)  # not_found unless the shop shows it
    live = await live_of(uow).seats(uow, organizer_id, session_id)
    if live is None:
        raise NotFound(kind="seat map")
    return live


async def seating_brief(uow: UnitOfWork, organizer_id: str, session_id: str) -> dict[str, Any] | None:
    """``{"seat_count", "zones"}`` for a session that sells seats, else None (general admission)."""
    live = await live_of(uow).seats(uow, organizer_id, session_id)
    if live is None:
        return None
    return {"seat_count": len(live.seats.seats), "zones": list(live.seats.zones)}


async def seat_map(uow: UnitOfWork, organizer_id: str, session_id: str) -> dict[str, Any]:
    """The session's map as a seat picker draws it first: its sections (``map_parts``: outline, box, label, kind,
    best point, seats per zone, attribute bits present, ordinal runs, and the ``key`` of the section's seats'
    answer), per zone the price of each active ticket type sold in it, the attribute names (bit *i*: the *i*-th),
    the seat pitch and the seats' bounds. A house of at most ``map_parts.INLINE_SEATS`` seats has each section's
    seats in it too (``"seats"``, the answer ``seat_section`` gives, as an ``orjson.Fragment``: dump the answer
    with orjson); a bigger one says ``"inline": false`` and a picker asks ``seat_section`` per section. States are
    not here: ask ``seat_availability``."""
    live = await _public_seats(uow, organizer_id, session_id)
    seats = live.seats
    parts = seats.parts
    prices = await zone_prices(uow, organizer_id, session_id)
    offers = await catalog_offers.offers_for(uow, organizer_id, [p.ticket_type_id for p in prices])
    by_zone: dict[str, list[dict[str, Any]]] = {zone: [] for zone in seats.zones}
    for p in prices:
        offer = offers.get(p.ticket_type_id)
        if offer is not None and offer.is_active and p.zone in by_zone:
            by_zone[p.zone].append(
                {
                    "ticket_type_id": p.ticket_type_id,
                    "name": offer.name,
                    "price_minor": p.price_minor,
                    "currency": offer.currency,
                }
            )
    inline = len(seats.seats) <= INLINE_SEATS
    # Copies: the caller adds each section's URL, and the summaries are this seating's, kept for every answer.
    sections = [
        {**part.summary, "seats": orjson.Fragment(part.body)} if inline else {**part.summary} for part in parts.sections
    ]
    return {
        "session_id": session_id,
        "layout_version": seats.stamp[1],
        "seat_count": len(seats.seats),
        "pitch": parts.pitch,
        "bounds": list(parts.bounds),
        "inline": inline,
        "sections": sections,
        "zones": [{"zone": zone, "prices": by_zone[zone]} for zone in seats.zones],
        "attributes": list(ATTRIBUTES),
    }


async def seat_section(uow: UnitOfWork, organizer_id: str, session_id: str, key: str) -> bytes:
    """The seats of one section of the session's map, serialized (``map_parts``' section answer), by the ``key``
    the map answer gives it. A key of another seating (the layout changed since, or another session's) or no key
    at all is ``not_found``: its ordinals would not be this seating's."""
    live = await _public_seats(uow, organizer_id, session_id)
    part = live.seats.parts.by_key.get(key)
    if part is None:
        raise NotFound(kind="seat map section")
    return part.body


async def seat_availability(
    uow: UnitOfWork, organizer_id: str, session_id: str, since: str | None = None
) -> dict[str, Any]:
    """The seats' states (read at most ``shop_cache_seconds`` ago): ``{"version", "states", "zones"}``, or, when
    ``since`` is a version this process still keeps, ``{"version", "since", "changes", "zones"}``
    (``seating.availability``). Seats withheld from the web channel are not for sale here (state 2)."""
    live = await _public_seats(uow, organizer_id, session_id)
    # Each page asks since its own version: each is a miss of the answer cache, and a stadium's states are not
    # read again for each of them — a read at most shop_cache_seconds old serves them all (with the answer
    # cache, at most twice that stale).
    max_age = uow.settings.shop_cache_seconds if uow.settings is not None else 0.0
    snap = await live_of(uow).refresh(uow, organizer_id, live, max_age=max_age)
    # The shop sells through the web channel: seats withheld from it are shown not for sale (not as sold).
    web = channels.bit(channels.WEB)
    view = live.for_channel(snap, web)
    if not since:
        return view.full()
    old = live.ring.get(since)
    return view.since(live.for_channel(old, web) if old is not None else None)


async def preview_best_available(
    uow: UnitOfWork,
    organizer_id: str,
    session_id: str,
    *,
    quantity: int,
    ticket_type_id: str | None = None,
    zone: str | None = None,
    wheelchair: int = 0,
    split: bool = False,
    restricted: bool = False,
) -> dict[str, Any]:
    """The seats best available would give now (from a view at most a second old). Holds nothing: the order
    chooses again when it is placed. Refusals as for the order (409 ``no_adjacent_block`` …); a zone or a ticket
    type the session does not sell is a 422 field error."""
    live = await _public_seats(uow, organizer_id, session_id)
    prices = {(p.zone, p.ticket_type_id): p.price_minor for p in await zone_prices(uow, organizer_id, session_id)}
    errors = []
    if ticket_type_id is not None:
        offers = await catalog_offers.offers_for(uow, organizer_id, [ticket_type_id])
        offer = offers.get(ticket_type_id)
        if offer is None or offer.session_id != session_id or not offer.is_active:
            errors.append({"field": "ticket_type_id", "code": "unknown_ticket_type", "message": "No such ticket type."})
        priced = [z for z in live.seats.zones if (z, ticket_type_id) in prices]
    else:
        priced = list(live.seats.zones)
    if zone is not None and zone not in priced:
        message = "This zone is not sold as this ticket type." if ticket_type_id else "No such zone."
        errors.append({"field": "zone", "code": "zone_not_priced", "message": message, "zone": zone})
    if errors:
        raise ValidationFailed(errors)
    zones = (zone,) if zone is not None else tuple(priced)
    if not zones:
        raise NotEnoughSeats(free=0, largest_block=0)
    await live_of(uow).current(uow, organizer_id, live, max_age=SNAPSHOT_SECONDS)
    # As the order will: only among the seats on sale through the web channel (its own index).
    answer = live.choose(
        ba.Request(zones, quantity, wheelchair, split, restricted), channel_bit=channels.bit(channels.WEB)
    )
    if isinstance(answer, ba.Refusal):
        raise refusal_error(answer)
    out = []
    for key in answer.seats:
        s = live.seats.by_key[key]
        out.append(
            {
                "id": s.unit_id,
                "ordinal": s.ordinal,
                "section": s.section,
                "row": s.row,
                "number": s.number,
                "zone": s.zone,
                "attributes": list(s.attributes),
                "price_minor": prices.get((s.zone, ticket_type_id)) if ticket_type_id else None,
            }
        )
    # Repeated in the summary: how many of the seats have a restricted or partial view, and whether it split.
    return {"seats": out, "blocks": answer.blocks, "limited_view": answer.limited_view}
