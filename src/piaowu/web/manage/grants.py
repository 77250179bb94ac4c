"""What a ticket type grants (tickets.grants): one form of up to eight lines — a target (a session, or an event
whatever its session), a mode, a number and, for events, a window in days. Thin: one use case per request."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from piaowu.catalog import event_service, views
from piaowu.catalog import offers as catalog_offers
from piaowu.tickets import grants
from piaowu.tickets.grant_rules import MAX_GRANTS
from piaowu.tickets.schemas import GrantsIn, GrantsOut
from piaowu.web.deps import RuntimeDep, StaffDep
from piaowu.web.manage.common import FormErrors, attempt, page, read_form, redirect, translator
from piaowu.web.templating import flash

router = APIRouter()
ROWS = range(MAX_GRANTS)


async def _targets(rt: RuntimeDep, actor: StaffDep, current: GrantsOut) -> list[dict[str, Any]]:
    """Each event with a session not over (any of its sessions: value ``e:<id>``) followed by its sessions
    (``s:<id>``), and the events the type grants now even when they are over: a saved grant always has its
    option, so saving the form never drops it."""
    async with rt.uow(readonly=True) as uow:
        events = await event_service.current_events(uow, actor, since=uow.now())
        granted = {g.event_id for g in current.grants if g.event_id}
        sessions = [g.session_id for g in current.grants if g.session_id]
        labels = await views.session_labels(uow, actor.organizer_id, sessions)
        granted |= {label.event_id for label in labels.values()}
        shown = {ev.id for ev in events}
        events += [await event_service.get_event(uow, actor, eid) for eid in sorted(granted - shown)]
    out: list[dict[str, Any]] = []
    for ev in events:
        out.append({"value": f"e:{ev.id}", "event": ev.name, "session": None})
        out.extend({"value": f"s:{s.id}", "event": ev.name, "session": s} for s in ev.sessions)
    return out


def _values(current: GrantsOut) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for g in current.grants:
        i = g.position
        values[f"target_{i}"] = f"s:{g.session_id}" if g.session_id else f"e:{g.event_id}"
        values[f"mode_{i}"] = g.mode
        values[f"allowed_{i}"] = g.allowed
        values[f"window_days_{i}"] = "" if g.window_days is None else g.window_days
    return values


async def _page(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    ticket_type_id: str,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    async with rt.uow(readonly=True) as uow:
        current = await grants.get_grants(uow, actor, ticket_type_id)  # not found: the app's error page
        offer = (await catalog_offers.offers_for(uow, actor.organizer_id, [ticket_type_id]))[ticket_type_id]
    _ = translator(request)
    ctx = {
        "modes": [("entries", _("By entries")), ("days", _("By days"))],
        "offer": offer,
        "targets": await _targets(rt, actor, current),
        "rows": list(ROWS),
        "values": _values(current) if values is None else values,
        "errors": errors or {},
    }
    return await page(request, rt, actor, "manage/grants.html", ctx, active="events", status_code=status_code)


@router.get("/ticket-types/{ticket_type_id}/grants")
async def grants_page(request: Request, rt: RuntimeDep, actor: StaffDep, ticket_type_id: str) -> Response:
    return await _page(request, rt, actor, ticket_type_id)


def _rows(form: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The filled lines as grant bodies, and which form line each came from (errors name form lines)."""
    out, line_of = [], {}
    for i in ROWS:
        target = form.get(f"target_{i}", "").strip()
        if not target:
            continue
        kind, _, ident = target.partition(":")
        body: dict[str, Any] = {"session_id" if kind == "s" else "event_id": ident, "mode": form.get(f"mode_{i}", "")}
        for name in ("allowed", "window_days"):
            raw = form.get(f"{name}_{i}", "").strip()
            if raw:
                body[name] = int(raw) if raw.isdigit() else raw
        line_of[str(len(out))] = i
        out.append(body)
    return out, line_of


@router.post("/ticket-types/{ticket_type_id}/grants")
async def grants_save(request: Request, rt: RuntimeDep, actor: StaffDep, ticket_type_id: str) -> Response:
    form = await read_form(request)
    _ = translator(request)
    rows, line_of = _rows(form)
    # Errors name grants.<n>.<field> (the n-th filled line): on the page they belong to that line's field.
    rename = {"grants": "form"}
    for n, i in line_of.items():
        for f in ("", ".session_id", ".event_id"):
            rename[f"grants.{n}{f}"] = f"target_{i}"
        rename.update({f"grants.{n}.{f}": f"{f}_{i}" for f in ("mode", "allowed", "window_days")})
    try:
        data = GrantsIn.model_validate({"grants": rows})
    except ValidationError as exc:
        errors: FormErrors = {}
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()))
            errors.setdefault(rename.get(loc, "form"), _("This value is not valid."))
        return await _page(request, rt, actor, ticket_type_id, form, errors, 422)
    saved, errors = await attempt(request, rt, lambda uow: grants.set_grants(uow, actor, ticket_type_id, data), rename)
    if saved is None:
        return await _page(request, rt, actor, ticket_type_id, form, errors, 422)
    flash(request, _("Changes saved."), "success")
    return redirect(f"/manage/ticket-types/{ticket_type_id}/grants")
