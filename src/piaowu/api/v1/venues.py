"""Venues of the caller's organizer: where events take place (address, time zone, entrances)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from piaowu.api.deps import ActorDep, RuntimeDep
from piaowu.catalog import venue_service
from piaowu.catalog.venue_schemas import VenueIn, VenueOut, VenuePage, VenuePatch

router = APIRouter()
E404 = {404: {"description": "`not_found`: no such id for this organizer (other organizers' ids look the same)"}}
E422 = {422: {"description": "`validation_error`: per-field `errors` (unknown language, time zone, too long)"}}


@router.get("/venues", response_model=VenuePage, summary="List venues, newest first")
async def list_venues(
    rt: RuntimeDep, actor: ActorDep, cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> VenuePage:
    async with rt.uow(readonly=True) as uow:
        return await venue_service.list_venues(uow, actor, cursor=cursor, limit=limit)


@router.post("/venues", response_model=VenueOut, status_code=201, summary="Create a venue", responses=E422)
async def create_venue(rt: RuntimeDep, actor: ActorDep, data: VenueIn) -> VenueOut:
    async with rt.uow() as uow:
        out = await venue_service.create_venue(uow, actor, data)
        await uow.commit()
    return out


@router.get("/venues/{venue_id}", response_model=VenueOut, summary="A venue", responses=E404)
async def get_venue(rt: RuntimeDep, actor: ActorDep, venue_id: str) -> VenueOut:
    async with rt.uow(readonly=True) as uow:
        return await venue_service.get_venue(uow, actor, venue_id)


@router.patch("/venues/{venue_id}", response_model=VenueOut, summary="Edit a venue", responses={**E404, **E422})
async def update_venue(rt: RuntimeDep, actor: ActorDep, venue_id: str, data: VenuePatch) -> VenueOut:
    async with rt.uow() as uow:
        out = await venue_service.update_venue(uow, actor, venue_id, data)
        await uow.commit()
    return out
