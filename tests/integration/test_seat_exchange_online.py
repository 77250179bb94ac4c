"""A seat exchange into a cheaper zone of an order the buyer paid online (the sandbox gateway), through the API,
on SQLite and PostgreSQL: the difference is refunded through the order's online payment — the refund written in
the exchange's transaction, asked of the provider from the outbox only after commit — and the order's books hold
(paid − refunded = total, the line at its new price). A provider that refuses or cannot be reached leaves the
refund failed or pending, in sight of staff and asked again as any online refund is, while the exchange stands;
later exchanges and a full refund return the right amounts; a clerk without ``payment.refund`` is refused before
any seat is claimed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from piaowu.db.outbox import OutboxMessage
from piaowu.payments import service as payments
from piaowu.payments.models import Payment, Refund, SandboxTransaction
from piaowu.runtime import Runtime
from piaowu.workers import reconcile
from tests.integration.test_replaced_at_the_gate import scan
from tests.integration.test_seat_exchange import API, live_claims, occupied
from tests.integration.test_seat_exchange_money import money, move, order, token
from tests.order_helpers import BUYER, drain, gateway_pay, wire_callbacks
from tests.refund_gateway import Gateway
from tests.seating_world import PRICES, SeatingWorld, seating_world
from tests.web.helpers import csrf_of, sign_in

A, B = PRICES["A"][0], PRICES["B"][0]  # adult: 880 / 480 yuan


async def buy_online(client: httpx.AsyncClient, runtime: Runtime, world: SeatingWorld, seat_id: str) -> dict:
    """The buyer orders the seat in the shop and pays on the sandbox gateway's page; the gateway's notification
    reaches us through the outbox. → the paid order as staff read it."""
    shop = f"{API}/shop/{world.tenant.slug}"
    item = {"product": "seat", "selection": {"ticket_type_id": world.adult_id, "seats": [seat_id]}}
    placed = await client.post(f"{shop}/orders", json={"items": [item], "buyer": BUYER})
    assert placed.status_code == 201, placed.text
    code = placed.json()["code"]
    start = await client.post(f"{shop}/orders/{code}/payments", json={"contact": BUYER["phone"], "provider": "sandbox"})
    assert start.status_code == 201, start.text
    await gateway_pay(runtime, start.json()["redirect_url"])
    assert await drain(runtime) >= 1  # the notification
    paid = await order(client, world, placed.json()["id"])
    assert paid["status"] == "paid" and paid["paid_minor"] == paid["total_minor"], paid
    assert [p["provider"] for p in paid["payments"]] == ["sandbox"]
    return paid


async def refunds(rt: Runtime, order_id: str) -> list[tuple[str, str, int, str]]:
    """(refund id, provider of its payment, amount, status) of the order's refunds, oldest first."""
    async with rt.uow(readonly=True) as uow:
        rows = await uow.session.execute(
            select(Refund.id, Payment.provider, Refund.amount_minor, Refund.status)
            .join(Payment, Payment.id == Refund.payment_id)
            .where(Refund.order_id == order_id)
            .order_by(Refund.created_at, Refund.id)
        )
        return [tuple(r) for r in rows.all()]


async def queued(rt: Runtime, refund_id: str) -> list[tuple[str, int]]:
    """(status, attempts) of the outbox messages asking the provider for this refund."""
    async with rt.uow(readonly=True) as uow:
        rows = (
            await uow.session.execute(select(OutboxMessage).where(OutboxMessage.topic == "refund.requested"))
        ).scalars()
        return [(m.status, m.attempts) for m in rows if m.payload.get("refund_id") == refund_id]


async def trade_refunded(rt: Runtime, order_id: str) -> int:
    """What the sandbox gateway has paid back on the order's online trade."""
    async with rt.uow(readonly=True) as uow:
        trade = (
            await uow.session.execute(
                select(SandboxTransaction)
                .join(Payment, Payment.id == SandboxTransaction.merchant_ref)
                .where(Payment.order_id == order_id)
            )
        ).scalar_one()
        return trade.refunded_minor


