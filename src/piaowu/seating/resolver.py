"""The assigned-seat resolver (product kind ``seat``): seats a buyer picked, or the best available ones, turned
into order lines that each claim their seat.

Selections (``items.N.selection``)::

    {"ticket_type_id": "…", "seats": ["<seat id>", …]}
    {"ticket_type_id": "…", "best_available": {"zone": "A" | null, "quantity": 2, "wheelchair": 0, "split": false,
    "restricted": false}}

A seat's id is its inventory unit's id. Each seat is one line priced at its zone's price for the ticket type
(``session_zone_prices``), holding one unit of each pool of the ticket type's offer (the session's pool, and the
type's quota pool when it has one) and its seat (``UnitHolding(seat, 0b1)``); the line keeps the seat's printed
labels. Every check of general admission applies (active ticket type, on sale, sales window, session not ended,
min/max per order counted over all of the type's seats in the order), then the seats' own:

- ``unknown_seat`` (422, at ``seats.K``): not a seat of the ticket type's session (another session's or venue's,
  or no seat at all); ``seat_twice``: the same seat twice in one order; ``zone_not_priced``: the seat's zone
  (or the zone asked for) has no price for this ticket type;
- ``seat_blocked`` (409, ``seats``: id, section, row, number): kept back by the operator;
- ``seat_not_on_sale_here`` (409, ``seats``, ``channel``): withheld from the order's sales channel
  (``seating.channels``); best available chooses only among seats on sale through it. The claim in the
  reservation checks the channel on the seat's own row, so a withdraw racing the order cannot let a seat be
  sold through a channel it was withheld from;
- ``no_adjacent_block`` / ``not_enough_seats`` / ``no_wheelchair_space`` (409): best available found nothing;
- ``seat_taken`` (409, ``seats``) comes from the reservation itself: the claim is what decides.

The claim also refuses seats kept back or withheld from the order's channel, so their bits are read only to name
a refusal: after the claim refused (``Resolution.name``: one read of those bits, then ``seat_blocked`` /
``seat_not_on_sale_here`` as before; nothing else is read again, the reservation verified the rest), or before
it when the unit of work could not read after a refusal (a PostgreSQL transaction,
``UnitOfWork.reads_after_refusal``) or the order also asks for best available. The session's seats come from
this process's cache without a read; the reservation re-verifies their seating's
stamp (``_seating_check``: a stale one is a ``StaleRead``, resolved again fresh).

Best available chooses from this process's view of the session (``seating.live``, at most
``SNAPSHOT_SECONDS`` old, or read fresh when ``load(fresh=True)``) with ``best_available.SeatIndex``, and marks
the seats it chose taken in that view (so the next buyer here gets other seats). Its resolution has
``rechoose``: when the claim finds a chosen seat taken, the order is resolved again from a fresh view.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from typing import Any

from piaowu.catalog import offers as catalog_offers
from piaowu.catalog.offers import Offer
from piaowu.core import channels
from piaowu.core.errors import (
    InvalidQuantity,
    NoAdjacentBlock,
    NotEnoughSeats,
    NotOnSale,
    NoWheelchairSpace,
    RestrictedViewOnly,
    SeatBlocked,
    SeatNotOnSaleHere,
    SeatsUnavailable,
    ValidationFailed,
)
from piaowu.core.selections import Item, PoolHolding, Resolution, ResolvedLine, SeatLabel, UnitHolding
from piaowu.db.hotpath import RowCheck
from piaowu.db.uow import UnitOfWork
from piaowu.inventory import service as inventory
from piaowu.orders.placement import MAX_TICKETS_PER_ORDER, TICKET_TYPE_ID_LENGTH
from piaowu.seating import best_available as ba
from piaowu.seating.live import cached_zone_prices, live_of
from piaowu.seating.models import SessionSeating, ZonePrice
from piaowu.seating.session_live import SNAPSHOT_SECONDS, PriceRow, SessionLive

KIND = "seat"
SEAT_ID_LENGTH = 40
ZONE_LENGTH = 40

_REFUSALS: dict[str, type[SeatsUnavailable]] = {
    "no_adjacent_block": NoAdjacentBlock,
    "not_enough_seats": NotEnoughSeats,
    "no_wheelchair_space": NoWheelchairSpace,
    "restricted_view_only": RestrictedViewOnly,
}


@dataclass(frozen=True, slots=True)
class BestAvailable:
    zone: str | None
    quantity: int
    wheelchair: int = 0
    split: bool = False
    restricted: bool = False  # the buyer accepts a restricted or partial view when nothing clear fits


@dataclass(frozen=True, slots=True)
class SeatSelection:
    """Seats picked (``seats``) or to be chosen (``best``) for one ticket type."""

    ticket_type_id: str
    seats: tuple[str, ...] = ()
    best: BestAvailable | None = None

    @property
    def quantity(self) -> int:
        return self.best.quantity if self.best is not None else len(self.seats)


def _err(field: str, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"field": field, "code": code, "message": message, **extra}


def _whole(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def parse(raw: Mapping[str, Any], at: str) -> SeatSelection:
    """A request's ``selection`` → ``SeatSelection``, strictly: ``ticket_type_id`` and exactly one of ``seats``
    (1–100 distinct-looking ids) or ``best_available`` (``quantity`` 1–100, optional ``zone``, ``wheelchair``
    0–quantity, ``split`` and ``restricted`` true/false); anything else is refused."""
    errors = [
        _err(f"{at}.{k}", "extra_forbidden", "This field is not allowed.")
        for k in raw
        if k not in ("ticket_type_id", "seats", "best_available")
    ]
    tt = raw.get("ticket_type_id")
    if tt is None:
        errors.append(_err(f"{at}.ticket_type_id", "missing", "This field is required."))
    elif not (isinstance(tt, str) and 1 <= len(tt) <= TICKET_TYPE_ID_LENGTH):
        errors.append(_err(f"{at}.ticket_type_id", "invalid", "Send a ticket type id."))
    seats, best = raw.get("seats"), raw.get("best_available")
    if (seats is None) == (best is None):
        errors.append(_err(at, "seats_or_best_available", "Send either seats or best_available."))
    parsed_seats: tuple[str, ...] = ()
    parsed_best = None
    if seats is not None:
        if not isinstance(seats, list) or not 1 <= len(seats) <= MAX_TICKETS_PER_ORDER:
            errors.append(_err(f"{at}.seats", "invalid", "Send a list of 1 to 100 seat ids."))
        else:
            for k, s in enumerate(seats):
                if not (isinstance(s, str) and 1 <= len(s) <= SEAT_ID_LENGTH):
                    errors.append(_err(f"{at}.seats.{k}", "invalid", "Send a seat id."))
            parsed_seats = tuple(str(s) for s in seats)
    if best is not None:
        parsed_best = _parse_best(best, f"{at}.best_available", errors)
    if errors:
        raise ValidationFailed(errors)
    assert isinstance(tt, str)
    return SeatSelection(tt, parsed_seats, parsed_best)


def _parse_best(best: object, at: str, errors: list[dict[str, Any]]) -> BestAvailable | None:
    if not isinstance(best, dict):
        errors.append(_err(at, "invalid", "Send an object."))
        return None
    errors.extend(
        _err(f"{at}.{k}", "extra_forbidden", "This field is not allowed.")
        for k in best
        if k not in ("zone", "quantity", "wheelchair", "split", "restricted")
    )
    zone, qty = best.get("zone"), best.get("quantity")
    wheelchair, split = best.get("wheelchair", 0), best.get("split", False)
    restricted = best.get("restricted", False)
    n = len(errors)
    if zone is not None and not (isinstance(zone, str) and 1 <= len(zone) <= ZONE_LENGTH):
        errors.append(_err(f"{at}.zone", "invalid", "Send a zone, or null for any zone."))
    if qty is None:
        errors.append(_err(f"{at}.quantity", "missing", "This field is required."))
    elif not _whole(qty, 1, MAX_TICKETS_PER_ORDER):
        errors.append(_err(f"{at}.quantity", "invalid", "Send a whole number of tickets, 1 to 100."))
    if not _whole(wheelchair, 0, qty if _whole(qty, 1, MAX_TICKETS_PER_ORDER) else MAX_TICKETS_PER_ORDER):
        errors.append(_err(f"{at}.wheelchair", "invalid", "Ask for at most as many wheelchair spaces as seats."))
    if not isinstance(split, bool):
        errors.append(_err(f"{at}.split", "invalid", "Enter true or false."))
    if not isinstance(restricted, bool):
        errors.append(_err(f"{at}.restricted", "invalid", "Enter true or false."))
    if len(errors) > n:
        return None
    return BestAvailable(zone, qty, wheelchair, split, restricted)  # type: ignore[arg-type]


@dataclass
class SessionContext:
    live: SessionLive
    prices: dict[tuple[str, str], PriceRow]  # (zone, ticket type) → its price row
    blocked: set[str]  # seat ids picked in this order that are kept back
    withheld: dict[str, int]  # seat id picked in this order → the channels it is withheld from (read now)


@dataclass
class SeatContext:
    offers: dict[str, Offer]
    sessions: dict[str, SessionContext]
    unread: bool = False  # picked seats whose blocked and channel bits were not read (``Resolution.name``)
    organizer_id: str = ""


class SeatResolver:
    kind = KIND

    def parse(self, raw: Mapping[str, Any], field: str) -> SeatSelection:
        return parse(raw, field)

    async def load(
        self, uow: UnitOfWork, organizer_id: str, items: Sequence[Item], *, fresh: bool = False
    ) -> SeatContext:
        """The offers (cached, verified by the reservation's checks), and per seated session: its seats (cached
        per process while its seating is unchanged), its zone prices (read now, verified too), the picked seats'
        blocked bits (read now) and, for best available, a view of the states at most a moment old (read now when
        ``fresh``)."""
        offers = await catalog_offers.offers_for(
            uow, organizer_id, [i.selection.ticket_type_id for i in items], cached=True, fresh=fresh
        )
        registry = live_of(uow)
        # The picked seats' blocked and channel bits only name a refusal (the claim refuses such seats itself):
        # read before the reservation only when the order cannot read them after one (``named_after_refusal``).
        name_first = fresh or not uow.reads_after_refusal or any(i.selection.best is not None for i in items)
        asked = time.monotonic()  # fresh: a view whose read began after this holds every change before it
        sessions: dict[str, SessionContext] = {}
        unread = False
        for session_id in dict.fromkeys(o.session_id for o in offers.values()):
            # This process's seats without reading the seating's stamp: the reservation re-verifies it
            # (``_seating_check``); a fresh resolution (after a stale read or a refusal) reads it first.
            live = await registry.seats(uow, organizer_id, session_id, cached=not fresh)
            if live is None:
                continue
            mine = [i for i in items if (o := offers.get(i.selection.ticket_type_id)) and o.session_id == session_id]
            live = await registry.unknown_here(uow, organizer_id, live, [s for i in mine for s in i.selection.seats])
            if any(i.selection.best is not None for i in mine):
                if fresh:
                    await registry.refresh(uow, organizer_id, live, began_after=asked)
                else:  # the view the background refresher keeps: no read on the buyer's request
                    await registry.current(uow, organizer_id, live, max_age=SNAPSHOT_SECONDS)
            picked = [s for i in mine for s in i.selection.seats if s in live.seats.by_unit]
            states = await inventory.unit_states(uow, organizer_id, picked) if picked and name_first else {}
            prices = {
                (p.zone, p.ticket_type_id): p for p in await cached_zone_prices(uow, organizer_id, live, fresh=fresh)
            }
            sessions[session_id] = SessionContext(live, prices, *_kept_back(states))
            unread = unread or (bool(picked) and not name_first)
        return SeatContext(offers, sessions, unread, organizer_id)

    def resolve(self, items: Sequence[Item], context: SeatContext) -> Resolution:
        """All items or an exception. Marks the seats best available chose as taken in this process's view."""
        offers, sessions = context.offers, context.sessions
        errors: list[dict[str, Any]] = []
        for item in items:
            sel: SeatSelection = item.selection
            offer = offers.get(sel.ticket_type_id)
            if offer is None or not offer.is_active:
                errors.append(_err(f"{item.at}.ticket_type_id", "unknown_ticket_type", "No such ticket type."))
            elif offer.session_id not in sessions:
                errors.append(
                    _err(f"{item.at}.ticket_type_id", "not_seated", "This session has no seat map: buy admission.")
                )
            elif item.holders and len(item.holders) != sel.quantity:
                message = "Name one holder per ticket, or none."
                errors.append(_err(f"items.{item.index}.holders", "holders_count", message))
        if errors:
            raise ValidationFailed(errors)
        quantities: dict[str, int] = {}
        for item in items:
            quantities[item.selection.ticket_type_id] = (
                quantities.get(item.selection.ticket_type_id, 0) + item.selection.quantity
            )
        if sum(quantities.values()) > MAX_TICKETS_PER_ORDER:
            raise InvalidQuantity(min=1, max=MAX_TICKETS_PER_ORDER, ticket_type="this order")
        for tt_id, qty in quantities.items():
            offer = offers[tt_id]
            if offer.sale_state != "on_sale":
                raise NotOnSale(ticket_type_id=tt_id, sale_state=str(offer.sale_state))
            if not offer.min_per_order <= qty <= offer.max_per_order:
                raise InvalidQuantity(min=offer.min_per_order, max=offer.max_per_order, ticket_type=offer.name)
        picked = self._picked(items, context)
        chosen = self._chosen(items, context, {u for seats in picked.values() for u in seats})
        lines: list[ResolvedLine] = []
        checks: list[Any] = []
        used_prices: dict[str, PriceRow] = {}
        for item in items:
            sel = item.selection
            offer = offers[sel.ticket_type_id]
            ctx = sessions[offer.session_id]
            unit_ids = picked.get(item.index) or chosen.get(item.index, ())
            # The seat is the session pool's unit (``inventory.rules.SEATS_ONLY``): its claim is the take, and the
            # pool's row stays out of the order (every seat order of a session would queue on it to its commit).
            counted = tuple(PoolHolding(p, 1) for p in offer.pool_ids if p != ctx.live.seats.pool_id)
            for k, unit_id in enumerate(unit_ids):
                seat = ctx.live.seats.by_unit[unit_id]
                price = ctx.prices[(seat.zone, sel.ticket_type_id)]
                used_prices[price.id] = price
                lines.append(
                    ResolvedLine(
                        ticket_type_id=sel.ticket_type_id,
                        ticket_type_name=offer.name,
                        session_id=offer.session_id,
                        price_minor=price.price_minor,
                        currency=offer.currency,
                        holdings=(*counted, UnitHolding(unit_id, 0b1)),
                        holder_name=item.holders[k] if item.holders else "",
                        event_name=offer.event_name,
                        session_name=offer.session_name,
                        starts_at=offer.starts_at,
                        seat=SeatLabel(seat.section, seat.row, seat.number),
                    )
                )
        for tt_id in quantities:
            checks.extend(getattr(offers[tt_id], "checks", ()))
        checks.extend(_price_check(p) for p in used_prices.values())
        checks.extend(_seating_check(v) for v in {id(c.live): c.live for c in sessions.values()}.values())
        for item in items:  # only now that nothing can refuse: the next buyer here gets other seats
            if item.index in chosen:
                live = sessions[offers[item.selection.ticket_type_id].session_id].live
                live.mark_taken([live.seats.by_unit[u].ordinal for u in chosen[item.index]], share=True)
        views = tuple({id(ctx.live): ctx.live for ctx in sessions.values()}.values()) if chosen else ()
        return Resolution(
            tuple(lines),
            tuple(checks),
            rechoose=bool(chosen),
            taken=tuple(v.mark_units_taken for v in views),
            name=(partial(self._name_refusal, tuple(items), context),) if context.unread else (),
        )

    async def _name_refusal(self, items: Sequence[Item], context: SeatContext, uow: UnitOfWork) -> None:
        """The claim refused picked seats whose blocked and channel bits were not read (``SeatContext.unread``):
        read them now (one read per session) and raise what ``_picked`` raises when they are read before —
        ``seat_blocked``, then ``seat_not_on_sale_here`` — or return, and the ``seat_taken`` stands. Nothing else is
        read again: the reservation verified the offers, prices and seating it was built from."""
        sessions = {}
        for session_id, ctx in context.sessions.items():
            picked = [
                s
                for i in items
                if i.selection.best is None and context.offers[i.selection.ticket_type_id].session_id == session_id
                for s in i.selection.seats
            ]
            states = await inventory.unit_states(uow, context.organizer_id, picked) if picked else {}
            sessions[session_id] = replace(ctx, **dict(zip(("blocked", "withheld"), _kept_back(states), strict=True)))
        self._picked(items, replace(context, sessions=sessions))

    def _picked(self, items: Sequence[Item], context: SeatContext) -> dict[int, tuple[str, ...]]:
        """The seats picked per item, checked: a seat of the session, once, in a priced zone, not kept back."""
        errors: list[dict[str, Any]] = []
        blocked: list[dict[str, str]] = []
        not_here: list[dict[str, str]] = []
        seen: set[str] = set()
        out: dict[int, tuple[str, ...]] = {}
        for item in items:
            sel: SeatSelection = item.selection
            if sel.best is not None:
                continue
            ctx = context.sessions[context.offers[sel.ticket_type_id].session_id]
            for k, unit_id in enumerate(sel.seats):
                at = f"{item.at}.seats.{k}"
                seat = ctx.live.seats.by_unit.get(unit_id)
                if seat is None:
                    errors.append(_err(at, "unknown_seat", "This is not a seat of this session.", seat_id=unit_id))
                elif unit_id in seen:
                    errors.append(_err(at, "seat_twice", "This seat is chosen twice.", seat_id=unit_id))
                elif (seat.zone, sel.ticket_type_id) not in ctx.prices:
                    errors.append(
                        _err(at, "zone_not_priced", "This seat is not sold as this ticket type.", zone=seat.zone)
                    )
                elif unit_id in ctx.blocked:
                    blocked.append(seat.label())
                elif ctx.withheld.get(unit_id, 0) & channels.bit(item.channel):
                    not_here.append(seat.label())
                seen.add(unit_id)
            out[item.index] = sel.seats
        if errors:
            raise ValidationFailed(errors)
        if blocked:
            raise SeatBlocked(seats=blocked)
        if not_here:
            raise SeatNotOnSaleHere(seats=not_here, channel=items[0].channel)
        return out

    def _chosen(self, items: Sequence[Item], context: SeatContext, picked: set[str]) -> dict[int, tuple[str, ...]]:
        """Best available per item, from the session's view; seats picked in the same order count as taken."""
        out: dict[int, tuple[str, ...]] = {}
        for item in items:
            sel: SeatSelection = item.selection
            best = sel.best
            if best is None:
                continue
            ctx = context.sessions[context.offers[sel.ticket_type_id].session_id]
            priced = [z for z in ctx.live.seats.zones if (z, sel.ticket_type_id) in ctx.prices]
            if best.zone is not None and best.zone not in priced:
                raise ValidationFailed(
                    [
                        _err(
                            f"{item.at}.best_available.zone",
                            "zone_not_priced",
                            "This zone is not sold as this ticket type.",
                            zone=best.zone,
                        )
                    ]
                )
            zones = (best.zone,) if best.zone is not None else tuple(priced)
            if not zones:
                raise NotEnoughSeats(free=0, largest_block=0)
            # Only among the seats on sale through the order's channel: its own index, where the seats withheld
            # from it are blocked for good (built once per view, not taken out and given back on every order).
            channel_bit = channels.bit(item.channel)
            index = ctx.live.build_index(channel_bit=channel_bit)
            by_unit = ctx.live.seats.by_unit
            # Seats already in this order (picked, or chosen for an earlier item) are taken for this choice.
            keep = [by_unit[u].key for u in picked | {u for seats in out.values() for u in seats} if u in by_unit]
            keep = [k for k in dict.fromkeys(keep) if index.state(k) == ba.FREE]
            index.take(keep)
            try:
                request = ba.Request(zones, best.quantity, best.wheelchair, best.split, best.restricted)
                answer = ctx.live.choose(request, channel_bit=channel_bit)
            finally:
                index.release(keep)
            if isinstance(answer, ba.Refusal):
                raise refusal_error(answer)
            by_key = ctx.live.seats.by_key
            out[item.index] = tuple(by_key[k].unit_id for k in answer.seats)
        return out


