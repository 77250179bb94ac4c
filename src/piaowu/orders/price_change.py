"""A paid ticket whose price changes (a seat exchange into another price zone, ``seating.exchange``): the order's
money follows, in the caller's one transaction.

The rules (issue 8):
- the difference is ``new price − price the line was sold for``; zero moves no money;
- **dearer**: the amount due is taken at the counter by the box office's counter payment (``payments.pay_in_person``:
  cash or the card terminal, settled on the spot), whatever paid the order first; needs ``payment.cash``, and a
  ``tendered`` amount, when given, must cover it;
- **cheaper**: the difference is refunded through the order's payments like any refund (``payments.refund``:
  newest payment first; a counter payment at once, an online one queued for its provider after commit), with no
  fee, under the ``refunded ≤ paid`` guard; needs ``payment.refund`` (a clerk without it calls a supervisor);
- afterwards the line's ``price_minor`` is the new price and the order's ``total_minor`` the sum of its lines,
  so ``paid − refunded = total`` still holds for an order whose tickets are all active, and a later refund of
  the ticket returns what the ticket now costs.

``require_for`` checks the permissions before anything is claimed or written; ``settle`` writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update

from piaowu.accounts.permissions import Permission
from piaowu.core.actor import Actor
from piaowu.core.errors import RefundNotAllowed, ValidationFailed
from piaowu.db.uow import UnitOfWork
from piaowu.orders import repository as repo
from piaowu.orders.models import Order, OrderLine
from piaowu.orders.schemas import CashPaymentIn
from piaowu.payments import service as payments


@dataclass(frozen=True, slots=True)
class Settlement:
    """What the price change moved: ``difference_minor`` > 0 was collected (``payment_id``), < 0 refunded
    (``refund_ids``; ``refund_queued_minor`` of it waits for an online provider, asked after commit, the rest
    was paid back at the counter); ``change_minor``: cash to hand back when more was tendered than due."""

    difference_minor: int
    payment_id: str | None = None
    refund_ids: tuple[str, ...] = ()
    change_minor: int | None = None
    refund_queued_minor: int = 0


def require_for(actor: Actor, difference_minor: int, payment: CashPaymentIn) -> None:
    """The permissions and the tender a price change of ``difference_minor`` needs (raises before any write)."""
    if difference_minor > 0:
        actor.require(Permission.PAYMENT_CASH)
        if payment.tendered_minor is not None and payment.tendered_minor < difference_minor:
            message = "The amount tendered is less than the amount due."
            raise ValidationFailed([{"field": "payment.tendered_minor", "code": "too_little", "message": message}])
    elif difference_minor < 0:
        actor.require(Permission.REFUND)


async def settle(
    uow: UnitOfWork,
    actor: Actor,
    order: Order,
    line: OrderLine,
    new_price_minor: int,
    payment: CashPaymentIn,
    *,
    reason: str,
) -> Settlement:
    """Move the money of ``line``'s new price (see the module's rules). The caller holds the order's row lock
    and commits; any refusal leaves the transaction to be rolled back whole."""
    diff = new_price_minor - line.price_minor
    require_for(actor, diff, payment)
    settled = Settlement(diff)
    if diff > 0:
        confirmed = await payments.pay_in_person(
            uow,
            actor,
            order_id=order.id,
            method=payment.method,
            amount_minor=diff,
            currency=order.currency,
            subject=f"Order {order.code}: {reason}",
        )
        await uow.session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(paid_minor=Order.paid_minor + diff)
            .execution_options(synchronize_session=False)
        )
        change = None if payment.tendered_minor is None else payment.tendered_minor - diff
        settled = Settlement(diff, payment_id=confirmed.payment_id, change_minor=change)
    elif diff < 0:
        if not await repo.add_refunded(uow.session, order.id, -diff):
            raise RefundNotAllowed(reason="more than what was paid")
        ids = await payments.refund(
            uow, actor, organizer_id=order.organizer_id, order_id=order.id, amount_minor=-diff, reason=reason
        )
        settled = Settlement(diff, refund_ids=tuple(ids), refund_queued_minor=await payments.queued_minor(uow, ids))
    if diff:
        await uow.session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(total_minor=Order.total_minor + diff)
            .execution_options(synchronize_session=False)
        )
        await uow.session.execute(
            update(OrderLine)
            .where(OrderLine.id == line.id)
            .values(price_minor=new_price_minor)
            .execution_options(synchronize_session=False)
        )
    return settled
