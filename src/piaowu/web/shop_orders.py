"""The buyer's order in the shop: the order page (pay, wait for the payment, the tickets with their QR codes and
the PDF), cancelling a pending order, and finding an order again by its number and the buyer's mobile or e-mail.

Ownership of an order: the browser that created or looked it up keeps it in the signed session cookie; anyone
else proves it with the order number and the buyer's contact (``lookup``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from piaowu.core.errors import DomainError, NotFound, OrderNotFound, TooManyAttempts
from piaowu.core.ids import normalize_code
from piaowu.orders import payment_flow, waiting
from piaowu.orders import service as orders
from piaowu.orders.schemas import OnlinePaymentIn, OrderOut
from piaowu.orders.states import UNPAID, WAS_PAID, OrderStatus
from piaowu.organizers.service import OrganizerInfo
from piaowu.ratelimit import client_ip
from piaowu.runtime import Runtime
from piaowu.tickets import printing
from piaowu.web.deps import RuntimeDep, public_base
from piaowu.web.shop_page import error_text, lookup_url, order_url, organizer, page, read_form, redirect, translator
from piaowu.web.shop_support import grouped_lines, owned_contact, qr_inline, remember_order, session_venues
from piaowu.web.templating import flash, group_code
from piaowu.workers.reconcile import recover_order

router = APIRouter()


# ---- the order: review and pay, then the tickets --------------------------------------------------------


async def _owned_order(request: Request, rt: Runtime, org: OrganizerInfo, code: str, *, refresh: bool) -> OrderOut:
    """The order if this browser owns it. An unpaid one is first checked with the gateway: its notification may
    be late or lost, and a buyer who paid after the order closed gets it revived or refunded now."""
    contact = owned_contact(request, org.id, code)
    if contact is None:
        raise OrderNotFound()
    if refresh:
        async with rt.uow(readonly=True) as uow:
            order = await orders.order_for_customer(uow, org.id, code, contact)
        if order.status in UNPAID:
            await recover_order(rt, org.id, order.id)
    async with rt.uow(readonly=True) as uow:
        return await orders.lookup_order(uow, org.id, code, contact)


def _view_state(order: OrderOut, now: Any, gateway_result: str) -> str:
    if order.status in WAS_PAID:
        return "paid"
    if order.status == OrderStatus.PENDING:
        if order.expires_at is not None and order.expires_at <= now:
            return "expired"  # the sweeper closes it within seconds; the buyer must not try to pay now
        return "processing" if gateway_result == "paid" else "pending"
    return str(order.status)  # cancelled, expired


@router.get("/s/{slug}/orders/{code}")
async def order_page(slug: str, code: str, request: Request, rt: RuntimeDep, gateway_result: str = "") -> Response:
    org = await organizer(rt, slug)
    try:
        order = await _owned_order(request, rt, org, code, refresh=True)
    except OrderNotFound:
        return redirect(lookup_url(slug, code))
    if normalize_code(code) != code:
        return redirect(order_url(slug, order.code))
    now = rt.clock.now()
    state = _view_state(order, now, gateway_result)
    _ = translator(request)
    tickets = []
    venues = await session_venues(rt, org.id, order)
    # Times in the venue's zone when the order's sessions share one (an order is nearly always one session's).
    zones = {label.timezone for label in venues.values()}
    if state == "paid":
        for line in order.lines:
            if line.ticket is None:
                continue
            label = _("QR code of ticket {code}", code=group_code(line.ticket.code))
            tickets.append((line, qr_inline(line.ticket.qr_payload, label) if line.ticket.status == "valid" else None))
    ctx = {
        "order": order,
        "state": state,
        "groups": grouped_lines(order),
        "tickets": tickets,
        "venues": venues,
        "now": now,
        "seconds_left": max(0, int((order.expires_at - now).total_seconds())) if order.expires_at else 0,
        "gateway_result": gateway_result,
        "first_session_id": order.lines[0].session_id if order.lines else "",
        "refunded_lines": [line for line in order.lines if line.status == "refunded"],
    }
    return page(request, "shop/order.html", ctx, org, zone=zones.pop() if len(zones) == 1 else "")


@router.get("/s/{slug}/orders/{code}/status.json")
async def order_status_json(slug: str, code: str, request: Request, rt: RuntimeDep, wait: float = 0) -> Response:
    """The order page's push channel (static/shop.js): held up to ``wait`` seconds while the order is pending,
    answered when the payment's commit wakes it. Only for the browser that owns the order, like the page (which
    sends any other browser to the lookup form; here: 403, the script then reloads into that redirect)."""
    org = await organizer(rt, slug)
    contact = owned_contact(request, org.id, code)
    refused = JSONResponse({"code": "lookup_required"}, status_code=403, headers=NO_STORE)
    if contact is None:
        return refused
    try:
        out = await waiting.customer_status(rt.uow, rt.wakeups, org.id, code, contact, wait)
    except OrderNotFound:
        return refused
    return JSONResponse({"status": out.status}, headers=NO_STORE)


NO_STORE = {"Cache-Control": "private, no-store"}


async def _buyer_post(request: Request, rt: Runtime, slug: str, code: str) -> tuple[OrganizerInfo, str | None]:
    """A button on the order page: the form's CSRF token is checked; → the organizer and the buyer's contact if
    this browser owns the order (None: it must be looked up first)."""
    await read_form(request)
    org = await organizer(rt, slug)
    return org, owned_contact(request, org.id, code)


@router.post("/s/{slug}/orders/{code}/pay")
async def pay(slug: str, code: str, request: Request, rt: RuntimeDep) -> Response:
    org, contact = await _buyer_post(request, rt, slug, code)
    if contact is None:
        return redirect(lookup_url(slug, code))
    base = public_base(request, rt)
    return_url = base + order_url(slug, normalize_code(code))
    try:
        payer, trade = await payment_flow.open_customer_trade(
            rt.uow, org.id, code, contact, OnlinePaymentIn(provider="sandbox", return_url=return_url), own_origin=base
        )
        async with rt.uow() as uow:
            started = await payment_flow.record_online(uow, payer, trade)
            await uow.commit()
    except OrderNotFound:
        return redirect(lookup_url(slug, code))
    except DomainError as exc:  # expired, already paid, the gateway down: said on the order page
        flash(request, error_text(request, exc), "error")
        return redirect(order_url(slug, normalize_code(code)))
    return redirect(started.redirect_url)


@router.get("/s/{slug}/orders/{code}/cancel")
async def cancel_confirmation(slug: str, code: str, request: Request, rt: RuntimeDep) -> Response:
    """Asks before cancelling (a page, so it works without JavaScript); only a pending order can be cancelled."""
    org = await organizer(rt, slug)
    try:
        order = await _owned_order(request, rt, org, code, refresh=False)
    except OrderNotFound:
        return redirect(lookup_url(slug, code))
    if order.status != OrderStatus.PENDING:
        return redirect(order_url(slug, order.code))
    return page(request, "shop/cancel_confirm.html", {"order": order, "groups": grouped_lines(order)}, org)


@router.post("/s/{slug}/orders/{code}/cancel")
async def cancel(slug: str, code: str, request: Request, rt: RuntimeDep) -> Response:
    org, contact = await _buyer_post(request, rt, slug, code)
    if contact is None:
        return redirect(lookup_url(slug, code))
    if (await request.form()).get("confirmed") != "1":  # not from the confirmation page: ask first
        return redirect(order_url(slug, normalize_code(code)) + "/cancel")
    try:
        async with rt.uow() as uow:
            await orders.cancel_by_customer(uow, org.id, code, contact)
            await uow.commit()
    except OrderNotFound:
        return redirect(lookup_url(slug, code))
    except DomainError as exc:
        flash(request, error_text(request, exc), "error")
    else:
        flash(request, translator(request)("Your order was cancelled and the tickets were released."), "success")
    return redirect(order_url(slug, normalize_code(code)))


@router.get("/s/{slug}/orders/{code}/tickets.pdf")
async def tickets_pdf(slug: str, code: str, request: Request, rt: RuntimeDep) -> Response:
    org = await organizer(rt, slug)
    try:
        order = await _owned_order(request, rt, org, code, refresh=False)
    except OrderNotFound:
        return redirect(lookup_url(slug, code))
    try:
        async with rt.uow(readonly=True) as uow:
            pdf = await printing.order_pdf(uow, org.id, printing.OrderFacts.of(order))
    except NotFound:  # not paid yet, or every ticket refunded: the order page says which
        return redirect(order_url(slug, order.code))
    headers = {
        "Content-Disposition": f'attachment; filename="tickets-{order.code}.pdf"',
        "Cache-Control": "private, no-store",
    }
    return Response(pdf, media_type="application/pdf", headers=headers)


# ---- finding an order again -----------------------------------------------------------------------------


LOOKUP_ATTEMPTS, LOOKUP_WINDOW_S = 10, 300  # per client address: enough for typos, too few to probe codes


@router.get("/s/{slug}/lookup")
async def lookup_form(slug: str, request: Request, rt: RuntimeDep, code: str = "") -> Response:
    org = await organizer(rt, slug)
    return page(request, "shop/lookup.html", {"values": {"code": code[:20]}}, org)


@router.post("/s/{slug}/lookup")
async def lookup(slug: str, request: Request, rt: RuntimeDep) -> Response:
    data = await read_form(request)
    org = await organizer(rt, slug)
    _ = translator(request)
    values = {"code": data.get("code", "").strip()[:20], "contact": data.get("contact", "").strip()[:254]}
    errors: dict[str, str] = {}
    if not values["code"]:
        errors["code"] = _("Enter the order number.")
    if not values["contact"]:
        errors["contact"] = _("Enter the mobile number or e-mail used for the order.")
    if errors:
        return page(request, "shop/lookup.html", {"values": values, "errors": errors}, org, status_code=422)
    # Counted before the check (parallel guesses cannot slip through); a successful lookup clears the count.
    key = f"shop.lookup:{client_ip(request)}"
    decision = await rt.limiter.hit(key, LOOKUP_ATTEMPTS, LOOKUP_WINDOW_S)
    if not decision.allowed:
        minutes = max(1, -(-decision.retry_after_s // 60))
        errors["form"] = error_text(request, TooManyAttempts(minutes=minutes))
        return page(request, "shop/lookup.html", {"values": values, "errors": errors}, org, status_code=429)
    try:
        async with rt.uow(readonly=True) as uow:
            order = await orders.order_for_customer(uow, org.id, values["code"], values["contact"])
    except OrderNotFound as exc:
        errors["form"] = error_text(request, exc)
        return page(request, "shop/lookup.html", {"values": values, "errors": errors}, org, status_code=404)
    await rt.limiter.reset(key)
    remember_order(request, org.id, order.code, order.buyer_phone)
    return redirect(order_url(slug, order.code))
