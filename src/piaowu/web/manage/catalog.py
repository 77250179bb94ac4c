"""Back-office catalog pages: events, their sessions (times in the organizer's zone), and ticket types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response

from piaowu.accounts.permissions import Permission
from piaowu.catalog import (
    event_service,
    event_ticket_type_service,
    session_service,
    ticket_type_service,
    venue_service,
)
from piaowu.catalog.rules import TRANSITIONS, EventKind, SessionStatus, has_ended
from piaowu.catalog.schemas import (
    EventIn,
    EventPatch,
    SessionIn,
    SessionOut,
    SessionPatch,
    TicketTypeIn,
    TicketTypeOut,
    TicketTypePatch,
)
from piaowu.core.errors import DomainError, NotFound
from piaowu.core.money import minor_digits, parse_major
from piaowu.db.uow import UnitOfWork
from piaowu.orders import session_cancel
from piaowu.web.deps import RuntimeDep, StaffDep
from piaowu.web.manage.common import (
    NOT_THE_FORMS_BUSINESS,
    FormErrors,
    error_text,
    organizer,
    page,
    parse_local,
    read_form,
    redirect,
    submit,
    to_local_input,
    translator,
)
from piaowu.web.manage.filters import QueryCheck
from piaowu.web.manage.texts_form import error_keys, form_values, languages, texts_from_form
from piaowu.web.templating import flash

router = APIRouter()
C = TypeVar("C")

TT_RENAME = {"price_minor": "price", "capacity": "quota", **error_keys("name", "description")}


def _blank_none(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


# ---- events ---------------------------------------------------------------------------------------------


def _event_values(form: dict[str, str]) -> dict[str, Any]:
    """The form's fields as the schema's: texts by language, and a venue record chosen from the list or (as
    before venues were records) a venue's name and address typed in, found or made by name."""
    data: dict[str, Any] = {
        **texts_from_form(form, "name"),
        **texts_from_form(form, "description"),
        "is_published": bool(form.get("is_published")),
    }
    if form.get("venue_id", "").strip():
        data["venue_id"] = form["venue_id"].strip()
    else:
        data["venue_name"] = form.get("venue_name", "")
        data["venue_address"] = form.get("venue_address", "")
    return data


