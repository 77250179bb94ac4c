"""Seats published per sales channel through HTTP, on SQLite and PostgreSQL: the staff API withholds seats from a
channel and publishes them again (audited, counted per channel), refuses a seat an unpaid order of that channel
holds, and every buyer's channel sells only the seats published to it — picked or best available, the shop's
map showing the others not for sale — with the check in the reservation's claim, so a withdraw racing an order
cannot be lost."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, text

from piaowu.audit.models import AuditEvent
from piaowu.inventory import service as inventory
from piaowu.inventory import strategies
from piaowu.inventory.models import Unit
from piaowu.inventory.rules import Claim, Take
from piaowu.seating import channels as seat_channels
from piaowu.seating.availability import BLOCKED, FREE, decode, unpack
from tests.order_helpers import BUYER
from tests.seating_world import seating_world
from tests.tenant_world import diff, snapshot

API = "/api/v1"
SHOP = "/api/v1/shop/seat-theatre"


def seats_item(tt: str, seats: list[str]) -> dict:
    return {"product": "seat", "selection": {"ticket_type_id": tt, "seats": seats}}


def best_item(tt: str, quantity: int, zone: str = "A") -> dict:
    return {
        "product": "seat",
        "selection": {"ticket_type_id": tt, "best_available": {"zone": zone, "quantity": quantity}},
    }


async def shop_buy(client, *items: dict):  # noqa: ANN001, ANN201
    return await client.post(f"{SHOP}/orders", json={"items": list(items), "buyer": BUYER})


async def api_buy(client, world, *items: dict):  # noqa: ANN001, ANN201
    """An order through the staff API: its channel is ``api`` (an API token's)."""
    return await client.post(f"{API}/orders", json={"items": list(items), "buyer": BUYER}, headers=world.auth)


async def change(client, world, action: str, seat_ids: list[str], channel: str):  # noqa: ANN001, ANN201
    return await client.post(
        f"{API}/sessions/{world.session_id}/seats/{action}",
        json={"seat_ids": seat_ids, "channel": channel},
        headers=world.auth,
    )


async def per_channel(client, world) -> dict[str, tuple[int, int]]:  # noqa: ANN001
    r = await client.get(f"{API}/sessions/{world.session_id}/seating", headers=world.auth)
    assert r.status_code == 200, r.text
    return {c["channel"]: (c["published"], c["free"]) for c in r.json()["channels"]}


async def test_seats_are_withheld_from_a_channel_and_published_again_counted_and_audited(runtime, client):
    world = await seating_world(runtime, blocked=[("B", "3", "10")])
    assert await per_channel(client, world) == {"web": (59, 59), "box_office": (59, 59), "api": (59, 59)}
    row1 = [world.seat("A", "1", str(n)) for n in range(1, 11)]
    r = await change(client, world, "withhold", row1, "web")
    assert r.status_code == 200, r.text
    assert [s["channels"] for s in r.json()["seats"]] == [["box_office", "api"]] * 10
    assert r.json()["seats"][0] | {"id": None} == {
        "id": None,
        "section": "A",
        "row": "1",
        "number": "1",
        "channels": ["box_office", "api"],
    }
    # A distributor's block: row 2 only for the API (withheld from web and box office).
    row2 = [world.seat("A", "2", str(n)) for n in range(1, 11)]
    assert (await change(client, world, "withhold", row2, "web")).status_code == 200
    assert (await change(client, world, "withhold", row2, "box_office")).status_code == 200
    assert (await api_buy(client, world, seats_item(world.adult_id, row2[:2]))).status_code == 201
    assert await per_channel(client, world) == {"web": (39, 39), "box_office": (49, 49), "api": (59, 57)}
    # Publishing row 1 to the web again; publishing it twice changes nothing and records nothing.
    assert (await change(client, world, "publish", row1, "web")).status_code == 200
    again = await change(client, world, "publish", row1, "web")
    assert again.status_code == 200 and again.json()["seats"][0]["channels"] == ["web", "box_office", "api"]
    assert await per_channel(client, world) == {"web": (49, 49), "box_office": (49, 49), "api": (59, 57)}
    async with runtime.uow(readonly=True) as uow:
        events = (
            await uow.session.execute(
                select(AuditEvent)
                .where(AuditEvent.action.in_(["session.seats_withheld", "session.seats_published"]))
                .order_by(AuditEvent.at, AuditEvent.id)
            )
        ).scalars()
        got = [(e.action, e.subject_id, e.after["channel"], len(e.after["seats"])) for e in events]
    assert sorted(got) == sorted(
        [
            ("session.seats_withheld", world.session_id, "web", 10),
            ("session.seats_withheld", world.session_id, "web", 10),
            ("session.seats_withheld", world.session_id, "box_office", 10),
            ("session.seats_published", world.session_id, "web", 10),
        ]
    )


async def test_bad_requests_are_refused_each_with_its_code_and_change_nothing(runtime, client):
    world = await seating_world(runtime)
    other = await seating_world(runtime, slug="other-theatre")
    a1 = world.seat("A", "1", "1")
    before = await snapshot(runtime, world.organizer_id)
    r = await change(client, world, "withhold", [a1], "kiosk")
    assert r.status_code == 422 and [e["code"] for e in r.json()["errors"]] == ["unknown_channel"]
    r = await change(client, world, "withhold", [a1, other.seat_ids[0]], "web")
    assert r.status_code == 422 and [(e["field"], e["code"]) for e in r.json()["errors"]] == [
        ("seat_ids.1", "unknown_seat")
    ]
    r = await change(client, world, "publish", [a1, a1], "api")
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "seat_twice"
    r = await change(client, world, "withhold", [], "web")
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "required"
    # Another organizer's session is not found (its seats look like no seats at all).
    r = await client.post(
        f"{API}/sessions/{other.session_id}/seats/withhold",
        json={"seat_ids": [other.seat_ids[0]], "channel": "web"},
        headers=world.auth,
    )
    assert r.status_code == 404
    assert diff(before, await snapshot(runtime, world.organizer_id)) == []


async def test_a_seat_held_by_an_unpaid_order_of_the_channel_is_not_withheld_from_it(runtime, client):
    world = await seating_world(runtime)
    held, free = world.seat("A", "1", "1"), world.seat("A", "1", "2")
    assert (await shop_buy(client, seats_item(world.adult_id, [held]))).status_code == 201
    r = await change(client, world, "withhold", [free, held], "web")
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "seat_held_through_channel" and body["channel"] == "web"
    assert [(s["section"], s["row"], s["number"]) for s in body["seats"]] == [("A", "1", "1")]
    assert "A 1-1" in body["title"]
    async with runtime.uow(readonly=True) as uow:
        states = await inventory.unit_states(uow, world.organizer_id, [held, free])
    assert states[held].withheld == states[free].withheld == 0  # all or none: the free seat is not withheld
    # Held through the web, it may be withheld from the API and the box office.
    assert (await change(client, world, "withhold", [held], "api")).status_code == 200
    # A sold seat may be withheld: its sale is not affected.
    sold = world.seat("B", "1", "1")
    async with runtime.uow() as uow:
        hold = await inventory.reserve(
            uow,
            world.organizer_id,
            [Take(world.pool_id, 1)],
            claims=[Claim(sold, 1)],
            expires_at=uow.now() + timedelta(minutes=10),
        )
        await inventory.confirm(uow, hold.id)
        await uow.commit()
    assert (await change(client, world, "withhold", [sold], "web")).status_code == 200
    async with runtime.uow(readonly=True) as uow:
        state = (await inventory.unit_states(uow, world.organizer_id, [sold]))[sold]
    assert (state.occupied, state.withheld) == (1, 1)


async def test_each_buyer_channel_buys_only_seats_published_to_it(runtime, client):
    world = await seating_world(runtime)
    box_only, a2 = world.seat("A", "1", "1"), world.seat("A", "1", "2")
    assert (await change(client, world, "withhold", [box_only], "web")).status_code == 200
    assert (await change(client, world, "withhold", [box_only], "api")).status_code == 200
    r = await shop_buy(client, seats_item(world.adult_id, [a2, box_only]))
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["code"] == "seat_not_on_sale_here" and body["channel"] == "web"
    assert body["seats"] == [{"id": box_only, "section": "A", "row": "1", "number": "1"}]
    r = await api_buy(client, world, seats_item(world.adult_id, [box_only]))
    assert r.status_code == 409 and r.json()["code"] == "seat_not_on_sale_here" and r.json()["channel"] == "api"
    async with runtime.uow(readonly=True) as uow:
        states = await inventory.unit_states(uow, world.organizer_id, [box_only, a2])
    assert states[box_only].occupied == states[a2].occupied == 0  # nothing held
    # Published to the API again, the API sells it.
    assert (await change(client, world, "publish", [box_only], "api")).status_code == 200
    assert (await api_buy(client, world, seats_item(world.adult_id, [box_only]))).status_code == 201


async def test_best_available_and_the_shop_map_offer_only_seats_published_to_the_web(runtime, client):
    world = await seating_world(runtime)
    front = [s for s in world.zone_seats("A") if s not in {world.seat("A", "3", str(n)) for n in range(1, 11)}]
    assert (await change(client, world, "withhold", front, "web")).status_code == 200
    r = await client.get(f"{SHOP}/sessions/{world.session_id}/seat-availability")
    states = unpack(decode(r.json()["states"]), len(world.seat_ids))
    assert states[:20] == [BLOCKED] * 20 and states[20:] == [FREE] * 40  # not for sale, not "sold"
    assert r.json()["zones"]["A"] == {"free": 10, "total": 30}
    preview = await client.post(f"{SHOP}/sessions/{world.session_id}/best-available", json={"quantity": 2, "zone": "A"})
    assert preview.status_code == 200 and {s["row"] for s in preview.json()["seats"]} == {"3"}
    r = await shop_buy(client, best_item(world.adult_id, 4))
    assert r.status_code == 201, r.text
    assert {line["seat"]["row"] for line in r.json()["lines"]} == {"3"}
    # The API (a distributor) gets seats of the rows withheld from the web: they are published to it.
    r = await api_buy(client, world, best_item(world.adult_id, 2))
    assert r.status_code == 201 and {line["seat"]["row"] for line in r.json()["lines"]} <= {"1", "2"}
    # The web has 6 seats of zone A left: 7 is refused, the withheld seats are not offered.
    r = await shop_buy(client, best_item(world.adult_id, 7))
    assert r.status_code == 409 and r.json()["code"] in {"not_enough_seats", "no_adjacent_block"}


async def test_a_withdraw_racing_an_order_is_decided_by_the_claim_on_the_seat(runtime, client):
    """The withdraw has updated the seat and not committed when the buyer's order comes: the order's claim waits
    for the seat's row (PostgreSQL) or the write lock (SQLite), then finds it withheld. The order is refused and
    the seat is not held; the refusal is named after the claim (the seat's channels read then, the withdraw
    committed), so the buyer is told the seat is not on sale here rather than taken."""
    world = await seating_world(runtime)
    seat = world.seat("A", "1", "5")
    outcome = await _race(runtime, client, world, seat)
    assert outcome.status_code == 409 and outcome.json()["code"] == "seat_not_on_sale_here", outcome.text
    async with runtime.uow(readonly=True) as uow:
        state = (await inventory.unit_states(uow, world.organizer_id, [seat]))[seat]
    assert (state.occupied, state.withheld) == (0, 1)


async def test_control_without_the_channel_in_the_claim_the_raced_seat_is_sold(runtime, client, monkeypatch):
    """The control run of the race above: with a claim that ignores the channel, the same interleaving sells a
    seat withheld from the web on both databases — the order reads no channel bits before its claim (they only
    name a refusal), so the claim on the seat's row is the guard."""
    monkeypatch.setattr(strategies, "channel_claim", lambda _bit: strategies.CLAIM)
    world = await seating_world(runtime)
    seat = world.seat("A", "1", "5")
    outcome = await _race(runtime, client, world, seat)
    async with runtime.uow(readonly=True) as uow:
        state = (await inventory.unit_states(uow, world.organizer_id, [seat]))[seat]
    assert outcome.status_code == 201, outcome.text
    assert (state.occupied, state.withheld) == (1, 1)


async def _race(runtime, client, world, seat: str):  # noqa: ANN001, ANN202
    async with runtime.uow() as uow:
        await seat_channels.set_published(uow, world.actor, world.session_id, [seat], "web", publish=False)
        order = asyncio.create_task(shop_buy(client, seats_item(world.adult_id, [seat])))
        await _claim_waiting(runtime)  # the order has read the seat (on sale) and its claim waits
        assert not order.done()
        await uow.commit()
    return await asyncio.wait_for(order, 10)


async def _claim_waiting(runtime) -> None:  # noqa: ANN001
    """Until the order's claim waits for the withdraw's row lock (PostgreSQL: a backend of this database waiting
    on a lock), or half a second (SQLite: the write connection is the withdraw's until it commits)."""
    if runtime.db.dialect != "postgresql":
        await asyncio.sleep(0.5)
        return
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    for _ in range(200):
        async with runtime.uow(readonly=True) as reader:
            if (await reader.session.execute(text(waiting))).scalar_one():
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the order never waited for the seat")


async def test_the_unit_row_carries_the_channels(runtime):
    world = await seating_world(runtime)
    async with runtime.uow() as uow:
        await seat_channels.set_published(uow, world.actor, world.session_id, world.seat_ids[:3], "api", publish=False)
        await uow.commit()
    async with runtime.uow(readonly=True) as uow:
        rows = (await uow.session.execute(select(Unit.withheld).where(Unit.id.in_(world.seat_ids[:4])))).scalars()
        assert sorted(rows) == [0, 4, 4, 4]


def bought(world, r) -> list[str]:  # noqa: ANN001
    return [world.seat(x["seat"]["section"], x["seat"]["row"], x["seat"]["number"]) for x in r.json()["lines"]]


async def test_each_channel_chooses_from_its_own_index_and_sees_the_others_sales(runtime, client):
    """Rows 1–2 of zone A withheld from the web: web and API buyers take turns asking for the best pair. The web's
    index (built once, those rows blocked in it) never offers them and still sees the API's sales, the API's (the
    plain one: nothing is withheld from it) sees the web's; the house fills with no seat refused or sold twice."""
    from piaowu.seating.live import live_of

    world = await seating_world(runtime)
    row3 = {world.seat("A", "3", str(n)) for n in range(1, 11)}
    rows12 = [s for s in world.zone_seats("A") if s not in row3]
    assert (await change(client, world, "withhold", rows12, "web")).status_code == 200
    web_seats: list[str] = []
    api_seats: list[str] = []
    web_index = None
    for _ in range(5):
        r = await shop_buy(client, best_item(world.adult_id, 2))
        assert r.status_code == 201, r.text
        web_seats += bought(world, r)
        r = await api_buy(client, world, best_item(world.adult_id, 2))
        assert r.status_code == 201, r.text
        api_seats += bought(world, r)
        async with runtime.uow(readonly=True) as uow:
            (view,) = [v for v in live_of(uow)._by_session.values() if v.seats.session_id == world.session_id]
        assert set(view.channel_indexes) == {1}  # the web's bit only
        web_index = web_index or view.channel_indexes[1]
        assert view.channel_indexes[1] is web_index  # built once for this view, not per order
    assert set(web_seats) == row3 and set(api_seats) <= set(rows12) and len(set(api_seats)) == 10
    r = await shop_buy(client, best_item(world.adult_id, 1))
    assert r.status_code == 409 and r.json()["code"] == "not_enough_seats", r.text
    for _ in range(5):  # the API takes what is left of rows 1-2; row 3 is the web's, sold
        r = await api_buy(client, world, best_item(world.adult_id, 2))
        assert r.status_code == 201, r.text
        api_seats += bought(world, r)
    assert sorted(api_seats) == sorted(rows12)
    r = await api_buy(client, world, best_item(world.adult_id, 1))
    assert r.status_code == 409 and r.json()["code"] == "not_enough_seats", r.text
    async with runtime.uow(readonly=True) as uow:
        states = await inventory.unit_states(uow, world.organizer_id, world.zone_seats("A"))
    assert all(st.occupied == 1 for st in states.values())


async def test_the_masks_read_of_a_seated_pool_names_the_seats_in_use_and_only_those(runtime, client):
    """``inventory.pool_unit_masks``, what every read of a session's seat states is (PostgreSQL: one row of
    arrays; SQLite: a row per unit): with ``in_use``, exactly the seats held or kept back, with their masks."""
    world = await seating_world(runtime)
    held = [world.seat("A", "1", "1"), world.seat("A", "1", "2")]
    kept = world.seat("B", "1", "1")
    assert (await shop_buy(client, seats_item(world.adult_id, held))).status_code == 201
    async with runtime.uow() as uow:
        await inventory.block_legs(uow, world.organizer_id, [Claim(kept, 1)])
        await uow.commit()
    async with runtime.uow(readonly=True) as uow:
        in_use = await inventory.pool_unit_masks(uow, world.organizer_id, world.pool_id, in_use=1)
        every = await inventory.pool_unit_masks(uow, world.organizer_id, world.pool_id)
        other = await inventory.pool_unit_masks(uow, "another-organizer", world.pool_id, in_use=1)
    assert set(in_use) == {*held, kept}
    assert [in_use[u][0] & 1 for u in held] == [1, 1] and (in_use[kept][0] & 1, in_use[kept][1] & 1) == (0, 1)
    assert set(every) == set(world.seat_ids) and all(every[u] == m for u, m in in_use.items())
    assert other == {}  # another organizer's read finds nothing (and an empty read is no error)
