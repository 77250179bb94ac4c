"""A seated session to test against, built through the real services: an organizer's venue with a layout of two
rectangular sections — section "A" (zone A) in front, section "B" (zone B) behind —, an on-sale event and session
with ticket types "adult" and "student", the layout assigned to the session and zone prices A 880 / 680 yuan,
B 480 / 380 yuan (adult / student).

    world = await seating_world(runtime, tenant)            # 2 × 3 rows × 10 seats = 60 seats
    world.seat("A", "1", "5")                                # a seat's id (its inventory unit)
    world.seat_ids                                           # every seat id, by ordinal

Seats are numbered left to right, rows "1", "2", … from the stage; section A's front-left seat is at (0, 0),
section B starts ``rows_a`` rows behind it (plus an aisle). ``blocked`` keeps seats back in the layout (reason
"house"); ``attributes`` gives seats attributes, e.g. ``{("A", "1", "1"): {"wheelchair"}}``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from piaowu.catalog import event_service, session_service, ticket_type_service, venue_service, views
from piaowu.catalog.schemas import EventIn, SessionIn, TicketTypeIn
from piaowu.catalog.venue_schemas import VenueIn
from piaowu.core.actor import Actor
from piaowu.runtime import Runtime
from piaowu.seating import layout_service, session_seating
from piaowu.seating.generate import rect_section
from piaowu.seating.layout import SeatKey, SeatMap, combine
from tests.conftest import Tenant, make_tenant
from tests.factories import owner_actor

PRICES = {"A": (88000, 68000), "B": (48000, 38000)}  # zone → (adult, student), minor units


@dataclass
class SeatingWorld:
    tenant: Tenant
    actor: Actor
    organizer_id: str
    venue_id: str
    event_id: str
    session_id: str
    pool_id: str
    layout_id: str
    adult_id: str  # ticket type "adult"
    student_id: str  # ticket type "student"
    seat_ids: list[str]  # by ordinal
    seats: dict[SeatKey, str] = field(default_factory=dict)  # (section, row, number) → seat id
    zones: dict[str, str] = field(default_factory=dict)  # seat id → zone

    @property
    def auth(self) -> dict[str, str]:
        return self.tenant.auth

    def seat(self, section: str, row: str, number: str) -> str:
        return self.seats[(section, row, number)]

    def zone_seats(self, zone: str) -> list[str]:
        return [s for s in self.seat_ids if self.zones[s] == zone]


def two_zone_map(
    *,
    rows_a: int = 3,
    rows_b: int = 3,
    seats_per_row: int = 10,
    blocked: Iterable[SeatKey] = (),
    attributes: Mapping[SeatKey, Iterable[str]] | None = None,
) -> SeatMap:
    """Section A (zone A, ``rows_a`` rows) in front of section B (zone B), ``seats_per_row`` seats a row."""
    a = rect_section(section_id="A", label="A区", rows=rows_a, seats_per_row=seats_per_row, zone="A")
    b = rect_section(
        section_id="B",
        label="B区",
        rows=rows_b,
        seats_per_row=seats_per_row,
        zone="B",
        origin=(0.0, rows_a * 90.0 + 150.0),
    )
    seat_map = combine(a, b)
    keep_back, attrs = set(blocked), dict(attributes or {})
    seats = tuple(
        dataclasses.replace(
            seat,
            blocked_reason="house" if seat.key in keep_back else "",
            attributes=frozenset(attrs.get(seat.key, ())),
        )
        for seat in seat_map.seats
    )
    return SeatMap(seat_map.sections, seats)


def grid_map(
    columns: int = 3, lines: int = 3, rows: int = 60, seats_per_row: int = 75, aisle: float = 2000.0
) -> SeatMap:
    """A big house: ``lines`` × ``columns`` rectangular sections ("A1", "A2", … front line first, "B1", … behind),
    each ``rows`` rows of ``seats_per_row`` seats (50 units apart, rows 90), ``aisle`` apart side by side and 400
    one behind the other; the front line is zone A, the rest zone B. The default is 40,500 seats in 9 sections."""
    width, depth = seats_per_row * 50.0, rows * 90.0
    sections = [
        rect_section(
            section_id=f"{chr(ord('A') + line)}{column + 1}",
            rows=rows,
            seats_per_row=seats_per_row,
            zone="A" if line == 0 else "B",
            origin=(column * (width + aisle), line * (depth + 400.0)),
        )
        for line in range(lines)
        for column in range(columns)
    ]
    return combine(*sections)


async def seating_world(
    rt: Runtime,
    tenant: Tenant | None = None,
    *,
    rows_a: int = 3,
    rows_b: int = 3,
    seats_per_row: int = 10,
    blocked: Iterable[SeatKey] = (),
    attributes: Mapping[SeatKey, Iterable[str]] | None = None,
    max_per_order: int = 10,
    status: str = "on_sale",
    starts_in: timedelta = timedelta(days=7),
    slug: str = "seat-theatre",
    prices: bool = True,
    seat_map: SeatMap | None = None,
) -> SeatingWorld:
    """See the module's docstring. ``tenant`` defaults to a new organizer ``slug``. ``seat_map`` replaces the two
    sections (its zones must be "A" and "B", e.g. ``grid_map()``)."""
    tenant = tenant or await make_tenant(rt, slug=slug)
    actor = await owner_actor(rt, tenant.owner_id)
    now = rt.clock.now()
    seat_map = seat_map or two_zone_map(
        rows_a=rows_a, rows_b=rows_b, seats_per_row=seats_per_row, blocked=blocked, attributes=attributes
    )
    async with rt.uow() as uow:
        venue = await venue_service.create_venue(uow, actor, VenueIn(name="保利剧院 Poly Theatre"))
        ev = await event_service.create_event(
            uow, actor, EventIn(name="交响音乐会 Symphony", venue_id=venue.id, is_published=True)
        )
        s = await session_service.create_session(
            uow,
            actor,
            ev.id,
            SessionIn(
                name="Evening",
                starts_at=now + starts_in,
                ends_at=now + starts_in + timedelta(hours=2),
                capacity=1,
                status=status,
            ),
        )
        adult = await ticket_type_service.create_ticket_type(
            uow, actor, s.id, TicketTypeIn(name="adult", price_minor=PRICES["A"][0], max_per_order=max_per_order)
        )
        student = await ticket_type_service.create_ticket_type(
            uow, actor, s.id, TicketTypeIn(name="student", price_minor=PRICES["A"][1], max_per_order=max_per_order)
        )
        layout = await layout_service.save_layout(uow, actor, venue.id, "音乐厅 Concert", seat_map)
        await session_seating.assign_layout(uow, actor, s.id, layout.id)
        if prices:
            await session_seating.set_zone_prices(
                uow,
                actor,
                s.id,
                [
                    (zone, tt, price)
                    for zone, pair in PRICES.items()
                    for tt, price in zip((adult.id, student.id), pair, strict=True)
                ],
            )
        seats = await session_seating.session_seats(uow, tenant.organizer_id, s.id)
        pool_id = (await views.session_or_404(uow, tenant.organizer_id, s.id)).pool_id
        await uow.commit()
    return SeatingWorld(
        tenant=tenant,
        actor=actor,
        organizer_id=tenant.organizer_id,
        venue_id=venue.id,
        event_id=ev.id,
        session_id=s.id,
        pool_id=pool_id,
        layout_id=layout.id,
        adult_id=adult.id,
        student_id=student.id,
        seat_ids=[seat.unit_id for seat in seats],
        seats={(seat.section, seat.row, seat.number): seat.unit_id for seat in seats},
        zones={seat.unit_id: seat.zone for seat in seats},
    )


async def unseated_session(rt: Runtime, world: SeatingWorld) -> tuple[str, str, str]:
    """A second session of the world's event (same venue), on sale, with no seats yet: (session id, its one
    ticket type "adult" id, its pool id). For tests of what changes once a session is given a layout."""
    now = rt.clock.now()
    async with rt.uow() as uow:
        s = await session_service.create_session(
            uow,
            world.actor,
            world.event_id,
            SessionIn(
                name="Matinee",
                starts_at=now + timedelta(days=8),
                ends_at=now + timedelta(days=8, hours=2),
                capacity=5,
                status="on_sale",
            ),
        )
        tt = await ticket_type_service.create_ticket_type(
            uow, world.actor, s.id, TicketTypeIn(name="adult", price_minor=100)
        )
        pool = (await views.session_or_404(uow, world.organizer_id, s.id)).pool_id
        await uow.commit()
    return s.id, tt.id, pool
