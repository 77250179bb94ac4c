"""Back-office venue pages: the list, and one form to add or edit a venue (names and addresses by language, time
zone, entrances one per line)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from piaowu.catalog import venue_service
from piaowu.catalog.venue_schemas import VenueIn, VenueOut, VenuePatch
from piaowu.web.deps import RuntimeDep, StaffDep
from piaowu.web.manage.common import FormErrors, organizer, page, read_form, redirect, submit, translator
from piaowu.web.manage.filters import QueryCheck
from piaowu.web.manage.texts_form import error_keys, form_values, languages, texts_from_form
from piaowu.web.templating import flash

router = APIRouter()
RENAME = error_keys("name", "address")


def _payload(form: dict[str, str]) -> dict[str, Any]:
    return {
        **texts_from_form(form, "name"),
        **texts_from_form(form, "address"),
        "timezone": form.get("timezone", ""),
        # one entrance per line; blank lines are no entrance
        "entrances": [line.strip() for line in form.get("entrances", "").splitlines() if line.strip()],
    }


def _values(v: VenueOut, default: str) -> dict[str, Any]:
    return {
        **form_values("name", v.name, v.name_i18n, default),
        **form_values("address", v.address, v.address_i18n, default),
        "timezone": v.timezone,
        "entrances": "\n".join(v.entrances),
    }


async def _form(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    venue: VenueOut | None,
    values: dict[str, Any],
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    ctx = {"venue": venue, "values": values, "errors": errors or {}, "languages": languages()}
    return await page(request, rt, actor, "manage/venue_form.html", ctx, active="venues", status_code=status_code)


@router.get("/venues")
async def venues(request: Request, rt: RuntimeDep, actor: StaffDep, cursor: str = "") -> Response:
    check = QueryCheck(request)
    async with rt.uow(readonly=True) as uow:
        result = await check.listing(
            lambda: venue_service.list_venues(uow, actor, cursor=cursor.strip() or None, limit=50)
        )
    ctx = {"page": result, "errors": check.errors}
    code = 422 if check.errors else 200
    return await page(request, rt, actor, "manage/venues.html", ctx, active="venues", status_code=code)


@router.get("/venues/new")
async def venue_new(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    return await _form(request, rt, actor, None, {"timezone": (await organizer(rt, actor)).timezone})


@router.post("/venues/new")
async def venue_create(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    form = await read_form(request)
    created, errors = await submit(
        request,
        rt,
        VenueIn,
        _payload(form),
        lambda uow, cmd: venue_service.create_venue(uow, actor, cmd),
        rename=RENAME,
    )
    if created is None:
        return await _form(request, rt, actor, None, form, errors, status_code=422)
    flash(request, translator(request)("Venue “{name}” added.", name=created.name), "success")
    return redirect("/manage/venues")


@router.get("/venues/{venue_id}/edit")
async def venue_edit(request: Request, rt: RuntimeDep, actor: StaffDep, venue_id: str) -> Response:
    async with rt.uow(readonly=True) as uow:
        v = await venue_service.get_venue(uow, actor, venue_id)
    return await _form(request, rt, actor, v, _values(v, (await organizer(rt, actor)).default_locale))


@router.post("/venues/{venue_id}/edit")
async def venue_update(request: Request, rt: RuntimeDep, actor: StaffDep, venue_id: str) -> Response:
    form = await read_form(request)
    updated, errors = await submit(
        request,
        rt,
        VenuePatch,
        _payload(form),
        lambda uow, cmd: venue_service.update_venue(uow, actor, venue_id, cmd),
        rename=RENAME,
    )
    if updated is None:
        async with rt.uow(readonly=True) as uow:
            v = await venue_service.get_venue(uow, actor, venue_id)
        return await _form(request, rt, actor, v, form, errors, status_code=422)
    flash(request, translator(request)("Changes saved."), "success")
    return redirect("/manage/venues")
