"""Money under concurrency, on SQLite and PostgreSQL: a notification delivered ten times at once is applied once;
a late payment racing the sweeper ends in one consistent outcome; concurrent refunds never exceed what was
paid; concurrent creates with one Idempotency-Key make one order.

Each racer has its own unit of work (HTTP requests through the ASGI app each open their own).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from piaowu.audit.models import AuditEvent
from piaowu.db.statements import insert_ignore
from piaowu.orders import payment_flow, refunds
from piaowu.orders import repository as orders_repo
from piaowu.orders.models import Order, OrderLine
from piaowu.orders.schemas import CashPaymentIn, RefundIn
from piaowu.payments import repository as payments_repo
from piaowu.payments import sandbox_gateway as gw
from piaowu.payments.models import Payment, PaymentNotification, Refund
from piaowu.payments.states import PaymentStatus
from piaowu.tickets import service as tickets_service
from piaowu.tickets.models import Ticket
from piaowu.workers import sweeper
from tests.concurrency.ledger import assert_ledger, buy, codes, in_uow, pools_of, settle, warm
from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import BUYER, start_online

pytestmark = pytest.mark.slow


@dataclass
class Notified:
    order_id: str
    payment_id: str
    body: bytes
    signature: str
    trade: gw.TradeView
    secret: str

    def resent(self, i: int) -> Notified:
        """The same payment notified again under a fresh notification id (a gateway re-sending, or a status
        query's answer racing the notification)."""
        body = gw.notification_body(self.trade, f"N{self.trade.trade_no}-{i}")
        return Notified(
            self.order_id, self.payment_id, body, gw.sign(gw.merchant_key(self.secret), body), self.trade, self.secret
        )


async def paid_at_gateway(rt, actor, ticket_type_id: str, qty: int = 2) -> Notified:  # noqa: ANN001
    """A pending order whose buyer has paid on the sandbox gateway: the signed notification is ready to send."""
    order = await buy(rt, actor, ticket_type_id, qty)
    start = await start_online(rt, actor, order.id)
    trade_no = start.redirect_url.rsplit("/", 1)[-1]
    trade = await in_uow(rt, lambda uow: gw.pay(uow.session, uow.now(), trade_no))
    body = gw.notification_body(trade, f"N{trade.trade_no}")
    return Notified(
        order.id, start.payment_id, body, gw.sign(gw.merchant_key(rt.secret_key), body), trade, rt.secret_key
    )


async def deliver(client: httpx.AsyncClient, n: Notified) -> httpx.Response:
    return await client.post(
        "/api/v1/payments/notify/sandbox", content=n.body, headers={gw.SIGNATURE_HEADER: n.signature}
    )


async def money_of(rt, order_id: str) -> dict:  # noqa: ANN001
    async with rt.uow(readonly=True) as uow:
        s = uow.session
        order = (await s.execute(select(Order).where(Order.id == order_id))).scalar_one()
        pays = list((await s.execute(select(Payment).where(Payment.order_id == order_id))).scalars())
        refunds_ = list((await s.execute(select(Refund).where(Refund.order_id == order_id))).scalars())
        tickets = list((await s.execute(select(Ticket).where(Ticket.order_id == order_id))).scalars())
        lines = list((await s.execute(select(OrderLine).where(OrderLine.order_id == order_id))).scalars())
        audit = Counter(
            (
                await s.execute(
                    select(AuditEvent.action).where(AuditEvent.subject_id.in_([order_id, *[p.id for p in pays]]))
                )
            ).scalars()
        )
    return {"order": order, "payments": pays, "refunds": refunds_, "tickets": tickets, "lines": lines, "audit": audit}


def assert_paid_once(m: dict, qty: int) -> None:
    order, (pay,) = m["order"], m["payments"]
    assert order.status == "paid" and order.paid_minor == order.total_minor
    assert pay.status == PaymentStatus.SUCCEEDED and pay.refunded_minor == 0
    assert m["refunds"] == [], "a duplicate delivery was treated as a second payment and refunded"
    assert len(m["tickets"]) == qty == len({t.order_line_id for t in m["tickets"]})
    assert m["audit"]["payment.succeeded"] == 1 and m["audit"]["order.paid"] == 1, m["audit"]


@pytest.mark.parametrize("ids", ["same", "fresh"])
async def test_one_notification_delivered_ten_times_at_once_pays_once(runtime, client, tenant, ids):
    """``same``: one signed body ten times (the gateway retrying). ``fresh``: ten notifications of one payment
    under different notification ids, so the notification log's unique row does not serialize them and only
    the conditional ``pending → succeeded`` update stands between them and a double payment."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=5)
    n = await paid_at_gateway(runtime, actor, sale.ticket_type_id)
    deliveries = [n if ids == "same" else n.resent(i) for i in range(10)]
    await warm(runtime, 10)
    answers = await asyncio.gather(*(deliver(client, d) for d in deliveries))
    # "success" tells the gateway to stop; a 503 `busy` makes it retry later. Never a 500, never anything else.
    assert all((r.status_code, r.text) == (200, "success") or r.status_code == 503 for r in answers), [
        (r.status_code, r.text[:80]) for r in answers
    ]
    assert sum(r.status_code == 200 for r in answers) >= 1
    assert_paid_once(await money_of(runtime, n.order_id), qty=2)
    (book,) = (await assert_ledger(runtime, await pools_of(runtime, sale.session_id))).values()
    assert (book.held, book.sold) == (0, 2)


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_control_notification_without_the_guard_applies_twice(runtime, client, tenant, monkeypatch):
    """The guards: ``payment_flow.handle_notification`` locks the order's row first
    (``orders.repository.lock_for_payment``), so deliveries for one order run one after the other, and
    ``payments.repository.log_and_mark`` marks the payment by a conditional ``pending → succeeded`` update whose
    row count elects the one delivery that applies the payment. Both switched off (no lock; read the status,
    then update unconditionally), later deliveries also "confirm" the payment and the order flow takes them
    for a second payment of a paid order: refunded as a duplicate — a double effect the test catches. The
    deliveries carry fresh notification ids (the ``fresh`` case above): with one id, the notification log's
    unique row also makes them wait for each other.

    PostgreSQL only: on SQLite the whole notification transaction holds the write lock from its first
    statement (``BEGIN IMMEDIATE``), so even the naive check cannot read a stale status there."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=5)
    n = await paid_at_gateway(runtime, actor, sale.ticket_type_id)

    async def naive_mark_succeeded(session, payment_id, provider_ref, now):  # noqa: ANN001, ANN202
        status = (await session.execute(select(Payment.status).where(Payment.id == payment_id))).scalar_one()
        if status not in (PaymentStatus.PENDING, PaymentStatus.CANCELLED):
            return False
        await asyncio.sleep(0.005)  # the gap between the check and the write
        await session.execute(
            Payment.__table__.update()
            .where(Payment.id == payment_id)
            .values(status=PaymentStatus.SUCCEEDED, succeeded_at=now)
        )
        return True

    async def naive_log_and_mark(session, log, mark, provider_ref, now, audit=None, with_mark=None):  # noqa: ANN001, ANN202
        fresh = await insert_ignore(session, PaymentNotification.__table__, log)
        marked = mark is not None and await naive_mark_succeeded(session, mark, provider_ref, now)
        if marked and audit is not None:  # the audit event goes with the mark, as in the real statement
            await session.execute(AuditEvent.__table__.insert(), [audit[0] if fresh else audit[1]])
        along = marked and with_mark is not None  # and the order's move to paid, as in the real statement
        along = along and (await session.execute(with_mark.stmt, with_mark.params)).rowcount == 1
        return fresh, marked, along

    async def no_lock(session, payment_id):  # noqa: ANN001, ANN202
        return await orders_repo.payment_and_order(session, payment_id, lock=False)

    monkeypatch.setattr(payments_repo, "log_and_mark", naive_log_and_mark)
    monkeypatch.setattr(orders_repo, "lock_for_payment", no_lock)
    await warm(runtime, 10)
    await asyncio.gather(*(deliver(client, n.resent(i)) for i in range(10)))
    m = await money_of(runtime, n.order_id)
    assert m["audit"]["payment.succeeded"] > 1, "the naive confirm should apply the payment twice; the test is blind"
    assert m["refunds"], "the second application is taken for a duplicate payment and refunded"


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
@pytest.mark.parametrize("locked", [True, False], ids=["hold_locked", "control_hold_not_locked"])
async def test_a_hold_confirmed_in_the_tickets_statement_is_not_released_meanwhile(
    runtime, client, tenant, clock, monkeypatch, locked
):
    """The notification confirms the order's hold in its last statement, with the tickets (``apply_confirmed``),
    after the issue's reads. The release of holds left behind (``sweeper.release_expired_holds``) takes the hold
    without the order's lock; here it runs, on a hold past its time, while the notification reads for the issue.
    The notification's first statement locked the hold's row, so the release waits for its COMMIT and then finds
    the hold sold: the order paid, its unit sold once. Control: without that lock (the unlocking read of the race
    tests' control) the release takes the hold back first, and the confirm riding in the tickets' statement is
    refused — the race the lock closes. PostgreSQL only: SQLite's write transaction holds the database."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=5)
    n = await paid_at_gateway(runtime, actor, sale.ticket_type_id, qty=1)
    clock.advance(timedelta(minutes=16))  # the hold is due: the release of holds left behind would take it
    releases: list[asyncio.Task[int]] = []
    prepare = tickets_service.prepare_issue

    async def prepare_while_released(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        release = asyncio.create_task(sweeper.release_expired_holds(runtime))
        releases.append(release)
        await asyncio.wait({release}, timeout=1.0)  # done at once unless the hold's row is locked
        return await prepare(*args, **kwargs)

    async def no_lock(session, payment_id):  # noqa: ANN001, ANN202
        return await orders_repo.payment_and_order(session, payment_id, lock=False)

    monkeypatch.setattr(tickets_service, "prepare_issue", prepare_while_released)
    if not locked:
        monkeypatch.setattr(orders_repo, "lock_for_payment", no_lock)
    await warm(runtime, 4)
    r = await deliver(client, n)
    (release,) = releases
    released = await release
    (book,) = (await assert_ledger(runtime, await pools_of(runtime, sale.session_id))).values()
    if not locked:
        assert released == 1 and r.status_code != 200, "the release should win the race; the test is blind"
        return
    assert r.status_code == 200 and r.text == "success", r.text
    assert released == 0, "the hold was sold, not released"
    assert_paid_once(await money_of(runtime, n.order_id), qty=1)
    assert (book.held, book.sold) == (0, 1)


async def test_late_payment_racing_the_sweeper_ends_one_way(runtime, client, tenant, clock):
    """Ten orders expire while their buyers' notifications arrive, two sweepers run and ten new buyers want the
    same units. Each order ends either paid with its units and tickets, or expired with the payment refunded
    in full — never both, never neither; no unit is lost or sold twice."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=10)
    (pool,) = await pools_of(runtime, sale.session_id)
    notes = [await paid_at_gateway(runtime, actor, sale.ticket_type_id, qty=1) for _ in range(10)]
    clock.advance(timedelta(minutes=16))
    await warm(runtime, 16)
    racers = [
        *(deliver(client, n) for n in notes),
        sweeper.expire_orders(runtime),
        sweeper.expire_orders(runtime),
        sweeper.release_expired_holds(runtime),
        *(buy(runtime, actor, sale.ticket_type_id) for _ in range(10)),
    ]
    outcomes = await settle(racers)
    answers, jobs, bought = outcomes[:10], outcomes[10:13], outcomes[13:]
    assert all(isinstance(j, int) for j in jobs), jobs
    assert set(codes(bought)) <= {"ok", "sold_out"}, codes(bought)
    retry = [n for n, r in zip(notes, answers, strict=True) if r.status_code != 200]
    assert all(r.status_code in (200, 503) for r in answers), [(r.status_code, r.text[:200]) for r in answers]
    for n in retry:  # the gateway retries what was not answered `success`
        assert (await deliver(client, n)).status_code == 200

    paid = 0
    for n in notes:
        m = await money_of(runtime, n.order_id)
        order, (pay,) = m["order"], m["payments"]
        assert pay.status == PaymentStatus.SUCCEEDED
        if order.status == "paid":
            paid += 1
            assert len(m["tickets"]) == 1 and pay.refunded_minor == 0 and not m["refunds"]
        else:
            assert order.status == "expired" and not m["tickets"]
            assert (
                pay.refunded_minor == pay.amount_minor and sum(r.amount_minor for r in m["refunds"]) == pay.amount_minor
            )
    new_orders = sum(1 for b in bought if not isinstance(b, BaseException))
    (book,) = (await assert_ledger(runtime, [pool])).values()
    assert book.sold == paid and book.held == new_orders and paid + new_orders <= 10


async def test_concurrent_refunds_never_exceed_what_was_paid(runtime, tenant):
    """Ten refund requests for overlapping ticket sets of one paid 4-ticket order: every ticket is refunded
    once, refunded ≤ paid, and the order's state agrees with its lines."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=10)
    order = await buy(runtime, actor, sale.ticket_type_id, 4)
    await in_uow(runtime, lambda uow: payment_flow.pay_at_counter(uow, actor, order.id, CashPaymentIn(method="cash")))
    ids = [line.id for line in order.lines]
    wanted = [
        None,
        [ids[0]],
        [ids[1]],
        [ids[0], ids[1]],
        [ids[2]],
        [ids[3]],
        [ids[2], ids[3]],
        None,
        [ids[1]],
        [ids[3]],
    ]
    await warm(runtime, 10)
    outcomes = await settle(
        in_uow(runtime, lambda uow, w=w: refunds.refund_order(uow, actor, order.id, RefundIn(line_ids=w)))
        for w in wanted
    )
    assert set(codes(outcomes)) <= {"ok", "refund_not_allowed", "validation_error", "busy"}, codes(outcomes)
    m = await money_of(runtime, order.id)
    o, (pay,), lines = m["order"], m["payments"], m["lines"]
    refunded_lines = [line for line in lines if line.status == "refunded"]
    price = sale.price_minor
    assert o.refunded_minor == pay.refunded_minor == sum(r.amount_minor for r in m["refunds"])
    assert o.refunded_minor == price * len(refunded_lines) <= o.paid_minor
    assert m["audit"]["order.refunded"] == codes(outcomes)["ok"] >= 1
    assert sorted(t.status for t in m["tickets"]) == sorted(
        "refunded" if line.status == "refunded" else "valid" for line in lines
    )
    left = len(lines) - len(refunded_lines)
    assert o.status == ("refunded" if left == 0 else "partially_refunded"), (o.status, left)
    await assert_ledger(runtime, await pools_of(runtime, sale.session_id))


async def test_two_refunds_of_different_tickets_at_once_leave_the_order_refunded(runtime, tenant):
    """Each request sees two active tickets and refunds one; together they refund the whole order, so it must
    end ``refunded``, not ``partially_refunded`` with nothing left."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=10)
    order = await buy(runtime, actor, sale.ticket_type_id, 2)
    await in_uow(runtime, lambda uow: payment_flow.pay_at_counter(uow, actor, order.id, CashPaymentIn(method="cash")))
    await warm(runtime, 4)
    outcomes = await settle(
        in_uow(runtime, lambda uow, lid=line.id: refunds.refund_order(uow, actor, order.id, RefundIn(line_ids=[lid])))
        for line in order.lines
    )
    assert codes(outcomes) == {"ok": 2}, outcomes
    m = await money_of(runtime, order.id)
    assert m["order"].status == "refunded" and m["order"].refunded_minor == m["order"].paid_minor
    await assert_ledger(runtime, await pools_of(runtime, sale.session_id))


@pytest.mark.parametrize("capacity", [10, 2], ids=["plenty", "exactly-one-order"])
async def test_concurrent_creates_with_one_idempotency_key_make_one_order(runtime, client, tenant, capacity):
    """Eight retries of one request at once: one order, every answer is that order (201, replays marked), even
    when the units left are exactly that order's (a loser must not answer sold_out for its own order)."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=capacity)
    body = {"items": [{"ticket_type_id": sale.ticket_type_id, "quantity": 2}], "buyer": BUYER}
    headers = {**tenant.auth, "Idempotency-Key": "retry-7f3a"}
    await warm(runtime, 8)
    answers = await asyncio.gather(*(client.post("/api/v1/orders", json=body, headers=headers) for _ in range(8)))
    assert [r.status_code for r in answers] == [201] * 8, [(r.status_code, r.text[:120]) for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in answers) == 7
    async with runtime.uow(readonly=True) as uow:
        assert (await uow.session.execute(select(func.count()).select_from(Order))).scalar_one() == 1
    (book,) = (await assert_ledger(runtime, await pools_of(runtime, sale.session_id))).values()
    assert book.held == 2
