"""The order read in one statement (``orders.repository.order_whole``, SQLite and PostgreSQL): the order, its lines
with their sessions' labels, each line's ticket with its entitlements and the order's payments come back from ONE
statement — one snapshot, so the buyer's held status read needs no transaction around it — and answer exactly as
the order built from its entities with tickets and payments read apart (``order_out``'s other path), however the
joined rows repeat (lines × entitlements × payments). Another organizer's order is not found."""

from __future__ import annotations

from datetime import timedelta

import pytest

from piaowu.core.errors import NotFound
from piaowu.orders import repository as orders_repo
from piaowu.orders import service as orders
from piaowu.orders.views import order_out
from piaowu.payments.models import Payment
from tests.conftest import make_tenant
from tests.factories import owner_actor
from tests.statements import statements, transactions
from tests.ticket_fixtures import attractions, issue_paid, set_grants


async def _add_payments(runtime, organizer_id: str, order_id: str) -> list[str]:  # noqa: ANN001
    """Two payments of the order, the later one written first (the read lists them by creation time)."""
    async with runtime.uow() as uow:
        now = uow.now()
        later = Payment(
            organizer_id=organizer_id,
            order_id=order_id,
            provider="sandbox",
            status="refunded",
            amount_minor=100,
            refunded_minor=100,
            currency="CNY",
            created_at=now,
            succeeded_at=now,
        )
        earlier = Payment(
            organizer_id=organizer_id,
            order_id=order_id,
            provider="cash",
            status="succeeded",
            amount_minor=200,
            currency="CNY",
            created_at=now - timedelta(minutes=5),
            succeeded_at=now - timedelta(minutes=5),
        )
        uow.session.add_all([later, earlier])
        await uow.commit()
    return [earlier.id, later.id]


async def test_the_whole_order_in_one_statement_answers_as_its_parts_read_apart(runtime, tenant):  # noqa: ANN001
    owner = await owner_actor(runtime, tenant.owner_id)
    a, b, c = await attractions(runtime, owner, 3)
    # a combo pass: each ticket has three entitlements, so every line's rows repeat three times per payment
    await set_grants(runtime, owner, a.ticket_type_id, *({"session_id": s.session_id} for s in (a, b, c)))
    issued = await issue_paid(runtime, owner, a, n=2)
    paid_ids = await _add_payments(runtime, tenant.organizer_id, issued.order_id)

    async with runtime.uow(readonly=True, autocommit=True) as uow:
        with statements(runtime) as sent, transactions(runtime) as begun:
            read = await orders.get_order(uow, owner, issued.order_id)
    async with runtime.uow(readonly=True) as uow:
        entity = await orders.load(uow, tenant.organizer_id, issued.order_id)
        built = await order_out(uow, entity, await orders_repo.lines(uow.session, [issued.order_id]))

    assert read == built
    assert [line.id for line in read.lines] == sorted(issued.line_ids) and len(read.lines) == 2
    for line in read.lines:
        assert line.ticket is not None
        assert [e.session_id for e in line.ticket.entitlements] == [a.session_id, b.session_id, c.session_id]
    assert [p.id for p in read.payments] == paid_ids  # each once, by creation time
    assert len(sent) == 1 and "JOIN ticket_entitlements" in sent[0] and "JOIN payments" in sent[0], sent
    if runtime.db.dialect == "postgresql":
        assert begun == []  # one statement is its own snapshot: no BEGIN … ROLLBACK

    stranger = await make_tenant(runtime, slug="other-theatre")
    async with runtime.uow(readonly=True, autocommit=True) as uow:
        with pytest.raises(NotFound):
            await orders.get_order(uow, await owner_actor(runtime, stranger.owner_id), issued.order_id)


async def test_an_order_without_tickets_or_payments_reads_with_none(runtime, tenant):  # noqa: ANN001
    owner = await owner_actor(runtime, tenant.owner_id)
    (a,) = await attractions(runtime, owner, 1)
    issued = await issue_paid(runtime, owner, a, n=1)  # a ticket, no payment
    async with runtime.uow(readonly=True, autocommit=True) as uow:
        read = await orders.get_order(uow, owner, issued.order_id)
        entity = await orders.load(uow, tenant.organizer_id, issued.order_id)
        built = await order_out(uow, entity, await orders_repo.lines(uow.session, [issued.order_id]))
    assert read == built and read.payments == [] and read.lines[0].ticket is not None
