"""Payments: start a payment, apply a verified notification exactly once, refund. Knows nothing of orders:
the orders service calls these with plain values and decides what a payment means for an order.

Guarantees:
- a notification delivered any number of times, concurrently or not, confirms its payment once
  (a conditional ``pending → succeeded`` update; duplicates are logged and change nothing);
- refunded ≤ paid for every payment (a conditional update reserves the amount before any provider call);
- provider refunds for online payments run after commit, from the outbox, with retries;
- a refund the provider refused, or that the outbox gave up on, is asked for again only by ``retry_refund``
  (staff): the same refund row and refund id, so a provider never pays it twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from piaowu.accounts.permissions import Permission
from piaowu.audit.models import AuditEvent
from piaowu.audit.recorder import as_row, record
from piaowu.core.actor import Actor, system_actor
from piaowu.core.errors import NotFound, PaymentMismatch, RefundNotAllowed, RefundNotRetryable, ValidationFailed
from piaowu.core.events import Topic
from piaowu.core.ids import new_id
from piaowu.core.inputs import is_allowed_url
from piaowu.db import hotpath
from piaowu.db.hotpath import RowCheck, StaleRead
from piaowu.db.uow import UnitOfWork
from piaowu.organizers import service as organizers
from piaowu.payments import repository as repo
from piaowu.payments.models import Payment, Refund
from piaowu.payments.providers import get_provider
from piaowu.payments.providers.base import Notification, PaymentProvider, RefundResult, StartRequest
from piaowu.payments.states import PaymentStatus, RefundStatus, RetryRefusal, is_stuck, refundable, retry_refusal

RETURN_URL_MESSAGE = "Use an http(s) address on this shop's own site."


@dataclass(frozen=True)
class PaymentInfo:
    id: str
    order_id: str
    provider: str
    status: str
    amount_minor: int
    refunded_minor: int
    currency: str
    redirect_url: str
    created_at: object
    succeeded_at: object


@dataclass(frozen=True)
class Confirmed:
    """A payment that this call (and no other) just confirmed."""

    payment_id: str
    order_id: str
    organizer_id: str
    amount_minor: int
    currency: str
    # The caller's write given to ``apply_notification`` as ``with_mark`` ran with the mark and wrote its row.
    along: bool = False


def _info(p: Any) -> PaymentInfo:  # an entity or a plain row of its columns
    return PaymentInfo(
        p.id,
        p.order_id,
        p.provider,
        p.status,
        p.amount_minor,
        p.refunded_minor,
        p.currency,
        p.redirect_url,
        p.created_at,
        p.succeeded_at,
    )


def provider(uow: UnitOfWork, name: str) -> PaymentProvider:
    s = uow.settings
    return get_provider(
        name,
        app_secret=s.resolved_secret_key(),
        public_url=s.public_url,
        now=uow.clock.now,
        gateway_url=s.sandbox_gateway_url,
    )


async def _check_return_url(uow: UnitOfWork, organizer_id: str, return_url: str, own_origin: str) -> None:
    allowed = [*uow.settings.allowed_origins(), *([own_origin] if own_origin else [])]
    if is_allowed_url(return_url, allowed):
        return
    if is_allowed_url(return_url, await organizers.return_origins_of(uow, organizer_id)):
        return
    raise ValidationFailed([{"field": "return_url", "code": "url_not_allowed", "message": RETURN_URL_MESSAGE}])


@dataclass(frozen=True)
class TradeRequest:
    """What a provider is asked to open a trade for, checked before anything is asked."""

    order_id: str
    organizer_id: str
    provider: str
    amount_minor: int
    currency: str
    subject: str
    return_url: str
    # The buyer must pay before this (the order's hold expiry): the payment is recorded only before it.
    pay_before: datetime | None = None


@dataclass(frozen=True)
class OpenedTrade:
    """A trade the provider opened for a payment whose row is not written yet (``record_trade`` writes it)."""

    payment_id: str
    request: TradeRequest
    provider_ref: str
    redirect_url: str
    succeeded: bool


async def trade_request(
    uow: UnitOfWork,
    actor: Actor,
    *,
    order_id: str,
    provider_name: str,
    amount_minor: int,
    currency: str,
    subject: str,
    return_url: str,
    own_origin: str = "",
    pay_before: datetime | None = None,
) -> TradeRequest:
    """Check what a payment may be started with (reads only). ``return_url`` (where the gateway sends the buyer
    back) must be an http(s) URL on this server's public origin, on ``own_origin`` (the address a shop page was
    reached at, when no public URL is configured), on one of ``settings.allowed_return_origins`` (the
    installation's) or on one the payment's organizer listed for its own sites (never another organizer's):
    anything else (``javascript:``, another site) is refused before anything is asked or written."""
    if return_url:
        await _check_return_url(uow, actor.organizer_id, return_url, own_origin)
    prov = provider(uow, provider_name)  # an unknown provider is refused here, before any call
    return TradeRequest(
        order_id, actor.organizer_id, prov.name, amount_minor, currency, subject, return_url, pay_before
    )


async def open_trade(uow: UnitOfWork, req: TradeRequest) -> OpenedTrade:
    """Open the trade at the provider (for a real gateway a network call). Writes nothing of ours: run it in a
    unit of work that is the provider's alone and issues nothing before the call — the sandbox keeps its trades
    in that session, a real provider never touches it — so that no row lock (PostgreSQL) and no write
    transaction (SQLite) of ours is held while the provider answers (the sandbox writes its trade in one
    statement, so the caller may run it in autocommit mode). A trade whose payment is then never
    recorded is simply never paid: nobody is sent to its page."""
    prov = provider(uow, req.provider)
    pay_id = new_id()
    notify_url = f"{uow.settings.public_url.rstrip('/')}/api/v1/payments/notify/{prov.name}"
    result = await prov.start(
        uow.session, StartRequest(pay_id, req.amount_minor, req.currency, req.subject, notify_url, req.return_url)
    )
    return OpenedTrade(pay_id, req, result.provider_ref, result.redirect_url, result.succeeded)


async def record_trade(
    uow: UnitOfWork, actor: Actor, trade: OpenedTrade, checks: Sequence[RowCheck] = ()
) -> tuple[PaymentInfo, Confirmed | None]:
    """Write the payment of an opened trade (pending, or succeeded for a counter method → Confirmed) and its
    audit events, as one statement on PostgreSQL. ``checks``: what the payment depends on that the caller read
    before (its order still payable, the caller's token): the payment is written only while every check holds,
    in that same statement — else nothing is written and ``StaleRead`` names the checks that failed."""
    req = trade.request
    now = uow.now()
    row = {
        "id": trade.payment_id,
        "organizer_id": req.organizer_id,
        "order_id": req.order_id,
        "provider": req.provider,
        "status": str(PaymentStatus.SUCCEEDED if trade.succeeded else PaymentStatus.PENDING),
        "amount_minor": req.amount_minor,
        "refunded_minor": 0,
        "currency": req.currency,
        "created_by": actor.ref,
        "created_at": now,
        "provider_ref": trade.provider_ref,
        "redirect_url": trade.redirect_url,
        "succeeded_at": now if trade.succeeded else None,
    }
    started = {"order_id": req.order_id, "provider": req.provider, "amount_minor": req.amount_minor}
    _, audit = as_row(uow, actor, "payment.started", "payment", trade.payment_id, after=started)
    confirmed = None
    if trade.succeeded:  # a counter payment: written succeeded at once (the row is new: nobody else can mark it)
        audit += as_row(
            uow, actor, "payment.succeeded", "payment", trade.payment_id, after={"amount_minor": req.amount_minor}
        )[1]
        confirmed = Confirmed(trade.payment_id, req.order_id, req.organizer_id, req.amount_minor, req.currency)
    rows = [(Payment.__table__, [row]), (AuditEvent.__table__, audit)]
    if checks:
        outcome = await hotpath.guarded_write_and_insert(uow.session, req.organizer_id, (), rows, checks)
        if outcome.stale:
            raise StaleRead([checks[i] for i in outcome.stale])
    else:
        await hotpath.insert_together(uow.session, rows)
    return _info(SimpleNamespace(**row)), confirmed


async def pay_in_person(
    uow: UnitOfWork, actor: Actor, *, order_id: str, method: str, amount_minor: int, currency: str, subject: str
) -> Confirmed:
    """A counter payment (cash, a card terminal): the provider is in-process and answers at once, so asking it
    and recording the payment happen in the caller's one transaction. → the payment this call confirmed."""
    req = await trade_request(
        uow,
        actor,
        order_id=order_id,
        provider_name=method,
        amount_minor=amount_minor,
        currency=currency,
        subject=subject,
        return_url="",
    )
    _, confirmed = await record_trade(uow, actor, await open_trade(uow, req))
    if confirmed is None:
        raise ValidationFailed(
            [{"field": "method", "code": "not_in_person", "message": "This method is not paid in person."}]
        )
    return confirmed


def verify(uow: UnitOfWork, provider_name: str, headers: Mapping[str, str], body: bytes) -> Notification:
    return provider(uow, provider_name).verify(headers, body)


@dataclass(frozen=True)
class PaymentFacts:
    """What applying a notification needs of its payment (columns that never change once written)."""

    id: str
    organizer_id: str
    order_id: str
    provider: str
    amount_minor: int
    currency: str


async def apply_notification(
    uow: UnitOfWork,
    provider_name: str,
    note: Notification,
    known: PaymentFacts | None = None,
    with_mark: repo.WithMark | None = None,
) -> Confirmed | None:
    """Log the notification and confirm its payment. → Confirmed only for the first successful delivery.
    ``known``: the payment as the caller read it in this transaction (it is not read again). ``with_mark``: the
    caller's write that goes with the confirmation, only if this call confirms (``Confirmed.along``)."""
    pay = known
    if pay is None and (p := await repo.payment(uow.session, note.payment_id)) is not None:
        pay = PaymentFacts(p.id, p.organizer_id, p.order_id, p.provider, p.amount_minor, p.currency)
    confirms = pay is not None and pay.provider == provider_name and note.succeeded
    if pay is not None and confirms and (note.amount_minor != pay.amount_minor or note.currency != pay.currency):
        raise PaymentMismatch()  # nothing is written: the transaction is rolled back, its log row with it
    audit = None
    if pay is not None and confirms:
        actor = system_actor(pay.organizer_id, f"provider:{provider_name}")
        after = {"amount_minor": pay.amount_minor, "provider_ref": note.provider_ref}
        _, (row,) = as_row(uow, actor, "payment.succeeded", "payment", pay.id, after=after | {"first_delivery": True})
        audit = (row, row | {"after": after | {"first_delivery": False}})
    fresh, marked, along = await repo.log_and_mark(
        uow.session,
        {
            "id": new_id(),
            "provider": provider_name,
            "notification_id": note.notification_id,
            "payment_id": pay.id if pay else None,
            "outcome": "received",
            "received_at": uow.now(),
            "payload": {"trade": note.provider_ref, "amount_minor": note.amount_minor, "succeeded": note.succeeded},
        },
        pay.id if pay is not None and confirms else None,
        note.provider_ref,
        uow.now(),
        audit,  # written by the same statement, only if it marked the payment
        with_mark if pay is not None and confirms else None,
    )
    if pay is None or not marked:
        return None  # not ours to confirm, or already applied by an earlier (or concurrent) delivery
    return Confirmed(pay.id, pay.order_id, pay.organizer_id, pay.amount_minor, pay.currency, along)


async def order_of(uow: UnitOfWork, payment_id: str) -> tuple[str, str] | None:
    """(organizer id, order id) of a payment, or None for an unknown payment id."""
    pay = await repo.payment(uow.session, payment_id)
    return (pay.organizer_id, pay.order_id) if pay else None


async def payments_of(
    uow: UnitOfWork, organizer_id: str, order_ids: Sequence[str], *, plain: bool = False
) -> list[PaymentInfo]:
    """``plain``: read as plain rows, not entities (cheaper; only where this unit of work changed no payment —
    an entity changed but not flushed is what the entity read would show)."""
    if plain:
        return [_info(p) for p in await repo.payment_rows(uow.session, organizer_id, order_ids)]
    return [_info(p) for p in await repo.payments_of(uow.session, organizer_id, order_ids)]


def payments_in(rows: Sequence[Any]) -> list[PaymentInfo]:
    """The payments a read of the order joined them into (``repository.with_payments``), as ``payments_of``."""
    return [_info(p) for p in repo.payments_in(rows)]


async def cancel_pending(uow: UnitOfWork, organizer_id: str, order_id: str) -> None:
    """Abandon payments still pending (the order closed). A notification arriving later is still honoured."""
    for pay in await repo.payments_of(uow.session, organizer_id, [order_id]):
        if pay.status == PaymentStatus.PENDING:
            pay.status = PaymentStatus.CANCELLED


async def refund(
    uow: UnitOfWork,
    actor: Actor,
    *,
    organizer_id: str,
    order_id: str,
    amount_minor: int,
    reason: str,
    only_payment_id: str | None = None,
) -> list[str]:
    """Refund ``amount_minor`` from the order's succeeded payments (newest first). Counter refunds complete at
    once; online ones are queued for the provider. → refund ids. Raises RefundNotAllowed when not enough was
    paid."""
    if amount_minor <= 0:
        return []
    pays = [
        p
        for p in await repo.payments_of(uow.session, organizer_id, [order_id])
        if p.status == PaymentStatus.SUCCEEDED and (only_payment_id is None or p.id == only_payment_id)
    ]
    left = amount_minor
    ids: list[str] = []
    # Newest first; ids are time-ordered, so two payments stamped in the same instant still rank as made.
    for pay in sorted(pays, key=lambda p: (p.created_at, p.id), reverse=True):
        part = min(left, refundable(pay.amount_minor, pay.refunded_minor))
        if part <= 0:
            continue
        if not await repo.take_refundable(uow.session, pay.id, part):
            continue  # a concurrent refund took it first
        prov = provider(uow, pay.provider)
        r = Refund(
            id=new_id(),
            organizer_id=organizer_id,
            payment_id=pay.id,
            order_id=order_id,
            amount_minor=part,
            currency=pay.currency,
            status=RefundStatus.PENDING,
            reason=reason[:200],
            created_at=uow.now(),
        )
        if prov.online:  # the refund names the message that asks its provider (a retry hands it a new one)
            r.outbox_id = uow.emit(Topic.REFUND_REQUESTED, {"refund_id": r.id})
        else:
            r.status, r.completed_at = RefundStatus.SUCCEEDED, uow.now()
        uow.session.add(r)  # written whole: one insert, no update after it
        await uow.session.flush()
        record(
            uow,
            actor,
            "refund.created",
            "refund",
            r.id,
            after={"order_id": order_id, "payment_id": pay.id, "amount_minor": part, "status": r.status},
        )
        ids.append(r.id)
        left -= part
        if left == 0:
            break
    if left:
        raise RefundNotAllowed(reason="more than what was paid")
    return ids


async def queued_minor(uow: UnitOfWork, refund_ids: Sequence[str]) -> int:
    """How much of these refunds still waits for an online provider (pending: asked from the outbox after
    commit); the rest was paid back at the counter."""
    total = 0
    for refund_id in refund_ids:
        r = await repo.refund(uow.session, refund_id)
        if r is not None and r.status == RefundStatus.PENDING:
            total += r.amount_minor
    return total


@dataclass(frozen=True)
class RefundInfo:
    """A refund as staff see it: where it stands with its provider and whether it may be asked for again."""

    id: str
    order_id: str
    payment_id: str
    provider: str
    amount_minor: int
    currency: str
    status: str  # payments.states.RefundStatus
    stuck: bool  # pending, but the outbox gave up asking the provider: nothing will pay it unless retried
    error: str  # the provider's refusal (failed), or why the outbox's last attempt failed (pending)
    attempts: int  # failed attempts of the outbox message now asking for it
    reason: str  # why it was refunded
    provider_ref: str | None
    created_at: datetime
    completed_at: datetime | None

    @property
    def retryable(self) -> bool:
        return self.status == RefundStatus.FAILED or self.stuck


def _refund_info(row: repo.RefundRow) -> RefundInfo:
    r = row.refund
    error = r.error if r.status == RefundStatus.FAILED else (row.last_error or "")
    return RefundInfo(
        r.id, r.order_id, r.payment_id, row.provider, r.amount_minor, r.currency, r.status,
        is_stuck(r.status, row.message_status), error if r.status != RefundStatus.SUCCEEDED else "",
        row.attempts, r.reason, r.provider_ref, r.created_at, r.completed_at,
    )  # fmt: skip


async def refunds_of(uow: UnitOfWork, actor: Actor, order_id: str) -> list[RefundInfo]:
    """The refunds of one order of the actor's organizer, oldest first (none for another organizer's order)."""
    actor.require(Permission.ORDER_READ)
    return [_refund_info(row) for row in await repo.refund_rows(uow.session, actor.organizer_id, order_ids=[order_id])]


async def owed_refunds(
    uow: UnitOfWork, organizer_id: str, *, order_ids: Sequence[str] = (), payment_ids: Sequence[str] = ()
) -> list[RefundInfo]:
    """Refunds of these orders (or payments) still owed to the payer that only a retry will pay: refused by the
    provider, or stuck (the outbox gave up)."""
    rows = await repo.refund_rows(
        uow.session, organizer_id, order_ids=order_ids, payment_ids=payment_ids, owed_only=True
    )
    return [info for info in map(_refund_info, rows) if info.retryable]


async def retry_refund(uow: UnitOfWork, actor: Actor, refund_id: str, *, order_id: str | None = None) -> RefundInfo:
    """Ask the provider again for one refund it refused (failed) or that the outbox gave up on (stuck): the same
    refund row goes back to pending with a new outbox message, and ``refund.retried`` is audited, both in the
    caller's transaction. Never a second refund and never a second pay-out: the provider is asked with the same
    refund id, and providers pay a refund id at most once (a refund it paid whose answer was lost is answered
    "done" and recorded as succeeded). Raises NotFound for an unknown refund or another organizer's, and
    RefundNotRetryable (``state``) for one paid out, one the outbox is still asking for, or one that changed
    meanwhile (another retry won). ``order_id``: the refund must be one of this order's (else NotFound)."""
    actor.require(Permission.REFUND)
    rows = await repo.refund_rows(uow.session, actor.organizer_id, refund_id=refund_id)
    if not rows or (order_id is not None and rows[0].refund.order_id != order_id):
        raise NotFound(kind="refund")
    return await _retry(uow, actor, rows[0])


async def retry_refunds(uow: UnitOfWork, actor: Actor, order_ids: Sequence[str]) -> int:
    """``retry_refund`` for every refund of these orders that a retry would pay (refused or stuck); one that
    changed meanwhile is left to whoever changed it. → how many were asked for again."""
    actor.require(Permission.REFUND)
    n = 0
    for row in await repo.refund_rows(uow.session, actor.organizer_id, order_ids=order_ids, owed_only=True):
        if _refund_info(row).retryable:
            try:
                await _retry(uow, actor, row)
            except RefundNotRetryable:
                continue
            n += 1
    return n


async def _retry(uow: UnitOfWork, actor: Actor, row: repo.RefundRow) -> RefundInfo:
    r, before = row.refund, _refund_info(row)
    refusal = retry_refusal(r.status, row.message_status)
    if refusal == RetryRefusal.PAID_OUT:
        raise RefundNotRetryable(
            "This refund was already paid out by the provider; it is never asked for twice.",
            refund_id=r.id,
            state=str(refusal),
        )
    if refusal == RetryRefusal.IN_PROGRESS:
        raise RefundNotRetryable(
            "This refund is still being asked of the provider, which is tried again by itself; "
            "retry it once the provider refuses it or the attempts run out.",
            refund_id=r.id,
            state=str(refusal),
        )
    # The message's id is drawn first: it is written only if the refund is still as it was read.
    message_id = new_id()
    if not await repo.requeue_refund(
        uow.session, r.id, status=r.status, outbox_id=r.outbox_id, new_outbox_id=message_id
    ):
        raise RefundNotRetryable(
            "This refund changed meanwhile: someone asked for it again, or the provider answered. "
            "Reload to see where it stands.",
            refund_id=r.id,
            state="changed",
        )
    uow.emit(Topic.REFUND_REQUESTED, {"refund_id": r.id}, message_id=message_id)
    record(
        uow,
        actor,
        "refund.retried",
        "refund",
        r.id,
        before={"status": r.status, "stuck": before.stuck, "error": before.error, "attempts": before.attempts},
        after={"status": str(RefundStatus.PENDING), "order_id": r.order_id, "amount_minor": r.amount_minor},
    )
    return replace(before, status=str(RefundStatus.PENDING), stuck=False, error="", attempts=0)


@dataclass(frozen=True)
class RefundCall:
    """What the provider is asked to pay out, read before the call so that no transaction is open across it."""

    refund_id: str
    organizer_id: str
    payment_id: str
    provider: str
    provider_ref: str | None
    amount_minor: int


async def refund_call(uow: UnitOfWork, refund_id: str) -> RefundCall | None:
    """The provider call a pending refund needs (a plain read, no lock). None when it is no longer pending."""
    r = await repo.refund(uow.session, refund_id)
    if r is None or r.status != RefundStatus.PENDING:
        return None
    pay = await repo.payment(uow.session, r.payment_id)
    assert pay is not None
    return RefundCall(r.id, r.organizer_id, pay.id, pay.provider, pay.provider_ref, r.amount_minor)


async def call_provider_refund(uow: UnitOfWork, call: RefundCall) -> RefundResult:
    """Ask the provider to pay the refund out (a network call for a real provider). Run it in a unit of work of
    its own that holds none of our rows: the session is the provider's (the sandbox keeps its trades in it; a
    real provider never touches it). Providers refund at most once per refund id, so a repeat is harmless."""
    return await provider(uow, call.provider).refund(
        uow.session, call.payment_id, call.provider_ref, call.refund_id, call.amount_minor
    )


async def record_refund_result(uow: UnitOfWork, call: RefundCall, result: RefundResult) -> str:
    """Write what the provider answered, once: a conditional update from pending, so a second worker that ran
    the same refund changes nothing. → "succeeded", "failed" or "skipped"."""
    status = RefundStatus.SUCCEEDED if result.succeeded else RefundStatus.FAILED
    values = (
        {"provider_ref": result.provider_ref, "completed_at": uow.now()}
        if result.succeeded
        else {"error": result.error[:300]}
    )
    if not await repo.finish_refund(uow.session, call.refund_id, status, **values):
        return "skipped"
    actor = system_actor(call.organizer_id, f"provider:{call.provider}")
    if result.succeeded:
        record(uow, actor, "refund.succeeded", "refund", call.refund_id, after={"amount_minor": call.amount_minor})
        return "succeeded"
    record(uow, actor, "refund.failed", "refund", call.refund_id, after={"error": result.error})
    return "failed"
