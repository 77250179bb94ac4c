"""Back-office pages of sessions in series: an event's own ticket types (defined once for all its generated
sessions) and the "generate sessions" form — a preview first (a dry run, nothing written), then a confirmation
that posts exactly the previewed rule."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from piaowu.catalog import event_service, event_ticket_type_service, series_service
from piaowu.catalog.rules import SessionStatus
from piaowu.catalog.series_rules import WEEKDAY_NAMES, parse_dates, parse_times
from piaowu.catalog.series_schemas import EventTicketTypeIn, EventTicketTypeOut, EventTicketTypePatch, SeriesIn
from piaowu.core.errors import NotFound
from piaowu.web.deps import RuntimeDep, StaffDep
from piaowu.web.manage.catalog import TT_RENAME, _blank_none, _tt_payload, _tt_values
from piaowu.web.manage.common import FormErrors, organizer, page, read_form, redirect, submit, translator
from piaowu.web.manage.texts_form import languages
from piaowu.web.templating import flash

router = APIRouter()

# The form's own fields (strings as typed); the confirmation form carries them again, hidden.
SERIES_FIELDS = (
    "first_date",
    "last_date",
    "start_times",
    "duration_minutes",
    "excluded_dates",
    "name",
    "capacity",
    "status",
    "sales_opens_days_before",
    "sales_closes_minutes_before",
    *(f"wd{i}" for i in range(7)),
)
SERIES_RENAME = {"weekdays": "wd0"}  # the rule's errors on "weekdays" shown at the first box


def _series_values(form: dict[str, str]) -> dict[str, str]:
    return {k: form.get(k, "").strip() for k in SERIES_FIELDS if form.get(k, "").strip()}


def _series_payload(request: Request, values: dict[str, str], tz: str) -> tuple[dict[str, Any], FormErrors]:
    """Form strings → ``SeriesIn`` fields; times and dates the rule cannot read are field errors."""
    _ = translator(request)
    errors: FormErrors = {}
    data: dict[str, Any] = {
        "first_date": values.get("first_date", ""),
        "last_date": values.get("last_date", ""),
        "weekdays": [i for i in range(7) if values.get(f"wd{i}")],
        "duration_minutes": values.get("duration_minutes", ""),
        "name": values.get("name", ""),
        "capacity": values.get("capacity", ""),
        "status": values.get("status", SessionStatus.DRAFT),
        "timezone": tz,
        "sales_opens_days_before": _blank_none(values.get("sales_opens_days_before")),
        "sales_closes_minutes_before": _blank_none(values.get("sales_closes_minutes_before")),
    }
    try:
        data["start_times"] = list(parse_times(values.get("start_times", "")))
    except ValueError:
        errors["start_times"] = _("Enter times like 09:00 or 19:30, separated by commas.")
    else:
        if not data["start_times"]:
            errors["start_times"] = _("Give at least one start time.")
    try:
        data["excluded_dates"] = sorted(parse_dates(values.get("excluded_dates", "")))
    except ValueError:
        errors["excluded_dates"] = _("Enter dates like 2026-10-01, separated by spaces or commas.")
    if not data["weekdays"]:
        errors["wd0"] = _("Choose at least one weekday.")
    return data, errors


async def _series_page(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    event_id: str,
    *,
    values: dict[str, str],
    errors: FormErrors | None = None,
    preview: Any = None,
    status_code: int = 200,
) -> Response:
    async with rt.uow(readonly=True) as uow:
        ev = await event_service.get_event(uow, actor, event_id)
        definitions = await event_ticket_type_service.list_definitions(uow, actor, event_id)
    ctx = {
        "event": ev,
        "definitions": [d for d in definitions if d.is_active],
        "values": values,
        "errors": errors or {},
        "preview": preview,
        # Weekdays named in the page's language (strftime's %a would be English whatever the page).
        "preview_rows": [
            (x, WEEKDAY_NAMES[x.starts_at.astimezone(ZoneInfo(preview.timezone)).weekday()]) for x in preview.sessions
        ]
        if preview
        else [],
        "weekday_names": WEEKDAY_NAMES,
    }
    return await page(request, rt, actor, "manage/series_form.html", ctx, active="events", status_code=status_code)


@router.get("/events/{event_id}/series")
async def series_new(request: Request, rt: RuntimeDep, actor: StaffDep, event_id: str) -> Response:
    values = {f"wd{i}": "1" for i in range(7)} | {"status": SessionStatus.DRAFT, "duration_minutes": "120"}
    return await _series_page(request, rt, actor, event_id, values=values)


@router.post("/events/{event_id}/series")
async def series_post(request: Request, rt: RuntimeDep, actor: StaffDep, event_id: str) -> Response:
    """Without ``confirm``: the preview (a dry run). With it: the sessions are made, then the event's page."""
    form = await read_form(request)
    values = _series_values(form)
    confirm = bool(form.get("confirm"))
    tz = (await organizer(rt, actor)).timezone
    data, errors = _series_payload(request, values, tz)
    data["dry_run"] = not confirm
    out, errors = await submit(
        request,
        rt,
        SeriesIn,
        data,
        lambda uow, cmd: series_service.generate_series(uow, actor, event_id, cmd),
        errors=errors,
        rename=SERIES_RENAME,
    )
    if out is None:
        return await _series_page(request, rt, actor, event_id, values=values, errors=errors, status_code=422)
    if not confirm:
        return await _series_page(request, rt, actor, event_id, values=values, preview=out)
    _ = translator(request)
    flash(
        request,
        _.ngettext(
            "{created} session created ({existing} already existed).",
            "{created} sessions created ({existing} already existed).",
            out.created,
            created=out.created,
            existing=out.existing,
        ),
        "success",
    )
    return redirect(f"/manage/events/{event_id}")