def books_hold(o: dict) -> None:
    assert (
        o["paid_minor"] - o["refunded_minor"]
        == o["total_minor"]
        == sum(line["price_minor"] for line in o["lines"] if line["status"] == "active")
    ), o


async def test_a_cheaper_seat_refunds_the_online_payment_through_the_provider_after_commit(
    runtime: Runtime, app: Any, client: httpx.AsyncClient
) -> None:
    wire_callbacks(runtime, app)
    world = await seating_world(runtime, starts_in=timedelta(hours=1))
    a1, b1, b2 = world.seat("A", "1", "1"), world.seat("B", "1", "1"), world.seat("B", "1", "2")
    sold = await buy_online(client, runtime, world, a1)
    ticket = sold["lines"][0]["ticket"]

    cheaper = {"seat_id": b1, "price_difference_minor": B - A}
    r = await move(client, world, ticket["id"], cheaper, key="xchg-online")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["price_difference_minor"], body["payment_id"], len(body["refund_ids"])) == (B - A, None, 1)
    assert body["refund_queued_minor"] == A - B  # all of it waits for the gateway
    (refund_id,) = body["refund_ids"]
    replay = await move(client, world, ticket["id"], cheaper, key="xchg-online")  # a retried request
    assert replay.json() == body and replay.headers.get("Idempotent-Replayed") == "true"
    # Committed with the exchange: the refund owed on the online payment and the message asking the provider —
    # and nothing asked of the provider yet.
    assert await refunds(runtime, sold["id"]) == [(refund_id, "sandbox", A - B, "pending")]
    assert await queued(runtime, refund_id) == [("pending", 0)]
    assert await trade_refunded(runtime, sold["id"]) == 0
    after = await order(client, world, sold["id"])
    assert (after["total_minor"], after["paid_minor"], after["refunded_minor"]) == (B, A, A - B)
    assert after["status"] == "paid" and after["lines"][0]["price_minor"] == B
    assert after["payments"][0]["refunded_minor"] == A - B
    books_hold(after)

    assert await drain(runtime) == 1  # the outbox asks the gateway
    assert await refunds(runtime, sold["id"]) == [(refund_id, "sandbox", A - B, "succeeded")]
    assert await queued(runtime, refund_id) == [("done", 0)]
    assert await trade_refunded(runtime, sold["id"]) == A - B
    books_hold(await order(client, world, sold["id"]))
    # The exchange stands at the gate: the old code is answered "replaced", the new one is the valid ticket.
    old = await scan(client, world.auth, ticket["code"])
    assert old["result"] == "replaced" and old["new_seat"] == {"section": "B", "row": "1", "number": "1"}

    # Back to a dearer seat (the amount due taken at the counter), then cheaper again: the newest payment is
    # refunded first — the counter payment, at once, nothing asked of the gateway.
    back = await move(
        client, world, ticket["id"], {"seat_id": a1, "price_difference_minor": A - B, "payment": {"method": "cash"}}
    )
    assert back.status_code == 200, back.text
    again = await move(client, world, ticket["id"], {"seat_id": b2, "price_difference_minor": B - A})
    assert again.status_code == 200, again.text
    assert again.json()["refund_queued_minor"] == 0  # paid back at the counter
    assert [(p, amount, status) for _, p, amount, status in await refunds(runtime, sold["id"])] == [
        ("sandbox", A - B, "succeeded"),
        ("cash", A - B, "succeeded"),
    ]
    assert await drain(runtime) == 0 and await trade_refunded(runtime, sold["id"]) == A - B
    now = await order(client, world, sold["id"])
    assert (now["total_minor"], now["paid_minor"], now["refunded_minor"]) == (B, A + (A - B), 2 * (A - B))
    assert now["lines"][0]["price_minor"] == B and now["lines"][0]["seat"]["number"] == "2"
    books_hold(now)

    # A full refund of the ticket gives back what it now costs, from what is left of the online payment.
    full = await client.post(f"{API}/orders/{sold['id']}/refunds", json={}, headers=world.auth)
    assert full.status_code == 200, full.text
    assert full.json()["status"] == "refunded" and full.json()["refunded_minor"] == full.json()["paid_minor"]
    assert [(p, amount) for _, p, amount, _ in await refunds(runtime, sold["id"])][-1] == ("sandbox", B)
    assert await drain(runtime) == 1
    assert await trade_refunded(runtime, sold["id"]) == A  # the whole online payment, once
    assert all(status == "succeeded" for *_, status in await refunds(runtime, sold["id"]))
    assert (await occupied(runtime, b2), await live_claims(runtime, b2)) == (0, 0)