async def _event_form(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    *,
    event: Any,
    values: dict[str, Any],
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    async with rt.uow(readonly=True) as uow:
        venues = await venue_service.all_venues(uow, actor)
    ctx = {
        "values": values,
        "event": event,
        "errors": errors or {},
        "venue_options": [(v.id, v.name) for v in venues],
        "languages": languages(),
    }
    return await page(request, rt, actor, "manage/event_form.html", ctx, active="events", status_code=status_code)


@router.get("/events")
async def events(request: Request, rt: RuntimeDep, actor: StaffDep, cursor: str = "") -> Response:
    check = QueryCheck(request)  # a broken "show more" link is named inline, not an error page
    async with rt.uow(readonly=True) as uow:
        result = await check.listing(
            lambda: event_service.list_events(uow, actor, cursor=cursor.strip() or None, limit=30)
        )
    ctx = {"page": result, "now": rt.clock.now(), "errors": check.errors}
    code = 422 if check.errors else 200
    return await page(request, rt, actor, "manage/events.html", ctx, active="events", status_code=code)


@router.get("/events/new")
async def event_new(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    values = {"kind": EventKind.PERFORMANCE, "is_published": False}
    return await _event_form(request, rt, actor, event=None, values=values)


@router.post("/events/new")
async def event_create(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    form = await read_form(request)
    data = {**_event_values(form), "kind": form.get("kind", "")}
    created, errors = await submit(
        request,
        rt,
        EventIn,
        data,
        lambda uow, cmd: event_service.create_event(uow, actor, cmd),
        rename=error_keys("name", "description"),
    )
    if created is None:
        values = {**form, "is_published": data["is_published"]}
        return await _event_form(request, rt, actor, event=None, values=values, errors=errors, status_code=422)
    flash(request, translator(request)("Event created. Now add its first session."), "success")
    return redirect(f"/manage/events/{created.id}")


@router.get("/events/{event_id}")
async def event_detail(request: Request, rt: RuntimeDep, actor: StaffDep, event_id: str) -> Response:
    async with rt.uow(readonly=True) as uow:
        ev = await event_service.get_event(uow, actor, event_id)
        definitions = await event_ticket_type_service.list_definitions(uow, actor, event_id)  # sessions in series
        now = uow.now()
    # Sessions over are history: folded under the coming ones, which an attraction's year of days would bury.
    past = [x for x in ev.sessions if has_ended(x.ends_at, now)]
    coming = [x for x in ev.sessions if not has_ended(x.ends_at, now)]
    ctx = {"event": ev, "definitions": definitions, "coming": coming, "past": past[::-1]}
    return await page(request, rt, actor, "manage/event.html", ctx, active="events")


@router.get("/events/{event_id}/edit")
async def event_edit(request: Request, rt: RuntimeDep, actor: StaffDep, event_id: str) -> Response:
    async with rt.uow(readonly=True) as uow:
        ev = await event_service.get_event(uow, actor, event_id)
    default = (await organizer(rt, actor)).default_locale
    values = {
        **ev.model_dump(include={"kind", "venue_id", "is_published"}),
        **form_values("name", ev.name, ev.name_i18n, default),
        **form_values("description", ev.description, ev.description_i18n, default),
    }
    return await _event_form(request, rt, actor, event=ev, values=values)


@router.post("/events/{event_id}/edit")
async def event_update(request: Request, rt: RuntimeDep, actor: StaffDep, event_id: str) -> Response:
    form = await read_form(request)
    data = _event_values(form)
    updated, errors = await submit(
        request,
        rt,
        EventPatch,
        data,
        lambda uow, cmd: event_service.update_event(uow, actor, event_id, cmd),
        rename=error_keys("name", "description"),
    )
    if updated is None:
        async with rt.uow(readonly=True) as uow:
            ev = await event_service.get_event(uow, actor, event_id)
        values = {**form, "kind": ev.kind, "is_published": data["is_published"]}
        return await _event_form(request, rt, actor, event=ev, values=values, errors=errors, status_code=422)
    flash(request, translator(request)("Changes saved."), "success")
    return redirect(f"/manage/events/{event_id}")


# ---- sessions -------------------------------------------------------------------------------------------

TIME_FIELDS = ("starts_at", "ends_at", "sales_start", "sales_end")


def _session_payload(request: Request, form: dict[str, str], tz: str) -> tuple[dict[str, Any], FormErrors]:
    """Form strings → schema fields; wall-clock times in ``tz`` become UTC. Unparseable times are field errors."""
    _ = translator(request)
    errors: FormErrors = {}
    data: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "capacity": _blank_none(form.get("capacity")),
        "admission_opens_minutes": _blank_none(form.get("admission_opens_minutes")) or 120,
        "status": form.get("status", SessionStatus.DRAFT),
    }
    for key in TIME_FIELDS:
        try:
            data[key] = parse_local(form.get(key, ""), tz)
        except ValueError:
            errors[key] = _("Enter a date and time.")
    for key in ("starts_at", "ends_at"):
        if data.get(key) is None and key not in errors:
            errors[key] = _("This field is required.")
    return data, errors


def _status_options(current: str | None) -> list[str]:
    """The statuses a session may move to from ``current`` (a new session starts as a draft). Cancelling is not
    among them: it has its own action on the session's page, which also cancels and refunds the orders."""
    if current is None:
        return [SessionStatus.DRAFT, SessionStatus.ON_SALE]
    targets = sorted(TRANSITIONS[SessionStatus(current)] - {SessionStatus.CANCELLED}, key=list(SessionStatus).index)
    return [current, *targets]


def _session_values(s: SessionOut, tz: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": s.name,
        "capacity": s.capacity,
        "status": s.status,
        "admission_opens_minutes": s.admission_opens_minutes,
    }
    for key in TIME_FIELDS:
        values[key] = to_local_input(getattr(s, key), tz)
    return values


async def _session_form(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    *,
    event: Any,
    session: SessionOut | None,
    values: dict[str, Any],
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    ctx = {
        "event": event,
        "session": session,
        "values": values,
        "errors": errors or {},
        "status_options": _status_options(session.status if session else None),
    }
    return await page(request, rt, actor, "manage/session_form.html", ctx, active="events", status_code=status_code)


@router.get("/events/{event_id}/sessions/new")
async def session_new(request: Request, rt: RuntimeDep, actor: StaffDep, event_id: str) -> Response:
    async with rt.uow(readonly=True) as uow:
        ev = await event_service.get_event(uow, actor, event_id)
    values = {"status": SessionStatus.DRAFT, "admission_opens_minutes": 120}
    return await _session_form(request, rt, actor, event=ev, session=None, values=values)


@router.post("/events/{event_id}/sessions/new")
async def session_create(request: Request, rt: RuntimeDep, actor: StaffDep, event_id: str) -> Response:
    form = await read_form(request)
    tz = (await organizer(rt, actor)).timezone
    data, errors = _session_payload(request, form, tz)
    created, errors = await submit(
        request,
        rt,
        SessionIn,
        data,
        lambda uow, cmd: session_service.create_session(uow, actor, event_id, cmd),
        errors=errors,
    )
    if created is None:
        async with rt.uow(readonly=True) as uow:
            ev = await event_service.get_event(uow, actor, event_id)
        return await _session_form(
            request, rt, actor, event=ev, session=None, values=form, errors=errors, status_code=422
        )
    flash(request, translator(request)("Session created. Add the ticket types it sells."), "success")
    return redirect(f"/manage/sessions/{created.id}")


async def _load_session(rt: RuntimeDep, actor: StaffDep, session_id: str) -> tuple[Any, SessionOut]:
    async with rt.uow(readonly=True) as uow:
        s = await session_service.get_session(uow, actor, session_id)
        ev = await event_service.get_event(uow, actor, s.event_id)
    return ev, s


async def _session_page(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    session_id: str,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    ev, s = await _load_session(rt, actor, session_id)
    cancellation = None
    if s.status == SessionStatus.CANCELLED and actor.can(Permission.ORDER_READ):
        async with rt.uow(readonly=True) as uow:
            cancellation = await session_cancel.cancellation(uow, actor, session_id)
    ctx = {
        "event": ev,
        "session": s,
        "cancellation": cancellation,
        "ended": has_ended(s.ends_at, rt.clock.now()),
        "values": values or {},
        "errors": errors or {},
    }
    return await page(request, rt, actor, "manage/session.html", ctx, active="events", status_code=status_code)


@router.get("/sessions/{session_id}")
async def session_detail(request: Request, rt: RuntimeDep, actor: StaffDep, session_id: str) -> Response:
    """The session; once cancelled, the cancellation's progress (the page refreshes itself while it runs), its
    report and its failures with a retry button."""
    return await _session_page(request, rt, actor, session_id)


@router.post("/sessions/{session_id}/cancel")
async def session_cancel_post(request: Request, rt: RuntimeDep, actor: StaffDep, session_id: str) -> Response:
    form = await read_form(request)
    _ = translator(request)
    reason = form.get("reason", "").strip()[:200]
    if not form.get("confirm"):
        errors = {"confirm": _("Tick the box to confirm: this cannot be undone.")}
        return await _session_page(request, rt, actor, session_id, values=form, errors=errors, status_code=422)
    try:
        async with rt.uow() as uow:
            await session_cancel.cancel_session(uow, actor, session_id, reason)
            await uow.commit()
    except NOT_THE_FORMS_BUSINESS:
        raise
    except DomainError as exc:
        errors = {"form": error_text(request, exc)}
        return await _session_page(request, rt, actor, session_id, values=form, errors=errors, status_code=exc.status)
    worker = rt.extras.get("worker")
    if worker is not None:
        worker.wake()
    flash(request, _("Session cancelled. Its orders are being cancelled and refunded."), "success")
    return redirect(f"/manage/sessions/{session_id}")


@router.post("/sessions/{session_id}/cancellation/retry")
async def session_cancel_retry(request: Request, rt: RuntimeDep, actor: StaffDep, session_id: str) -> Response:
    await read_form(request)
    try:
        async with rt.uow() as uow:
            await session_cancel.retry(uow, actor, session_id)
            await uow.commit()
    except NOT_THE_FORMS_BUSINESS:
        raise
    except DomainError as exc:
        return await _session_page(
            request, rt, actor, session_id, errors={"form": error_text(request, exc)}, status_code=exc.status
        )
    worker = rt.extras.get("worker")
    if worker is not None:
        worker.wake()
    flash(request, translator(request)("The failures are being tried again."), "success")
    return redirect(f"/manage/sessions/{session_id}")


@router.get("/sessions/{session_id}/edit")
async def session_edit(request: Request, rt: RuntimeDep, actor: StaffDep, session_id: str) -> Response:
    ev, s = await _load_session(rt, actor, session_id)
    values = _session_values(s, (await organizer(rt, actor)).timezone)
    return await _session_form(request, rt, actor, event=ev, session=s, values=values)


@router.post("/sessions/{session_id}/edit")
async def session_update(request: Request, rt: RuntimeDep, actor: StaffDep, session_id: str) -> Response:
    form = await read_form(request)
    ev, s = await _load_session(rt, actor, session_id)
    data, errors = _session_payload(request, form, (await organizer(rt, actor)).timezone)
    updated, errors = await submit(
        request,
        rt,
        SessionPatch,
        data,
        lambda uow, cmd: session_service.update_session(uow, actor, session_id, cmd),
        errors=errors,
    )
    if updated is None:
        return await _session_form(request, rt, actor, event=ev, session=s, values=form, errors=errors, status_code=422)
    flash(request, translator(request)("Changes saved."), "success")
    return redirect(f"/manage/sessions/{session_id}")


# ---- ticket types ---------------------------------------------------------------------------------------


def _tt_payload(request: Request, form: dict[str, str], currency: str) -> tuple[dict[str, Any], FormErrors]:
    _ = translator(request)
    errors: FormErrors = {}
    data: dict[str, Any] = {
        **texts_from_form(form, "name"),
        **texts_from_form(form, "description"),
        "quota": _blank_none(form.get("quota")),
        "min_per_order": _blank_none(form.get("min_per_order")) or 1,
        "max_per_order": _blank_none(form.get("max_per_order")) or 10,
        "is_active": bool(form.get("is_active")),
    }
    price = form.get("price", "").strip()
    try:
        data["price_minor"] = parse_major(price, currency)
    except ValueError:
        if minor_digits(currency):
            errors["price"] = _("Enter a price in yuan, like 380 or 380.50.")
        else:
            errors["price"] = _("Enter a whole amount, like 380.")
        data["price_minor"] = 0
    return data, errors


async def _save_tt(
    request: Request,
    rt: RuntimeDep,
    form: dict[str, str],
    currency: str,
    schema: Callable[..., C],
    use_case: Callable[[UnitOfWork, C], Awaitable[TicketTypeOut]],
) -> tuple[TicketTypeOut | None, FormErrors]:
    data, errors = _tt_payload(request, form, currency)
    return await submit(request, rt, schema, data, use_case, errors=errors, rename=TT_RENAME)


def _tt_values(t: TicketTypeOut, default: str) -> dict[str, Any]:
    digits = minor_digits(t.currency)
    whole, frac = divmod(t.price_minor, 10**digits) if digits else (t.price_minor, 0)
    price = f"{whole}.{frac:0{digits}d}" if frac else str(whole)
    return {
        **form_values("name", t.name, t.name_i18n, default),
        **form_values("description", t.description, t.description_i18n, default),
        "price": price,
        "quota": "" if t.quota is None else t.quota,
        "min_per_order": t.min_per_order,
        "max_per_order": t.max_per_order,
        "is_active": t.is_active,
    }


async def _tt_form(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    *,
    event: Any,
    session: SessionOut,
    ticket_type: TicketTypeOut | None,
    values: dict[str, Any],
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    ctx = {
        "event": event,
        "session": session,
        "ticket_type": ticket_type,
        "values": values,
        "errors": errors or {},
        "languages": languages(),
    }
    return await page(request, rt, actor, "manage/ticket_type_form.html", ctx, active="events", status_code=status_code)


@router.get("/sessions/{session_id}/ticket-types/new")
async def tt_new(request: Request, rt: RuntimeDep, actor: StaffDep, session_id: str) -> Response:
    ev, s = await _load_session(rt, actor, session_id)
    values = {"min_per_order": 1, "max_per_order": 10, "is_active": True}
    return await _tt_form(request, rt, actor, event=ev, session=s, ticket_type=None, values=values)


@router.post("/sessions/{session_id}/ticket-types/new")
async def tt_create(request: Request, rt: RuntimeDep, actor: StaffDep, session_id: str) -> Response:
    form = await read_form(request)
    ev, s = await _load_session(rt, actor, session_id)
    currency = (await organizer(rt, actor)).currency
    created, errors = await _save_tt(
        request,
        rt,
        form,
        currency,
        TicketTypeIn,
        lambda uow, cmd: ticket_type_service.create_ticket_type(uow, actor, s.id, cmd),
    )
    if created is None:
        return await _tt_form(
            request, rt, actor, event=ev, session=s, ticket_type=None, values=form, errors=errors, status_code=422
        )
    flash(request, translator(request)("Ticket type “{name}” added.", name=created.name), "success")
    return redirect(f"/manage/sessions/{session_id}")


def _find_tt(s: SessionOut, ticket_type_id: str) -> TicketTypeOut:
    for t in s.ticket_types:
        if t.id == ticket_type_id:
            return t
    raise NotFound(kind="ticket type")


@router.get("/sessions/{session_id}/ticket-types/{ticket_type_id}/edit")
async def tt_edit(request: Request, rt: RuntimeDep, actor: StaffDep, session_id: str, ticket_type_id: str) -> Response:
    ev, s = await _load_session(rt, actor, session_id)
    t = _find_tt(s, ticket_type_id)
    values = _tt_values(t, (await organizer(rt, actor)).default_locale)
    return await _tt_form(request, rt, actor, event=ev, session=s, ticket_type=t, values=values)


@router.post("/sessions/{session_id}/ticket-types/{ticket_type_id}/edit")
async def tt_update(
    request: Request, rt: RuntimeDep, actor: StaffDep, session_id: str, ticket_type_id: str
) -> Response:
    form = await read_form(request)
    ev, s = await _load_session(rt, actor, session_id)
    t = _find_tt(s, ticket_type_id)
    updated, errors = await _save_tt(
        request,
        rt,
        form,
        t.currency,
        TicketTypePatch,
        lambda uow, cmd: ticket_type_service.update_ticket_type(uow, actor, t.id, cmd),
    )
    if updated is None:
        return await _tt_form(
            request, rt, actor, event=ev, session=s, ticket_type=t, values=form, errors=errors, status_code=422
        )
    flash(request, translator(request)("Changes saved."), "success")
    return redirect(f"/manage/sessions/{session_id}")
