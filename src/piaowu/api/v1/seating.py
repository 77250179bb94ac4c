"""Seat maps of the caller's organizer (staff): layouts per venue — built from generated sections, edited seat by
seat, imported and exported as JSON or CSV — and the seats a session sells: its layout, zone prices per ticket
type, seats kept back, and a summary per zone. Buyers see seats through the shop's own routes."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from piaowu.api.deps import ActorDep, RuntimeDep
from piaowu.core.channels import on_sale_through
from piaowu.seating import channels, layout_service, session_seating
from piaowu.seating.interchange import export_json
from piaowu.seating.models import SeatLayout, SessionSeat
from piaowu.seating.schemas import (
    ChannelCountOut,
    LayoutIn,
    LayoutList,
    LayoutOut,
    LayoutReplaceIn,
    SeatChannelOut,
    SeatChannelsIn,
    SeatChannelsOut,
    SeatEditsIn,
    SeatIdsIn,
    SeatingOut,
    SeatsOut,
    SectionAddIn,
    SessionSeatingIn,
    SessionSeatOut,
    ZonePriceBrief,
    ZonePriceOut,
    ZonePricesIn,
    ZonePricesOut,
    ZoneSummaryOut,
)

router = APIRouter()
E404 = {404: {"description": "`not_found`: no such id for this organizer (other organizers' ids look the same)"}}
E409 = {409: {"description": "`conflict`: `version` is not the layout's current one (someone saved since)"}}
E422 = {
    422: {
        "description": "`validation_error`: every problem in `errors` (`field`, `code`, and `line` for CSV rows); "
        "nothing was saved"
    }
}
FORMATS = Literal["json", "csv"]
MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8"}


def _layout_out(layout: SeatLayout, seat_map: dict[str, Any] | None = None) -> LayoutOut:
    return LayoutOut(
        id=layout.id,
        venue_id=layout.venue_id,
        name=layout.name,
        version=layout.version,
        seat_count=layout.seat_count,
        zones=list(layout.zones or []),
        sections=list(layout.sections or []),
        created_at=layout.created_at,
        updated_at=layout.updated_at,
        map=seat_map,
    )


def _seats_out(seats: list[SessionSeat]) -> SeatsOut:
    return SeatsOut(
        seats=[
            SessionSeatOut(
                id=s.unit_id,
                ordinal=s.ordinal,
                section=s.section,
                row=s.row,
                number=s.number,
                zone=s.zone,
                attributes=list(s.attributes or []),
                blocked_reason=s.blocked_reason,
            )
            for s in seats
        ]
    )


def _zones(value: str | None) -> list[str] | None:
    return None if value is None else [z.strip() for z in value.split(",") if z.strip()]


@router.get("/venues/{venue_id}/seat-layouts", response_model=LayoutList, summary="A venue's seat layouts")
async def list_layouts(rt: RuntimeDep, actor: ActorDep, venue_id: str) -> LayoutList:
    async with rt.uow(readonly=True) as uow:
        return LayoutList(items=[_layout_out(x) for x in await layout_service.list_layouts(uow, actor, venue_id)])


@router.post(
    "/venues/{venue_id}/seat-layouts",
    response_model=LayoutOut,
    status_code=201,
    summary="Create a seat layout (empty, or with a map as interchange JSON)",
    responses={**E404, **E422},
)
async def create_layout(rt: RuntimeDep, actor: ActorDep, venue_id: str, data: LayoutIn) -> LayoutOut:
    document = None if data.map is None else json.dumps(data.map, ensure_ascii=False)
    async with rt.uow() as uow:
        layout = await layout_service.create_layout(
            uow, actor, venue_id, data.name, document, zones=data.zones, at="map."
        )
        await uow.commit()
    return _layout_out(layout)


@router.get("/seat-layouts/{layout_id}", response_model=LayoutOut, summary="A seat layout with its map", responses=E404)
async def get_layout(rt: RuntimeDep, actor: ActorDep, layout_id: str) -> LayoutOut:
    async with rt.uow(readonly=True) as uow:
        layout = await layout_service.get_layout(uow, actor, layout_id)
        seat_map = await layout_service.load_map(uow, actor.organizer_id, layout.id)
    return _layout_out(layout, json.loads(export_json(seat_map)))


@router.put(
    "/seat-layouts/{layout_id}",
    response_model=LayoutOut,
    summary="Replace a seat layout's map (interchange JSON) and name",
    responses={**E404, **E409, **E422},
)
async def replace_layout(rt: RuntimeDep, actor: ActorDep, layout_id: str, data: LayoutReplaceIn) -> LayoutOut:
    async with rt.uow() as uow:
        layout = await layout_service.import_layout(
            uow,
            actor,
            layout_id,
            json.dumps(data.map, ensure_ascii=False),
            "json",
            zones=data.zones,
            name=data.name,
            expected_version=data.version,
            at="map.",
        )
        await uow.commit()
    return _layout_out(layout)


@router.delete(
    "/seat-layouts/{layout_id}",
    status_code=204,
    summary="Delete a seat layout no session uses",
    responses={**E404, 409: {"description": "`layout_in_use`: sessions use it (`session_ids`)"}},
)
async def delete_layout(rt: RuntimeDep, actor: ActorDep, layout_id: str) -> Response:
    async with rt.uow() as uow:
        await layout_service.delete_layout(uow, actor, layout_id)
        await uow.commit()
    return Response(status_code=204)


@router.post(
    "/seat-layouts/{layout_id}/sections",
    response_model=LayoutOut,
    summary="Add a generated section (rectangle or arc) to a seat layout",
    responses={**E404, **E409, **E422},
)
async def add_section(rt: RuntimeDep, actor: ActorDep, layout_id: str, data: SectionAddIn) -> LayoutOut:
    params = data.section.model_dump(exclude={"kind"})
    for point in ("origin", "centre", "best"):
        if params.get(point) is not None:
            params[point] = tuple(params[point])
    async with rt.uow() as uow:
        layout = await layout_service.add_section(
            uow, actor, layout_id, data.section.kind, params, expected_version=data.version
        )
        await uow.commit()
    return _layout_out(layout)


@router.patch(
    "/seat-layouts/{layout_id}/seats",
    response_model=LayoutOut,
    summary="Edit seats of a seat layout (move, relabel, zone, attributes, block, delete)",
    responses={**E404, **E409, **E422},
)
async def edit_seats(rt: RuntimeDep, actor: ActorDep, layout_id: str, data: SeatEditsIn) -> LayoutOut:
    if data.ops is None:  # nothing to change (a PATCH leaves out what stays)
        async with rt.uow(readonly=True) as uow:
            return _layout_out(await layout_service.get_layout(uow, actor, layout_id))
    ops = [op.model_dump() for op in data.ops]
    async with rt.uow() as uow:
        layout = await layout_service.edit_seats(uow, actor, layout_id, ops, expected_version=data.version)
        await uow.commit()
    return _layout_out(layout)


@router.get(
    "/seat-layouts/{layout_id}/export",
    summary="Export a seat layout as interchange JSON or CSV",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}, "text/csv": {}}, "description": "The map file"},
        **E404,
    },
)
async def export_layout(
    rt: RuntimeDep, actor: ActorDep, layout_id: str, fmt: Annotated[FORMATS, Query(alias="format")] = "json"
) -> Response:
    async with rt.uow(readonly=True) as uow:
        body = await layout_service.export_layout(uow, actor, layout_id, fmt)
    headers = {"Content-Disposition": f'attachment; filename="seat-layout-{layout_id}.{fmt}"'}
    return Response(body, media_type=MEDIA[fmt], headers=headers)


@router.post(
    "/seat-layouts/{layout_id}/import",
    response_model=LayoutOut,
    summary="Replace a seat layout's map with a JSON or CSV file (the raw request body)",
    responses={**E404, **E409, **E422},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def import_layout(
    request: Request,
    rt: RuntimeDep,
    actor: ActorDep,
    layout_id: str,
    fmt: Annotated[FORMATS, Query(alias="format")] = "csv",
    zones: Annotated[str | None, Query(max_length=2_000)] = None,
    version: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> LayoutOut:
    data = await request.body()
    async with rt.uow() as uow:
        layout = await layout_service.import_layout(
            uow, actor, layout_id, data, fmt, zones=_zones(zones), expected_version=version
        )
        await uow.commit()
    return _layout_out(layout)


async def _seating_out(rt: Any, actor: Any, session_id: str) -> SeatingOut:
    async with rt.uow(readonly=True) as uow:
        summary = await session_seating.seating_summary(uow, actor, session_id)
    return SeatingOut(
        session_id=summary.session_id,
        layout_id=summary.layout_id,
        layout_version=summary.layout_version,
        seat_count=summary.seat_count,
        zones=[
            ZoneSummaryOut(
                zone=z.zone,
                total=z.total,
                free=z.free,
                held=z.held,
                sold=z.sold,
                blocked=z.blocked,
                prices=[ZonePriceBrief(ticket_type_id=t, price_minor=p) for t, p in z.prices],
            )
            for z in summary.zones
        ],
        totals=summary.totals(),
        channels=[ChannelCountOut(channel=c.channel, published=c.published, free=c.free) for c in summary.channels],
    )


@router.put(
    "/sessions/{session_id}/seating",
    response_model=SeatingOut,
    summary="Sell a session's seats from a seat layout of its venue",
    responses={
        **E404,
        409: {"description": "`seating_locked`: some of the session's places are already held or sold"},
        **E422,
    },
)
async def assign_layout(rt: RuntimeDep, actor: ActorDep, session_id: str, data: SessionSeatingIn) -> SeatingOut:
    async with rt.uow() as uow:
        await session_seating.assign_layout(uow, actor, session_id, data.layout_id)
        await uow.commit()
    return await _seating_out(rt, actor, session_id)


@router.get(
    "/sessions/{session_id}/seating",
    response_model=SeatingOut,
    summary="A seated session's seats per zone: total, free, held, sold, kept back",
    responses={**E404, 422: {"description": "`validation_error` (`no_seating`): the session sells no seats"}},
)
async def seating_summary(rt: RuntimeDep, actor: ActorDep, session_id: str) -> SeatingOut:
    return await _seating_out(rt, actor, session_id)


async def _prices_out(rt: Any, actor: Any, session_id: str) -> ZonePricesOut:
    async with rt.uow(readonly=True) as uow:
        rows = await session_seating.priced_zones(uow, actor, session_id)
    return ZonePricesOut(
        session_id=session_id,
        prices=[
            ZonePriceOut(
                zone=p.zone,
                ticket_type_id=p.ticket_type_id,
                ticket_type_name=p.ticket_type_name,
                price_minor=p.price_minor,
                currency=p.currency,
            )
            for p in rows
        ],
    )


@router.get("/sessions/{session_id}/zone-prices", response_model=ZonePricesOut, summary="A session's zone prices")
async def get_zone_prices(rt: RuntimeDep, actor: ActorDep, session_id: str) -> ZonePricesOut:
    return await _prices_out(rt, actor, session_id)


@router.put(
    "/sessions/{session_id}/zone-prices",
    response_model=ZonePricesOut,
    summary="Replace a session's prices per zone and ticket type",
    responses={**E404, **E422},
)
async def set_zone_prices(rt: RuntimeDep, actor: ActorDep, session_id: str, data: ZonePricesIn) -> ZonePricesOut:
    async with rt.uow() as uow:
        await session_seating.set_zone_prices(
            uow, actor, session_id, [(p.zone, p.ticket_type_id, p.price_minor) for p in data.prices]
        )
        await uow.commit()
    return await _prices_out(rt, actor, session_id)


@router.post(
    "/sessions/{session_id}/seats/block",
    response_model=SeatsOut,
    summary="Keep seats of a session back from sale (house, press, technical)",
    responses={**E404, 409: {"description": "`legs_occupied`: some seats are held or sold (`unit_ids`)"}, **E422},
)
async def block_seats(rt: RuntimeDep, actor: ActorDep, session_id: str, data: SeatIdsIn) -> SeatsOut:
    async with rt.uow() as uow:
        out = _seats_out(await session_seating.block_seats(uow, actor, session_id, data.seat_ids, data.reason))
        await uow.commit()
    return out


@router.post(
    "/sessions/{session_id}/seats/release",
    response_model=SeatsOut,
    summary="Give seats kept back to sale again",
    responses={**E404, **E422},
)
async def release_seats(rt: RuntimeDep, actor: ActorDep, session_id: str, data: SeatIdsIn) -> SeatsOut:
    async with rt.uow() as uow:
        out = _seats_out(await session_seating.release_seats(uow, actor, session_id, data.seat_ids, data.reason))
        await uow.commit()
    return out


def _channels_out(seats: list[tuple[SessionSeat, int]]) -> SeatChannelsOut:
    return SeatChannelsOut(
        seats=[
            SeatChannelOut(
                id=s.unit_id, section=s.section, row=s.row, number=s.number, channels=list(on_sale_through(w))
            )
            for s, w in seats
        ]
    )


@router.post(
    "/sessions/{session_id}/seats/publish",
    response_model=SeatChannelsOut,
    summary="Put seats of a session on sale through a sales channel (web, box_office, api)",
    responses={**E404, **E422},
)
async def publish_seats(rt: RuntimeDep, actor: ActorDep, session_id: str, data: SeatChannelsIn) -> SeatChannelsOut:
    async with rt.uow() as uow:
        seats = await channels.set_published(uow, actor, session_id, data.seat_ids, data.channel, publish=True)
        await uow.commit()
    return _channels_out(seats)


@router.post(
    "/sessions/{session_id}/seats/withhold",
    response_model=SeatChannelsOut,
    summary="Take seats of a session off sale through a sales channel (sold tickets are not affected)",
    responses={
        **E404,
        409: {"description": "`seat_held_through_channel`: some seats are held by an unpaid order of the channel"},
        **E422,
    },
)
async def withhold_seats(rt: RuntimeDep, actor: ActorDep, session_id: str, data: SeatChannelsIn) -> SeatChannelsOut:
    async with rt.uow() as uow:
        seats = await channels.set_published(uow, actor, session_id, data.seat_ids, data.channel, publish=False)
        await uow.commit()
    return _channels_out(seats)
