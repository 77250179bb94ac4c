"""``piaowu payments reconcile [--since]``: what finance runs (or cron) to find and fix payment mismatches."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select

from piaowu.core.events import Topic
from piaowu.db.outbox import OutboxMessage
from piaowu.orders import service as orders
from piaowu.payments import sandbox_gateway
from piaowu.payments.models import Payment
from piaowu.runtime import Runtime
from tests.conftest import make_tenant
from tests.factories import on_sale_session, owner_actor, pending_order
from tests.integration.test_cli import check, cli_env, invoke, ok  # noqa: F401
from tests.order_helpers import start_online


async def _paid_then_cancelled(rt: Runtime) -> str:
    """The buyer paid on the gateway page; the callback was lost; staff cancelled the order meanwhile (its
    payment is marked cancelled). → the order id."""
    tenant = await make_tenant(rt, slug="cli-theatre")
    actor = await owner_actor(rt, tenant.owner_id)
    sale = await on_sale_session(rt, actor, capacity=3)
    order = await pending_order(rt, actor, sale.ticket_type_id, qty=2)
    start = await start_online(rt, actor, order.id)
    async with rt.uow() as uow:
        await sandbox_gateway.pay(uow.session, uow.now(), start.redirect_url.rsplit("/", 1)[-1])
        await uow.session.execute(delete(OutboxMessage).where(OutboxMessage.topic == Topic.SANDBOX_CALLBACK))
        await uow.commit()
    async with rt.uow() as uow:
        await orders.cancel_order(uow, actor, order.id)
        await uow.commit()
    async with rt.uow(readonly=True) as uow:
        pay = (await uow.session.execute(select(Payment).where(Payment.order_id == order.id))).scalar_one()
    assert pay.status == "cancelled"
    return order.id


def test_reconcile_recovers_a_paid_then_cancelled_trade_and_shows_it(cli_env: Path) -> None:  # noqa: F811
    ok("init")
    order_id = check(_paid_then_cancelled)

    first = ok("payments", "reconcile")

    assert "checked 1 payment(s): fixed 1" in first.output
    assert "paid_not_recorded" in first.output and "revived" in first.output
    assert "daily summary" in first.output

    async def status(rt: Runtime) -> tuple[str, int]:
        async with rt.uow(readonly=True) as uow:
            order = await orders.load(uow, (await _org(rt)), order_id)
            return order.status, order.paid_minor

    state, paid = check(status)
    assert state == "paid" and paid > 0

    again = ok("payments", "reconcile", "--since", "3d")
    assert "nothing to check" in again.output
    assert "revived" in again.output  # the day's record still shows what was fixed
    assert check(status) == (state, paid)


async def _org(rt: Runtime) -> str:
    from piaowu.organizers import service as organizers

    async with rt.uow(readonly=True) as uow:
        return (await organizers.get_by_slug(uow, "cli-theatre")).id


def test_reconcile_exits_2_while_something_is_open(cli_env: Path) -> None:  # noqa: F811
    ok("init")
    check(_paid_then_cancelled)

    async def tamper(rt: Runtime) -> None:
        from sqlalchemy import update

        from piaowu.payments.models import SandboxTransaction

        async with rt.uow() as uow:
            await uow.session.execute(update(SandboxTransaction).values(amount_minor=1))
            await uow.commit()

    check(tamper)
    result = invoke("payments", "reconcile")
    assert result.exit_code == 2, result.output
    assert "amount_differs" in result.output and "open" in result.output


def test_reconcile_refuses_a_bad_since(cli_env: Path) -> None:  # noqa: F811
    ok("init")
    result = invoke("payments", "reconcile", "--since", "last tuesday")
    assert result.exit_code == 1
    assert "YYYY-MM-DD" in result.output
    assert ok("payments", "reconcile", "--since", "2026-01-01").exit_code == 0
