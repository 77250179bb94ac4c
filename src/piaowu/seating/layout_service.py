"""Seat layout use cases: a venue's seating plans, saved whole, checked by the same rules as an imported file.

Every save — a new layout, a replaced one, a generated section, an edit on the map, an import — goes through
``save_layout``, which checks the whole map with ``interchange``'s rules (labels, duplicates, overlapping
coordinates, attributes, sections) and either stores all of it or raises ``ValidationFailed`` listing every
problem: a layout is never half written. Sessions copy a layout's seats when they are given it
(``session_seating.assign_layout``), so editing a layout never moves a seat that a session sells.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import update

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.catalog import repository as catalog_repo
from piaowu.core.actor import Actor
from piaowu.core.errors import Conflict, NotFound, ValidationFailed
from piaowu.core.ids import new_id
from piaowu.core.inputs import checked_name
from piaowu.db.uow import UnitOfWork
from piaowu.seating import interchange
from piaowu.seating import repository as repo
from piaowu.seating.layout import Seat, SeatMap, Section
from piaowu.seating.models import LayoutSeat, SeatLayout


def layout_summary(layout: SeatLayout) -> dict[str, Any]:
    """What the audit log keeps of a layout (not its seats: an 80,000-seat map is not an audit entry)."""
    return {
        "name": layout.name,
        "venue_id": layout.venue_id,
        "seat_count": layout.seat_count,
        "zones": list(layout.zones or []),
        "sections": [s["id"] for s in layout.sections or []],
        "version": layout.version,
    }


def checked_map(seat_map: SeatMap) -> tuple[SeatMap, list[dict[str, Any]]]:
    """The map as interchange's import reads it back (one rule for imported and edited maps), and its sections
    as stored. A map without seats is allowed (a layout being built); anything else wrong raises
    ``ValidationFailed`` with every problem (fields such as ``seats[12].zone``)."""
    text = interchange.export_json(seat_map)
    try:
        checked = interchange.import_json(text)
    except ValidationFailed as exc:
        errors = [e for e in exc.errors if e.get("code") != "no_seats"]
        if errors:
            raise ValidationFailed(errors) from None
        checked = SeatMap(seat_map.sections, ())
    return checked, json.loads(text)["sections"]


async def _venue_or_404(uow: UnitOfWork, organizer_id: str, venue_id: str) -> None:
    if await catalog_repo.venue(uow.session, organizer_id, venue_id) is None:
        raise NotFound(kind="venue")


async def _layout_or_404(uow: UnitOfWork, organizer_id: str, layout_id: str) -> SeatLayout:
    layout = await repo.layout(uow.session, organizer_id, layout_id)
    if layout is None:
        raise NotFound(kind="seat layout")
    return layout


async def save_layout(
    uow: UnitOfWork,
    actor: Actor,
    venue_id: str,
    name: str,
    seat_map: SeatMap,
    layout_id: str | None = None,
    *,
    expected_version: int | None = None,
) -> SeatLayout:
    """Creates a layout of ``venue_id`` (``layout_id`` None) or replaces that layout wholly: name, sections and
    seats. The map is checked whole first (``checked_map``); nothing is written when it is refused. A replace
    takes the layout's row first (its version grows by one), so two saves of one layout run one after the
    other; with ``expected_version`` a save made from an older copy is refused with ``conflict`` (409).
    Audited in the same transaction."""
    actor.require(Permission.CATALOG_WRITE)
    name = checked_name("name", name)
    await _venue_or_404(uow, actor.organizer_id, venue_id)
    checked, sections = checked_map(seat_map)
    now = uow.now()
    if layout_id is None:
        layout = SeatLayout(
            id=new_id(),
            organizer_id=actor.organizer_id,
            venue_id=venue_id,
            name=name,
            version=1,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(layout)
        before = None
    else:
        layout = await _layout_or_404(uow, actor.organizer_id, layout_id)
        if layout.venue_id != venue_id:
            raise NotFound(kind="seat layout")
        # The row is taken before anything else is read or written: concurrent saves of one layout queue here.
        where = [SeatLayout.id == layout.id, SeatLayout.organizer_id == actor.organizer_id]
        if expected_version is not None:
            where.append(SeatLayout.version == expected_version)
        res = await uow.session.execute(
            update(SeatLayout)
            .where(*where)
            .values(version=SeatLayout.version + 1)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:
            raise Conflict("This layout was changed by someone else; reload it and try again.")
        await uow.session.refresh(layout)
        before = layout_summary(layout)
        before["version"] = layout.version - 1
        await repo.delete_layout_seats(uow.session, layout.id)
        layout.name = name
        layout.updated_at = now
    layout.sections = sections
    layout.zones = checked.zones()
    layout.seat_count = len(checked.seats)
    await uow.session.flush()
    await repo.insert_rows(
        uow.session,
        LayoutSeat,
        [
            {
                "id": new_id(),
                "layout_id": layout.id,
                "ordinal": i,
                "section": s.section,
                "row": s.row,
                "number": s.number,
                "x": s.x,
                "y": s.y,
                "zone": s.zone,
                "attributes": sorted(s.attributes),
                "blocked_reason": s.blocked_reason,
            }
            for i, s in enumerate(checked.seats)
        ],
    )
    action = "seat_layout.created" if before is None else "seat_layout.replaced"
    record(uow, actor, action, "seat_layout", layout.id, before=before, after=layout_summary(layout))
    return layout


async def get_layout(uow: UnitOfWork, actor: Actor, layout_id: str) -> SeatLayout:
    """A layout of the actor's organizer (another organizer's is ``NotFound``)."""
    actor.require(Permission.CATALOG_READ)
    return await _layout_or_404(uow, actor.organizer_id, layout_id)


async def list_layouts(uow: UnitOfWork, actor: Actor, venue_id: str) -> list[SeatLayout]:
    """The layouts of a venue of the actor's organizer, by name (``NotFound`` for another organizer's venue)."""
    actor.require(Permission.CATALOG_READ)
    await _venue_or_404(uow, actor.organizer_id, venue_id)
    return await repo.layouts_of_venue(uow.session, actor.organizer_id, venue_id)


def sections_of(stored: list[dict[str, Any]]) -> tuple[Section, ...]:
    """Sections as stored (interchange's JSON shape) back as values."""
    return tuple(
        Section(
            id=s["id"],
            label=s.get("label") or s["id"],
            kind=s.get("kind", "rect"),
            best_x=float(s["best"][0]),
            best_y=float(s["best"][1]),
            seat_gap=float(s.get("seat_gap", 0)),
        )
        for s in stored or []
    )


async def load_map(uow: UnitOfWork, organizer_id: str, layout_id: str) -> SeatMap:
    """A layout as a ``SeatMap``: its sections and its seats in ordinal order."""
    layout = await _layout_or_404(uow, organizer_id, layout_id)
    seats = await repo.layout_seats(uow.session, layout.id)
    return SeatMap(
        sections_of(layout.sections),
        tuple(
            Seat(
                section=s.section,
                row=s.row,
                number=s.number,
                x=s.x,
                y=s.y,
                zone=s.zone,
                attributes=frozenset(s.attributes or ()),
                blocked_reason=s.blocked_reason or "",
            )
            for s in seats
        ),
    )
