"""Back-office orders: search, detail with audit trail, cancel / take payment / refund, printable tickets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from piaowu.accounts.permissions import Permission
from piaowu.catalog import views as catalog_views
from piaowu.core.errors import (
    CsrfFailed,
    DomainError,
    EmptySelection,
    InvalidAmount,
    NotAuthenticated,
    PermissionDenied,
    RefundNotAllowed,
    RefundNotRetryable,
    TicketUsed,
    ValidationFailed,
)
from piaowu.core.money import format_money, parse_major
from piaowu.orders import service as orders
from piaowu.orders.payment_flow import pay_at_counter
from piaowu.orders.refunds import refund_order
from piaowu.orders.schemas import CashPaymentIn, OrderOut, RefundIn
from piaowu.orders.states import REFUNDABLE, OrderStatus
from piaowu.payments import service as payments
from piaowu.reports import service as reports
from piaowu.tickets import printing
from piaowu.web.deps import RuntimeDep, StaffDep
from piaowu.web.manage.common import (
    NOT_THE_FORMS_BUSINESS,
    FormErrors,
    error_text,
    organizer,
    page,
    pydantic_errors,
    read_form,
    redirect,
    translator,
)
from piaowu.web.manage.filters import QueryCheck
from piaowu.web.templating import flash

router = APIRouter()

STATUSES = [s.value for s in OrderStatus]
SEARCH_LENGTH = 100  # as the API's ``q``
ID_LENGTH = 26
UNKNOWN_STATUS = "“{value}” is not an order status: choose one from the list."
NO_SESSION = "No such session: its orders cannot be shown."
RECONCILIATION = "/manage/payments/reconciliation"


@router.get("/orders")
async def order_list(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    q: str = "",
    status: str = "",
    cursor: str = "",
    session_id: str = "",
) -> Response:
    """Search orders; ``session_id`` keeps only the orders with a ticket for one session (e.g. before and after
    cancelling it). A filter the page cannot apply is named inline (422) and no list is shown."""
    check = QueryCheck(request)
    status = check.one_of("status", status, STATUSES, UNKNOWN_STATUS)
    typed = q.strip()  # shown again in the search box, even when too long to search for
    q = check.text("q", q, SEARCH_LENGTH)
    session_id = session_id.strip()
    async with rt.uow(readonly=True) as uow:
        label = None
        if session_id:
            # Ids are 26 characters; anything else cannot name a session (and is not sent to the database).
            if len(session_id) == ID_LENGTH:
                label = (await catalog_views.session_labels(uow, actor.organizer_id, [session_id])).get(session_id)
            if label is None:
                check.fail("session_id", NO_SESSION)
                session_id = ""
        result = await check.listing(
            lambda: orders.list_orders(
                uow,
                actor,
                cursor=cursor.strip() or None,
                limit=30,
                status=status or None,
                q=q or None,
                session_id=session_id or None,
            )
        )
    ctx = {
        "page": result,
        "q": typed,
        "status": status,
        "statuses": STATUSES,
        "session_id": session_id,
        "session_label": label,
        "errors": check.errors,
    }
    code = 422 if check.errors else 200
    return await page(request, rt, actor, "manage/orders.html", ctx, active="orders", status_code=code)


async def _detail(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    order_id: str,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    async with rt.uow(readonly=True) as uow:
        order = await orders.get_order(uow, actor, order_id)
        trail = await reports.order_audit(uow, actor, order_id)
        refunds = await payments.refunds_of(uow, actor, order_id)
    ctx = {
        "order": order,
        "trail": trail,
        "refunds": refunds,
        "refundable_lines": [x for x in order.lines if x.status == "active"],
        "values": values or {},
        "errors": errors or {},
    }
    return await page(request, rt, actor, "manage/order.html", ctx, active="orders", status_code=status_code)


@router.get("/orders/{order_id}")
async def order_detail(request: Request, rt: RuntimeDep, actor: StaffDep, order_id: str) -> Response:
    return await _detail(request, rt, actor, order_id)


async def _act(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    order_id: str,
    values: dict[str, Any],
    action: Callable[[], Awaitable[str]],
) -> Response:
    """Runs an order action (its own transaction). Done: a flash on the order page. Refused: the order page again,
    with the reason and what was typed, so nothing has to be entered twice."""
    try:
        message = await action()
    except ValidationError as exc:
        errors = pydantic_errors(request, exc, {"tendered_minor": "tendered", "line_ids": "form"})
        status = 422
    except NOT_THE_FORMS_BUSINESS:
        raise
    except DomainError as exc:
        errors = {"tendered" if isinstance(exc, InvalidAmount) else "form": error_text(request, exc)}
        status = exc.status
    else:
        flash(request, message, "success")
        return redirect(f"/manage/orders/{order_id}")
    return await _detail(request, rt, actor, order_id, values=values, errors=errors, status_code=status)


@router.post("/orders/{order_id}/cancel")
async def order_cancel(request: Request, rt: RuntimeDep, actor: StaffDep, order_id: str) -> Response:
    await read_form(request)

    async def run() -> str:
        async with rt.uow() as uow:
            await orders.cancel_order(uow, actor, order_id)
            await uow.commit()
        return translator(request)("The order was cancelled; its tickets are free again.")

    return await _act(request, rt, actor, order_id, {}, run)


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
        command = CashPaymentIn(method=method, tendered_minor=tendered)
        async with rt.uow() as uow:
            paid = await pay_at_counter(uow, actor, order_id, command)
            await uow.commit()
        return change_message(request, paid, tendered)

    return await _act(request, rt, actor, order_id, form, run)


async def _refund_confirmation(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    order: OrderOut,
    line_ids: list[str],
    *,
    values: dict[str, Any],
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    """The confirmation step: the chosen tickets, the amount, which of them were already used at a gate (the
    override and a required reason appear only then), and the reason that goes into the audit event."""
    chosen = [line for line in order.lines if line.id in line_ids]
    used = [line for line in chosen if line.ticket is not None and line.ticket.entries_used > 0]
    ctx = {
        "order": order,
        "chosen": chosen,
        "used_ids": {line.id for line in used},
        "amount_minor": sum(line.price_minor for line in chosen),
        "values": values,
        "errors": errors or {},
    }
    return await page(request, rt, actor, "manage/refund_confirm.html", ctx, active="orders", status_code=status_code)


@router.post("/orders/{order_id}/refund")
async def order_refund(request: Request, rt: RuntimeDep, actor: StaffDep, order_id: str) -> Response:
    """Two steps, both this route: the order page's form asks for the confirmation page; that page's form
    (``confirmed``) refunds. A refused refund shows the confirmation page again with the reason inline."""
    form = await read_form(request)
    actor.require(Permission.REFUND)
    line_ids = list(dict.fromkeys(str(v) for v in (await request.form()).getlist("line")))
    values = {**form, "lines": line_ids}
    _ = translator(request)
    if not line_ids:
        error = error_text(request, EmptySelection("Choose the tickets to refund."))
        return await _detail(request, rt, actor, order_id, values=values, errors={"form": error}, status_code=422)
    async with rt.uow(readonly=True) as uow:
        order = await orders.get_order(uow, actor, order_id)
    active = {line.id for line in order.lines if line.status == "active"}
    refused: DomainError | None = None
    if order.status not in REFUNDABLE:
        refused = RefundNotAllowed(reason=f"the order is {order.status}")
    elif not set(line_ids) <= active:  # refunded meanwhile, or not of this order
        refused = ValidationFailed([], "These tickets are not part of the order or were already refunded.")
    if refused is not None:  # said on the order page, as it is now
        errors = {"form": error_text(request, refused)}
        return await _detail(request, rt, actor, order_id, values=values, errors=errors, status_code=refused.status)
    if form.get("confirmed") != "1":
        return await _refund_confirmation(request, rt, actor, order, line_ids, values=values)
    try:
        command = RefundIn(
            line_ids=line_ids, allow_used=form.get("allow_used") == "1", reason=form.get("reason", "")[:200]
        )
        async with rt.uow() as uow:
            done = await refund_order(uow, actor, order_id, command)
            await uow.commit()
    except ValidationError as exc:
        errors = pydantic_errors(request, exc, {"line_ids": "form"})
        status = 422
    except NOT_THE_FORMS_BUSINESS:
        raise
    except DomainError as exc:
        errors = {"allow_used" if isinstance(exc, TicketUsed) else "form": error_text(request, exc)}
        status = exc.status
    else:
        flash(
            request,
            _.ngettext(
                "Refund of {n} ticket recorded; {amount} goes back to the payer.",
                "Refund of {n} tickets recorded; {amount} goes back to the payer.",
                len(line_ids),
                n=len(line_ids),
                amount=format_money(sum(x.price_minor for x in done.lines if x.id in line_ids), done.currency),
            ),
            "success",
        )
        return redirect(f"/manage/orders/{order_id}")
    async with rt.uow(readonly=True) as uow:  # as it is now: a ticket may have been used meanwhile
        order = await orders.get_order(uow, actor, order_id)
    return await _refund_confirmation(
        request, rt, actor, order, line_ids, values=values, errors=errors, status_code=status
    )


@router.post("/orders/{order_id}/refunds/{refund_id}/retry")
async def order_refund_retry(
    request: Request, rt: RuntimeDep, actor: StaffDep, order_id: str, refund_id: str
) -> Response:
    """The order page's (and the reconciliation page's) *Retry refund*: the provider is asked again for one
    refund it refused or that the outbox gave up on. Refused (paid out, still being asked, not this order's):
    the order page with the reason beside the refund. ``from=reconciliation`` goes back to that page when done."""
    form = await read_form(request)
    actor.require(Permission.REFUND)
    _ = translator(request)
    try:
        async with rt.uow() as uow:
            done = await payments.retry_refund(uow, actor, refund_id, order_id=order_id)
            await uow.commit()
    except (PermissionDenied, NotAuthenticated, CsrfFailed):
        raise
    except DomainError as exc:  # the refund's own refusal, or "no such refund" for this order: said inline
        key = f"refund_{refund_id}" if isinstance(exc, RefundNotRetryable) else "form"
        return await _detail(
            request, rt, actor, order_id, errors={key: error_text(request, exc)}, status_code=exc.status
        )
    worker = rt.extras.get("worker")
    if worker is not None:
        worker.wake_outbox()  # ask the provider now rather than at the next sweep
    flash(
        request,
        _(
            "Refund of {amount} asked for again from the payment provider; the order page shows when it is paid out.",
            amount=format_money(done.amount_minor, done.currency),
        ),
        "success",
    )
    return redirect(RECONCILIATION if form.get("from") == "reconciliation" else f"/manage/orders/{order_id}")


@router.get("/orders/{order_id}/tickets.pdf")
async def order_tickets_pdf(rt: RuntimeDep, actor: StaffDep, order_id: str) -> Response:
    async with rt.uow(readonly=True) as uow:
        order = await orders.get_order(uow, actor, order_id)
        pdf = await printing.order_pdf(uow, actor.organizer_id, printing.OrderFacts.of(order))
    headers = {"Content-Disposition": f'inline; filename="tickets-{order.code}.pdf"', "Cache-Control": "no-store"}
    return Response(pdf, media_type="application/pdf", headers=headers)
