"""Refunds of paid tickets: money back to the payer, tickets voided, units back in their pools.

Guarantees: refunded ≤ paid for every order, even under concurrent refund requests (a conditional update
reserves the amount first); a ticket is refunded at most once; the provider call itself runs after commit.
"""

from __future__ import annotations

from collections import Counter

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.catalog import service as catalog
from piaowu.core.actor import Actor
from piaowu.core.errors import RefundNotAllowed, ValidationFailed
from piaowu.db.uow import UnitOfWork
from piaowu.inventory import service as inventory
from piaowu.inventory.rules import Take
from piaowu.orders import repository as repo
from piaowu.orders.schemas import OrderOut, RefundIn
from piaowu.orders.service import load
from piaowu.orders.states import REFUNDABLE, LineStatus, after_refund
from piaowu.orders.views import order_out
from piaowu.payments import service as payments
from piaowu.tickets import service as tickets


async def refund_order(uow: UnitOfWork, actor: Actor, order_id: str, data: RefundIn) -> OrderOut:
    """Refund the chosen tickets (all still active ones by default) at the price they were sold for."""
    actor.require(Permission.REFUND)
    order = await load(uow, actor.organizer_id, order_id)
    if order.status not in REFUNDABLE:
        raise RefundNotAllowed(reason=f"the order is {order.status}")
    lines = await repo.lines(uow.session, [order.id])
    active = {line.id: line for line in lines if line.status == LineStatus.ACTIVE}
    wanted = list(active) if data.line_ids is None else list(dict.fromkeys(data.line_ids))
    unknown = [lid for lid in wanted if lid not in active]
    if unknown:
        raise ValidationFailed(
            [
                {
                    "field": "line_ids",
                    "code": "not_refundable",
                    "message": "These tickets are not part of the order or were already refunded.",
                }
            ]
        )
    if not wanted:
        raise RefundNotAllowed(reason="nothing left to refund")
    amount = sum(active[lid].price_minor for lid in wanted)
    # Lines first: a concurrent refund of the same tickets loses here and changes nothing.
    if await repo.set_line_status(uow.session, wanted, LineStatus.REFUNDED, only_from=LineStatus.ACTIVE) != len(wanted):
        raise RefundNotAllowed(reason="a ticket was refunded at the same time")
    if not await repo.add_refunded(uow.session, order.id, amount):
        raise RefundNotAllowed(reason="more than what was paid")
    await payments.refund(
        uow,
        actor,
        organizer_id=order.organizer_id,
        order_id=order.id,
        amount_minor=amount,
        reason=data.reason or "refund",
    )
    await tickets.void_tickets(uow, actor, order.organizer_id, wanted, status="refunded")
    takes = [Take(pool_id, 1) for lid in wanted for pool_id in active[lid].pool_ids.split()]
    await inventory.return_sold(uow, order.organizer_id, takes)
    refunded = Counter(active[lid].ticket_type_id for lid in wanted)
    await catalog.count_sales(uow, order.organizer_id, {tid: -n for tid, n in refunded.items()})
    # Counted now, not from the lines read above: a concurrent refund of other tickets of this order may have
    # committed meanwhile (add_refunded waited for it on the order row), and the state must count its lines too.
    left = await repo.count_lines(uow.session, order.id, LineStatus.ACTIVE)
    target = after_refund(left)
    await repo.transition(uow.session, order.id, list(REFUNDABLE), status=target)
    record(
        uow,
        actor,
        "order.refunded",
        "order",
        order.id,
        before={"status": order.status},
        after={"status": str(target), "lines": wanted, "amount_minor": amount, "reason": data.reason},
    )
    await uow.session.refresh(order)
    return await order_out(uow, order, await repo.lines(uow.session, [order.id]))
