"""Starting an online payment writes the payment and its audit event in ONE statement (issue 7, paidtoken), only
while what step one read still holds: the order pending with the same expiry, before that expiry, and the
caller's API token unrevoked. Between the two steps the provider is asked (a network call for a real gateway),
and anything may happen meanwhile: each case below happens there, and nothing may be written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from piaowu.accounts import service as accounts
from piaowu.accounts.models import ApiToken
from piaowu.audit.models import AuditEvent
from piaowu.core.errors import HoldExpired, InvalidState, NotAuthenticated
from piaowu.orders import payment_flow
from piaowu.orders import service as orders
from piaowu.orders.schemas import OnlinePaymentIn
from piaowu.payments.models import Payment
from tests.concurrency.ledger import buy, in_uow
from tests.factories import on_sale_session, owner_actor
from tests.statements import short, statements


async def _opened(runtime: Any, tenant: Any) -> tuple[Any, Any, Any]:
    """A pending order, an API token's actor (as the cached one a request gets) and step one's opened trade."""
    owner = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, owner, capacity=5)
    order = await buy(runtime, owner, sale.ticket_type_id, 1)
    async with runtime.uow(readonly=True) as uow:
        actor = await accounts.token_actor(uow, tenant.token)
    trade = await payment_flow.open_online_trade(runtime.uow, actor, order.id, OnlinePaymentIn(provider="sandbox"))
    return owner, order, (actor, trade)


async def _record(runtime: Any, actor: Any, trade: Any) -> Any:
    async with runtime.uow(autocommit=True) as uow:  # as the API runs it without an Idempotency-Key
        out = await payment_flow.record_online(uow, actor, trade)
        await uow.commit()
    return out


async def _written(runtime: Any, order_id: str) -> tuple[int, int]:
    """(payments of the order, ``payment.started`` audit events)."""
    async with runtime.uow(readonly=True) as uow:
        s = uow.session
        pays = (await s.execute(select(func.count()).select_from(Payment).where(Payment.order_id == order_id))).one()
        started = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "payment.started")
        return pays[0], (await s.execute(started)).scalar_one()


async def test_the_payment_and_its_audit_event_are_one_statement(runtime, tenant, db_url) -> None:  # noqa: ANN001
    _, order, (actor, trade) = await _opened(runtime, tenant)
    with statements(runtime) as sent:
        out = await _record(runtime, actor, trade)
    assert out.status == "pending" and out.redirect_url.startswith("/sandbox-gateway/pay/")
    if runtime.db.dialect == "postgresql":
        assert len(sent) == 1 and sent[0].startswith("WITH"), short(sent)
    else:  # the checks read inside the write lock (BEGIN IMMEDIATE), then one insert per table
        assert len(sent) == 4, short(sent)
    assert await _written(runtime, order.id) == (1, 1)


@pytest.mark.parametrize("change", ["cancelled", "expired", "paid elsewhere"])
async def test_an_order_that_changed_while_the_provider_answered_gets_no_payment(
    runtime,  # noqa: ANN001
    tenant,  # noqa: ANN001
    clock,  # noqa: ANN001
    change: str,
) -> None:
    owner, order, (actor, trade) = await _opened(runtime, tenant)
    if change == "cancelled":
        await in_uow(runtime, lambda uow: orders.cancel_order(uow, owner, order.id))
        refusal: type[Exception] = InvalidState
    elif change == "expired":
        clock.advance(timedelta(minutes=runtime.settings.hold_minutes, seconds=1))  # the sweeper has not run
        refusal = HoldExpired
    else:  # another payment made it paid: only the state matters here
        from piaowu.orders.models import Order

        await in_uow(runtime, lambda uow: uow.session.execute(update(Order).values(status="paid")))
        refusal = InvalidState
    with pytest.raises(refusal):
        await _record(runtime, actor, trade)
    assert await _written(runtime, order.id) == (0, 0)


async def test_a_token_revoked_while_the_provider_answered_writes_nothing(runtime, tenant) -> None:  # noqa: ANN001
    _, order, (actor, trade) = await _opened(runtime, tenant)
    assert accounts.cached_token_actor(tenant.token) is not None
    # Revoked by another process: this one's cache is not told.
    await in_uow(runtime, lambda uow: uow.session.execute(update(ApiToken).values(revoked_at=uow.now())))
    with pytest.raises(NotAuthenticated):
        await _record(runtime, actor, trade)
    assert await _written(runtime, order.id) == (0, 0)
    assert accounts.cached_token_actor(tenant.token) is None  # every token is verified again
