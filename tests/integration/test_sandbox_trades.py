"""The sandbox gateway opens a trade with one statement (the insert tells whether the trade exists) and stays
idempotent on the merchant's reference, as gateways are: opening the same payment's trade twice answers the
first trade and writes nothing more."""

from __future__ import annotations

from sqlalchemy import func, select

from piaowu.payments import sandbox_gateway as gw
from piaowu.payments.models import SandboxTransaction
from tests.concurrency.ledger import in_uow


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