async def test_the_refund_is_written_in_the_exchange_s_transaction(
    runtime: Runtime, app: Any, client: httpx.AsyncClient, monkeypatch: Any
) -> None:
    """A failure after the refund was written (here: reissuing the ticket) rolls everything back together: no
    refund, no message to the provider, the seat and the order's money as they were."""
    from piaowu.core.errors import ExchangeNotAllowed
    from piaowu.tickets import service as tickets

    wire_callbacks(runtime, app)
    world = await seating_world(runtime)
    a1, b1 = world.seat("A", "1", "1"), world.seat("B", "1", "1")
    sold = await buy_online(client, runtime, world, a1)
    ticket = sold["lines"][0]["ticket"]

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise ExchangeNotAllowed(reason="the printer caught fire")

    monkeypatch.setattr(tickets, "reissue", broken)
    r = await move(client, world, ticket["id"], {"seat_id": b1, "price_difference_minor": B - A})
    assert r.status_code == 409 and r.json()["reason"] == "the printer caught fire", r.text
    assert await refunds(runtime, sold["id"]) == []
    async with runtime.uow(readonly=True) as uow:
        messages = (
            await uow.session.execute(select(OutboxMessage.id).where(OutboxMessage.topic == "refund.requested"))
        ).all()
    assert messages == []
    after = await order(client, world, sold["id"])
    assert (after["total_minor"], after["paid_minor"], after["refunded_minor"]) == (A, A, 0)
    assert after["lines"][0]["price_minor"] == A and after["payments"][0]["refunded_minor"] == 0
    assert (await live_claims(runtime, a1), await live_claims(runtime, b1)) == (1, 0)


async def test_a_refund_the_provider_refuses_stays_failed_in_sight_and_the_exchange_stands(
    runtime: Runtime, app: Any, client: httpx.AsyncClient, monkeypatch: Any
) -> None:
    wire_callbacks(runtime, app)
    world = await seating_world(runtime, starts_in=timedelta(hours=1))
    a1, b1 = world.seat("A", "1", "1"), world.seat("B", "1", "1")
    sold = await buy_online(client, runtime, world, a1)
    ticket = sold["lines"][0]["ticket"]
    gateway = Gateway(monkeypatch, "refuse")

    r = await move(client, world, ticket["id"], {"seat_id": b1, "price_difference_minor": B - A})
    assert r.status_code == 200, r.text
    (refund_id,) = r.json()["refund_ids"]
    assert await drain(runtime) == 1 and gateway.asked == 1  # the gateway answered: no
    assert await refunds(runtime, sold["id"]) == [(refund_id, "sandbox", A - B, "failed")]
    assert await trade_refunded(runtime, sold["id"]) == 0
    # The exchange stands: the new seat owned, the old one free, the old code answered "replaced".
    assert (await live_claims(runtime, b1), await live_claims(runtime, a1)) == (1, 0)
    assert (await scan(client, world.auth, ticket["code"]))["result"] == "replaced"
    # The money is still owed to the buyer and counted as such: the books hold.
    after = await order(client, world, sold["id"])
    assert (after["total_minor"], after["refunded_minor"]) == (B, A - B) and after["lines"][0]["price_minor"] == B
    books_hold(after)
    # Staff see it: the order's history, and an open item of the reconciliation (its page and exit status).
    assert (await reconcile.reconcile_payments(runtime)).outcomes["open"] == 1
    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    page = await client.get(f"/manage/orders/{sold['id']}?lang=en")
    assert "<strong>Refund failed</strong>" in page.text and "<strong>Seat changed</strong> A 1-1 → B 1-1" in page.text
    recon = await client.get("/manage/payments/reconciliation?lang=en")
    assert "Refund refused by the provider" in recon.text and sold["code"] in recon.text

    # Asked again as any refused online refund is (failed → pending, back to the outbox), it goes through once.
    gateway.mode = "up"
    async with runtime.uow() as uow:
        assert await payments.retry_refunds(uow, world.actor, [sold["id"]]) == 1
        await uow.commit()
    assert await drain(runtime) == 1
    assert await refunds(runtime, sold["id"]) == [(refund_id, "sandbox", A - B, "succeeded")]
    assert await trade_refunded(runtime, sold["id"]) == A - B
    books_hold(await order(client, world, sold["id"]))
    assert (await reconcile.reconcile_payments(runtime)).outcomes["open"] == 0


