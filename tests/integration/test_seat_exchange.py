"""Seat exchange (换座) through the API, on SQLite and PostgreSQL: a sold ticket moves to another seat of its
session in one transaction — the new seat claimed before the old one is given back, the old code void and a new
one issued, the line's labels and holding moved, audited — every refusal changes nothing, and races for the new
seat (two clerks; a clerk and a buyer) have one winner, each with its control run (the naive claim) showing that
the check would catch a seat owned twice."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select, update

from piaowu.audit.models import AuditEvent
from piaowu.inventory.models import Hold, HoldUnit, Unit
from piaowu.inventory.rules import HoldStatus
from piaowu.orders.models import OrderLine, OrderLineHolding
from piaowu.runtime import Runtime
from piaowu.seating import session_seating
from piaowu.tickets import service as tickets
from piaowu.tickets import signing
from piaowu.tickets.models import Ticket

# The control run: the claim checked on a stale read, then written (tests/concurrency/naive.py).
from tests.concurrency.test_unit_races import naive_reserve as naive_claims
from tests.order_helpers import BUYER
from tests.seating_world import PRICES, SeatingWorld, seating_world

API = "/api/v1"


async def sell(client: httpx.AsyncClient, world: SeatingWorld, *seat_ids: str, tt: str | None = None) -> dict:
    """A box-office sale of these seats, paid in cash: the order with its tickets."""
    item = {"product": "seat", "selection": {"ticket_type_id": tt or world.adult_id, "seats": list(seat_ids)}}
    r = await client.post(
        f"{API}/box-office/sales",
        json={"items": [item], "buyer": BUYER, "payment": {"method": "cash"}},
        headers=world.auth,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def exchange(client: httpx.AsyncClient, world: SeatingWorld, ticket_id: str, seat_id: str) -> httpx.Response:
    return await client.post(f"{API}/tickets/{ticket_id}/exchange-seat", json={"seat_id": seat_id}, headers=world.auth)


async def live_claims(rt: Runtime, unit_id: str) -> int:
    """Claims on the seat that still count: of a hold held or sold, not returned."""
    async with rt.uow(readonly=True) as uow:
        rows = await uow.session.execute(
            select(HoldUnit.id)
            .join(Hold, Hold.id == HoldUnit.hold_id)
            .where(
                HoldUnit.unit_id == unit_id,
                HoldUnit.returned_at.is_(None),
                Hold.status.in_([HoldStatus.ACTIVE.value, HoldStatus.CONVERTED.value]),
            )
        )
        return len(rows.all())


async def occupied(rt: Runtime, unit_id: str) -> int:
    async with rt.uow(readonly=True) as uow:
        return int((await uow.session.execute(select(Unit.occupied).where(Unit.id == unit_id))).scalar_one())


async def test_a_ticket_moves_to_another_seat_in_one_transaction(runtime: Runtime, client: httpx.AsyncClient) -> None:
    world = await seating_world(runtime)
    a5, a6 = world.seat("A", "1", "5"), world.seat("A", "3", "9")
    order = await sell(client, world, a5)
    ticket = order["lines"][0]["ticket"]
    r = await exchange(client, world, ticket["id"], a6)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["old_code"] == ticket["code"] and body["ticket"]["code"] != ticket["code"]
    assert body["old_seat"]["number"] == "5" and body["new_seat"] == {
        "id": a6,
        "section": "A",
        "row": "3",
        "number": "9",
        "zone": "A",
    }
    assert body["ticket"]["qr_payload"] != ticket["qr_payload"] and body["ticket"]["status"] == "valid"
    # The new QR is signed for the new seat (an offline gate reads it there).
    assert body["ticket"]["seat"] == {"section": "A", "row": "3", "number": "9"}
    assert signing.seat_of(body["ticket"]["qr_payload"]) == ("A", "3", "9")
    assert signing.seat_of(ticket["qr_payload"]) == ("A", "1", "5")
    # The seats: the old one free again, the new one owned once.
    assert (await occupied(runtime, a5), await occupied(runtime, a6)) == (0, 1)
    assert (await live_claims(runtime, a5), await live_claims(runtime, a6)) == (0, 1)
    async with runtime.uow(readonly=True) as uow:
        line = (await uow.session.execute(select(OrderLine).where(OrderLine.order_id == order["id"]))).scalar_one()
        holding = (
            await uow.session.execute(
                select(OrderLineHolding.unit_id).where(
                    OrderLineHolding.line_id == line.id, OrderLineHolding.unit_id.is_not(None)
                )
            )
        ).scalar_one()
        old_at_gate = await tickets.load_for_gate(uow, world.organizer_id, ticket["code"])
        new_at_gate = await tickets.load_for_gate(uow, world.organizer_id, body["ticket"]["code"])
        events = (
            (await uow.session.execute(select(AuditEvent).where(AuditEvent.action == "order.seat_exchanged")))
            .scalars()
            .all()
        )
    assert (line.seat_section, line.seat_row, line.seat_number, line.price_minor) == ("A", "3", "9", PRICES["A"][0])
    assert holding == a6
    assert old_at_gate is None and new_at_gate is not None  # the old QR admits no one
    assert new_at_gate.seat == ("A", "3", "9")
    assert len(events) == 1 and events[0].before["seat"] == "A 1-5" and events[0].after["seat"] == "A 3-9"
    # The order reads the new seat; a refund gives the new seat back (its claim moved to the order's hold).
    read = (await client.get(f"{API}/orders/{order['id']}", headers=world.auth)).json()
    assert read["lines"][0]["seat"] == {"section": "A", "row": "3", "number": "9"}
    refund = await client.post(f"{API}/orders/{order['id']}/refunds", json={}, headers=world.auth)
    assert refund.status_code in (200, 201), refund.text
    assert (await occupied(runtime, a6), await live_claims(runtime, a6)) == (0, 0)
    # A refunded ticket moves nowhere.
    again = await exchange(client, world, ticket["id"], a5)
    assert again.status_code == 409 and again.json()["code"] == "exchange_not_allowed"


async def test_each_refusal_is_told_and_changes_nothing(
    runtime: Runtime,
    client: httpx.AsyncClient,
    other_tenant,  # noqa: ANN001
) -> None:
    world = await seating_world(runtime, blocked=[("A", "3", "1")])
    mine, theirs = world.seat("A", "1", "1"), world.seat("A", "1", "2")
    ticket = (await sell(client, world, mine))["lines"][0]["ticket"]
    await sell(client, world, theirs)
    other = await seating_world(runtime, other_tenant, slug=other_tenant.slug)

    async def refused(seat_id: str, status: int, code: str) -> dict:
        r = await exchange(client, world, ticket["id"], seat_id)
        assert r.status_code == status, r.text
        body = r.json()
        assert body["code"] == code or any(e["code"] == code for e in body.get("errors", [])), body
        return body

    taken = await refused(theirs, 409, "seat_taken")
    assert taken["seats"][0]["number"] == "2"
    assert (await refused(world.seat("A", "3", "1"), 409, "seat_blocked"))["seats"][0]["row"] == "3"
    price = await refused(world.seat("B", "1", "1"), 409, "exchange_price_differs")
    assert "¥480.00" in price["title"] and "¥880.00" in price["title"]
    await refused(other.seat("A", "2", "2"), 422, "unknown_seat")  # another organizer's seat
    await refused(mine, 422, "same_seat")
    # Nothing moved: the ticket still holds its seat under its code.
    assert (await occupied(runtime, mine), await live_claims(runtime, mine), await live_claims(runtime, theirs)) == (
        1,
        1,
        1,
    )
    async with runtime.uow(readonly=True) as uow:
        assert await tickets.load_for_gate(uow, world.organizer_id, ticket["code"]) is not None
    # Another organizer's ticket is not found (a role without order.create: tests/api/test_permission_matrix.py).
    r = await client.post(
        f"{API}/tickets/{ticket['id']}/exchange-seat", json={"seat_id": mine}, headers=other_tenant.auth
    )
    assert r.status_code == 404
    bad = await client.post(f"{API}/tickets/{ticket['id']}/exchange-seat", json={"seat": mine}, headers=world.auth)
    assert bad.status_code == 422
    # A ticket used at a gate keeps its seat.
    async with runtime.uow() as uow:
        view = await tickets.load_for_gate(uow, world.organizer_id, ticket["code"])
        assert view is not None
        await uow.session.execute(update(Ticket).where(Ticket.id == ticket["id"]).values(entries_used=1))
        await uow.commit()
    used = await refused(world.seat("A", "2", "5"), 409, "exchange_not_allowed")
    assert used["reason"] == "the ticket was already used at a gate"


CLERKS = 6


async def _clerks_race(runtime: Runtime, client: httpx.AsyncClient, world: SeatingWorld, target: str, row: str):  # noqa: ANN202
    """CLERKS tickets (one order each, seats of ``row``) exchanged into ``target`` at once."""
    sold = [await sell(client, world, world.seat("A", row, str(n))) for n in range(1, CLERKS + 1)]
    outcomes = await asyncio.gather(*(exchange(client, world, o["lines"][0]["ticket"]["id"], target) for o in sold))
    return sold, outcomes


@pytest.mark.parametrize("naive", [False, True], ids=["guarded", "control"])
async def test_two_clerks_exchanging_into_one_seat_one_wins(
    runtime: Runtime, client: httpx.AsyncClient, naive: bool
) -> None:
    world = await seating_world(runtime, max_per_order=10)
    double = 0
    for row, target in (("1", world.seat("A", "3", "1")), ("2", world.seat("A", "3", "2"))):
        if naive:
            async with naive_claims(runtime):
                _sold, outcomes = await _clerks_race(runtime, client, world, target, row)
        else:
            sold, outcomes = await _clerks_race(runtime, client, world, target, row)
            codes = sorted(r.status_code for r in outcomes)
            assert codes == [200] + [409] * (CLERKS - 1), [r.text for r in outcomes]
            assert all(r.json()["code"] == "seat_taken" for r in outcomes if r.status_code == 409)
            # The losers keep their seats; the winner's old seat is free.
            for o, r in zip(sold, outcomes, strict=True):
                old = o["lines"][0]["seat"]
                seat = world.seat(old["section"], old["row"], old["number"])
                assert await live_claims(runtime, seat) == (0 if r.status_code == 200 else 1)
        claims = await live_claims(runtime, target)
        assert claims <= 1 or naive
        double += claims > 1
        assert await occupied(runtime, target) == 1
    if naive:
        assert double, "the control run should own a seat twice: the race test would be blind"


@pytest.mark.parametrize("naive", [False, True], ids=["guarded", "control"])
async def test_an_exchange_racing_a_buyer_for_the_seat(
    runtime: Runtime, client: httpx.AsyncClient, naive: bool
) -> None:
    world = await seating_world(runtime, max_per_order=10)
    double = 0
    for n in range(1, 6):
        ticket = (await sell(client, world, world.seat("A", "1", str(n))))["lines"][0]["ticket"]
        target = world.seat("A", "3", str(n))
        buyer = {"product": "seat", "selection": {"ticket_type_id": world.adult_id, "seats": [target]}}

        async def race(ticket: dict = ticket, target: str = target, buyer: dict = buyer) -> list[httpx.Response]:
            return list(
                await asyncio.gather(
                    exchange(client, world, ticket["id"], target),
                    client.post(f"{API}/shop/{world.tenant.slug}/orders", json={"items": [buyer], "buyer": BUYER}),
                )
            )

        if naive:
            async with naive_claims(runtime):
                outcomes = await race()
        else:
            outcomes = await race()
            won = [r for r in outcomes if r.status_code in (200, 201)]
            lost = [r for r in outcomes if r.status_code == 409]
            assert len(won) == 1 and len(lost) == 1, [r.text for r in outcomes]
            assert lost[0].json()["code"] == "seat_taken"
        claims = await live_claims(runtime, target)
        assert claims <= 1 or naive
        double += claims > 1
    if naive:
        assert double, "the control run should own a seat twice: the race test would be blind"


async def test_zone_prices_decide_which_seats_an_exchange_may_take(runtime: Runtime, client: httpx.AsyncClient) -> None:
    """Another zone at the same price for the ticket's type is allowed: no money moves either way."""
    world = await seating_world(runtime)
    async with runtime.uow() as uow:
        await session_seating.set_zone_prices(
            uow,
            world.actor,
            world.session_id,
            [("A", world.adult_id, 50000), ("B", world.adult_id, 50000), ("B", world.student_id, 38000)],
        )
        await uow.commit()
    ticket = (await sell(client, world, world.seat("A", "1", "1")))["lines"][0]["ticket"]
    r = await exchange(client, world, ticket["id"], world.seat("B", "1", "1"))
    assert r.status_code == 200, r.text
    assert r.json()["new_seat"]["zone"] == "B"
