"""What a payment means for an order: units sold, tickets issued — exactly once.

A payment may arrive after its order closed (the buyer paid on the gateway page at minute 14:59, the
notification came at 15:02, the sweeper had expired the order). Money is never lost: if the order's units can
be taken again the order is revived as paid; otherwise the payment is refunded automatically in full. A
second payment for an order that is already paid is refunded as well. Nothing is sold, paid for or revived for
a cancelled session: a payment that lands for such an order anyway is refunded in full.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Table

from piaowu.accounts import service as accounts
from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import as_row, record
from piaowu.catalog import session_service, ticket_type_service
from piaowu.catalog import views as catalog_views
from piaowu.catalog.rules import SessionStatus
from piaowu.core.actor import Actor, ActorKind, system_actor
from piaowu.core.errors import HoldExpired, InvalidState, NotFound, SessionCancelled, SoldOut, ValidationFailed
from piaowu.db import hotpath
from piaowu.db.hotpath import GuardedWrite, StaleRead
from piaowu.db.uow import UnitOfWork, UnitsOfWork
from piaowu.inventory import service as inventory
from piaowu.inventory.rules import LockedHold
from piaowu.orders import refund_reasons
from piaowu.orders import repository as repo
from piaowu.orders.models import Order, OrderLine
from piaowu.orders.schemas import CashPaymentIn, CounterSaleIn, OnlinePaymentIn, OrderIn, OrderOut, PaymentStartOut
from piaowu.orders.service import create_order, load, order_for_customer
from piaowu.orders.states import REFUNDABLE, OrderStatus, sources_for
from piaowu.orders.views import order_out
from piaowu.payments import reconciliation
from piaowu.payments import repository as payments_repo
from piaowu.payments import service as payments
from piaowu.payments.providers.base import Notification
from piaowu.payments.reconcile_rules import judge
from piaowu.payments.reconciliation import ProviderAnswer
from piaowu.payments.service import Confirmed, OpenedTrade, TradeRequest
from piaowu.tickets import service as tickets
from piaowu.tickets.schemas import TicketSpec


async def pay_at_counter(uow: UnitOfWork, actor: Actor, order_id: str, data: CashPaymentIn) -> OrderOut:
    """Box office: the clerk took cash or a card-terminal payment; the order is paid and tickets are issued."""
    actor.require(Permission.PAYMENT_CASH)
    order = await load(uow, actor.organizer_id, order_id)
    if order.status != OrderStatus.PENDING:
        raise InvalidState(state=order.status)
    await refuse_if_session_cancelled(uow, order)
    if data.tendered_minor is not None and data.tendered_minor < order.total_minor:
        raise ValidationFailed(
            [
                {
                    "field": "tendered_minor",
                    "code": "too_little",
                    "message": "The amount tendered is less than the total.",
                }
            ]
        )
    confirmed = await payments.pay_in_person(
        uow,
        actor,
        order_id=order.id,
        method=data.method,
        amount_minor=order.total_minor,
        currency=order.currency,
        subject=f"Order {order.code}",
    )
    await apply_confirmed(uow, confirmed)
    await uow.session.refresh(order)
    return await order_out(uow, order, await repo.lines(uow.session, [order.id]))


async def sell_at_counter(uow: UnitOfWork, actor: Actor, data: CounterSaleIn) -> OrderOut:
    """Box-office sale: create the order and record its counter payment in the caller's one transaction — the
    order is paid and its tickets issued, or (any refusal: sold out, too little tendered, no permission) nothing
    is written, so a counter sale never leaves units held by an order nobody will pay. Needs both
    ``order.create`` and ``payment.cash``; both are checked before anything is reserved."""
    actor.require(Permission.ORDER_CREATE)
    actor.require(Permission.PAYMENT_CASH)
    created = await create_order(uow, actor, OrderIn(items=data.items, buyer=data.buyer))
    await uow.session.flush()  # sessions do not autoflush; the payment step reads the new order back
    return await pay_at_counter(uow, actor, created.id, data.payment)


async def _online_request(
    uow: UnitOfWork, actor: Actor, order: Order | repo.PayableOrder, data: OnlinePaymentIn, own_origin: str
) -> TradeRequest:
    _payable(uow, order)
    if isinstance(order, repo.PayableOrder):
        if order.session_cancelled:  # read with the order, in the same statement
            raise SessionCancelled()
    else:
        await refuse_if_session_cancelled(uow, order)
    return await payments.trade_request(
        uow,
        actor,
        order_id=order.id,
        provider_name=data.provider,
        amount_minor=order.total_minor,
        currency=order.currency,
        subject=f"Order {order.code}",
        return_url=data.return_url,
        own_origin=own_origin,
        pay_before=order.expires_at,
    )


async def _payable_order(uow: UnitOfWork, actor: Actor, order_id: str) -> repo.PayableOrder:
    """The order in the actor's organizer, as starting a payment sees it. An API token's actor may come from
    this process's cache: the same read re-verifies the token (401 when it was revoked)."""
    checks = accounts.token_checks(actor)
    order, row = await repo.payable(uow.session, actor.organizer_id, order_id, checks)
    accounts.refuse_revoked(await hotpath.failed_checks(uow.session, actor.organizer_id, checks, row))
    if order is None:
        raise NotFound(kind="order")
    return order


