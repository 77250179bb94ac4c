"""What staff see of a session's seats: each seat with its state (free, held, sold, blocked), read from the
seats' inventory units at the moment of asking — the map of the session seating page and the box office."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from piaowu.accounts.permissions import Permission
from piaowu.core.actor import Actor
from piaowu.core.channels import CHANNELS, bit
from piaowu.db.uow import UnitOfWork
from piaowu.inventory.models import Hold, HoldUnit, Unit
from piaowu.inventory.rules import HoldStatus
from piaowu.seating import layout_service
from piaowu.seating import repository as repo
from piaowu.seating.models import SessionSeat

STATES = ("free", "held", "sold", "blocked")


@dataclass(frozen=True, slots=True)
class SeatState:
    seat: SessionSeat
    state: str  # one of STATES
    withheld: int = 0  # the sales channels the seat is not on sale through (``core.channels``)

    def row(self) -> list[object]:
        """The compact shape ``seatstaff.js`` draws: id, labels, place, zone, attributes, state, and the sales
        channels the seat is withheld from."""
        s = self.seat
        withheld = [c for c in CHANNELS if self.withheld & bit(c)]
        return [s.unit_id, s.section, s.row, s.number, s.x, s.y, s.zone, list(s.attributes or []), self.state, withheld]


async def seat_states(uow: UnitOfWork, actor: Actor, session_id: str) -> list[SeatState]:
    """The session's seats by ordinal with their state: ``held`` while an unpaid order's hold claims the seat,
    ``sold`` when it is occupied otherwise, ``blocked`` when kept back and not occupied. Another organizer's
    session has no seats here (every query filters by organizer)."""
    actor.require(Permission.CATALOG_READ)
    org = actor.organizer_id
    rows = await uow.session.execute(
        select(SessionSeat, Unit.occupied, Unit.blocked, Unit.withheld)
        .join(Unit, Unit.id == SessionSeat.unit_id)
        .where(SessionSeat.organizer_id == org, SessionSeat.session_id == session_id)
        .order_by(SessionSeat.ordinal)
    )
    held = set(
        (
            await uow.session.execute(
                select(HoldUnit.unit_id)
                .join(Hold, Hold.id == HoldUnit.hold_id)
                .join(SessionSeat, SessionSeat.unit_id == HoldUnit.unit_id)
                .where(
                    SessionSeat.organizer_id == org,
                    SessionSeat.session_id == session_id,
                    Hold.status == HoldStatus.ACTIVE.value,
                    HoldUnit.returned_at.is_(None),
                )
            )
        ).scalars()
    )
    out = []
    for seat, occupied, blocked, withheld in rows:
        if int(occupied) & 1:
            state = "held" if seat.unit_id in held else "sold"
        elif int(blocked) & 1:
            state = "blocked"
        else:
            state = "free"
        out.append(SeatState(seat, state, int(withheld)))
    return out


async def layout_users(uow: UnitOfWork, actor: Actor, layout_id: str) -> list[str]:
    """The sessions that were given this layout (they sell their own copy of its seats)."""
    layout = await layout_service.get_layout(uow, actor, layout_id)
    return await repo.sessions_using(uow.session, actor.organizer_id, layout.id)
