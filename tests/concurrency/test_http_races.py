"""The same races through the real server: ``piaowu serve`` with two uvicorn workers (two processes, two
connection pools) on PostgreSQL, driven over TCP by concurrent HTTP clients.

Their control runs are the in-process ones (test_inventory_races.py, test_payment_races.py,
test_scan_race.py): the guards are the same code whether a request arrives over TCP or through the ASGI
client, and there is no way to inject a naive strategy into a server process without a production switch.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from piaowu.db.migrate import upgrade
from piaowu.payments import sandbox_gateway as gw
from piaowu.payments.models import Payment
from piaowu.runtime import Runtime, build_runtime
from tests.concurrency.ledger import assert_ledger, pools_of
from tests.conftest import Tenant, make_settings, make_tenant
from tests.factories import OnSale, on_sale_session, owner_actor
from tests.order_helpers import BUYER
from tests.servers import SERVER_ENV, fresh_pg_database, running_server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BUYERS, UNITS = 300, 100


@dataclass
class World:
    base_url: str
    db_url: str
    var: Path
    tenant: Tenant
    flash: OnSale  # UNITS units: the flash sale
    small: OnSale  # 10 units, starting within the hour: scans and payments


async def _seed(db_url: str, var: Path) -> tuple[Tenant, OnSale, OnSale]:
    rt = _runtime(db_url, var)
    try:
        tenant = await make_tenant(rt)
        actor = await owner_actor(rt, tenant.owner_id)
        flash = await on_sale_session(rt, actor, capacity=UNITS, name="Flash")
        # Doors open 2 h before the start: tickets of a session starting in an hour admit now.
        small = await on_sale_session(rt, actor, capacity=10, starts_in=timedelta(hours=1), name="Small")
    finally:
        await rt.db.dispose()
    return tenant, flash, small


def _runtime(db_url: str, var: Path) -> Runtime:
    settings = make_settings(var, db_url, secret_key=SERVER_ENV["PIAOWU_SECRET_KEY"])
    return build_runtime(settings)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    var = tmp_path_factory.mktemp("http-races")
    with fresh_pg_database() as db_url:
        upgrade(db_url)
        tenant, flash, small = asyncio.run(_seed(db_url, var))
        # No background jobs: the notification race below is the only delivery of its notification.
        with running_server(db_url, workers=2, env={"PIAOWU_RUN_BACKGROUND_JOBS": "false"}) as base_url:
            yield World(base_url, db_url, var, tenant, flash, small)


@pytest.fixture
async def rt(world: World) -> AsyncIterator[Runtime]:
    """The test's own view of the server's database (to check rows, and to act as the gateway)."""
    runtime = _runtime(world.db_url, world.var)
    yield runtime
    await runtime.db.dispose()


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=world.base_url, limits=limits, timeout=30, headers=world.tenant.auth) as c:
        yield c


def order_body(ticket_type_id: str, qty: int = 1) -> dict:
    return {"items": [{"ticket_type_id": ticket_type_id, "quantity": qty}], "buyer": BUYER}


async def test_three_hundred_buyers_one_hundred_units(world, rt, http):
    body = order_body(world.flash.ticket_type_id)
    answers = await asyncio.gather(*(http.post("/api/v1/orders", json=body) for _ in range(BUYERS)))
    got = Counter((r.status_code, r.json().get("code") if r.status_code != 201 else "created") for r in answers)
    assert got == {(201, "created"): UNITS, (409, "sold_out"): BUYERS - UNITS}, got
    (book,) = (await assert_ledger(rt, await pools_of(rt, world.flash.session_id))).values()
    assert (book.held, book.sold) == (UNITS, 0)


async def _paid_ticket_code(http: httpx.AsyncClient, ticket_type_id: str) -> str:
    order = (await http.post("/api/v1/orders", json=order_body(ticket_type_id))).json()
    paid = await http.post(f"/api/v1/orders/{order['id']}/pay", json={"method": "cash"})
    assert paid.status_code == 200, paid.text
    return paid.json()["lines"][0]["ticket"]["code"]


async def test_twenty_gates_scan_one_ticket_one_admits(world, http):
    code = await _paid_ticket_code(http, world.small.ticket_type_id)
    answers = await asyncio.gather(
        *(http.post("/api/v1/checkin/scan", json={"raw": code, "gate": f"gate-{i}"}) for i in range(20))
    )
    assert all(r.status_code == 200 for r in answers), [(r.status_code, r.text[:120]) for r in answers]
    results = Counter(r.json()["result"] for r in answers)
    assert results == {"admitted": 1, "already_checked_in": 19}, results


async def test_one_notification_ten_times_at_once_through_the_server(world, rt, http):
    order = (await http.post("/api/v1/orders", json=order_body(world.small.ticket_type_id, 2))).json()
    start = await http.post(f"/api/v1/orders/{order['id']}/payments", json={"provider": "sandbox"})
    assert start.status_code == 201, start.text
    trade_no = start.json()["redirect_url"].rsplit("/", 1)[-1]
    async with rt.uow() as uow:  # the buyer pays at the gateway (its page is tested elsewhere)
        trade = await gw.pay(uow.session, uow.now(), trade_no)
        await uow.commit()
    body = gw.notification_body(trade, f"N{trade.trade_no}")
    headers = {gw.SIGNATURE_HEADER: gw.sign(gw.merchant_key(rt.secret_key), body)}
    answers = await asyncio.gather(
        *(http.post("/api/v1/payments/notify/sandbox", content=body, headers=headers) for _ in range(10))
    )
    assert all((r.status_code, r.text) == (200, "success") or r.status_code == 503 for r in answers), [
        (r.status_code, r.text[:120]) for r in answers
    ]
    got = (await http.get(f"/api/v1/orders/{order['id']}")).json()
    assert got["status"] == "paid" and got["paid_minor"] == got["total_minor"]
    assert len({line["ticket"]["code"] for line in got["lines"]}) == 2
    async with rt.uow(readonly=True) as uow:
        (pay,) = (await uow.session.execute(select(Payment).where(Payment.order_id == order["id"]))).scalars()
    assert pay.status == "succeeded" and pay.refunded_minor == 0
    await assert_ledger(rt, await pools_of(rt, world.small.session_id))
