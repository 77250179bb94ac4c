"""The gate page (检票): a phone or a handheld with a keyboard-wedge scanner checks tickets in.

One big input keeps the focus; a scan is posted to ``/gate/scan`` as JSON by ``static/gate.js`` (or as a plain
form without JavaScript, answered with a redirect back to the page). The result is built here, translated, so
the script only shows it. Which sessions this gate admits and its name live in the signed session cookie.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from piaowu import vendor
from piaowu.accounts.permissions import Permission
from piaowu.catalog import event_service
from piaowu.checkin import service as checkin
from piaowu.checkin.rules import MESSAGES, ScanResult
from piaowu.checkin.schemas import ScanIn, ScanOut, ScanRecord
from piaowu.core.actor import Actor
from piaowu.core.errors import CsrfFailed, DomainError
from piaowu.core.inputs import NAME_MESSAGE, forbidden_characters
from piaowu.i18n import Translator
from piaowu.orders import service as orders_service
from piaowu.orders.schemas import OrderLineOut, OrderOut
from piaowu.runtime import Runtime
from piaowu.tickets import signing
from piaowu.web.deps import RuntimeDep, StaffDep
from piaowu.web.manage.common import organizer_tz
from piaowu.web.templating import check_csrf, error_message, flash, page_locale, render

router = APIRouter()

RECENT = 10
SESSION_KEY = "gate"
RESULT_KEY = "gate_result"


def _t(request: Request) -> Translator:
    return Translator(page_locale(request))


def _config(request: Request) -> dict[str, Any] | None:
    cfg = request.session.get(SESSION_KEY)
    if isinstance(cfg, dict) and cfg.get("name"):
        return {"name": str(cfg["name"]), "sessions": [str(s) for s in cfg.get("sessions", [])]}
    return None


def _local(at: datetime | None, tz: str, fmt: str = "%H:%M:%S") -> str:
    return at.astimezone(ZoneInfo(tz)).strftime(fmt) if at else ""


async def _sessions(rt: Runtime, actor: Actor) -> list[dict[str, Any]]:
    """Sessions a gate may admit: not drafts or cancelled, and not over for more than a day."""
    async with rt.uow(readonly=True) as uow:
        now = uow.now()
        events = await event_service.current_events(uow, actor, since=now - timedelta(days=1))
    out = []
    for ev in events:
        for s in ev.sessions:
            if s.status in ("draft", "cancelled") or s.ends_at < now - timedelta(days=1):
                continue
            out.append({"id": s.id, "event": ev.name, "name": s.name, "starts_at": s.starts_at})
    return sorted(out, key=lambda x: x["starts_at"])


def by_event(sessions: list[dict[str, Any]], tz: str, now: datetime) -> list[dict[str, Any]]:
    """The setup's sessions by event, in order of each event's first session: ``soon`` those of today and
    tomorrow (and any that began earlier and are not long over), ``later`` the rest. A gate is set up for the
    day; a scenic area's month of daily sessions stays folded under its event instead of filling the screen."""
    zone = ZoneInfo(tz)
    horizon = now.astimezone(zone).date() + timedelta(days=1)
    groups: dict[str, dict[str, Any]] = {}
    for s in sessions:  # already in start order
        group = groups.setdefault(s["event"], {"event": s["event"], "soon": [], "later": []})
        soon = s["starts_at"].astimezone(zone).date() <= horizon
        group["soon" if soon else "later"].append(s)
    return list(groups.values())