def _payable(uow: UnitOfWork, order: Order | repo.PayableOrder) -> None:
    if order.status != OrderStatus.PENDING:
        raise InvalidState(state=order.status)
    if order.expires_at is not None and order.expires_at <= uow.now():
        raise HoldExpired()


async def _open(uows: UnitsOfWork, req: TradeRequest) -> OpenedTrade:
    # The provider's alone: nothing of ours is read or locked before its call. Autocommit: what the sandbox
    # writes here (its trade) is one statement, so on PostgreSQL it needs no BEGIN … COMMIT around it; a real
    # provider issues nothing on it at all.
    async with uows(autocommit=True) as uow:
        trade = await payments.open_trade(uow, req)
        await uow.commit()
    return trade


async def session_cancelled(uow: UnitOfWork, order: Order, lines: Sequence[OrderLine] | None = None) -> bool:
    """Whether a ticket of this order is for a cancelled session (then nothing of it may be paid or revived)."""
    lines = lines if lines is not None else await repo.lines(uow.session, [order.id])
    return bool(await session_service.cancelled_among(uow, order.organizer_id, [line.session_id for line in lines]))


async def refuse_if_session_cancelled(uow: UnitOfWork, order: Order) -> None:
    if await session_cancelled(uow, order):
        raise SessionCancelled()


async def open_online_trade(uows: UnitsOfWork, actor: Actor, order_id: str, data: OnlinePaymentIn) -> OpenedTrade:
    """Staff or an integration starts an online payment for a pending order, step one: check (read-only), then
    open the trade at the provider in a unit of work of its own. ``record_online`` writes the payment. Two
    steps, so that no transaction of ours is open across the provider's call (on SQLite a write transaction is
    the whole database's lock)."""
    actor.require(Permission.ORDER_CREATE)
    async with uows(readonly=True, autocommit=True) as uow:  # one read (order, sessions, token), no transaction
        req = await _online_request(uow, actor, await _payable_order(uow, actor, order_id), data, "")
    return await _open(uows, req)


async def open_customer_trade(
    uows: UnitsOfWork,
    organizer_id: str,
    code: str,
    contact: str,
    data: OnlinePaymentIn,
    *,
    own_origin: str = "",
) -> tuple[Actor, OpenedTrade]:
    """The buyer pays their pending order online, step one (see ``open_online_trade``). ``own_origin``: the
    address the shop page was reached at, where the gateway may send the buyer back (pages pass it; the public
    API does not — there only configured origins). → the buyer as actor, for ``record_online``."""
    async with uows(readonly=True) as uow:
        order = await order_for_customer(uow, organizer_id, code, contact)
        actor = Actor(kind=ActorKind.CUSTOMER, organizer_id=organizer_id, id=order.buyer_phone, name=order.buyer_name)
        req = await _online_request(uow, actor, order, data, own_origin)
    return actor, await _open(uows, req)


async def record_online(uow: UnitOfWork, actor: Actor, trade: OpenedTrade) -> PaymentStartOut:
    """Step two: write the pending payment of an opened trade → where to send the buyer. The order must still
    be payable (it may have expired or been paid while the provider answered): the payment and its audit event
    are written by one statement, only while the order is still pending with the expiry step one saw, before
    that expiry, and — for an API token — while the token is unrevoked. So it may run in an autocommit unit of
    work (``run_once(single_statement=True)``); nothing is written on any refusal."""
    req = trade.request
    if req.pay_before is not None and req.pay_before <= uow.now():
        raise HoldExpired()
    checks = (repo.still_pending(req.order_id, req.pay_before), *accounts.token_checks(actor))
    try:
        info, _ = await payments.record_trade(uow, actor, trade, checks)
    except StaleRead as stale:
        accounts.refuse_revoked(stale.checks)
        # The order changed since step one (paid, expired, cancelled): read it again for the refusal to give.
        order = await _payable_order(uow, actor, req.order_id)
        _payable(uow, order)
        raise InvalidState(state=order.status) from None
    return PaymentStartOut(
        payment_id=info.id, provider=info.provider, redirect_url=info.redirect_url, status=info.status
    )


