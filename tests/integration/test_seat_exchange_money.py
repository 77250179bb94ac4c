"""Seat exchange with a price difference, and the exchange's Idempotency-Key, through the API on SQLite and
PostgreSQL: a dearer seat's amount due is taken as a counter payment, a cheaper seat's difference refunded
through the order's payments, both in the exchange's one transaction and only once the difference was confirmed;
each needs its permission; a retried or doubly submitted exchange with one key moves the ticket once and answers
the same."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from piaowu.accounts import service as accounts
from piaowu.audit.models import AuditEvent
from piaowu.payments.models import Payment, Refund
from piaowu.runtime import Runtime
from tests.integration.test_seat_exchange import API, exchange, live_claims, occupied, sell
from tests.seating_world import PRICES, SeatingWorld, seating_world

A, B = PRICES["A"][0], PRICES["B"][0]  # adult: 880 / 480 yuan


async def move(
    client: httpx.AsyncClient, world: SeatingWorld, ticket_id: str, body: dict, key: str | None = None, auth=None
) -> httpx.Response:
    headers = dict(auth or world.auth) | ({"Idempotency-Key": key} if key else {})
    return await client.post(f"{API}/tickets/{ticket_id}/exchange-seat", json=body, headers=headers)


async def order(client: httpx.AsyncClient, world: SeatingWorld, order_id: str) -> dict:
    return (await client.get(f"{API}/orders/{order_id}", headers=world.auth)).json()


async def money(rt: Runtime, order_id: str) -> tuple[list[tuple[str, int, str]], list[int]]:
    """(provider, amount, status) of the order's payments by time, and its refunds' amounts."""
    async with rt.uow(readonly=True) as uow:
        pays = (
            await uow.session.execute(
                select(Payment.provider, Payment.amount_minor, Payment.status)
                .where(Payment.order_id == order_id)
                .order_by(Payment.created_at, Payment.id)
            )
        ).all()
        refunds = (await uow.session.execute(select(Refund.amount_minor).where(Refund.order_id == order_id))).all()
    return [tuple(p) for p in pays], sorted(r[0] for r in refunds)


async def token(rt: Runtime, world: SeatingWorld, role: str) -> dict[str, str]:
    async with rt.uow() as uow:
        secret, _ = await accounts.create_token(uow, None, organizer_id=world.organizer_id, name=role, role=role)
        await uow.commit()
    return {"Authorization": f"Bearer {secret}"}


async def test_a_dearer_seat_is_paid_at_the_counter_after_the_difference_is_confirmed(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    world = await seating_world(runtime)
    b1, a1 = world.seat("B", "1", "1"), world.seat("A", "1", "1")
    sold = await sell(client, world, b1)
    ticket = sold["lines"][0]["ticket"]
    # Not confirmed: refused with the difference to show, and nothing moved or was paid.
    r = await exchange(client, world, ticket["id"], a1)
    assert r.status_code == 409 and r.json()["code"] == "exchange_price_differs", r.text
    assert r.json()["difference_minor"] == A - B and "¥880.00" in r.json()["title"]
    wrong = await move(client, world, ticket["id"], {"seat_id": a1, "price_difference_minor": 100})
    assert wrong.status_code == 409 and wrong.json()["difference_minor"] == A - B
    short = await move(
        client,
        world,
        ticket["id"],
        {"seat_id": a1, "price_difference_minor": A - B, "payment": {"method": "cash", "tendered_minor": 100}},
    )
    assert short.status_code == 422 and short.json()["errors"][0]["code"] == "too_little", short.text
    assert (await occupied(runtime, a1), await occupied(runtime, b1)) == (0, 1)
    assert (await money(runtime, sold["id"]))[0] == [("cash", B, "succeeded")]

    ok = await move(
        client,
        world,
        ticket["id"],
        {"seat_id": a1, "price_difference_minor": A - B, "payment": {"method": "cash", "tendered_minor": 50000}},
    )
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert (body["old_price_minor"], body["new_price_minor"], body["price_difference_minor"]) == (B, A, A - B)
    assert body["change_minor"] == 50000 - (A - B) and body["payment_id"] and body["refund_ids"] == []
    pays, refunds = await money(runtime, sold["id"])
    assert pays == [("cash", B, "succeeded"), ("cash", A - B, "succeeded")] and refunds == []
    after = await order(client, world, sold["id"])
    assert (after["total_minor"], after["paid_minor"], after["refunded_minor"]) == (A, A, 0)
    assert after["lines"][0]["price_minor"] == A and after["status"] == "paid"
    assert (await occupied(runtime, a1), await occupied(runtime, b1)) == (1, 0)
    async with runtime.uow(readonly=True) as uow:
        event = (
            await uow.session.execute(select(AuditEvent).where(AuditEvent.action == "order.seat_exchanged"))
        ).scalar_one()
    assert event.after["difference_minor"] == A - B and event.after["payment_id"] == body["payment_id"]
    # A later refund of the ticket gives back all that was paid for it, never more.
    refund = await client.post(f"{API}/orders/{sold['id']}/refunds", json={}, headers=world.auth)
    assert refund.status_code in (200, 201), refund.text
    assert refund.json()["refunded_minor"] == A and refund.json()["paid_minor"] == A


async def test_a_cheaper_seat_refunds_the_difference_through_the_orders_payment(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    world = await seating_world(runtime)
    a1, b1 = world.seat("A", "1", "1"), world.seat("B", "1", "1")
    sold = await sell(client, world, a1)
    ticket = sold["lines"][0]["ticket"]
    r = await move(client, world, ticket["id"], {"seat_id": b1, "price_difference_minor": B - A})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["price_difference_minor"] == B - A and len(body["refund_ids"]) == 1 and body["payment_id"] is None
    pays, refunds = await money(runtime, sold["id"])
    assert pays == [("cash", A, "succeeded")] and refunds == [A - B]
    after = await order(client, world, sold["id"])
    assert (after["total_minor"], after["paid_minor"], after["refunded_minor"]) == (B, A, A - B)
    assert after["status"] == "paid" and after["lines"][0]["price_minor"] == B
    # Back to the dearer seat: the difference is due again, and the money still adds up.
    back = await move(
        client, world, body["ticket"]["id"], {"seat_id": a1, "price_difference_minor": A - B, "payment": {}}
    )
    assert back.status_code == 200, back.text
    after = await order(client, world, sold["id"])
    assert after["paid_minor"] - after["refunded_minor"] == after["total_minor"] == A


async def test_each_direction_needs_its_permission_and_a_refusal_changes_nothing(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    world = await seating_world(runtime)
    clerk = await token(runtime, world, "sales")  # sells and takes cash, refunds nothing
    a1, b1, a2 = world.seat("A", "1", "1"), world.seat("B", "1", "1"), world.seat("A", "1", "2")
    ticket = (await sell(client, world, a1))["lines"][0]["ticket"]
    cheaper = await move(client, world, ticket["id"], {"seat_id": b1, "price_difference_minor": B - A}, auth=clerk)
    assert cheaper.status_code == 403 and cheaper.json()["code"] == "permission_denied", cheaper.text
    assert (await live_claims(runtime, a1), await live_claims(runtime, b1)) == (1, 0)
    same = await move(client, world, ticket["id"], {"seat_id": a2}, auth=clerk)  # same price: the clerk's job
    assert same.status_code == 200, same.text
    other = await move(client, world, same.json()["ticket"]["id"], {"seat_id": b1}, auth=clerk)
    assert other.status_code == 409 and other.json()["code"] == "exchange_price_differs"
    dearer_ticket = (await sell(client, world, world.seat("B", "2", "2")))["lines"][0]["ticket"]
    service = await token(runtime, world, "service")  # refunds, takes no cash
    dearer = await move(
        client,
        world,
        dearer_ticket["id"],
        {"seat_id": world.seat("A", "2", "2"), "price_difference_minor": A - B},
        auth=service,
    )
    assert dearer.status_code == 403, dearer.text
    assert await live_claims(runtime, world.seat("A", "2", "2")) == 0


async def test_a_retried_exchange_answers_the_first_and_moves_once(runtime: Runtime, client: httpx.AsyncClient) -> None:
    world = await seating_world(runtime)
    a1, a2, a3 = world.seat("A", "1", "1"), world.seat("A", "1", "2"), world.seat("A", "1", "3")
    sold = await sell(client, world, a1)
    ticket = sold["lines"][0]["ticket"]
    first = await move(client, world, ticket["id"], {"seat_id": a2}, key="xchg-1")
    again = await move(client, world, ticket["id"], {"seat_id": a2}, key="xchg-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers.get("Idempotent-Replayed") == "true"
    async with runtime.uow(readonly=True) as uow:
        events = (
            await uow.session.execute(select(AuditEvent.id).where(AuditEvent.action == "order.seat_exchanged"))
        ).all()
    assert len(events) == 1
    # The key with another body is an error, not a replay; a new key is a new exchange.
    reused = await move(client, world, ticket["id"], {"seat_id": a3}, key="xchg-1")
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    # A dearer seat retried: paid once.
    b_ticket = (await sell(client, world, world.seat("B", "1", "1")))["lines"][0]["ticket"]
    dear = {"seat_id": world.seat("A", "2", "1"), "price_difference_minor": A - B}
    one = await move(client, world, b_ticket["id"], dear, key="xchg-2")
    two = await move(client, world, b_ticket["id"], dear, key="xchg-2")
    assert one.status_code == two.status_code == 200 and one.json() == two.json()
    pays, _ = await money(runtime, one.json()["ticket"]["order_id"])
    assert [p[1] for p in pays] == [B, A - B]


async def test_a_double_submit_with_one_key_moves_the_ticket_once(runtime: Runtime, client: httpx.AsyncClient) -> None:
    """Both requests run at once: one exchanges; the other waits on the order's lock, finds the ticket moved (or
    the key taken) and answers the winner's response — never a second move, a second payment or an error."""
    world = await seating_world(runtime)
    for n in range(1, 4):
        sold = await sell(client, world, world.seat("B", "1", str(n)))
        ticket = sold["lines"][0]["ticket"]
        body = {"seat_id": world.seat("A", "1", str(n)), "price_difference_minor": A - B}
        outcomes = list(
            await asyncio.gather(*(move(client, world, ticket["id"], body, key=f"twin-{n}") for _ in range(2)))
        )
        # The twin waits on the order's lock; on a loaded machine that wait may pass the lock timeout (503 busy,
        # Retry-After): the client retries with the same key and must get the first answer, not a second move.
        for i, r in enumerate(outcomes):
            if r.status_code == 503 and r.json()["code"] == "busy":
                outcomes[i] = await move(client, world, ticket["id"], body, key=f"twin-{n}")
        assert [r.status_code for r in outcomes] == [200, 200], [r.text for r in outcomes]
        assert outcomes[0].json() == outcomes[1].json()
        assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in outcomes) == 1
        pays, _ = await money(runtime, sold["id"])
        assert [p[1] for p in pays] == [B, A - B]
        assert await live_claims(runtime, world.seat("A", "1", str(n))) == 1
        assert await live_claims(runtime, world.seat("B", "1", str(n))) == 0
