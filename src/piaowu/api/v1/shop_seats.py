"""The public shop API of seated sessions: the seat map (its sections, then each section's seats), live seat
availability (full or as a delta since a version) and a best-available preview. Buying is the shop's
``POST /orders`` with ``{"product": "seat", …}``."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from piaowu.api.deps import RuntimeDep, shop_organizer
from piaowu.api.lean import LeanCall, LeanRoute
from piaowu.core.reading_locale import current
from piaowu.fields import InputModel
from piaowu.headers import VARY_LANGUAGE
from piaowu.seating import shop_views
from piaowu.seating.availability import version_of

router = APIRouter(prefix="/shop/{slug}/sessions/{session_id}")


class BestAvailableIn(InputModel):
    quantity: int = Field(ge=1, le=100)
    ticket_type_id: str | None = Field(default=None, min_length=1, max_length=40)
    zone: str | None = Field(default=None, min_length=1, max_length=40)
    wheelchair: int = Field(default=0, ge=0, le=100, description="how many of the seats are wheelchair spaces")
    split: bool = Field(default=False, description="the group may sit in several blocks")
    restricted: bool = Field(
        default=False,
        description="seats with a restricted or partial view (柱子票) may be given, and only when no seats with a "
        "clear view fit; without it such seats are never given (`restricted_view_only` when only they would do)",
    )


# A section's seats never change under their URL (its key is a hash of the answer): browsers and proxies keep it.
IMMUTABLE = "public, max-age=31536000, immutable"
SECTION_PATH = "/api/v1/shop/{slug}/sessions/{session_id}/seat-map/sections/{key}"


def _matches(request: Request, etag: str) -> bool:
    return etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]


@router.get(
    "/seat-map",
    summary="A seated session's map: sections (each with the URL of its seats), zones with prices (ETag)",
    responses={
        304: {"description": "unchanged since the ETag sent in If-None-Match"},
        404: {"description": "`not_found`"},
    },
)
async def seat_map(slug: str, session_id: str, request: Request, rt: RuntimeDep) -> Response:
    # The map changes only when the operator edits prices or the layout: shared per process for
    # shop_cache_seconds like the availability, and revalidated by ETag. Names are in the reading language, so
    # it is part of the key. A layout change gives its sections other keys, so other URLs and another ETag.
    async def read() -> bytes:
        org = await shop_organizer(rt, slug)
        async with rt.uow(readonly=True) as uow:
            answer = await shop_views.seat_map(uow, org.id, session_id)
        for section in answer["sections"]:
            section["seats_url"] = SECTION_PATH.format(slug=slug, session_id=session_id, key=section["key"])
        return orjson.dumps(answer)

    body = await rt.shop_cache.get(("seat-map", slug, session_id, current()), read)
    etag = f'"{version_of(body)}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache", **VARY_LANGUAGE}
    if _matches(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.get(
    "/seat-map/sections/{key}",
    summary="One section's seats as columns, by the key the map gives it (immutable)",
    responses={
        304: {"description": "the ETag sent in If-None-Match (the key: the answer never changes)"},
        404: {"description": "`not_found`: no such session, or no section of its current seats has this key"},
    },
)
async def seat_map_section(
    slug: str, session_id: str, key: Annotated[str, Path(max_length=40)], request: Request, rt: RuntimeDep
) -> Response:
    headers = {"ETag": f'"{key}"', "Cache-Control": IMMUTABLE}

    async def read() -> bytes:
        org = await shop_organizer(rt, slug)
        async with rt.uow(readonly=True) as uow:
            return await shop_views.seat_section(uow, org.id, session_id, key)

    # Checked before a 304 too: a key is answered only while it is one of the session's shown sections.
    body = await rt.shop_cache.get(("seat-map-section", slug, session_id, key), read)
    if _matches(request, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.get(
    "/seat-availability",
    summary="Every seat's state now (2 bits a seat), or the changes since a version (at most shop_cache_seconds old)",
    responses={404: {"description": "`not_found`"}},
)
async def seat_availability(
    slug: str,
    session_id: str,
    rt: RuntimeDep,
    since: Annotated[str | None, Query(max_length=40, description="the `version` of the states the page has")] = None,
) -> Response:
    # Each page asks since its own version, so most asks miss the answer cache: a miss reads whether the shop
    # shows the session and the seating's stamp (each statement on its own: no snapshot is shared), and the
    # states only when this process's view is older than the answer cache.
    async def read() -> bytes:
        org = await shop_organizer(rt, slug)
        async with rt.uow(readonly=True, autocommit=True) as uow:
            return orjson.dumps(await shop_views.seat_availability(uow, org.id, session_id, since))

    body = await rt.shop_cache.get(("seat-availability", slug, session_id, since or ""), read)
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-cache"})


class SinceQuery(BaseModel):
    """``seat_availability``'s query parameter with the same type and bound, for the lean lane (anything this
    refuses goes to the full stack, which answers its 422)."""

    since: str | None = Field(default=None, max_length=40)


async def _seat_availability_lean(call: LeanCall) -> Response:
    q: SinceQuery = call.query
    return await seat_availability(call.path_params["slug"], call.path_params["session_id"], call.rt, q.since)


# A seat picker asks this every few seconds while its page is open, on the lean lane (api/lean.py) with orders.
LEAN_ROUTES = [
    LeanRoute(
        "GET",
        "/api/v1/shop/{slug}/sessions/{session_id}/seat-availability",
        seat_availability,
        None,
        _seat_availability_lean,
        query=SinceQuery,
    ),
]


@router.post(
    "/best-available",
    summary="Preview the best available seats (holds nothing)",
    responses={
        409: {"description": "`no_adjacent_block`, `not_enough_seats`, `no_wheelchair_space`, `restricted_view_only`"},
        422: {"description": "`validation_error` (`zone_not_priced`, `unknown_ticket_type`)"},
    },
)
async def best_available(slug: str, session_id: str, rt: RuntimeDep, data: BestAvailableIn) -> Response:
    org = await shop_organizer(rt, slug)
    async with rt.uow(readonly=True) as uow:
        out = await shop_views.preview_best_available(
            uow,
            org.id,
            session_id,
            quantity=data.quantity,
            ticket_type_id=data.ticket_type_id,
            zone=data.zone,
            wheelchair=data.wheelchair,
            split=data.split,
            restricted=data.restricted,
        )
    return Response(orjson.dumps(out), media_type="application/json")