def result_view(request: Request, out: ScanOut, tz: str) -> dict[str, Any]:
    """What the gate shows for a scan: an icon, a word, a colour and the details, in the page's language."""
    _ = _t(request)
    details: list[str] = []
    if out.result == ScanResult.ALREADY_CHECKED_IN and out.previous:
        details.append(
            _(
                "Last entry at {time}, gate {gate}",
                time=_local(out.previous.at, tz, "%m-%d %H:%M:%S"),
                gate=out.previous.gate,
            )
        )
    if out.result == ScanResult.REPLACED and out.new_seat is not None:
        details.append(
            _("The ticket is now for seat: section {section}, row {row}, seat {number}", **out.new_seat.model_dump())
        )
        details.append(_("Ask for the new ticket; this code no longer admits anyone."))
    if out.result == ScanResult.NOT_YET_VALID and out.opens_at:
        details.append(_("Admission opens at {time}", time=_local(out.opens_at, tz, "%m-%d %H:%M")))
    t = out.ticket
    if t is not None:
        if t.event_name:
            details.append(
                " · ".join(x for x in (t.event_name, t.session_name, _local(t.starts_at, tz, "%m-%d %H:%M")) if x)
            )
        if t.ticket_type_name:
            details.append(t.ticket_type_name)
        if t.seat is not None:
            details.append(_("Seat: section {section}, row {row}, seat {number}", **t.seat.model_dump()))
        if t.holder_name:
            details.append(_("Holder: {name}", name=t.holder_name))
        if t.entries_allowed > 1 and len(t.entitlements) <= 1:
            details.append(_("Entries used: {used} of {allowed}", used=t.entries_used, allowed=t.entries_allowed))
    if out.reentry:
        details.append(_("Re-entry on a day already counted"))
    return {
        "result": out.result,
        "admitted": out.admitted,
        "kind": "ok" if out.admitted else "deny",
        "icon": "✓" if out.admitted else "✗",
        "title": _(out.message_key),
        "details": details,
        "code": t.code if t else "",
        "at": _local(out.scanned_at, tz),
        "entitlements": _entitlements_view(request, out),
    }


def _entitlements_view(request: Request, out: ScanOut) -> list[dict[str, Any]]:
    """A pass's parts, each with its use, and which one this scan judged; empty for a plain one-session ticket
    (its line above says it all)."""
    t = out.ticket
    if t is None or (len(t.entitlements) <= 1 and all(e.mode == "entries" for e in t.entitlements)):
        return []
    _ = _t(request)
    rows = []
    for e in t.entitlements:
        if e.mode == "days":
            use = _.ngettext(
                "{used} of {allowed} day used",
                "{used} of {allowed} days used",
                e.allowed,
                used=e.used,
                allowed=e.allowed,
            )
            if e.days_used:
                use += " · " + _("Days: {days}", days=", ".join(d[5:] for d in e.days_used))
        else:
            use = _.ngettext(
                "{used} of {allowed} entry used",
                "{used} of {allowed} entries used",
                e.allowed,
                used=e.used,
                allowed=e.allowed,
            )
        this = out.entitlement == e.position
        mark = (_("Redeemed now") if out.admitted else _("Checked now")) if this else ""
        rows.append({"label": e.label or "—", "use": use, "done": e.used >= e.allowed, "this": this, "mark": mark})
    return rows


def _recent_view(request: Request, rows: list[ScanRecord], tz: str) -> list[dict[str, Any]]:
    _ = _t(request)
    out = []
    for r in rows:
        ok = r.result == ScanResult.ADMITTED
        out.append(
            {
                "at": _local(r.scanned_at, tz),
                "kind": "ok" if ok else "deny",
                "icon": "✓" if ok else "✗",
                "title": _(MESSAGES.get(r.result, r.result)),  # type: ignore[call-overload]
                "code": ("…" + r.ticket_code[-8:]) if r.ticket_code else "—",
            }
        )
    return out


async def _status(request: Request, rt: Runtime, actor: Actor, cfg: dict[str, Any], tz: str) -> dict[str, Any]:
    async with rt.uow(readonly=True) as uow:
        stats = await checkin.counts(uow, actor, cfg["sessions"])
        recent = await checkin.recent_scans(uow, actor, RECENT, gate=cfg["name"])
    return {
        "checked_in": stats.checked_in,
        "tickets": stats.tickets,
        "recent": _recent_view(request, recent, tz),
    }