# ---- event ticket types -------------------------------------------------------------------------------------


async def _def_form(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    event_id: str,
    *,
    definition: EventTicketTypeOut | None,
    values: dict[str, Any],
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    async with rt.uow(readonly=True) as uow:
        ev = await event_service.get_event(uow, actor, event_id)
    ctx = {
        "event": ev,
        "ticket_type": definition,
        "values": values,
        "errors": errors or {},
        "languages": languages(),
    }
    return await page(
        request, rt, actor, "manage/event_ticket_type_form.html", ctx, active="events", status_code=status_code
    )


@router.get("/events/{event_id}/ticket-types/new")
async def def_new(request: Request, rt: RuntimeDep, actor: StaffDep, event_id: str) -> Response:
    values = {"min_per_order": 1, "max_per_order": 10, "is_active": True}
    return await _def_form(request, rt, actor, event_id, definition=None, values=values)


@router.post("/events/{event_id}/ticket-types/new")
async def def_create(request: Request, rt: RuntimeDep, actor: StaffDep, event_id: str) -> Response:
    form = await read_form(request)
    data, errors = _tt_payload(request, form, (await organizer(rt, actor)).currency)
    data["add_to_sessions"] = bool(form.get("add_to_sessions"))
    created, errors = await submit(
        request,
        rt,
        EventTicketTypeIn,
        data,
        lambda uow, cmd: event_ticket_type_service.create_definition(uow, actor, event_id, cmd),
        errors=errors,
        rename=TT_RENAME,
    )
    if created is None:
        return await _def_form(
            request, rt, actor, event_id, definition=None, values=form, errors=errors, status_code=422
        )
    _ = translator(request)
    if created.applied_to:
        flash(
            request,
            _.ngettext(
                "Ticket type “{name}” added to {n} session.",
                "Ticket type “{name}” added to {n} sessions.",
                created.applied_to,
                name=created.name,
                n=created.applied_to,
            ),
            "success",
        )
    else:
        flash(request, _("Ticket type “{name}” added.", name=created.name), "success")
    return redirect(f"/manage/events/{event_id}")


async def _definition_of_event(rt: RuntimeDep, actor: StaffDep, event_id: str, def_id: str) -> EventTicketTypeOut:
    async with rt.uow(readonly=True) as uow:
        d = await event_ticket_type_service.get_definition(uow, actor, def_id)
    if d.event_id != event_id:
        raise NotFound(kind="ticket type")
    return d


@router.get("/events/{event_id}/ticket-types/{event_ticket_type_id}/edit")
async def def_edit(
    request: Request, rt: RuntimeDep, actor: StaffDep, event_id: str, event_ticket_type_id: str
) -> Response:
    d = await _definition_of_event(rt, actor, event_id, event_ticket_type_id)
    values = _tt_values(d, (await organizer(rt, actor)).default_locale)  # type: ignore[arg-type]
    return await _def_form(request, rt, actor, event_id, definition=d, values=values)


@router.post("/events/{event_id}/ticket-types/{event_ticket_type_id}/edit")
async def def_update(
    request: Request, rt: RuntimeDep, actor: StaffDep, event_id: str, event_ticket_type_id: str
) -> Response:
    form = await read_form(request)
    d = await _definition_of_event(rt, actor, event_id, event_ticket_type_id)
    data, errors = _tt_payload(request, form, d.currency)
    updated, errors = await submit(
        request,
        rt,
        EventTicketTypePatch,
        data,
        lambda uow, cmd: event_ticket_type_service.update_definition(uow, actor, d.id, cmd),
        errors=errors,
        rename=TT_RENAME,
    )
    if updated is None:
        return await _def_form(request, rt, actor, event_id, definition=d, values=form, errors=errors, status_code=422)
    _ = translator(request)
    flash(
        request,
        _.ngettext(
            "Changes saved and applied to {n} session ticket type.",
            "Changes saved and applied to {n} session ticket types.",
            updated.applied_to or 0,
            n=updated.applied_to or 0,
        ),
        "success",
    )
    return redirect(f"/manage/events/{event_id}")
