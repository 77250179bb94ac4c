"""Back-office orders: search, detail with audit trail, cancel / take payment / refund, printable tickets."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from piaowu.core.errors import DomainError, InvalidAmount, InvalidState, NotFound
from piaowu.core.money import format_money, parse_major
from piaowu.orders import service as orders
from piaowu.orders.payment_flow import pay_at_counter
from piaowu.orders.refunds import refund_order
from piaowu.orders.schemas import CashPaymentIn, OrderOut, RefundIn
from piaowu.orders.states import OrderStatus
from piaowu.reports import service as reports
from piaowu.tickets.rendering import TicketPrint, ticket_pdf
from piaowu.web.deps import RuntimeDep, StaffDep
from piaowu.web.manage.common import error_text, organizer, page, read_form, redirect, translator
from piaowu.web.templating import flash, local_time

router = APIRouter()

STATUSES = [s.value for s in OrderStatus]


@router.get("/orders")
async def order_list(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    q: str = "",
    status: str = "",
    cursor: str = "",
) -> Response:
    status = status if status in STATUSES else ""
    async with rt.uow(readonly=True) as uow:
        result = await orders.list_orders(
            uow, actor, cursor=cursor or None, limit=30, status=status or None, q=q.strip() or None
        )
    ctx = {"page": result, "q": q, "status": status, "statuses": STATUSES}
    return await page(request, rt, actor, "manage/orders.html", ctx, active="orders")


@router.get("/orders/{order_id}")
async def order_detail(request: Request, rt: RuntimeDep, actor: StaffDep, order_id: str) -> Response:
    async with rt.uow(readonly=True) as uow:
        order = await orders.get_order(uow, actor, order_id)
        trail = await reports.order_audit(uow, actor, order_id)
    ctx = {"order": order, "trail": trail, "refundable_lines": [x for x in order.lines if x.status == "active"]}
    return await page(request, rt, actor, "manage/order.html", ctx, active="orders")


async def _act(request: Request, order_id: str, action, success: str) -> Response:  # noqa: ANN001
    """Runs an order action; its outcome is a flash message on the order page (errors included)."""
    try:
        result = await action()
    except NotFound:
        raise
    except DomainError as exc:
        flash(request, error_text(request, exc), "error")
    else:
        flash(request, result or success, "success")
    return redirect(f"/manage/orders/{order_id}")


@router.post("/orders/{order_id}/cancel")
async def order_cancel(request: Request, rt: RuntimeDep, actor: StaffDep, order_id: str) -> Response:
    await read_form(request)

    async def run() -> None:
        async with rt.uow() as uow:
            await orders.cancel_order(uow, actor, order_id)
            await uow.commit()

    return await _act(
        request, order_id, run, translator(request)("The order was cancelled; its tickets are free again.")
    )


def parse_tendered(text: str, currency: str) -> int | None:
    if not text.strip():
        return None
    try:
        return parse_major(text, currency)
    except ValueError:
        raise InvalidAmount() from None


def change_message(request: Request, order: OrderOut, tendered: int | None) -> str:
    _ = translator(request)
    text = _("Paid. Order {code} — tickets issued.", code=order.code)
    if tendered is not None and tendered > order.total_minor:
        text += " " + _("Change due: {amount}", amount=format_money(tendered - order.total_minor, order.currency))
    return text


@router.post("/orders/{order_id}/pay")
async def order_pay(request: Request, rt: RuntimeDep, actor: StaffDep, order_id: str) -> Response:
    form = await read_form(request)
    method = form.get("method", "cash")
    currency = (await organizer(rt, actor)).currency

    async def run() -> str:
        tendered = parse_tendered(form.get("tendered", ""), currency) if method == "cash" else None
        async with rt.uow() as uow:
            paid = await pay_at_counter(uow, actor, order_id, CashPaymentIn(method=method, tendered_minor=tendered))
            await uow.commit()
        return change_message(request, paid, tendered)

    return await _act(request, order_id, run, "")


@router.post("/orders/{order_id}/refund")
async def order_refund(request: Request, rt: RuntimeDep, actor: StaffDep, order_id: str) -> Response:
    form = await request.form()
    await read_form(request)
    line_ids = [str(v) for v in form.getlist("line")]
    _ = translator(request)
    if not line_ids:
        flash(request, _("Choose the tickets to refund."), "error")
        return redirect(f"/manage/orders/{order_id}")

    async def run() -> str:
        async with rt.uow() as uow:
            done = await refund_order(
                uow, actor, order_id, RefundIn(line_ids=line_ids, reason=str(form.get("reason") or "")[:200])
            )
            await uow.commit()
        return _(
            "Refund of {n} tickets recorded; {amount} goes back to the payer.",
            n=len(line_ids),
            amount=format_money(sum(x.price_minor for x in done.lines if x.id in line_ids), done.currency),
        )

    return await _act(request, order_id, run, "")


@router.get("/orders/{order_id}/tickets.pdf")
async def order_tickets_pdf(request: Request, rt: RuntimeDep, actor: StaffDep, order_id: str) -> Response:
    async with rt.uow(readonly=True) as uow:
        order = await orders.get_order(uow, actor, order_id)
    org = await organizer(rt, actor)
    prints = [
        TicketPrint(
            event_name=line.event_name,
            session_name=line.session_name,
            starts_at_local=f"{local_time(line.starts_at, org.timezone)} ({org.timezone})" if line.starts_at else "",
            ticket_type_name=line.ticket_type_name,
            price=format_money(line.price_minor, order.currency),
            order_code=order.code,
            holder_name=order.buyer_name,
            code=line.ticket.code,
            qr_payload=line.ticket.qr_payload,
        )
        for line in order.lines
        if line.ticket is not None and line.status == "active" and line.ticket.status == "valid"
    ]
    if not prints:
        raise InvalidState(state=order.status)
    pdf = ticket_pdf(prints, title=f"{order.code}")
    headers = {"Content-Disposition": f'inline; filename="tickets-{order.code}.pdf"', "Cache-Control": "no-store"}
    return Response(pdf, media_type="application/pdf", headers=headers)