async def handle_notification(uow: UnitOfWork, provider_name: str, headers: Mapping[str, str], body: bytes) -> str:
    """A provider's server-to-server notification: verify, apply once, answer ``success`` (also for repeats, so
    the provider stops retrying). Raises PaymentSignatureInvalid for forged or garbled bodies."""
    note = payments.verify(uow, provider_name, headers, body)
    # The order's row first, as the sweeper and cancellations take it: applying a payment locks the payment
    # and then the order, the sweeper the order and then the payment (cancel_pending) — in opposite orders
    # they deadlock on PostgreSQL (tests/concurrency/test_payment_races.py found it). One statement locks the
    # order and reads the payment's facts and the order's state under the lock; nothing reads them again.
    found = await repo.lock_for_payment(uow.session, note.payment_id)
    if found is None:
        await apply_provider_note(uow, provider_name, note)  # an unknown payment: logged, nothing applied
    else:
        await apply_provider_note(uow, provider_name, note, known=found)
    return "success"


async def apply_provider_note(
    uow: UnitOfWork,
    provider_name: str,
    note: Notification,
    *,
    known: repo.LockedForPayment | None = None,
) -> str | None:
    """The one path by which a provider's word that a payment succeeded — a notification, or the answer to a
    query (order lookup, reconciliation) — reaches the order. The caller has locked the order's row (``known``:
    the payment and the order as read under that lock, in this transaction). → what happened (see
    ``apply_confirmed``), or None when an earlier delivery had applied it."""
    paying = _paying(uow, known) if known is not None else None
    confirmed = await payments.apply_notification(
        uow, provider_name, note, known.payment if known else None, with_mark=paying
    )
    if confirmed is None:
        return None
    if known is None:
        return await apply_confirmed(uow, confirmed)
    return await apply_confirmed(uow, confirmed, head=known.order, lines=known.lines, hold=known.hold)


class PaymentMeans(StrEnum):
    """What a confirmed payment does to its order (``payment_means``)."""

    REFUND_SESSION_CANCELLED = "refund_session_cancelled"
    REFUND_DUPLICATE = "refund_duplicate"
    PAY = "pay"  # pending → paid (the hold confirmed), or a closed order revived if its units can be taken again
    REFUSE = "refuse"  # no transition to paid from this state


def payment_means(status: OrderStatus, labels: Mapping[str, catalog_views.SessionLabel]) -> PaymentMeans:
    """The one rule for a confirmed payment of an order in ``status`` whose lines' sessions are ``labels``: money
    for a cancelled session goes back, a second payment of a paid (refundable) order goes back, and only a state
    the table lets reach ``paid`` is paid. ``_paying`` (the move riding in the payment's mark) and
    ``apply_confirmed`` both decide with it."""
    if any(label.status == SessionStatus.CANCELLED for label in labels.values()):
        return PaymentMeans.REFUND_SESSION_CANCELLED
    if status in REFUNDABLE:
        return PaymentMeans.REFUND_DUPLICATE
    if status in sources_for(OrderStatus.PAID):
        return PaymentMeans.PAY
    return PaymentMeans.REFUSE


def _to_paid(uow: UnitOfWork, status: OrderStatus, amount_minor: int) -> dict[str, Any]:
    """The move to paid's arguments (``repo.transition``, ``repo.transition_with_mark``): only from the state
    read, since a pending order and a closed one are paid differently (confirm the hold, or take the units
    again)."""
    return {"only_from": frozenset({status}), "paid_at": uow.now(), "paid_minor": amount_minor, "closed_at": None}


def _paying(uow: UnitOfWork, known: repo.LockedForPayment) -> payments_repo.WithMark | None:
    """The order's move to paid, when ``apply_confirmed`` would make it from the state read under the lock, as a
    write for the payment's mark to carry (one round trip fewer); anything else is decided there."""
    status = OrderStatus(known.order.status)
    if payment_means(status, catalog_views.labels_in(known.lines)) != PaymentMeans.PAY:
        return None
    return repo.transition_with_mark(
        known.order.id, OrderStatus.PAID, **_to_paid(uow, status, known.payment.amount_minor)
    )