async def test_an_unreachable_provider_leaves_the_refund_pending_and_the_outbox_asks_again(
    runtime: Runtime, app: Any, client: httpx.AsyncClient, clock: Any, monkeypatch: Any
) -> None:
    wire_callbacks(runtime, app)
    world = await seating_world(runtime, starts_in=timedelta(hours=1))
    a1, b1 = world.seat("A", "1", "1"), world.seat("B", "1", "1")
    sold = await buy_online(client, runtime, world, a1)
    ticket = sold["lines"][0]["ticket"]
    gateway = Gateway(monkeypatch, "unreachable")

    r = await move(client, world, ticket["id"], {"seat_id": b1, "price_difference_minor": B - A})
    assert r.status_code == 200, r.text
    (refund_id,) = r.json()["refund_ids"]
    assert await drain(runtime) == 0 and gateway.asked == 1
    assert await refunds(runtime, sold["id"]) == [(refund_id, "sandbox", A - B, "pending")]
    assert await queued(runtime, refund_id) == [("pending", 1)]  # to be asked again after a backoff
    assert await drain(runtime) == 0 and gateway.asked == 1  # not before the backoff is over
    assert (await live_claims(runtime, b1), await live_claims(runtime, a1)) == (1, 0)
    assert (await scan(client, world.auth, ticket["code"]))["result"] == "replaced"
    books_hold(await order(client, world, sold["id"]))
    # Pending past the grace period: an open item of the reconciliation for staff.
    clock.advance(timedelta(seconds=runtime.settings.reconcile_grace_seconds + 1))
    assert (await reconcile.reconcile_payments(runtime)).outcomes["open"] == 1

    gateway.mode = "up"  # the gateway is back; the outbox asks again on its own
    assert await drain(runtime) == 1 and gateway.asked == 2
    assert await refunds(runtime, sold["id"]) == [(refund_id, "sandbox", A - B, "succeeded")]
    assert await queued(runtime, refund_id) == [("done", 1)]
    assert await trade_refunded(runtime, sold["id"]) == A - B
    assert (await reconcile.reconcile_payments(runtime)).outcomes["open"] == 0


async def test_a_clerk_without_the_refund_permission_is_refused_before_any_seat_is_claimed(
    runtime: Runtime, app: Any, client: httpx.AsyncClient
) -> None:
    wire_callbacks(runtime, app)
    world = await seating_world(runtime)
    clerk = await token(runtime, world, "sales")
    a1, b1 = world.seat("A", "1", "1"), world.seat("B", "1", "1")
    sold = await buy_online(client, runtime, world, a1)
    ticket = sold["lines"][0]["ticket"]
    r = await move(client, world, ticket["id"], {"seat_id": b1, "price_difference_minor": B - A}, auth=clerk)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied", r.text
    assert (await live_claims(runtime, a1), await live_claims(runtime, b1)) == (1, 0)
    assert (await occupied(runtime, a1), await occupied(runtime, b1)) == (1, 0)
    assert await refunds(runtime, sold["id"]) == []
    after = await order(client, world, sold["id"])
    assert (after["total_minor"], after["refunded_minor"], after["lines"][0]["ticket"]["code"]) == (
        A,
        0,
        ticket["code"],
    )
    assert (await money(runtime, sold["id"]))[1] == []


