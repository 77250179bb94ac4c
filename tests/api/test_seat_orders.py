"""Buying seats through the shop API (product kind ``seat``), on SQLite and PostgreSQL: picked seats and best
available, priced per zone and ticket type, every admission check, and each refusal with its code."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from piaowu.catalog import ticket_type_service
from piaowu.catalog.schemas import TicketTypePatch
from piaowu.inventory import service as inventory
from piaowu.inventory.models import Pool
from piaowu.orders.models import OrderLine, OrderLineHolding
from piaowu.seating import session_seating
from piaowu.seating.live import LIVE_KEY, LiveSeats
from piaowu.seating.models import SessionSeating
from tests.concurrency.ledger import assert_ledger
from tests.factories import on_sale_session
from tests.order_helpers import BUYER
from tests.seating_world import PRICES, SeatingWorld, seating_world


def seats_item(tt: str, seats: list[str], **extra: object) -> dict:
    return {"product": "seat", "selection": {"ticket_type_id": tt, "seats": seats}, **extra}


def best_item(tt: str, quantity: int, zone: str | None = "A", **best: object) -> dict:
    return {
        "product": "seat",
        "selection": {"ticket_type_id": tt, "best_available": {"zone": zone, "quantity": quantity, **best}},
    }


async def buy(client, world: SeatingWorld, *items: dict, slug: str = "seat-theatre", key: str = ""):  # noqa: ANN001, ANN201
    headers = {"Idempotency-Key": key} if key else {}
    return await client.post(
        f"/api/v1/shop/{slug}/orders", json={"items": list(items), "buyer": BUYER}, headers=headers
    )


def labels(order: dict) -> list[tuple[str, str, str]]:
    return [(line["seat"]["section"], line["seat"]["row"], line["seat"]["number"]) for line in order["lines"]]


async def test_picked_seats_are_sold_at_their_zone_price_with_labels_on_the_lines(runtime, client):
    world = await seating_world(runtime)
    a, b = world.seat("A", "1", "5"), world.seat("B", "2", "3")
    r = await buy(
        client, world, seats_item(world.adult_id, [a, b]), seats_item(world.student_id, [world.seat("A", "1", "6")])
    )
    assert r.status_code == 201, r.text
    order = r.json()
    assert labels(order) == [("A", "1", "5"), ("B", "2", "3"), ("A", "1", "6")]
    assert [line["price_minor"] for line in order["lines"]] == [PRICES["A"][0], PRICES["B"][0], PRICES["A"][1]]
    assert order["total_minor"] == PRICES["A"][0] + PRICES["B"][0] + PRICES["A"][1]
    async with runtime.uow(readonly=True) as uow:
        lines = (await uow.session.execute(select(OrderLine).where(OrderLine.order_id == order["id"]))).scalars()
        stored = {(ln.seat_section, ln.seat_row, ln.seat_number): ln.id for ln in lines}
        holdings = list(
            (
                await uow.session.execute(select(OrderLineHolding).where(OrderLineHolding.line_id.in_(stored.values())))
            ).scalars()
        )
    assert set(stored) == {("A", "1", "5"), ("B", "2", "3"), ("A", "1", "6")}
    assert sorted(h.unit_id for h in holdings if h.unit_id) == sorted([a, b, world.seat("A", "1", "6")])
    # The seat is the session pool's unit: its claim is the take, and the pool's row is not in the order — its
    # counters stay as they were, and the pool's held is its seats' live claims (inventory.rules.SEATS_ONLY).
    assert not [h for h in holdings if h.pool_id]
    async with runtime.uow(readonly=True) as uow:
        counts = (await inventory.counts(uow, world.organizer_id, [world.pool_id]))[world.pool_id]
        pool = await uow.session.get(Pool, world.pool_id)
        assert pool is not None
    assert (counts.held, counts.sold, counts.available, pool.held, pool.sold) == (3, 0, counts.capacity - 3, 0, 0)
    # The order read back shows the seats too.
    read = await client.post(
        "/api/v1/shop/seat-theatre/orders/lookup", json={"code": order["code"], "contact": BUYER["phone"]}
    )
    assert labels(read.json()) == labels(order)


async def test_a_seat_held_by_another_order_is_refused_naming_the_seats(runtime, client):
    world = await seating_world(runtime)
    a1, a2, a3 = (world.seat("A", "2", n) for n in ("1", "2", "3"))
    assert (await buy(client, world, seats_item(world.adult_id, [a1, a2]))).status_code == 201
    r = await buy(client, world, seats_item(world.adult_id, [a3, a2]))
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "seat_taken"
    assert body["seats"] == [{"id": a2, "section": "A", "row": "2", "number": "2"}]
    assert body["unit_ids"] == [a2]
    # Nothing of the refused order was held: a3 is still for sale.
    assert (await buy(client, world, seats_item(world.student_id, [a3]))).status_code == 201


async def test_bad_seats_are_reported_per_seat_and_nothing_is_held(runtime, client):
    world = await seating_world(runtime)
    other = await seating_world(runtime, slug="other-hall")  # another organizer's session and venue
    second = await seating_world(runtime, world.tenant)  # another session of the same organizer
    a = world.seat("A", "1", "1")
    r = await buy(
        client,
        world,
        seats_item(world.adult_id, [a, other.seat("A", "1", "2"), second.seat("A", "1", "3"), "nope", a]),
    )
    assert r.status_code == 422
    errors = {e["field"]: e["code"] for e in r.json()["errors"]}
    assert errors == {
        "items.0.selection.seats.1": "unknown_seat",
        "items.0.selection.seats.2": "unknown_seat",
        "items.0.selection.seats.3": "unknown_seat",
        "items.0.selection.seats.4": "seat_twice",
    }
    # The same seat in two items of one order is twice too.
    r = await buy(client, world, seats_item(world.adult_id, [a]), seats_item(world.student_id, [a]))
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "seat_twice"
    assert (await buy(client, world, seats_item(world.adult_id, [a]))).status_code == 201


async def test_blocked_seats_and_unpriced_zones_are_refused(runtime, client):
    world = await seating_world(runtime, blocked=[("A", "1", "1")])
    r = await buy(client, world, seats_item(world.adult_id, [world.seat("A", "1", "1"), world.seat("A", "1", "2")]))
    assert r.status_code == 409
    assert r.json()["code"] == "seat_blocked"
    assert r.json()["seats"] == [{"id": world.seat("A", "1", "1"), "section": "A", "row": "1", "number": "1"}]
    async with runtime.uow() as uow:  # zone B is no longer sold to students
        await session_seating.set_zone_prices(
            uow,
            world.actor,
            world.session_id,
            [("A", world.adult_id, 1), ("A", world.student_id, 2), ("B", world.adult_id, 3)],
        )
        await uow.commit()
    r = await buy(client, world, seats_item(world.student_id, [world.seat("A", "2", "1"), world.seat("B", "1", "1")]))
    assert r.status_code == 422
    assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [("items.0.selection.seats.1", "zone_not_priced")]
    r = await buy(client, world, best_item(world.student_id, 1, "B"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "items.0.selection.best_available.zone"
    r = await buy(client, world, seats_item(world.adult_id, [world.seat("B", "1", "1")]))
    assert r.status_code == 201 and r.json()["total_minor"] == 3  # the new price


@pytest.mark.parametrize("key", ["", "blocked-key"])
async def test_a_blocked_seat_is_named_with_or_without_a_key(runtime, client, key):
    """Without an Idempotency-Key the order runs in autocommit (PostgreSQL): the blocked bits are read only
    after the claim refused the seat. With a key it is one transaction (read before the claim). The buyer is
    told the same either way, even when another picked seat is taken too; nothing is held."""
    world = await seating_world(runtime, blocked=[("A", "1", "1")])
    blocked, taken, free = world.seat("A", "1", "1"), world.seat("A", "1", "2"), world.seat("A", "1", "3")
    assert (await buy(client, world, seats_item(world.adult_id, [taken]))).status_code == 201
    r = await buy(client, world, seats_item(world.adult_id, [free, taken, blocked]), key=key and f"{key}-1")
    assert r.status_code == 409 and r.json()["code"] == "seat_blocked", r.text
    assert [s["id"] for s in r.json()["seats"]] == [blocked]
    r = await buy(client, world, seats_item(world.adult_id, [free, taken]), key=key and f"{key}-2")
    assert r.status_code == 409 and r.json()["code"] == "seat_taken", r.text
    assert r.json()["unit_ids"] == [taken]
    await assert_ledger(runtime, [world.pool_id])
    assert (await buy(client, world, seats_item(world.adult_id, [free]))).status_code == 201  # still for sale


async def test_a_refusal_of_picked_seats_is_named_without_resolving_again(runtime, client, monkeypatch):
    """Without a key, a claim refused for picked seats whose bits were not read is named by one read of those
    bits (``Resolution.name``): the order is not resolved again (offers, seating, prices) — the reservation had
    verified them. The answers are those of ``test_a_blocked_seat_is_named_with_or_without_a_key``."""
    from piaowu.orders import service as order_service

    world = await seating_world(runtime, blocked=[("A", "1", "1")])
    blocked, taken, free = world.seat("A", "1", "1"), world.seat("A", "1", "2"), world.seat("A", "1", "3")
    assert (await buy(client, world, seats_item(world.adult_id, [taken]))).status_code == 201
    calls: list[bool] = []  # each resolution of an order: fresh or from the caches
    resolve = order_service._resolve

    async def counted(uow, actor, items, *, fresh):
        calls.append(fresh)
        return await resolve(uow, actor, items, fresh=fresh)

    monkeypatch.setattr(order_service, "_resolve", counted)
    r = await buy(client, world, seats_item(world.adult_id, [free, taken, blocked]))
    assert r.status_code == 409 and r.json()["code"] == "seat_blocked"
    assert [s["id"] for s in r.json()["seats"]] == [blocked]
    r = await buy(client, world, seats_item(world.adult_id, [free, taken]))
    assert r.status_code == 409 and r.json()["code"] == "seat_taken" and r.json()["unit_ids"] == [taken]
    assert calls == [False, False]  # one resolution per order, from the caches
    await assert_ledger(runtime, [world.pool_id])


@pytest.mark.parametrize("shared", [True, False], ids=["host-marks", "control-alone"])
async def test_two_workers_of_a_host_do_not_offer_each_other_the_block_just_sold(runtime, client, monkeypatch, shared):
    """Two workers (two views of the session) on one host: the second's view, a moment old, does not know the
    seats the first just sold, and best available would offer them again — its claim refused, chosen again. The
    first worker's marks (seating.host_marks) let the second pass over them: one reservation, not refused. The
    control runs the second worker without the shared marks and must see the refused claim."""
    from piaowu.inventory import strategies
    from piaowu.seating import live as live_mod

    world = await seating_world(runtime, rows_a=1, seats_per_row=10)
    outcomes: list[bool] = []
    write = strategies.guarded_write_and_insert

    async def counted(*args, **kw):
        outcome = await write(*args, **kw)
        outcomes.append(not outcome)
        return outcome

    monkeypatch.setattr(strategies, "guarded_write_and_insert", counted)
    first, second = LiveSeats(), LiveSeats()
    if not shared:
        monkeypatch.setattr(live_mod, "open_marks", lambda *_a, **_k: None)
    runtime.strategies[LIVE_KEY] = second  # the second worker reads its view (a seat of zone B sold)
    assert (await buy(client, world, best_item(world.adult_id, 1, zone="B"))).status_code == 201
    runtime.strategies[LIVE_KEY] = first
    r = await buy(client, world, best_item(world.adult_id, 2))
    assert r.status_code == 201
    sold = set(labels(r.json()))
    runtime.strategies[LIVE_KEY] = second
    outcomes.clear()
    r = await buy(client, world, best_item(world.adult_id, 2))
    assert r.status_code == 201, r.text
    assert not sold & set(labels(r.json()))
    assert outcomes == ([True] if shared else [False, True])
    await assert_ledger(runtime, [world.pool_id])


async def test_a_changed_seating_stamp_is_caught_by_the_order_statement(runtime, client):
    """An order uses this process's cached seats without reading the seating's stamp: the reservation statement
    re-verifies it, and a stale one makes the order read the seats again and go through."""
    world = await seating_world(runtime)
    live = LiveSeats()
    runtime.strategies[LIVE_KEY] = live
    assert (await buy(client, world, seats_item(world.adult_id, [world.seat("A", "1", "1")]))).status_code == 201
    cached = live._by_session[(world.organizer_id, world.session_id)].seats.stamp
    async with runtime.uow() as uow:  # another process changed the seating (as a change of channels does)
        await uow.session.execute(
            update(SessionSeating)
            .where(SessionSeating.session_id == world.session_id)
            .values(channels_version=SessionSeating.channels_version + 1)
        )
        await uow.commit()
    r = await buy(client, world, seats_item(world.adult_id, [world.seat("A", "1", "2")]))
    assert r.status_code == 201, r.text
    stamp = live._by_session[(world.organizer_id, world.session_id)].seats.stamp
    assert stamp != cached and stamp[4] == cached[4] + 1  # read again because the statement found it stale
    await assert_ledger(runtime, [world.pool_id])


async def test_every_admission_check_applies_to_seats(runtime, client, clock):
    world = await seating_world(runtime, max_per_order=2)
    a = world.zone_seats("A")
    r = await buy(client, world, seats_item(world.adult_id, a[:2]), seats_item(world.adult_id, a[2:3]))
    assert r.status_code == 422 and r.json()["code"] == "invalid_quantity"  # counted over the type's items
    r = await buy(client, world, best_item(world.adult_id, 3))
    assert r.status_code == 422 and r.json()["code"] == "invalid_quantity"
    async with runtime.uow() as uow:
        await ticket_type_service.update_ticket_type(
            uow, world.actor, world.student_id, TicketTypePatch(is_active=False)
        )
        await uow.commit()
    r = await buy(client, world, seats_item(world.student_id, a[:1]))
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unknown_ticket_type"
    r = await buy(client, world, seats_item(world.adult_id, a[:1], holders=[{"name": "王五"}, {"name": "赵六"}]))
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "holders_count"
    draft = await seating_world(runtime, world.tenant, status="draft")
    r = await buy(client, draft, seats_item(draft.adult_id, draft.zone_seats("A")[:1]))
    assert r.status_code == 409 and r.json()["code"] == "not_on_sale"
    clock.advance(timedelta(days=8))  # the session has ended
    r = await buy(client, world, seats_item(world.adult_id, a[:1]))
    assert r.status_code == 409 and r.json()["code"] == "not_on_sale" and r.json()["sale_state"] == "ended"


async def test_a_quota_of_the_ticket_type_is_taken_with_each_seat(runtime, client):
    world = await seating_world(runtime)
    async with runtime.uow() as uow:
        await ticket_type_service.update_ticket_type(uow, world.actor, world.student_id, TicketTypePatch(quota=2))
        await uow.commit()
    a = world.zone_seats("A")
    r = await buy(client, world, seats_item(world.student_id, a[:2]))
    assert r.status_code == 201, r.text
    r = await buy(client, world, seats_item(world.student_id, a[2:3]))
    assert r.status_code == 409 and r.json()["code"] == "sold_out"  # the quota, not the seat
    assert (await buy(client, world, seats_item(world.adult_id, a[2:3]))).status_code == 201


async def test_holders_go_on_the_seat_lines(runtime, client):
    world = await seating_world(runtime)
    item = seats_item(world.adult_id, world.zone_seats("A")[:2], holders=[{"name": "王五"}, {"name": "赵六"}])
    r = await buy(client, world, item)
    assert [line["holder_name"] for line in r.json()["lines"]] == ["王五", "赵六"]


async def test_best_available_gives_adjacent_seats_and_the_next_buyer_other_ones(runtime, client):
    world = await seating_world(runtime)
    r = await buy(client, world, best_item(world.adult_id, 3))
    assert r.status_code == 201, r.text
    first = labels(r.json())
    assert len({s[:2] for s in first}) == 1 and first[0][0] == "A"  # one row of zone A
    numbers = sorted(int(s[2]) for s in first)
    assert numbers == list(range(numbers[0], numbers[0] + 3))
    assert all(line["price_minor"] == PRICES["A"][0] for line in r.json()["lines"])
    r = await buy(client, world, best_item(world.adult_id, 3))
    second = labels(r.json())
    assert r.status_code == 201 and not set(first) & set(second)
    r = await buy(client, world, best_item(world.student_id, 2, zone=None))  # any zone priced for students
    assert r.status_code == 201 and len(r.json()["lines"]) == 2


@pytest.mark.parametrize("key", ["", "k-1"], ids=["autocommit", "idempotency-key"])
async def test_best_available_chooses_again_when_its_view_was_stale(runtime, client, key):
    """Without a key the order is one autocommit statement (PostgreSQL); with one it is a transaction with the
    key's row, and the refused attempt is undone by a savepoint (as always on SQLite)."""
    world = await seating_world(runtime, rows_a=1, seats_per_row=6)
    live = LiveSeats()
    runtime.strategies[LIVE_KEY] = live  # this "process" has seen the house empty
    r = await buy(client, world, best_item(world.adult_id, 1))
    assert r.status_code == 201
    taken = labels(r.json())
    # Another process sells the middle seats; this one's view (younger than a second) does not know yet.
    runtime.strategies[LIVE_KEY] = LiveSeats()
    rest = [world.seat("A", "1", n) for n in ("2", "3", "4", "5") if ("A", "1", n) not in taken]
    assert (await buy(client, world, seats_item(world.adult_id, rest))).status_code == 201
    runtime.strategies[LIVE_KEY] = live
    r = await buy(client, world, best_item(world.adult_id, 1), key=key)
    assert r.status_code == 201, r.text
    assert len(r.json()["lines"]) == 1
    await assert_ledger(runtime, [world.pool_id])  # the refused attempt took nothing that stayed
    assert labels(r.json())[0][2] in {"1", "6"} - {t[2] for t in taken}
    # Nothing left in zone A: refused, not a 500, and nothing held.
    r = await buy(client, world, best_item(world.adult_id, 2))
    assert r.status_code == 409 and r.json()["code"] in ("not_enough_seats", "no_adjacent_block")