# ---- pages ----------------------------------------------------------------------------------------------


@router.get("")
async def gate_page(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    actor.require(Permission.CHECKIN)
    cfg = _config(request)
    sessions = await _sessions(rt, actor)
    tz = await organizer_tz(rt, actor)
    if cfg is None or request.query_params.get("setup"):
        ctx = {
            "groups": by_event(sessions, tz, rt.clock.now()),
            "cfg": cfg or {"name": "", "sessions": []},
            "errors": {},
            "tz": tz,
        }
        return render(request, "gate/setup.html", ctx)
    labels = [s for s in sessions if s["id"] in cfg["sessions"]]
    ctx = {
        "cfg": cfg,
        "labels": labels,
        "status": await _status(request, rt, actor, cfg, tz),
        "last": request.session.pop(RESULT_KEY, None),
        "tz": tz,
        # Where the browser has no BarcodeDetector (iOS Safari, Firefox, desktop Chrome), the camera decodes
        # with jsQR, when it is installed (piaowu.vendor).
        "may_find": actor.can(Permission.ORDER_READ),  # supervisors (sales, admins), not stewards
        "payload_prefixes": list(signing.PAYLOAD_PREFIXES),
        "qr_decoder": vendor.url("jsqr", "jsQR.js")
        if vendor.available(rt.settings.browser_packages_dir, "jsqr")
        else "",
    }
    return render(request, "gate/scan.html", ctx)


@router.post("/setup")
async def gate_setup(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    actor.require(Permission.CHECKIN)
    form = await request.form()
    if not check_csrf(request, str(form.get("csrf") or "")):
        raise CsrfFailed()
    _ = _t(request)
    sessions = await _sessions(rt, actor)
    name = str(form.get("gate_name") or "").strip()
    chosen = [str(v) for v in form.getlist("session_ids")]
    known = {s["id"] for s in sessions}
    errors: dict[str, str] = {}
    if not name or len(name) > 64:
        errors["gate_name"] = _("Enter a name for this gate (up to 64 characters).")
    elif forbidden_characters(name):  # the same rule as every name (ScanIn.gate would refuse it at each scan)
        errors["gate_name"] = _(NAME_MESSAGE)
    if any(sid not in known for sid in chosen):
        errors["session_ids"] = _("Choose sessions from the list.")
    if errors:
        tz = await organizer_tz(rt, actor)
        ctx = {
            "groups": by_event(sessions, tz, rt.clock.now()),
            "cfg": {"name": name, "sessions": chosen},
            "errors": errors,
            "tz": tz,
        }
        return render(request, "gate/setup.html", ctx, status_code=422)
    request.session[SESSION_KEY] = {"name": name, "sessions": chosen}
    return RedirectResponse("/gate", status_code=303)


@router.post("/scan")
async def gate_scan(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    """JSON in (``{"raw": …}`` with the ``X-CSRF-Token`` header) → JSON out; or a form post → redirect."""
    actor.require(Permission.CHECKIN)
    _ = _t(request)
    wants_json = request.headers.get("content-type", "").startswith("application/json")
    if wants_json:
        try:
            body = await request.json()
        except ValueError:
            body = None
        raw = str(body.get("raw") or "") if isinstance(body, dict) else ""
        token = request.headers.get("x-csrf-token")
    else:
        form = await request.form()
        raw, token = str(form.get("raw") or ""), str(form.get("csrf") or "")
    if not check_csrf(request, token):
        if wants_json:
            return JSONResponse({"code": CsrfFailed.code, "message": _(CsrfFailed.message)}, status_code=403)
        raise CsrfFailed()
    cfg = _config(request)
    if cfg is None:
        if wants_json:
            return JSONResponse({"code": "gate_not_set_up", "message": _("Set up this gate first.")}, status_code=409)
        return RedirectResponse("/gate", status_code=303)
    tz = await organizer_tz(rt, actor)
    if not raw.strip():
        if wants_json:
            return JSONResponse({"code": "empty", "message": _("Scan or type a ticket code.")}, status_code=422)
        return RedirectResponse("/gate", status_code=303)
    cmd = ScanIn(raw=raw[:2000], gate=cfg["name"], session_ids=cfg["sessions"][:50])
    try:
        async with rt.uow() as uow:
            out = await checkin.scan(uow, actor, cmd)
            await uow.commit()
    except DomainError as exc:  # e.g. the database busy: the scanner says so and the ticket can be scanned again
        message = error_message(_, exc)
        if wants_json:
            return JSONResponse({"code": exc.code, "message": message}, status_code=exc.status)
        flash(request, message, "error")
        return RedirectResponse("/gate", status_code=303)
    view = result_view(request, out, tz)
    if not wants_json:
        request.session[RESULT_KEY] = view
        return RedirectResponse("/gate", status_code=303)
    return JSONResponse({**view, "status": await _status(request, rt, actor, cfg, tz)})


@router.get("/status.json")
async def gate_status(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    """Counters and the last scans of this gate, for the page to refresh now and then (other gates scan too)."""
    actor.require(Permission.CHECKIN)
    cfg = _config(request)
    if cfg is None:
        return JSONResponse({"code": "gate_not_set_up"}, status_code=409)
    return JSONResponse(await _status(request, rt, actor, cfg, await organizer_tz(rt, actor)))


# ---- finding a ticket by hand (a supervisor's help for a buyer without a readable code) --------------------

FIND_MIN = 4  # characters: an order code, a name, or a phone's last four digits
FIND_ORDERS = 10


def phone_tail(phone: str) -> str:
    """The last four digits only: the result is read out in front of a queue."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[-4:] if len(digits) >= 4 else ""


def admissible_lines(order: OrderOut, sessions: list[str]) -> list[OrderLineOut]:
    """The lines of ``order`` with a ticket this gate may check (any session when the gate names none; a pass
    whose grants include one of the gate's sessions counts)."""
    wanted = set(sessions)
    out = []
    for line in order.lines:
        if line.ticket is None:
            continue
        admits = {line.session_id} | {e.session_id for e in line.ticket.entitlements if e.session_id}
        if not wanted or admits & wanted:
            out.append(line)
    return out


@router.get("/find")
async def gate_find(request: Request, rt: RuntimeDep, actor: StaffDep, q: str = "") -> Response:
    """Orders found by code, name or phone, with the tickets this gate may check and a button to check each in
    by hand — through the same scan as a scanner (every rule applies: used, refunded, wrong session)."""
    actor.require(Permission.CHECKIN)
    actor.require(Permission.ORDER_READ)
    cfg = _config(request)
    if cfg is None:
        return RedirectResponse("/gate", status_code=303)
    _ = _t(request)
    term = q.strip()[:100]
    error = ""
    found: list[dict[str, Any]] = []
    if term and len(term) < FIND_MIN:
        error = _("Enter at least 4 characters: an order number, a name or a phone's last 4 digits.")
    elif term:
        only = cfg["sessions"][0] if len(cfg["sessions"]) == 1 else None
        async with rt.uow(readonly=True) as uow:
            page = await orders_service.list_orders(uow, actor, q=term, session_id=only, limit=FIND_ORDERS)
            for summary in page.items:
                order = await orders_service.get_order(uow, actor, summary.id)
                lines = admissible_lines(order, cfg["sessions"])
                if lines:
                    found.append({"order": order, "lines": lines, "phone": phone_tail(order.buyer_phone)})
    ctx = {
        "cfg": cfg,
        "q": term,
        "error": error,
        "found": found,
        "searched": bool(term) and not error,
        "tz": await organizer_tz(rt, actor),
    }
    return render(request, "gate/find.html", ctx, status_code=422 if error else 200)
