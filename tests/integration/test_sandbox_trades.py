"""The sandbox gateway opens a trade with one statement (the insert tells whether the trade exists) and stays
idempotent on the merchant's reference, as gateways are: opening the same payment's trade twice answers the
first trade and writes nothing more."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from piaowu.core.errors import Conflict
from piaowu.db.outbox import OutboxMessage
from piaowu.payments import sandbox_gateway as gw
from piaowu.payments.models import SandboxTransaction
from tests.concurrency.ledger import in_uow, warm
from tests.statements import statements


def _open(ref: str, amount: int):  # noqa: ANN202
    async def work(uow):  # noqa: ANN001, ANN202
        return await gw.create_trade(
            uow.session,
            uow.now(),
            merchant_ref=ref,
            amount_minor=amount,
            currency="CNY",
            subject="Order X",
            notify_url="http://app/api/v1/payments/notify/sandbox",
            return_url="",
        )

    return work


async def test_opening_the_same_payments_trade_twice_answers_the_first(runtime):
    first = await in_uow(runtime, _open("P1", 100))
    again = await in_uow(runtime, _open("P1", 999))  # a retry: the first trade, unchanged
    other = await in_uow(runtime, _open("P2", 200))
    assert again.trade_no == first.trade_no and again.amount_minor == 100 and again.status == "created"
    assert other.trade_no != first.trade_no and other.amount_minor == 200
    async with runtime.uow(readonly=True) as uow:
        n = (await uow.session.execute(select(func.count()).select_from(SandboxTransaction))).scalar_one()
        stored = await gw.get_trade(uow.session, first.trade_no)
    assert n == 2 and stored.merchant_ref == "P1" and stored.amount_minor == 100


async def test_paying_a_trade_is_one_update_and_queues_its_notification_once(runtime):
    """Paying is the conditional update itself, which returns the paid row (no read after it) — on PostgreSQL
    with the outbox message's insert in the same statement; paying again answers the paid trade and queues
    nothing more; a closed trade cannot be paid. The queued notification is signed when it is sent, into the
    same bytes the trade's ``notification_body`` makes."""
    trade = await in_uow(runtime, _open("P1", 100))
    with statements(runtime) as sent:
        paid = await in_uow(runtime, lambda uow: gw.pay(uow.session, uow.now(), trade.trade_no))
    if runtime.db.dialect == "postgresql":  # one data-modifying statement: the update and the outbox insert
        assert len(sent) == 1 and sent[0].startswith("WITH paid AS (UPDATE sandbox_gateway_transactions"), sent
        assert "INSERT INTO outbox" in sent[0], sent
    else:  # the update (with RETURNING) and the outbox message's insert at COMMIT
        assert len(sent) == 2 and sent[0].startswith("UPDATE sandbox_gateway_transactions"), sent
    assert paid.status == "paid" and paid.paid_at is not None and paid.amount_minor == 100
    again = await in_uow(runtime, lambda uow: gw.pay(uow.session, uow.now(), trade.trade_no))
    assert again == paid
    async with runtime.uow(readonly=True) as uow:
        msgs = (await uow.session.execute(select(OutboxMessage.payload))).scalars().all()
    assert len(msgs) == 1
    assert msgs[0]["url"] == "http://app/api/v1/payments/notify/sandbox" and "signature" not in msgs[0]
    body, signature = gw.signed_notification(runtime.secret_key, msgs[0])
    assert body == gw.notification_body(paid, f"N{trade.trade_no}")
    assert signature == gw.sign(gw.merchant_key(runtime.secret_key), body)
    assert b'"trade_status":"TRADE_SUCCESS"' in body and trade.trade_no.encode() in body

    other = await in_uow(runtime, _open("P2", 200))
    await in_uow(runtime, lambda uow: gw.close(uow.session, other.trade_no))
    with pytest.raises(Conflict):
        await in_uow(runtime, lambda uow: gw.pay(uow.session, uow.now(), other.trade_no))


async def test_paying_one_trade_eight_times_at_once_queues_one_notification(runtime):
    """As the hosted page pays (an autocommit unit of work: on PostgreSQL each pay is its own one statement): of
    eight pays at once one marks the trade paid and queues the notification, the others answer the paid trade."""
    trade = await in_uow(runtime, _open("P1", 100))
    await warm(runtime, 8)

    async def pay():  # noqa: ANN202
        async with runtime.uow(autocommit=True) as uow:
            paid = await gw.pay(uow.session, uow.now(), trade.trade_no)
            await uow.commit()
        return paid

    answers = await asyncio.gather(*(pay() for _ in range(8)))
    assert {a.status for a in answers} == {"paid"} and len({a.paid_at for a in answers}) == 1
    async with runtime.uow(readonly=True) as uow:
        n = (await uow.session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one()
    assert n == 1


def test_a_notification_queued_with_its_signed_body_is_sent_as_it_was_queued():
    """Messages queued before the payload carried the fields (``{"url", "body", "signature"}``) still go out
    with their own body and signature; a payload of fields is signed with the merchant key when sent."""
    old = {"url": "http://app/notify", "body": '{"trade_no":"SBX1"}', "signature": "abc"}
    assert gw.signed_notification("secret", old) == (b'{"trade_no":"SBX1"}', "abc")
    body, signature = gw.signed_notification("secret", {"url": "http://app/notify", "notify": {"b": 1, "a": "x"}})
    assert body == b'{"a":"x","b":1}' and signature == gw.sign(gw.merchant_key("secret"), body)