async def test_best_available_refusals(runtime, client):
    world = await seating_world(runtime, rows_a=2, seats_per_row=5)
    r = await buy(client, world, best_item(world.adult_id, 6))
    assert r.status_code == 409
    assert r.json()["code"] == "no_adjacent_block" and r.json()["free"] == 10 and r.json()["largest_block"] == 5
    r = await buy(client, world, best_item(world.adult_id, 6, split=True))
    assert r.status_code == 201 and len(r.json()["lines"]) == 6
    r = await buy(client, world, best_item(world.adult_id, 5))
    assert r.status_code == 409 and r.json()["code"] == "not_enough_seats"
    r = await buy(client, world, best_item(world.adult_id, 1, wheelchair=1))
    assert r.status_code == 409 and r.json()["code"] == "no_wheelchair_space"


async def test_wheelchair_spaces_go_only_to_who_asks_with_a_companion_seat(runtime, client):
    attrs = {("A", "1", "1"): {"wheelchair"}, ("A", "1", "2"): {"companion"}}
    world = await seating_world(runtime, rows_a=1, seats_per_row=4, attributes=attrs)
    r = await buy(client, world, best_item(world.adult_id, 2))
    assert set(labels(r.json())) == {("A", "1", "3"), ("A", "1", "4")}
    r = await buy(client, world, best_item(world.adult_id, 2, wheelchair=1))
    assert r.status_code == 201 and set(labels(r.json())) == {("A", "1", "1"), ("A", "1", "2")}


