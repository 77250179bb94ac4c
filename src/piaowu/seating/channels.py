"""Seats published per sales channel: the operator publishes a session's seats to a channel or withholds them
from it (keep the best rows for the box office, give a distributor's block to ``api``), and reads how many seats
each channel may sell.

A seat's channels are its inventory unit's ``withheld`` bits (``core.channels``), so the reservation's claim for
an order of a channel matches only a seat on sale through it (``inventory.strategies.channel_claim``): the
check is in the reservation itself, not only in what the resolver read. Rules as plain values:
``seating.channel_rules``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.core import channels
from piaowu.core.actor import Actor
from piaowu.core.errors import SeatHeldThroughChannel, ValidationFailed
from piaowu.db.uow import UnitOfWork
from piaowu.inventory.models import Hold, HoldUnit, Unit
from piaowu.inventory.rules import HoldStatus
from piaowu.orders.models import Order
from piaowu.seating.models import SessionSeat, SessionSeating
from piaowu.seating.session_seating import seat_label, seats_of_request, session_and_seating


def _channel(channel: str) -> str:
    if not channels.is_channel(channel):
        message = "Choose a sales channel: web, box_office or api."
        raise ValidationFailed([{"field": "channel", "code": "unknown_channel", "message": message}])
    return channel


async def set_published(
    uow: UnitOfWork, actor: Actor, session_id: str, seat_ids: Sequence[str], channel: str, *, publish: bool
) -> list[tuple[SessionSeat, int]]:
    """Publishes seats of the session to ``channel`` (``publish``) or withholds them from it: all or none. →
    the seats with their ``withheld`` masks after the change.

    Withholding a seat held by an unpaid order *of that channel* is refused with ``seat_held_through_channel``
    (409, ``seats`` with labels) and nothing changes: that order would hold a seat its channel may not sell.
    A sold seat (or one held through another channel) may be withheld: its ticket or order is not affected;
    the seat is on sale again, when it comes back, only through the channels it is published to.

    On PostgreSQL the units' rows are locked and updated first, then the holds read: a reservation that claimed a seat
    before the update committed is seen by that read (refused), one that waited for the update's row lock
    re-evaluates its claim on the new ``withheld`` and is refused itself. On SQLite the write transaction holds
    the database lock. Unknown or repeated seats: ``ValidationFailed`` (``seat_ids.N``). Audited."""
    actor.require(Permission.CATALOG_WRITE)
    org = actor.organizer_id
    channel = _channel(channel)
    s, _ = await session_and_seating(uow, org, session_id)
    seats = await seats_of_request(uow, org, s.id, seat_ids)
    ids = [seat.unit_id for seat in seats]
    # The units' rows locked first, in unit-id order — the order reservations claim them in — so a withdraw and
    # an order naming the same seats queue instead of deadlocking.
    before = await _withheld(uow, org, ids, lock=True)
    b = channels.bit(channel)
    new = Unit.withheld.bitwise_and(channels.ALL_BITS & ~b) if publish else Unit.withheld.bitwise_or(b)
    await uow.session.execute(
        update(Unit)
        .where(Unit.id.in_(ids), Unit.organizer_id == org)
        .values(withheld=new)
        .execution_options(synchronize_session=False)
    )
    if not publish:
        held = await _held_through(uow, ids, channel)
        if held:
            refused = [seat for seat in seats if seat.unit_id in held]
            raise SeatHeldThroughChannel(
                seats=[_label(seat) for seat in refused],
                labels=", ".join(seat_label(seat) for seat in refused),
                channel=channel,
            )
    changed = [seat for seat in seats if bool(before.get(seat.unit_id, 0) & b) == publish]
    if changed:
        await uow.session.execute(
            update(SessionSeating)
            .where(SessionSeating.session_id == s.id, SessionSeating.organizer_id == org)
            .values(channels_version=SessionSeating.channels_version + 1)
            .execution_options(synchronize_session=False)
        )
        record(
            uow,
            actor,
            "session.seats_published" if publish else "session.seats_withheld",
            "session",
            s.id,
            before={"withheld": {seat.unit_id: list(_names(before.get(seat.unit_id, 0))) for seat in changed}},
            after={
                "channel": channel,
                "seats": [seat_label(seat) for seat in changed],
                "seat_ids": [seat.unit_id for seat in changed],
            },
        )
    after = await _withheld(uow, org, ids)
    return [(seat, int(after.get(seat.unit_id, 0))) for seat in seats]


async def _withheld(
    uow: UnitOfWork, organizer_id: str, unit_ids: Sequence[str], *, lock: bool = False
) -> dict[str, int]:
    q = select(Unit.id, Unit.withheld).where(Unit.id.in_(list(unit_ids)), Unit.organizer_id == organizer_id)
    if lock:
        q = q.order_by(Unit.id).with_for_update(of=Unit)
    return {u: int(w) for u, w in await uow.session.execute(q)}


def _names(withheld: int) -> tuple[str, ...]:
    return tuple(c for c in channels.CHANNELS if withheld & channels.bit(c))


def _label(seat: SessionSeat) -> dict[str, str]:
    return {"id": seat.unit_id, "section": seat.section, "row": seat.row, "number": seat.number}


async def _held_through(uow: UnitOfWork, unit_ids: Sequence[str], channel: str) -> set[str]:
    """Of ``unit_ids``, those an active (unpaid) hold of an order of ``channel`` claims."""
    q = (
        select(HoldUnit.unit_id)
        .join(Hold, Hold.id == HoldUnit.hold_id)
        .join(Order, Order.hold_id == Hold.id)
        .where(
            HoldUnit.unit_id.in_(list(unit_ids)),
            HoldUnit.returned_at.is_(None),
            Hold.status == HoldStatus.ACTIVE.value,
            Order.channel == channel,
        )
    )
    return set((await uow.session.execute(q)).scalars())
