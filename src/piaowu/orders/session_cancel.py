"""Cancelling a session (场次取消): nothing more is sold, every order is cancelled or refunded, exactly once.

``cancel_session`` flips the session to ``cancelled`` and, in the same transaction, creates the bulk job that
handles its orders, so the two exist together or not at all. From that commit on: the session's offers are
``unavailable`` (no new order), starting or taking a payment for one of its orders answers ``session_cancelled``,
a payment that lands anyway is refunded in full (``payment_flow.apply_confirmed``), and gates answer
``session_cancelled`` for its tickets.

The worker loop (``workers/bulk.py``) then calls ``process_order`` for each order of the session, one order per
transaction together with the job's item row (``bulkjobs``): a pending order is cancelled and its hold released;
a paid one is refunded in full — every active ticket of this session at its sold price, fees waived, through the
provider that took the money — and its tickets are voided; each buyer gets one ``order.session_cancelled``
message in the outbox. Orders already closed are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from piaowu.accounts.permissions import Permission
from piaowu.bulkjobs import service as bulkjobs
from piaowu.bulkjobs.rules import JobKind, Outcome
from piaowu.bulkjobs.schemas import BulkJobOut
from piaowu.catalog import session_service
from piaowu.core.actor import Actor, system_actor
from piaowu.core.errors import InvalidState
from piaowu.core.events import Topic
from piaowu.db.uow import UnitOfWork
from piaowu.orders import refund_reasons
from piaowu.orders import repository as repo
from piaowu.orders import service as orders
from piaowu.orders.refunds import refund_order
from piaowu.orders.schemas import RefundIn
from piaowu.orders.states import REFUNDABLE, LineStatus, OrderStatus
from piaowu.organizers import service as organizers
from piaowu.payments import service as payments

KIND = JobKind.SESSION_CANCEL


@dataclass(frozen=True)
class JobRef:
    """What the worker knows of a running job."""

    id: str
    organizer_id: str
    target_id: str  # the session
    reason: str


@dataclass(frozen=True)
class Handled:
    outcome: Outcome
    amount_minor: int
    label: str


async def cancel_session(uow: UnitOfWork, actor: Actor, session_id: str, reason: str = "") -> BulkJobOut:
    """Cancel a session and start the job that cancels and refunds its orders (one transaction). Refusals of new
    orders and payments hold from this commit on; the job reports its progress (``cancellation``). Raises
    InvalidState when the session is already cancelled."""
    actor.require(Permission.CATALOG_WRITE)
    actor.require(Permission.REFUND)
    await session_service.cancel_session(uow, actor, session_id)
    total = await repo.count_session_orders(uow.session, actor.organizer_id, session_id)
    await bulkjobs.create(
        uow,
        actor,
        kind=KIND,
        target_id=session_id,
        total=total,
        currency=await organizers.currency_of(uow, actor.organizer_id),
        reason=reason,
    )
    out = await cancellation(uow, actor, session_id)
    assert out is not None
    return out


async def cancellation(uow: UnitOfWork, actor: Actor, session_id: str) -> BulkJobOut | None:
    """The session's cancellation job (progress, counters, failures, final report), or None if not cancelled.
    Provider refunds that failed after the job handled their order are listed as failures too."""
    actor.require(Permission.ORDER_READ)
    await session_service.get_session(uow, actor, session_id)  # NotFound for another organizer's session
    job = await bulkjobs.for_target(uow, actor.organizer_id, KIND, session_id)
    if job is None:
        return None
    order_ids = await _all_order_ids(uow, actor.organizer_id, session_id)
    owed = await payments.owed_refunds(uow, actor.organizer_id, order_ids=order_ids)
    job.report = {**job.report, "refunds_failed": [_owed(r) for r in owed]}
    return job


def _owed(r: payments.RefundInfo) -> dict[str, Any]:
    """A refund the report lists as failed: refused by the provider, or ``stuck`` (the outbox gave up)."""
    return {
        "refund_id": r.id,
        "order_id": r.order_id,
        "payment_id": r.payment_id,
        "amount_minor": r.amount_minor,
        "currency": r.currency,
        "stuck": r.stuck,
    }


async def require_cancellation(uow: UnitOfWork, actor: Actor, session_id: str) -> BulkJobOut:
    """The session's cancellation; InvalidState (with the session's status) when it was not cancelled."""
    job = await cancellation(uow, actor, session_id)
    if job is None:
        raise InvalidState(state=(await session_service.get_session(uow, actor, session_id)).status)
    return job


async def retry(uow: UnitOfWork, actor: Actor, session_id: str) -> BulkJobOut:
    """Try the failures again: orders whose handling failed go back to the job, and provider refunds that failed
    or got stuck are asked for again (``payments.retry_refunds``, through the outbox)."""
    job = await require_cancellation(uow, actor, session_id)
    await bulkjobs.retry_failed(uow, actor, job.id)
    await payments.retry_refunds(uow, actor, await _all_order_ids(uow, actor.organizer_id, session_id))
    out = await cancellation(uow, actor, session_id)
    assert out is not None
    return out


async def _all_order_ids(uow: UnitOfWork, organizer_id: str, session_id: str) -> list[str]:
    out: list[str] = []
    after = None
    while batch := await repo.session_order_ids(uow.session, organizer_id, session_id, after, 1000):
        out.extend(batch)
        after = batch[-1]
    return out


# ---- the job's handler (called by workers/bulk.py) ---------------------------------------------------------


async def subjects(uow: UnitOfWork, job: JobRef, after: str | None, limit: int) -> list[str]:
    """The session's orders in id order, after ``after``."""
    return await repo.session_order_ids(uow.session, job.organizer_id, job.target_id, after, limit)