def _kept_back(states: Mapping[str, Any]) -> tuple[set[str], dict[str, int]]:
    """Of seats' unit states: those kept back, and the channels each withheld one is withheld from."""
    blocked = {u for u, st in states.items() if st.blocked & 1}
    return blocked, {u: st.withheld for u, st in states.items() if st.withheld}


def refusal_error(refusal: ba.Refusal) -> SeatsUnavailable:
    """Best available's refusal as the error the buyer gets (409, with ``free`` and ``largest_block``)."""
    return _REFUSALS[refusal.code](free=refusal.free, largest_block=refusal.largest_block)


# A check is a function of the price row or the seats' stamp it verifies, the same for every order that charges
# that price or sells those seats: made once, not per order (each is a dataclass whose shape is computed on
# creation). Bounded: a changed price or seating is another key; old ones age out.
@lru_cache(maxsize=4096)
def _price_check(p: PriceRow) -> RowCheck:
    """The reservation is written only while the zone price it charged is still the session's."""
    expected = (("session_id", p.session_id), ("zone", p.zone), ("ticket_type_id", p.ticket_type_id),
                ("price_minor", p.price_minor))  # fmt: skip
    return RowCheck("zone_price", ZonePrice.__table__, p.id, expected)


def _seating_check(live: SessionLive) -> RowCheck:
    """The reservation is written only while the session's seating is still the one its seats (and their
    channels) were read for: what the stamp read before every seat order told, now told by the statement."""
    return _stamp_check(live.seats.session_id, live.seats.stamp)


@lru_cache(maxsize=1024)
def _stamp_check(session_id: str, stamp: tuple[Any, ...]) -> RowCheck:
    names = ("layout_id", "layout_version", "seat_count", "created_at", "channels_version")
    expected = tuple(zip(names, stamp, strict=True))
    return RowCheck("seating", SessionSeating.__table__, session_id, expected, key_column="session_id")