async def ask_provider(uow: UnitOfWork, organizer_id: str, order_id: str) -> list[ProviderAnswer]:
    """Ask the provider about an order's payments that may still turn out paid: pending ones (a late or lost
    notification) and ones abandoned when the order expired or was cancelled (the buyer paid anyway). Takes no
    lock — run it in a read-only unit of work, then ``apply_answers`` in a transaction of its own."""
    return await reconciliation.ask_about_order(uow, organizer_id, order_id)


async def apply_answers(uow: UnitOfWork, answers: Sequence[ProviderAnswer]) -> None:
    """Apply what the provider said it was paid, through the notification path (paid, revived or refunded).
    Answers that do not say "paid, for the amount asked" change nothing here (reconciliation reports them)."""
    for answer in answers:
        if answer.note is None or not answer.note.succeeded:
            continue
        await repo.lock(uow.session, answer.organizer_id, answer.order_id)  # first, as notifications do
        status = await reconciliation.payment_status(uow, answer.payment_id)  # then re-read under the lock
        if status is None:
            continue
        if judge(status, answer.amount_minor, answer.currency, answer.state, query_failed=bool(answer.error)).apply:
            await apply_provider_note(uow, answer.provider, answer.note)


async def apply_confirmed(
    uow: UnitOfWork,
    c: Confirmed,
    *,
    head: repo.OrderHead | None = None,
    lines: Sequence[Any] | None = None,
    hold: LockedHold | None = None,
) -> str:
    """Turn one confirmed payment into a paid order, a revived order, or an automatic refund. → what happened.
    ``head``, ``lines``, ``hold``: the order, its lines (``repo.line_facts`` rows) and its hold as the caller
    read them under the order's and the hold's row locks in this transaction (else they are read here, and the
    hold is confirmed by a statement of its own).

    Plain rows throughout (the order's state, its lines, the sessions' labels — read once, and telling whether a
    session was cancelled), no ORM entities: this is the notification's transaction, on the sale's hot path."""
    order = head or await repo.head(uow.session, c.organizer_id, c.order_id)
    assert order is not None, "a payment always belongs to an order of its organizer"
    actor = system_actor(order.organizer_id, "payments")
    # Read once, with the sessions' labels: the paths below only change their status.
    if lines is None:
        lines = await repo.line_facts(uow.session, order.organizer_id, order.id)
    labels = catalog_views.labels_in(lines)
    # The move to paid rode in the payment's mark (``_paying``), from the state read under the lock: this one.
    moved = c.along
    for _ in range(3):  # the order may change state under us (sweeper); re-read and decide again
        status = OrderStatus(order.status)
        means = payment_means(status, labels)
        if means == PaymentMeans.REFUND_SESSION_CANCELLED:
            # Paid on the gateway page before the session was cancelled, notified after: the order stays as the
            # cancellation left it (or leaves it: a pending one is cancelled by the session's job) and the money
            # goes back through the provider that took it.
            await _refund_whole(uow, actor, order, c, refund_reasons.session_cancelled())
            return "refunded_session_cancelled"
        if means == PaymentMeans.REFUND_DUPLICATE:
            await _refund_whole(uow, actor, order, c, refund_reasons.DUPLICATE_PAYMENT)
            return "refunded_duplicate"
        if means == PaymentMeans.PAY and (
            moved
            or await repo.transition(uow.session, order.id, OrderStatus.PAID, **_to_paid(uow, status, c.amount_minor))
        ):
            # The tickets' reads and signing first: confirming the hold locks the sale's hot row (the pool's
            # counters) until COMMIT, and every other order of the sale — placing one too — waits for it; read
            # after the confirm, they held it a round trip longer (docs/benchmarks.md, "paidtail").
            prepared = await _prepare_issue(uow, order, lines, labels)
            confirm = await _secure_units(uow, order, hold, revive=status != OrderStatus.PENDING)
            if confirm is not None:
                paid = as_row(
                    uow,
                    actor,
                    "order.paid",
                    "order",
                    order.id,
                    before={"status": str(status)},
                    after={"status": "paid", "payment_id": c.payment_id, "late": status != OrderStatus.PENDING},
                )
                # The buyer's waiting page, told on commit (db/wakeups.py): before the issue, so that the NOTIFY
                # rides in the tickets' statement instead of a round trip of its own.
                await uow.announce(order.id)
                await _issue(uow, prepared, lines, paid, confirm)
                return "paid" if status == OrderStatus.PENDING else "revived"
            # The units are gone: the order stays closed and the money goes back.
            closed = OrderStatus.EXPIRED if status == OrderStatus.PENDING else status
            await repo.undo_paid(
                uow.session,
                order.id,
                closed,
                paid_at=None,
                paid_minor=0,
                closed_at=uow.now(),
            )
            await _refund_whole(uow, actor, order, c, refund_reasons.PAID_AFTER_EXPIRY)
            return "refunded_late"
        moved, hold = False, None  # a changed order: its hold is confirmed as it is found (``_secure_units``)
        order = await repo.head(uow.session, order.organizer_id, order.id)
        assert order is not None
    raise InvalidState(state=order.status)