async def label(uow: UnitOfWork, job: JobRef, order_id: str) -> str:
    order = await repo.order(uow.session, job.organizer_id, order_id)
    return order.code if order else order_id


async def process_order(uow: UnitOfWork, job: JobRef, order_id: str) -> Handled:
    """Cancel or refund one order of the cancelled session, in the caller's transaction."""
    actor = system_actor(job.organizer_id, "session-cancel")
    # The order's row first, as every writer of an order takes it: a payment landing right now either committed
    # before (the order is paid: refund it) or waits and then finds the order closed (and refunds itself).
    await repo.lock(uow.session, job.organizer_id, order_id)
    order = await orders.load(uow, job.organizer_id, order_id)  # read after the lock: its current state
    status = OrderStatus(order.status)
    reason = refund_reasons.session_cancelled(job.reason)
    if status == OrderStatus.PENDING:
        await orders.cancel_pending(uow, actor, order)
        handled = Handled(Outcome.CANCELLED, 0, order.code)
    elif status in REFUNDABLE:
        lines = await repo.lines(uow.session, [order.id])
        mine = [x.id for x in lines if x.session_id == job.target_id and x.status == LineStatus.ACTIVE]
        if not mine:
            return Handled(Outcome.SKIPPED, 0, order.code)
        done = await refund_order(uow, actor, order.id, RefundIn(line_ids=mine, reason=reason, allow_used=True))
        amount = sum(x.price_minor for x in done.lines if x.id in mine)
        handled = Handled(Outcome.REFUNDED, amount, order.code)
    else:
        return Handled(Outcome.SKIPPED, 0, order.code)
    uow.emit(Topic.ORDER_SESSION_CANCELLED, _notice(order, job, handled))
    return handled


def _notice(order: Any, job: JobRef, handled: Handled) -> dict[str, Any]:
    """The notification's contract: who to tell (the buyer's contact and language), which order, what happened
    and how much goes back."""
    return {
        "order_id": order.id,
        "order_code": order.code,
        "organizer_id": order.organizer_id,
        "session_id": job.target_id,
        "outcome": str(handled.outcome),
        "buyer_name": order.buyer_name,
        "buyer_phone": order.buyer_phone,
        "buyer_email": order.buyer_email,
        "locale": order.locale,
        "refunded_minor": handled.amount_minor,
        "currency": order.currency,
        "reason": job.reason,
    }


async def report(uow: UnitOfWork, job: JobRef) -> dict[str, Any]:
    """Extra lines for the final report: what the session's pool still counts (nothing, once every order is
    handled and no failure is left)."""
    s = await session_service.get_session(uow, system_actor(job.organizer_id, "session-cancel"), job.target_id)
    return {"session_id": job.target_id, "pool_held": s.held, "pool_sold": s.sold}