async def test_the_order_page_exchanges_an_online_order_and_says_the_refund_is_on_its_way(
    runtime: Runtime, app: Any, client: httpx.AsyncClient
) -> None:
    wire_callbacks(runtime, app)
    world = await seating_world(runtime)
    a1, b1 = world.seat("A", "1", "1"), world.seat("B", "1", "1")
    sold = await buy_online(client, runtime, world, a1)
    ticket = sold["lines"][0]["ticket"]
    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    url = f"/manage/orders/{sold['id']}/tickets/{ticket['id']}/exchange"
    form = await client.get(url + "?lang=en")
    shown = await client.post(url + "?lang=en", data={"csrf": csrf_of(form.text), "seat": b1})
    assert shown.status_code == 200 and "Refund to the buyer: ¥400.00, the way the order was paid." in shown.text
    assert await refunds(runtime, sold["id"]) == []  # shown, not done
    done = await client.post(url, data={"csrf": csrf_of(form.text), "seat": b1, "difference": str(B - A)})
    assert done.status_code == 303, done.text
    page = await client.get(f"/manage/orders/{sold['id']}?lang=en")
    assert "Seat changed: A 1-1 → B 1-1" in page.text
    assert "Refund of ¥400.00 requested from the online payment&#39;s provider" in page.text
    assert "Refunded ¥400.00." not in page.text  # not yet: the gateway has not paid it back
    assert "<strong>Refund requested</strong>" in page.text and "<strong>Refund completed</strong>" not in page.text
    assert await drain(runtime) == 1
    page = await client.get(f"/manage/orders/{sold['id']}?lang=zh-CN")
    assert "<strong>退款完成</strong>" in page.text and "已向在线支付渠道申请退款" not in page.text  # flash shown once
    assert await trade_refunded(runtime, sold["id"]) == A - B
    books_hold(await order(client, world, sold["id"]))


async def test_an_exchange_racing_a_full_refund_of_the_order_moves_the_money_once(
    runtime: Runtime, app: Any, client: httpx.AsyncClient
) -> None:
    """Both at once, on an online order: they queue on the order's lock. Either the exchange comes first (its
    difference refunded, then the rest of the ticket's new price) or the refund does (the exchange is refused:
    the ticket is refunded). The gateway pays back the whole payment, once, either way."""
    wire_callbacks(runtime, app)
    world = await seating_world(runtime)
    for n in range(1, 5):
        seat, target = world.seat("A", "1", str(n)), world.seat("B", "1", str(n))
        sold = await buy_online(client, runtime, world, seat)
        ticket = sold["lines"][0]["ticket"]
        xchg, full = await asyncio.gather(
            move(client, world, ticket["id"], {"seat_id": target, "price_difference_minor": B - A}),
            client.post(f"{API}/orders/{sold['id']}/refunds", json={}, headers=world.auth),
        )
        assert full.status_code == 200, full.text
        assert xchg.status_code in (200, 409), xchg.text
        amounts = sorted(amount for _, _, amount, _ in await refunds(runtime, sold["id"]))
        if xchg.status_code == 200:
            assert amounts == sorted([A - B, B])
        else:
            assert xchg.json()["code"] == "exchange_not_allowed" and amounts == [A]
        await drain(runtime)
        assert await trade_refunded(runtime, sold["id"]) == A
        after = await order(client, world, sold["id"])
        assert after["status"] == "refunded" and after["refunded_minor"] == after["paid_minor"] == A
        assert (await live_claims(runtime, seat), await live_claims(runtime, target)) == (0, 0)
