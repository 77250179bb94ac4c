"""The sandbox gateway in its own process (``piaowu gateway``, PIAOWU_SANDBOX_GATEWAY_URL): buyers are sent to its
origin, and its notifications are its process's to deliver — the server's outbox leaves them alone."""

from __future__ import annotations

from sqlalchemy import select

from piaowu.core.events import Topic
from piaowu.db.outbox import OutboxMessage
from piaowu.runtime import build_runtime
from piaowu.workers import outbox_dispatch
from tests.conftest import make_settings
from tests.factories import on_sale_session, owner_actor, pending_order
from tests.order_helpers import gateway_pay, start_online, wire_callbacks
from tests.statements import statements, transactions


async def test_the_server_sends_buyers_to_the_gateway_process_and_leaves_it_its_notifications(
    runtime, app, tenant, db_url, tmp_path
):
    server = build_runtime(
        make_settings(tmp_path, db_url, sandbox_gateway_url="http://127.0.0.1:8001"), clock=runtime.clock, db=runtime.db
    )
    server.extras["role"] = "server"
    gateway = build_runtime(make_settings(tmp_path, db_url), clock=runtime.clock, db=runtime.db)
    gateway.extras["role"] = "gateway"
    wire_callbacks(gateway, app)
    actor = await owner_actor(server, tenant.owner_id)
    sale = await on_sale_session(server, actor, capacity=5)
    order = await pending_order(server, actor, sale.ticket_type_id)
    start = await start_online(server, actor, order.id)
    assert start.redirect_url.startswith("http://127.0.0.1:8001/sandbox-gateway/pay/")
    await gateway_pay(server, start.redirect_url)
    assert await outbox_dispatch.drain(server) == 0  # not the server's to deliver
    async with runtime.uow(readonly=True) as uow:
        (status,) = (
            await uow.session.execute(select(OutboxMessage.status).where(OutboxMessage.topic == Topic.SANDBOX_CALLBACK))
        ).one()
    assert status == "pending"
    assert await outbox_dispatch.drain(gateway) == 1  # the gateway's own loop delivers it
    async with runtime.uow(readonly=True) as uow:
        from piaowu.orders import service as orders

        assert (await orders.order_status(uow, actor, order.id)).status == "paid"


async def test_a_drain_claims_and_marks_in_one_statement_each_without_a_transaction(runtime):  # noqa: ANN001
    """The outbox's claim (one ``UPDATE … RETURNING``) and its mark (one ``UPDATE``) each commit by themselves:
    no BEGIN … COMMIT around either on PostgreSQL (four round trips per batch, once per paid order in a sale's
    notifications when the gateway's deliveries come one at a time). On SQLite autocommit is the ordinary
    transaction. Control: with ``rt.uow()`` around them (main before paidfast), two transactions are counted."""
    async with runtime.uow() as uow:  # a topic whose handler does nothing: only the drain's own statements count
        uow.emit(Topic.ORDER_SESSION_CANCELLED, {"order_id": "none"})
        await uow.commit()
    with statements(runtime) as sent, transactions(runtime) as begun:
        assert await outbox_dispatch.drain(runtime) == 1
    assert len(sent) == 2 and "UPDATE outbox" in sent[0] and sent[1].startswith("UPDATE outbox"), sent
    assert len(begun) == (0 if runtime.db.dialect == "postgresql" else 2), begun
    async with runtime.uow(readonly=True) as uow:
        assert (await uow.session.execute(select(OutboxMessage.status))).scalar_one() == "done"