async def test_bad_selections_are_field_errors(runtime, client):
    world = await seating_world(runtime)
    cases = [
        ({"ticket_type_id": world.adult_id}, "items.0.selection"),
        ({"ticket_type_id": world.adult_id, "seats": [], "x": 1}, "items.0.selection.x"),
        ({"ticket_type_id": world.adult_id, "seats": []}, "items.0.selection.seats"),
        ({"ticket_type_id": world.adult_id, "seats": [1]}, "items.0.selection.seats.0"),
        ({"ticket_type_id": 5, "seats": ["x"]}, "items.0.selection.ticket_type_id"),
        ({"ticket_type_id": world.adult_id, "seats": ["x"], "best_available": {"quantity": 1}}, "items.0.selection"),
        (
            {"ticket_type_id": world.adult_id, "best_available": {"quantity": 0}},
            "items.0.selection.best_available.quantity",
        ),
        (
            {"ticket_type_id": world.adult_id, "best_available": {"quantity": True}},
            "items.0.selection.best_available.quantity",
        ),
        (
            {"ticket_type_id": world.adult_id, "best_available": {"quantity": 2, "wheelchair": 3}},
            "items.0.selection.best_available.wheelchair",
        ),
        (
            {"ticket_type_id": world.adult_id, "best_available": {"quantity": 2, "split": "yes"}},
            "items.0.selection.best_available.split",
        ),
        (
            {"ticket_type_id": world.adult_id, "best_available": {"quantity": 2, "zone": ""}},
            "items.0.selection.best_available.zone",
        ),
        (
            {"ticket_type_id": world.adult_id, "best_available": {"quantity": 2, "near": 1}},
            "items.0.selection.best_available.near",
        ),
        ({"ticket_type_id": world.adult_id, "best_available": [2]}, "items.0.selection.best_available"),
    ]
    for selection, field in cases:
        r = await client.post(
            "/api/v1/shop/seat-theatre/orders",
            json={"items": [{"product": "seat", "selection": selection}], "buyer": BUYER},
        )
        assert r.status_code == 422, (selection, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (selection, r.json())


async def test_seats_of_a_session_without_a_seat_map_are_refused(runtime, client):
    world = await seating_world(runtime)
    ga = await on_sale_session(runtime, world.actor)
    r = await buy(client, world, seats_item(ga.ticket_type_id, [world.seat("A", "1", "1")]))
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "field": "items.0.selection.ticket_type_id",
            "code": "not_seated",
            "message": "本场次没有座位图，请直接购买门票。",  # zh-CN unless the request asks otherwise
        }
    ]


async def test_seats_replaced_by_a_new_assignment_are_sold_at_once(runtime, client):
    """Re-assigning the layout makes new units (same layout and version, and here the same frozen time): a
    process that cached the old seats reads them again rather than refusing the new ones."""
    world = await seating_world(runtime)
    preview = f"/api/v1/shop/seat-theatre/sessions/{world.session_id}/best-available"
    assert (await client.post(preview, json={"quantity": 2})).status_code == 200  # this process caches the seats
    async with runtime.uow() as uow:
        await session_seating.assign_layout(uow, world.actor, world.session_id, world.layout_id)
        seats = await session_seating.session_seats(uow, world.organizer_id, world.session_id)
        await uow.commit()
    new = {(s.section, s.row, s.number): s.unit_id for s in seats}
    assert not set(new.values()) & set(world.seat_ids)
    r = await buy(client, world, seats_item(world.adult_id, [new[("A", "1", "1")]]))
    assert r.status_code == 201, r.text
    r = await buy(client, world, best_item(world.adult_id, 2))
    assert r.status_code == 201, r.text
    r = await buy(client, world, seats_item(world.adult_id, [world.seat("A", "3", "3")]))  # an old seat
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unknown_seat"
