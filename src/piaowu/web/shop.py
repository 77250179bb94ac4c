"""The customer shop, phone first: organizers → events and sessions → tickets (or seats) and contact → the order,
which ``web.shop_orders`` takes on (review and pay, the tickets, finding an order again).

The same flow as ``api/v1/shop.py`` (which pages must not import). The order placed here is remembered in the
signed session cookie as this browser's (``shop_support.remember_order``).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from piaowu.accounts import access
from piaowu.appscope import runtime_of
from piaowu.catalog import event_service
from piaowu.catalog.rules import Availability
from piaowu.catalog.schemas import EventOut, SessionOut
from piaowu.core.errors import (
    CsrfFailed,
    DomainError,
    EmptySelection,
    IdempotencyInProgress,
    InvalidQuantity,
    InvalidState,
    LockTimeout,
    NotFound,
    NotOnSale,
    SeatBlocked,
    SeatNotOnSaleHere,
    SeatTaken,
    SoldOut,
    ValidationFailed,
)
from piaowu.core.money import format_money, minor_digits
from piaowu.organizers import service as organizers
from piaowu.organizers.service import OrganizerInfo
from piaowu.ratelimit import client_ip, enforce
from piaowu.runtime import Runtime
from piaowu.seating import session_seating
from piaowu.web.deps import RuntimeDep
from piaowu.web.shop_calendar import Slot, days_of, months_of, wants_calendar
from piaowu.web.shop_page import error_text, organizer, page, read_form, redirect, translator
from piaowu.web.shop_support import (
    BuyForm,
    month_label,
    new_form_token,
    read_buy_form,
    read_seat_form,
    remember_order,
    seat_limit,
    seat_name,
    session_availability,
    type_limit,
    valid_form_token,
)
from piaowu.web.shop_support import create_once as create_order_once
from piaowu.web.templating import csrf_token, page_locale

router = APIRouter()


# ---- browsing -------------------------------------------------------------------------------------------


@router.get("/")
async def index(request: Request, rt: RuntimeDep) -> Response:
    async with rt.uow(readonly=True) as uow:
        orgs = await organizers.list_organizers(uow)
    if len(orgs) == 1:
        return await _shop_home(request, rt, orgs[0])
    return page(request, "shop/organizers.html", {"organizers": orgs})


@router.get("/s/{slug}")
async def shop_home(slug: str, request: Request, rt: RuntimeDep) -> Response:
    return await _shop_home(request, rt, await organizer(rt, slug))


def _from_price(s: SessionOut) -> tuple[int, str] | None:
    prices = [(t.price_minor, t.currency) for t in s.ticket_types if t.is_active]
    return min(prices) if prices else None


async def _shop_home(request: Request, rt: Runtime, org: OrganizerInfo) -> HTMLResponse:
    now = rt.clock.now()
    async with rt.uow(readonly=True) as uow:
        events = await event_service.published_events(uow, org.id)
    listing = []
    for ev in events:
        sessions = _upcoming(ev.sessions, now)
        if sessions:
            # An event with many dates (a scenic area open daily) shows its next few here and the rest on its own
            # page, so that it does not push every other event below thirty rows.
            rows = [_row(s) for s in sessions[:HOME_SESSIONS]]
            listing.append((ev, rows, len(sessions)))
    listing.sort(key=lambda item: item[1][0][0].starts_at)
    mine = [e[1] for e in request.session.get("shop_orders", []) if e[0] == org.id]
    return page(request, "shop/home.html", {"listing": listing, "my_orders": mine[::-1][:5]}, org)


HOME_SESSIONS = 4


def _upcoming(sessions: list[SessionOut], now: datetime) -> list[SessionOut]:
    # Sessions that are over are history, not something to buy.
    return sorted((s for s in sessions if s.ends_at > now), key=lambda s: s.starts_at)


def _row(s: SessionOut) -> tuple[SessionOut, Availability, tuple[int, str] | None]:
    """A session as a list of dates shows it: its state and its lowest price."""
    return s, session_availability(s), _from_price(s)


@router.get("/s/{slug}/events/{event_id}")
async def event_page(slug: str, event_id: str, request: Request, rt: RuntimeDep) -> Response:
    """Every coming date of one event: a month calendar (each day's state and lowest price) when the dates are
    many, and the list of sessions by day."""
    org = await organizer(rt, slug)
    async with rt.uow(readonly=True) as uow:
        ev = await event_service.public_event(uow, org.id, event_id)
    zone = ev.venue_timezone or org.timezone
    tz = ZoneInfo(zone)
    rows = [_row(s) for s in _upcoming(ev.sessions, rt.clock.now())]
    slots = [Slot(s.starts_at.astimezone(tz).date(), av.state, av.left, price, (s, av, price)) for s, av, price in rows]
    days = days_of(slots)
    locale = page_locale(request)
    months = [(m, month_label(m.year, m.month, locale)) for m in months_of(days)] if wants_calendar(days) else []
    return page(request, "shop/event.html", {"event": ev, "days": days, "months": months}, org, zone=zone)


# ---- choosing tickets and buying ------------------------------------------------------------------------


async def _session_page(
    request: Request,
    rt: Runtime,
    org: OrganizerInfo,
    session_id: str,
    *,
    form: BuyForm | None = None,
    token: str | None = None,
    status_code: int = 200,
    extra: dict[str, Any] | None = None,
) -> HTMLResponse:
    async with rt.uow(readonly=True) as uow:
        ev, s = await event_service.public_session(uow, org.id, session_id)
        seated = await session_seating.seating_of(uow, org.id, session_id) is not None
    return _session_view(
        request, rt, org, ev, s, form=form, token=token, status_code=status_code, extra=extra, seated=seated
    )


def _session_view(
    request: Request,
    rt: Runtime,
    org: OrganizerInfo,
    ev: EventOut,
    s: SessionOut,
    *,
    form: BuyForm | None,
    token: str | None,
    status_code: int,
    extra: dict[str, Any] | None = None,
    seated: bool = False,
) -> HTMLResponse:
    """``seated``: the session sells assigned seats, so the page shows the seat picker (static/seatmap.js) in
    place of the quantity steppers; the general-admission page is unchanged."""
    types = sorted(s.ticket_types, key=lambda t: (t.sort_order, t.price_minor))
    quantities = form.quantities if form else {}
    currency = types[0].currency if types else org.currency
    ctx = {
        "event": ev,
        "session": s,
        # The event's other coming dates, for a buyer who opened the wrong day (its page lists them).
        "other_dates": sum(1 for x in _upcoming(event_service.listed(ev.sessions), rt.clock.now()) if x.id != s.id),
        "av": session_availability(s),
        "types": [(t, type_limit(t, s)) for t in types],
        "quantities": quantities,
        "total_minor": sum(t.price_minor * quantities.get(t.id, 0) for t in types),
        "currency": currency,
        "currency_symbol": re.sub(r"[\d.,\s]+$", "", format_money(0, currency)),
        "currency_digits": minor_digits(currency),
        "values": form.values if form else {},
        "errors": form.errors if form else {},
        "form_token": token or new_form_token(),
        "hold_minutes": rt.settings.hold_minutes,
        "seated": seated,
        "seat_limit": seat_limit(s),
        "refused_seats": [],
        **(extra or {}),
    }
    return page(request, "shop/session.html", ctx, org, status_code=status_code, zone=ev.venue_timezone)


# The session page is what every buyer loads during a sale. Its shared part (everything but the visitor's CSRF
# token and the form's one-time token) is rendered once per (shop, session, language) and process and served
# from rt.shop_cache for shop_cache_seconds; each answer then puts this visitor's tokens in place of these
# markers (random per process, so no page text can forge them) — two bytes.replace instead of a render.
_CSRF_MARK = f"csrfmark{secrets.token_hex(12)}"
_FORM_MARK = f"formmark{secrets.token_hex(12)}"


def _shared_session_page(request: Request) -> bool:
    """Only the plain page is shared: no query but ``?lang=`` (the page's links depend on the query) and no
    flash message waiting for this visitor."""
    return set(request.query_params) <= {"lang"} and not request.session.get("flash")


# The route and ``SharedSessionPages`` answer the same path: one constant, so they cannot drift apart.
SESSION_PAGE_PATH = "/s/{slug}/sessions/{session_id}"


@router.get(SESSION_PAGE_PATH)
async def session_page(slug: str, session_id: str, request: Request, rt: RuntimeDep) -> Response:
    if not _shared_session_page(request):
        return await _session_page(request, rt, await organizer(rt, slug), session_id)
    locale = page_locale(request)

    async def read() -> bytes:
        org = await organizer(rt, slug)
        shared = {"csrf": _CSRF_MARK}
        rendered = await _session_page(request, rt, org, session_id, token=_FORM_MARK, extra=shared)
        return bytes(rendered.body)

    shared = await rt.shop_cache.get(_page_key(slug, session_id, locale), read)
    return _visitors_page(request, shared, locale)


def _page_key(slug: str, session_id: str, locale: str) -> tuple[str, ...]:
    # The key holds the language (texts and catalog names are in it) and the slug (the session is read within
    # that organizer only): no other shop's or language's page is ever served from it.
    return ("session-page", slug, session_id, locale)


def _visitors_page(request: Request, shared: bytes, locale: str) -> HTMLResponse:
    """The shared render with this visitor's CSRF token (their session's) and a new form token in it."""
    body = shared.replace(_CSRF_MARK.encode(), csrf_token(request).encode(), 1)
    body = body.replace(_FORM_MARK.encode(), new_form_token().encode(), 1)
    response = HTMLResponse(body)
    if request.query_params.get("lang"):  # as render() does: the chosen language sticks
        response.set_cookie("lang", locale, max_age=365 * 86400, samesite="lax")
    return response


class SharedSessionPages:
    """ASGI middleware, innermost (inside the session cookie, the reading locale and the request guard): a plain
    session page whose shared render is in ``rt.shop_cache`` is answered from it by ``_visitors_page``, as the
    route does, without FastAPI's routing and dependencies — during a sale that framework was two thirds of a
    cached page's CPU. Anything else (a miss, another query, a flash message, another method or page) goes on
    to the pages, which read, render and fill the cache as before. The route's access rule is checked here
    once: the page is public (``accounts.access``), so the per-request check has nothing to decide."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        rule = access.rule_for("GET", SESSION_PAGE_PATH)
        if rule is None or rule.needs_staff:
            raise RuntimeError(f"GET {SESSION_PAGE_PATH} is not a public page: it cannot be served from the cache")
        self.path = compile_path(SESSION_PAGE_PATH)[0]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and (match := self.path.match(scope["path"])):
            request = Request(scope, receive)
            if _shared_session_page(request):
                locale = page_locale(request)
                key = _page_key(match["slug"], match["session_id"], locale)
                shared = runtime_of(scope).shop_cache.peek(key)
                if shared is not None:
                    await _visitors_page(request, shared, locale)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


@router.post("/s/{slug}/sessions/{session_id}")
async def buy(slug: str, session_id: str, request: Request, rt: RuntimeDep) -> Response:
    data = await read_form(request)
    token = data.get("form_token", "")
    if not valid_form_token(token):
        raise CsrfFailed()
    org = await organizer(rt, slug)
    _ = translator(request)
    async with rt.uow(readonly=True) as uow:
        ev, s = await event_service.public_session(uow, org.id, session_id)
        seated = await session_seating.seating_of(uow, org.id, session_id) is not None
    form = read_seat_form(data, s, _) if seated else read_buy_form(data, s, _)
    if form.errors:
        return _session_view(request, rt, org, ev, s, form=form, token=token, status_code=422, seated=seated)
    try:
        # One budget per client address, shared with the shop API (same key), against bots emptying a sale.
        await enforce(rt.limiter, f"shop.orders:{client_ip(request)}", rt.settings.shop_orders_per_minute, 60)
        created = await create_order_once(rt, org.id, token, form.order_in())
    except (SeatTaken, SeatBlocked, SeatNotOnSaleHere) as exc:  # named seat by seat; the map drops them
        refused = await _named_seats(rt, org.id, session_id, exc.data.get("seats"), exc.data.get("unit_ids"))
        names = _seat_list(request, refused)
        if isinstance(exc, SeatTaken):
            text = _(
                "Just taken by another buyer: {seats}. Your other seats are still chosen: pick replacements and "
                "place the order again.",
                seats=names,
            )
        else:
            text = _("Not for sale: {seats}. Your other seats are still chosen: pick others instead.", seats=names)
        form.errors["tickets"] = text
        extra = {"refused_seats": [seat[0] for seat in refused]}
        return await _session_page(request, rt, org, session_id, form=form, token=token, status_code=409, extra=extra)
    except SoldOut:
        form.errors["tickets"] = _(
            "Not enough tickets are left for your selection. The numbers below are up to date: "
            "choose fewer tickets or another session."
        )
        return await _session_page(request, rt, org, session_id, form=form, token=token, status_code=409)
    except (NotOnSale, InvalidQuantity, EmptySelection, InvalidState) as exc:
        form.errors["tickets"] = error_text(request, exc)
        return await _session_page(request, rt, org, session_id, form=form, token=token, status_code=exc.status)
    except ValidationFailed as exc:
        if seated and (problem := await _seat_problem(request, rt, org.id, session_id, exc)):
            form.errors["tickets"], refused = problem
            extra = {"refused_seats": refused}
            return await _session_page(
                request, rt, org, session_id, form=form, token=token, status_code=422, extra=extra
            )
        # a ticket type was switched off while the page was open
        form.errors["tickets"] = _("A ticket type you chose is no longer on sale. Please choose again.")
        return await _session_page(request, rt, org, session_id, form=form, token=token, status_code=409)
    except LockTimeout as exc:
        form.errors["form"] = error_text(request, exc)
        return await _session_page(request, rt, org, session_id, form=form, token=token, status_code=exc.status)
    except IdempotencyInProgress as exc:  # the twin submission is still running: its order will show up
        form.errors["form"] = _("Your order is still being processed. Please wait a moment and reload the page.")
        return await _session_page(request, rt, org, session_id, form=form, token=token, status_code=exc.status)
    except ValidationError:  # more ticket types at once than one order takes
        form.errors["tickets"] = _("This value is not valid.")
        return await _session_page(request, rt, org, session_id, form=form, token=token, status_code=422)
    except (NotFound, CsrfFailed):
        raise
    except DomainError as exc:  # anything else the sale refuses (a busy system, a limit): said on the form
        form.errors["form"] = error_text(request, exc)
        return await _session_page(request, rt, org, session_id, form=form, token=token, status_code=exc.status)
    remember_order(request, org.id, created["code"], created["contact"])
    return redirect(f"/s/{slug}/orders/{created['code']}")


async def _named_seats(
    rt: Runtime, organizer_id: str, session_id: str, listed: object, unit_ids: object = None
) -> list[tuple[str, str, str, str]]:
    """The seats a refusal names, as (seat id, section label, row, number): from its ``seats`` (dicts with id,
    section, row, number) when it lists them, else ``unit_ids`` looked up among the session's seats. Sections
    by their label, as the map names them."""
    async with rt.uow(readonly=True) as uow:
        seating = await session_seating.seating_of(uow, organizer_id, session_id)
        if isinstance(listed, list) and listed:
            keys = ("id", "section", "row", "number")
            found = [tuple(str(seat.get(k, "")) for k in keys) for seat in listed if isinstance(seat, dict)]
        else:
            wanted = {str(u) for u in unit_ids or []} if isinstance(unit_ids, list | tuple | set) else set()
            seats = await session_seating.session_seats(uow, organizer_id, session_id)
            found = [(s.unit_id, s.section, s.row, s.number) for s in seats if s.unit_id in wanted]
    sections = seating.sections if seating else []
    names = {str(sec.get("id")): str(sec.get("label") or sec.get("id")) for sec in sections}
    return [(seat_id, names.get(section, section), row, number) for seat_id, section, row, number in found]


def _seat_list(request: Request, seats: list[tuple[str, str, str, str]]) -> str:
    _ = translator(request)
    return ("、" if page_locale(request) == "zh_CN" else "; ").join(seat_name(_, *seat[1:]) for seat in seats)


async def _seat_problem(
    request: Request, rt: Runtime, organizer_id: str, session_id: str, exc: ValidationFailed
) -> tuple[str, list[str]] | None:
    """A seat resolver's refusal of the chosen seats (``unknown_seat``, ``seat_twice``, ``zone_not_priced``) as
    one sentence naming the seats, and the ids the map should drop; None for any other problem."""
    _ = translator(request)
    by_code: dict[str, list[str]] = {}
    for err in exc.errors:
        by_code.setdefault(str(err.get("code")), []).append(str(err.get("seat_id", "")))
    if not by_code.keys() & {"unknown_seat", "seat_twice", "zone_not_priced"}:
        return None
    parts, refused = [], by_code.get("unknown_seat", [])
    if "unknown_seat" in by_code:
        parts.append(_("A seat you chose is not part of this session any more."))
    if "seat_twice" in by_code:
        twice = await _named_seats(rt, organizer_id, session_id, None, by_code["seat_twice"])
        parts.append(_("Chosen twice: {seats}.", seats=_seat_list(request, twice)))
    if "zone_not_priced" in by_code:
        parts.append(_("A seat you chose is not sold as the ticket type you picked for it: pick another type."))
    parts.append(_("Please check your seats and place the order again."))
    return " ".join(parts), [seat_id for seat_id in refused if seat_id]
