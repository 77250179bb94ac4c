"""Back-office session seating page: which layout a session sells (refused once anything is held or sold), its
zone prices per ticket type, seats kept back and released on the map with a reason, and availability per zone
(free, held, sold, blocked) — refreshed while the page is open (``seating.json``)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from piaowu.catalog import event_service, session_service
from piaowu.core.errors import ValidationFailed
from piaowu.core.money import minor_digits, parse_major
from piaowu.seating import channels, layout_service, office, session_seating
from piaowu.web.deps import RuntimeDep, StaffDep
from piaowu.web.manage.common import FormErrors, attempt, organizer, page, read_form, redirect, translator
from piaowu.web.templating import flash

router = APIRouter()


def _major(minor: int, currency: str) -> str:
    """Minor units as the form shows a price: 88000 → "880", 38050 → "380.50"."""
    digits = minor_digits(currency)
    whole, frac = divmod(minor, 10**digits)
    return f"{whole}.{frac:0{digits}d}" if digits and frac else str(whole)


def _channel_names(_: Any) -> dict[str, str]:
    return {"web": _("Online shop"), "box_office": _("Box office"), "api": _("API / distributors")}


def _channels_json(summary: session_seating.SeatingSummary | None) -> list[dict[str, Any]]:
    if summary is None:
        return []
    return [{"channel": c.channel, "published": c.published, "free": c.free} for c in summary.channels]


def _summary_json(summary: session_seating.SeatingSummary | None) -> list[dict[str, Any]]:
    if summary is None:
        return []
    return [
        {"zone": z.zone, "total": z.total, "free": z.free, "held": z.held, "sold": z.sold, "blocked": z.blocked}
        for z in summary.zones
    ]


async def _seating_page(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    session_id: str,
    *,
    errors: FormErrors | None = None,
    price_values: dict[str, str] | None = None,
    picked: list[str] | None = None,
    channel: str = "web",
    status_code: int = 200,
) -> Response:
    currency = (await organizer(rt, actor)).currency
    async with rt.uow(readonly=True) as uow:
        s = await session_service.get_session(uow, actor, session_id)
        ev = await event_service.get_event(uow, actor, s.event_id)
        seating = await session_seating.seating_of(uow, actor.organizer_id, session_id)
        layouts = await layout_service.list_layouts(uow, actor, ev.venue_id) if ev.venue_id else []
        summary = await session_seating.seating_summary(uow, actor, session_id) if seating else None
        states = await office.seat_states(uow, actor, session_id) if seating else []
        prices = await session_seating.zone_prices(uow, actor.organizer_id, session_id) if seating else []
    types = [t for t in s.ticket_types if t.is_active] or s.ticket_types
    zones = [z.zone for z in summary.zones] if summary else []
    if price_values is None:
        price_values = {
            f"price.{zones.index(p.zone)}.{p.ticket_type_id}": _major(p.price_minor, currency)
            for p in prices
            if p.zone in zones
        }
    ctx = {
        "event": ev,
        "session": s,
        "seating": seating,
        "layouts": layouts,
        "summary": summary,
        "totals": summary.totals() if summary else {},
        "zones": zones,
        "types": types,
        "price_values": price_values,
        "seats_json": json.dumps([st.row() for st in states], ensure_ascii=False, separators=(",", ":")),
        "picked": picked or [],
        "channel": channel,
        "channel_names": _channel_names(translator(request)),
        "errors": errors or {},
        "currency": currency,
        "digits": minor_digits(currency),
    }
    return await page(request, rt, actor, "manage/session_seating.html", ctx, active="events", status_code=status_code)


@router.get("/sessions/{session_id}/seating")
async def seating_page(request: Request, rt: RuntimeDep, actor: StaffDep, session_id: str) -> Response:
    return await _seating_page(request, rt, actor, session_id)


@router.get("/sessions/{session_id}/seating.json")
async def seating_live(rt: RuntimeDep, actor: StaffDep, session_id: str) -> Response:
    """Per zone counts and each seat's state (one letter per seat, in ordinal order: f h s b), for the page to
    refresh itself while it is open."""
    async with rt.uow(readonly=True) as uow:
        seating = await session_seating.seating_of(uow, actor.organizer_id, session_id)
        if seating is None:
            return JSONResponse({"zones": [], "channels": [], "states": ""})
        summary = await session_seating.seating_summary(uow, actor, session_id)
        states = await office.seat_states(uow, actor, session_id)
    return JSONResponse(
        {
            "zones": _summary_json(summary),
            "channels": _channels_json(summary),
            "states": "".join(st.state[0] for st in states),
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post("/sessions/{session_id}/seating/layout")
async def seating_assign(request: Request, rt: RuntimeDep, actor: StaffDep, session_id: str) -> Response:
    form = await read_form(request)
    _ = translator(request)
    layout_id = form.get("layout_id", "")
    if not layout_id:
        return await _seating_page(
            request, rt, actor, session_id, errors={"layout_id": _("Choose a layout.")}, status_code=422
        )
    done, errors = await attempt(
        request, rt, lambda uow: session_seating.assign_layout(uow, actor, session_id, layout_id), {"form": "layout_id"}
    )
    if done is None:
        return await _seating_page(request, rt, actor, session_id, errors=errors, status_code=409)
    flash(
        request,
        _.ngettext(
            "The session now sells the seats of this layout: {n} seat.",
            "The session now sells the seats of this layout: {n} seats.",
            done.seat_count,
            n=done.seat_count,
        ),
        "success",
    )
    return redirect(f"/manage/sessions/{session_id}/seating")


@router.post("/sessions/{session_id}/seating/prices")
async def seating_prices(request: Request, rt: RuntimeDep, actor: StaffDep, session_id: str) -> Response:
    """The zone × ticket type grid: a blank cell is "not sold as this type in this zone"."""
    form = await read_form(request)
    _ = translator(request)
    currency = (await organizer(rt, actor)).currency
    async with rt.uow(readonly=True) as uow:
        summary = await session_seating.seating_summary(uow, actor, session_id)
    zones = [z.zone for z in summary.zones]
    prices: list[tuple[str, str, int]] = []
    errors: FormErrors = {}
    for key, raw in form.items():
        if not key.startswith("price.") or not raw.strip():
            continue
        _prefix, index, tt = (key.split(".", 2) + ["", ""])[:3]
        if not index.isdigit() or int(index) >= len(zones):
            errors["form"] = _("This value is not valid.")
            continue
        try:
            prices.append((zones[int(index)], tt, parse_major(raw, currency)))
        except ValueError:
            errors[key] = (
                _("Enter a price in yuan, like 380 or 380.50.")
                if minor_digits(currency)
                else _("Enter a whole amount, like 380.")
            )
    values = {k: v for k, v in form.items() if k.startswith("price.")}
    if errors:
        return await _seating_page(request, rt, actor, session_id, errors=errors, price_values=values, status_code=422)
    try:
        async with rt.uow() as uow:
            await session_seating.set_zone_prices(uow, actor, session_id, prices)
            await uow.commit()
    except ValidationFailed as exc:
        for err in exc.errors:
            # prices.N.field → the grid's cell of the Nth price sent
            parts = str(err.get("field", "")).split(".")
            cell = "form"
            if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < len(prices):
                zone, tt, _minor = prices[int(parts[1])]
                cell = f"price.{zones.index(zone)}.{tt}" if zone in zones else "form"
            errors.setdefault(cell, _(str(err.get("message", ""))))
        return await _seating_page(request, rt, actor, session_id, errors=errors, price_values=values, status_code=422)
    flash(request, _("Zone prices saved."), "success")
    return redirect(f"/manage/sessions/{session_id}/seating")


@router.post("/sessions/{session_id}/seating/seats")
async def seating_block(request: Request, rt: RuntimeDep, actor: StaffDep, session_id: str) -> Response:
    """Keep the picked seats back (``action=block``, a reason required) or give them back to sale
    (``release``); or publish them to the sales channel ``channel`` (``publish``) or withhold them from it
    (``withhold``)."""
    form_data = await request.form()
    form = await read_form(request)
    _ = translator(request)
    seat_ids = [str(v) for v in form_data.getlist("seat")]
    reason = form.get("reason", "").strip()
    action = form.get("action", "")
    blocking = action == "block"
    channel = form.get("channel", "web")
    errors: FormErrors = {}
    if not seat_ids:
        errors["seat"] = _("Choose seats on the map first.")
    if action in ("publish", "withhold"):
        return await _seating_channel(request, rt, actor, session_id, seat_ids, channel, errors)
    if blocking and not reason:
        errors["reason"] = _("Say why these seats are kept back (house, press, technical).")
    if not errors:
        if blocking:
            done, errors = await attempt(
                request, rt, lambda uow: session_seating.block_seats(uow, actor, session_id, seat_ids, reason)
            )
        else:
            done, errors = await attempt(
                request, rt, lambda uow: session_seating.release_seats(uow, actor, session_id, seat_ids, reason)
            )
    if errors:
        if "seat_ids" in errors or any(k.startswith("seat_ids.") for k in errors):
            errors["seat"] = next(v for k, v in errors.items() if k.startswith("seat_ids"))
        return await _seating_page(request, rt, actor, session_id, errors=errors, picked=seat_ids, status_code=409)
    n = len(seat_ids)
    text = (
        _.ngettext("{n} seat kept back: {reason}.", "{n} seats kept back: {reason}.", n, n=n, reason=reason)
        if blocking
        else _.ngettext("{n} seat back on sale.", "{n} seats back on sale.", n, n=n)
    )
    flash(request, text, "success")
    return redirect(f"/manage/sessions/{session_id}/seating")


async def _seating_channel(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    session_id: str,
    seat_ids: list[str],
    channel: str,
    errors: FormErrors,
) -> Response:
    _ = translator(request)
    publish = (await read_form(request)).get("action") == "publish"
    if not errors:
        done, errors = await attempt(
            request,
            rt,
            lambda uow: channels.set_published(uow, actor, session_id, seat_ids, channel, publish=publish),
        )
    if errors:
        if any(k.startswith("seat_ids") for k in errors):
            errors["seat"] = next(v for k, v in errors.items() if k.startswith("seat_ids"))
        return await _seating_page(
            request, rt, actor, session_id, errors=errors, picked=seat_ids, channel=channel, status_code=409
        )
    name = _channel_names(_).get(channel, channel)
    n = len(seat_ids)
    text = (
        _.ngettext("{n} seat published to {channel}.", "{n} seats published to {channel}.", n, n=n, channel=name)
        if publish
        else _.ngettext("{n} seat withheld from {channel}.", "{n} seats withheld from {channel}.", n, n=n, channel=name)
    )
    flash(request, text, "success")
    return redirect(f"/manage/sessions/{session_id}/seating")