async def _secure_units(
    uow: UnitOfWork, order: repo.OrderHead, hold: LockedHold | None, *, revive: bool
) -> Sequence[GuardedWrite] | None:
    """Sell the order's units: confirm its hold, or — if the hold was released — take the same units again.
    → the writes that confirm the hold in the tickets' statement, the last (its pools' rows then locked for that
    statement and the COMMIT only: docs/benchmarks.md, "paidride") when ``hold`` — read with its row locked in
    this transaction — is the order's and active; () when the units were sold here; None when they are gone."""
    if order.hold_id and not revive:
        if hold is not None and hold.id == order.hold_id and hold.active:
            return inventory.confirm_writes(hold, uow.now())
        try:
            await inventory.confirm(uow, order.hold_id)
            return ()
        except HoldExpired:
            pass
    if not order.hold_id:
        return None
    takes = await inventory.hold_takes(uow, order.hold_id)
    # The same seats too: a line that claimed a unit owns that unit again, or the order is not revived.
    claims = await inventory.hold_claims(uow, order.hold_id)
    try:
        # A savepoint: this transaction goes on after a refusal (to refund), so a refused take — which may have
        # updated one pool of several, or aborted the transaction on PostgreSQL — must be undone on its own.
        async with uow.session.begin_nested():
            taken = await inventory.reserve(
                uow,
                order.organizer_id,
                takes,
                expires_at=uow.now() + timedelta(minutes=1),
                owner_ref=f"order:{order.id}",
                claims=claims,
            )
    except SoldOut:
        return None
    await inventory.confirm(uow, taken.id)
    await repo.set_hold(uow.session, order.id, taken.id)
    return ()


async def _prepare_issue(
    uow: UnitOfWork, order: repo.OrderHead, lines: Sequence[Any], labels: Mapping[str, catalog_views.SessionLabel]
) -> tickets.PreparedIssue:
    """The lines' tickets, read and signed (``_issue`` writes them)."""
    specs = []
    for line in lines:
        label = labels[line.session_id]
        specs.append(
            TicketSpec(
                order_id=order.id,
                order_line_id=line.id,
                session_id=line.session_id,
                valid_from=label.starts_at - timedelta(minutes=label.admission_opens_minutes),
                valid_until=label.ends_at,
                ticket_type_name=line.ticket_type_name,
                holder_name=line.holder_name,
                ticket_type_id=line.ticket_type_id,
                seat=(line.seat_section, line.seat_row, line.seat_number) if line.seat_section else None,
            )
        )
    return await tickets.prepare_issue(
        uow, order.organizer_id, specs, uow.settings.resolved_secret_key(), labels=labels
    )


async def _issue(
    uow: UnitOfWork,
    prepared: tickets.PreparedIssue,
    lines: Sequence[Any],
    paid: tuple[Table, list[dict[str, Any]]],
    confirm: Sequence[GuardedWrite] = (),
) -> None:
    """Write the prepared tickets; the hold's ``confirm`` writes, the ticket types' sales counters and the
    ``order.paid`` audit event go with them (one statement on PostgreSQL), the hold and its pools first: the
    order in which every other transaction locks them."""
    sales = ticket_type_service.sales_writes(Counter(line.ticket_type_id for line in lines))
    await tickets.write_issue(uow, prepared, tickets.Along(writes=[*confirm, *sales], rows=(paid,)))


async def _refund_whole(uow: UnitOfWork, actor: Actor, order: repo.OrderHead, c: Confirmed, reason: str) -> None:
    await payments.refund(
        uow,
        actor,
        organizer_id=order.organizer_id,
        order_id=order.id,
        amount_minor=c.amount_minor,
        reason=reason,
        only_payment_id=c.payment_id,
    )
    record(
        uow,
        actor,
        "order.payment_refunded",
        "order",
        order.id,
        after={"payment_id": c.payment_id, "amount_minor": c.amount_minor, "reason": reason},
    )
