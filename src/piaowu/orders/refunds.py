"""Refunds of paid tickets: money back to the payer, tickets voided, units back in their pools.

Guarantees: refunded ≤ paid for every order, even under concurrent refund requests (a conditional update
reserves the amount first); a ticket is refunded at most once; a ticket already admitted at a gate is refused
(``ticket_used``) unless the caller overrides with a written reason, and even then its place stays sold
(``refund_rules``); a scan racing the refund cannot slip between the check and the write (the tickets' rows are
locked first, ``tickets.usage``); the provider call itself runs after commit.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.catalog import ticket_type_service
from piaowu.core.actor import Actor
from piaowu.core.errors import InvalidState, NotFound, RefundNotAllowed, ValidationFailed
from piaowu.db.uow import UnitOfWork
from piaowu.inventory import service as inventory
from piaowu.inventory.rules import Take
from piaowu.orders import refund_reasons
from piaowu.orders import repository as repo
from piaowu.orders.refund_rules import RefundLine, plan_refund
from piaowu.orders.schemas import OrderOut, RefundIn
from piaowu.orders.service import load
from piaowu.orders.states import REFUNDABLE, LineStatus, after_refund
from piaowu.orders.views import order_out
from piaowu.payments import service as payments
from piaowu.tickets import service as tickets


async def refund_order(uow: UnitOfWork, actor: Actor, order_id: str, data: RefundIn) -> OrderOut:
    """Refund the chosen tickets (all still active ones by default) at the price they were sold for.

    Refuses with ``TicketUsed`` (nothing written) when a chosen ticket was admitted at a gate, unless
    ``data.allow_used``: then those tickets are refunded and voided too, but their units stay sold (the place was
    used), and the audit event records the override and the reason."""
    actor.require(Permission.REFUND)
    # Every writer of an order takes its row first: refunds of one order run one after the other, in the same
    # lock order as payments (order row, then its tickets and lines), so they never deadlock.
    await repo.lock(uow.session, actor.organizer_id, order_id)
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
    # Under the tickets' row locks from here to commit: no gate can admit one of them meanwhile.
    use = await tickets.use_for_refund(uow, order.organizer_id, wanted)
    held = await repo.holdings(uow.session, wanted)
    plan = plan_refund(
        [
            RefundLine(
                line_id=lid,
                price_minor=active[lid].price_minor,
                holdings=tuple(held.get(lid, ())),
                entries_used=use[lid].entries_used if lid in use else 0,
                ticket_code=use[lid].code if lid in use else "",
            )
            for lid in wanted
        ],
        allow_used=data.allow_used,
    )
    # Lines first: a concurrent refund of the same tickets loses here and changes nothing.
    if await repo.set_line_status(uow.session, wanted, LineStatus.REFUNDED, only_from=LineStatus.ACTIVE) != len(wanted):
        raise RefundNotAllowed(reason="a ticket was refunded at the same time")
    if not await repo.add_refunded(uow.session, order.id, plan.amount_minor):
        raise RefundNotAllowed(reason="more than what was paid")
    await payments.refund(
        uow,
        actor,
        organizer_id=order.organizer_id,
        order_id=order.id,
        amount_minor=plan.amount_minor,
        reason=data.reason or refund_reasons.NONE_GIVEN,
    )
    await tickets.void_tickets(uow, actor, order.organizer_id, wanted, status="refunded")
    # Only tickets never admitted give their places back: a used ticket's place was consumed. The ticket types'
    # own sales counters follow their pools (a used ticket stays counted as sold).
    await inventory.return_sold(uow, order.organizer_id, [Take(pool_id, n) for pool_id, n in plan.returned_takes])
    if plan.returned_unit_ids and order.hold_id:
        # Exactly once: these lines were just marked refunded by this call only (above), and the engine clears a
        # sold claim only for the caller whose update marked it returned.
        await inventory.return_claims(uow, order.hold_id, plan.returned_unit_ids)
    used = set(plan.used_line_ids)
    returned = Counter(active[lid].ticket_type_id for lid in wanted if lid not in used)
    await ticket_type_service.count_sales(uow, order.organizer_id, {tid: -n for tid, n in returned.items()})
    # Counted after the update rather than derived from the lines read above, so the state always agrees with
    # the lines as written.
    left = await repo.count_lines(uow.session, order.id, LineStatus.ACTIVE)
    target = after_refund(left)
    # Under the order's lock, from a refundable state (checked above): a miss here would be a bug, not a race.
    if not await repo.transition(uow.session, order.id, target):
        raise InvalidState(state=order.status)
    after: dict[str, Any] = {
        "status": str(target),
        "lines": wanted,
        "amount_minor": plan.amount_minor,
        "reason": data.reason,
    }
    if plan.override_used:
        after |= {"allow_used": True, "used_lines": list(plan.used_line_ids)}
    record(uow, actor, "order.refunded", "order", order.id, before={"status": order.status}, after=after)
    await uow.session.refresh(order)
    return await order_out(uow, order, await repo.lines(uow.session, [order.id]))


async def order_refunds(uow: UnitOfWork, actor: Actor, order_id: str) -> list[payments.RefundInfo]:
    """The order's refunds, oldest first, with where each stands at its provider; NotFound for an unknown order
    or another organizer's."""
    actor.require(Permission.ORDER_READ)
    if await repo.status_of(uow.session, actor.organizer_id, order_id) is None:
        raise NotFound(kind="order")
    return await payments.refunds_of(uow, actor, order_id)
