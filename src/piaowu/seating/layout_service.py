"""Seat layout use cases: a venue's seating plans, saved whole, checked by the same rules as an imported file.

Every save — a new layout, a replaced one, a generated section, an edit on the map, an import — goes through
``save_layout``, which checks the whole map with ``interchange``'s rules (labels, duplicates, overlapping
coordinates, attributes, sections) and either stores all of it or raises ``ValidationFailed`` listing every
problem: a layout is never half written. Sessions copy a layout's seats when they are given it
(``session_seating.assign_layout``), so editing a layout never moves a seat that a session sells.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import update

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.catalog import repository as catalog_repo
from piaowu.core.actor import Actor
from piaowu.core.errors import Conflict, LayoutInUse, NotFound, ValidationFailed
from piaowu.core.ids import new_id
from piaowu.core.inputs import checked_name
from piaowu.db.uow import UnitOfWork
from piaowu.seating import generate, interchange
from piaowu.seating import repository as repo
from piaowu.seating.edits import apply_edits
from piaowu.seating.layout import Seat, SeatMap, Section, combine
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
        errors = [_naming_the_seat(e, seat_map) for e in exc.errors if e.get("code") != "no_seats"]
        if errors:
            raise ValidationFailed(errors) from None
        checked = SeatMap(seat_map.sections, ())
    return checked, json.loads(text)["sections"]


_SEAT_FIELD = re.compile(r"^seats\[(\d+)\]\.")


def _naming_the_seat(error: dict[str, Any], seat_map: SeatMap) -> dict[str, Any]:
    """An error at ``seats[12].x`` also names seat 12 by its labels (``seat``), as an editor shows it."""
    found = _SEAT_FIELD.match(error.get("field", ""))
    if found and "seat" not in error and int(found.group(1)) < len(seat_map.seats):
        return {**error, "seat": list(seat_map.seats[int(found.group(1))].key)}
    return error


async def _venue_or_404(uow: UnitOfWork, organizer_id: str, venue_id: str) -> None:
    if await catalog_repo.venue(uow.session, organizer_id, venue_id) is None:
        raise NotFound(kind="venue")


async def _layout_or_404(uow: UnitOfWork, organizer_id: str, layout_id: str) -> SeatLayout:
    layout = await repo.layout(uow.session, organizer_id, layout_id)
    if layout is None:
        raise NotFound(kind="seat layout")
    return layout


async def _take(uow: UnitOfWork, organizer_id: str, layout_id: str, expected_version: int | None) -> SeatLayout:
    """The layout, its row taken for this transaction and its version grown by one — before anything of it is
    read for a change — so that concurrent changes of one layout run one after the other and none is lost.
    With ``expected_version``, a change made from an older copy is refused with ``conflict`` (409)."""
    layout = await _layout_or_404(uow, organizer_id, layout_id)
    where = [SeatLayout.id == layout.id, SeatLayout.organizer_id == organizer_id]
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
    return layout


async def _store(
    uow: UnitOfWork,
    actor: Actor,
    layout: SeatLayout,
    name: str,
    seat_map: SeatMap,
    *,
    action: str,
    read_from_file: bool = False,
) -> SeatLayout:
    """Checks the map whole (``checked_map``: nothing is written when it is refused) and stores it as the
    layout's — a new one, or one taken by ``_take`` whose seats it replaces. Audited."""
    name = checked_name("name", name)
    if read_from_file:  # interchange's import just read it: the same checks, not run twice on 80,000 seats
        checked = seat_map
        sections = json.loads(interchange.export_json(SeatMap(seat_map.sections, ())))["sections"]
    else:
        checked, sections = checked_map(seat_map)
    created = layout.seat_count is None
    before = None
    if not created:
        before = {**layout_summary(layout), "version": layout.version - 1}
        await repo.delete_layout_seats(uow.session, layout.id)
    layout.name = name
    layout.updated_at = uow.now()
    layout.sections = sections
    layout.zones = checked.zones()
    layout.seat_count = len(checked.seats)
    if created:
        uow.session.add(layout)
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
    record(uow, actor, action, "seat_layout", layout.id, before=before, after=layout_summary(layout))
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
    seats. The map is checked whole (``checked_map``); nothing is written when it is refused. A replace takes
    the layout's row first (its version grows by one), so two saves of one layout run one after the other;
    with ``expected_version`` a save made from an older copy is refused with ``conflict`` (409). Audited in the
    same transaction."""
    actor.require(Permission.CATALOG_WRITE)
    await _venue_or_404(uow, actor.organizer_id, venue_id)
    if layout_id is None:
        now = uow.now()
        layout = SeatLayout(id=new_id(), organizer_id=actor.organizer_id, venue_id=venue_id, version=1, created_at=now)
        return await _store(uow, actor, layout, name, seat_map, action="seat_layout.created")
    layout = await _take(uow, actor.organizer_id, layout_id, expected_version)
    if layout.venue_id != venue_id:
        raise NotFound(kind="seat layout")
    return await _store(uow, actor, layout, name, seat_map, action="seat_layout.replaced")


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


FORMATS = ("json", "csv")


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        message = "Choose one of the options offered."
        raise ValidationFailed(
            [{"field": "format", "code": "invalid_choice", "message": message, "choices": list(FORMATS)}]
        )
    return fmt


def _prefixed(exc: ValidationFailed, at: str) -> ValidationFailed:
    if not at:
        return exc
    return ValidationFailed([{**e, "field": at + e["field"] if e.get("field") else at.rstrip(".")} for e in exc.errors])


def read_map(
    data: str | bytes,
    fmt: str,
    *,
    zones: Sequence[str] | None = None,
    sections: Sequence[Section] | None = None,
    at: str = "",
) -> SeatMap:
    """A map from a file: interchange's JSON or CSV (a CSV's seats on ``sections``, derived when None), every
    problem reported (``ValidationFailed``, fields prefixed with ``at``); ``zones`` limits the zones allowed."""
    try:
        if _format(fmt) == "json":
            return interchange.import_json(data, zones=zones)
        return interchange.import_csv(data, zones=zones, sections=sections)
    except ValidationFailed as exc:
        raise _prefixed(exc, at) from None


async def create_layout(
    uow: UnitOfWork,
    actor: Actor,
    venue_id: str,
    name: str,
    document: str | bytes | None = None,
    fmt: str = "json",
    *,
    zones: Sequence[str] | None = None,
    at: str = "",
) -> SeatLayout:
    """A new layout of the venue, empty or with the map of ``document`` (interchange JSON or CSV), checked whole."""
    actor.require(Permission.CATALOG_WRITE)
    await _venue_or_404(uow, actor.organizer_id, venue_id)
    seat_map = SeatMap((), ()) if document is None else read_map(document, fmt, zones=zones, at=at)
    now = uow.now()
    layout = SeatLayout(id=new_id(), organizer_id=actor.organizer_id, venue_id=venue_id, version=1, created_at=now)
    return await _store(
        uow, actor, layout, name, seat_map, action="seat_layout.created", read_from_file=document is not None
    )


async def import_layout(
    uow: UnitOfWork,
    actor: Actor,
    layout_id: str,
    data: str | bytes,
    fmt: str,
    *,
    zones: Sequence[str] | None = None,
    name: str | None = None,
    expected_version: int | None = None,
    at: str = "",
) -> SeatLayout:
    """Replaces a layout's map with a file's, all or nothing: every problem of the file is reported row by row
    (CSV ``line``, JSON place) and the layout stays as it was. Zones are checked against ``zones`` or, when not
    given, the layout's own zones once it has seats (a typo'd zone in a re-imported file is caught; name the
    zones to add one). A CSV's seats go on the layout's sections (an unknown section is reported), or on
    sections derived from the file for a layout without any."""
    actor.require(Permission.CATALOG_WRITE)
    layout = await _take(uow, actor.organizer_id, layout_id, expected_version)
    allowed = list(zones) if zones is not None else (list(layout.zones) if layout.seat_count else None)
    sections = sections_of(layout.sections) or None
    seat_map = read_map(data, fmt, zones=allowed, sections=sections, at=at)
    name = name if name is not None else layout.name
    return await _store(uow, actor, layout, name, seat_map, action="seat_layout.imported", read_from_file=True)


async def export_layout(uow: UnitOfWork, actor: Actor, layout_id: str, fmt: str) -> str:
    """The layout as interchange JSON or CSV (what ``import_layout`` reads back unchanged)."""
    actor.require(Permission.CATALOG_READ)
    seat_map = await load_map(uow, actor.organizer_id, layout_id)
    return interchange.export_json(seat_map) if _format(fmt) == "json" else interchange.export_csv(seat_map)


SECTION_KINDS = {"rect": generate.rect_section, "arc": generate.arc_section}


async def add_section(
    uow: UnitOfWork,
    actor: Actor,
    layout_id: str,
    kind: str,
    params: Mapping[str, Any],
    *,
    expected_version: int | None = None,
) -> SeatLayout:
    """Adds a section generated from parameters (``generate.rect_section`` or ``arc_section``: every bad
    parameter reported at once) to the layout; a section id already used, or seats on top of existing ones,
    are refused like any other save."""
    actor.require(Permission.CATALOG_WRITE)
    if kind not in SECTION_KINDS:
        message = "Choose one of the options offered."
        raise ValidationFailed(
            [{"field": "kind", "code": "invalid_choice", "message": message, "choices": ["rect", "arc"]}]
        )
    section = SECTION_KINDS[kind](**params)
    layout = await _take(uow, actor.organizer_id, layout_id, expected_version)
    merged = combine(await load_map(uow, actor.organizer_id, layout.id), section)
    return await _store(uow, actor, layout, layout.name, merged, action="seat_layout.section_added")


async def edit_seats(
    uow: UnitOfWork,
    actor: Actor,
    layout_id: str,
    ops: Sequence[Mapping[str, Any]],
    *,
    expected_version: int | None = None,
) -> SeatLayout:
    """Applies the map editor's operations (``seating.edits``: move, place, relabel, set zone or attributes,
    block, unblock, delete seats or a section) in order, then saves the result through the same checks as an
    import (duplicates, overlapping coordinates, labels). All or nothing."""
    actor.require(Permission.CATALOG_WRITE)
    layout = await _take(uow, actor.organizer_id, layout_id, expected_version)
    edited = apply_edits(await load_map(uow, actor.organizer_id, layout.id), ops)
    return await _store(uow, actor, layout, layout.name, edited, action="seat_layout.seats_edited")


async def delete_layout(uow: UnitOfWork, actor: Actor, layout_id: str) -> None:
    """Deletes a layout that no session uses (sessions keep their own seats, but remember where they came from):
    otherwise ``layout_in_use`` (409) naming those sessions. Audited."""
    actor.require(Permission.CATALOG_WRITE)
    layout = await _layout_or_404(uow, actor.organizer_id, layout_id)
    using = await repo.sessions_using(uow.session, actor.organizer_id, layout.id)
    if using:
        raise LayoutInUse(session_ids=sorted(using))
    before = layout_summary(layout)
    await repo.delete_layout(uow.session, actor.organizer_id, layout.id)
    uow.session.expunge(layout)
    record(uow, actor, "seat_layout.deleted", "seat_layout", layout_id, before=before)
