"""The rest of a paid order answers the same on the lean lane (api/lean.py) as through the full FastAPI stack:
starting the online payment, the gateway's notification, and the buyer's held status request.

As in test_lean_lane.py, every test runs in ``lane`` and ``full`` mode (the ``lane`` fixture, tests/api/conftest.py)
on PostgreSQL and SQLite, and in ``lane`` mode checks which requests the lane answered itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select, update

from piaowu.accounts import service as accounts
from piaowu.accounts.models import ApiToken
from piaowu.core.errors import NotFound
from piaowu.headers import API_CSP
from piaowu.orders import repository as orders_repo
from piaowu.orders import service as orders
from piaowu.orders.views import order_out
from piaowu.payments import sandbox_gateway as gw
from piaowu.payments.models import Payment, SandboxTransaction
from tests.conftest import make_tenant
from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import BUYER, create_order, drain, gateway_pay, wire_callbacks
from tests.statements import short, statements, transactions

CREATE = "/api/v1/orders"
START = "/api/v1/orders/{order_id}/payments"
STATUS = "/api/v1/orders/{order_id}/status"
NOTIFY = "/api/v1/payments/notify/{provider}"


async def _released(runtime: Any) -> int:
    """Database connections in use once a request's read is done (a held request must not keep its own)."""
    for _ in range(100):
        if not _connections_in_use(runtime):
            break
        await asyncio.sleep(0.02)
    return _connections_in_use(runtime)


async def _pending(runtime: Any, client: Any, tenant: Any, lane: Any, capacity: int = 5) -> dict[str, Any]:
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=capacity)
    r = await create_order(client, tenant.auth, sale.ticket_type_id)
    assert r.status_code == 201, r.text
    lane.took_paths(CREATE)
    return r.json()


def _connections_in_use(runtime: Any) -> int:
    db = runtime.db
    engines = {id(e): e for e in (db.write_engine, db.read_engine)}.values()
    return sum(e.pool.checkedout() for e in engines)


async def test_a_paid_order_end_to_end(runtime, app, client, tenant, lane) -> None:  # noqa: ANN001
    """Start payment → held status request → the buyer pays → the notification → the held answer carries the
    paid order. Held on the lane, the request keeps no connection and blocks nothing else."""
    wire_callbacks(runtime, app)
    order = await _pending(runtime, client, tenant, lane)
    url = f"{CREATE}/{order['id']}"
    start = await client.post(url + "/payments", json={"provider": "sandbox"}, headers=tenant.auth)
    assert start.status_code == 201, start.text
    assert start.json()["redirect_url"].startswith("/sandbox-gateway/pay/")
    assert start.headers["content-security-policy"] == API_CSP and "set-cookie" not in start.headers
    lane.took_paths(START)

    held = asyncio.create_task(
        client.get(url + "/status", params={"wait": 20, "with_order": "true"}, headers=tenant.auth)
    )
    for _ in range(100):  # until the request is registered as a waiter
        if runtime.wakeups.waiting:
            break
        await asyncio.sleep(0.02)
    assert await _released(runtime) == 0  # released while it waits
    assert runtime.wakeups.waiting == 1 and not held.done()
    other = await client.get(url + "/status", headers=tenant.auth)  # another request goes by meanwhile
    assert other.status_code == 200 and other.json()["status"] == "pending" and not held.done()

    await gateway_pay(runtime, start.json()["redirect_url"])
    assert await drain(runtime) >= 1  # the gateway's notification, through the app
    r = await asyncio.wait_for(held, 5)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.headers["content-security-policy"] == API_CSP
    body = r.json()
    assert body["status"] == "paid" and body["order"]["lines"][0]["ticket"]["status"] == "valid"
    whole = (await client.get(url, headers=tenant.auth)).json()
    assert body["order"] == whole
    lane.took_paths(STATUS, STATUS, NOTIFY)  # in the order they came; GET /orders/{id} stays on the full stack


async def test_start_payment_idempotency_access_and_tenant(runtime, client, tenant, lane) -> None:  # noqa: ANN001
    order = await _pending(runtime, client, tenant, lane)
    url = f"{CREATE}/{order['id']}/payments"
    keyed = {**tenant.auth, "Idempotency-Key": "pay-1"}
    first = await client.post(url, json={"provider": "sandbox"}, headers=keyed)
    again = await client.post(url, json={"provider": "sandbox"}, headers=keyed)
    other_body = await client.post(url, json={"provider": "sandbox", "return_url": "/x"}, headers=keyed)
    lane.took(3)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert (other_body.status_code, other_body.json()["code"]) == (422, "idempotency_key_reused")
    async with runtime.uow(readonly=True) as uow:
        count = select(func.count()).select_from(Payment).where(Payment.order_id == order["id"])
        assert (await uow.session.execute(count)).scalar_one() == 1

    async with runtime.uow() as uow:
        gate, _ = await accounts.create_token(uow, None, organizer_id=tenant.organizer_id, name="g", role="gate")
        await uow.commit()
    none = await client.post(url, json={"provider": "sandbox"})
    forbidden = await client.post(url, json={"provider": "sandbox"}, headers={"Authorization": f"Bearer {gate}"})
    stranger = await make_tenant(runtime, slug="other-theatre")
    zh = await client.post(url + "?lang=zh-CN", json={"provider": "sandbox"}, headers=stranger.auth)
    en = await client.post(url, json={"provider": "sandbox"}, headers={**stranger.auth, "Accept-Language": "en"})
    lane.took(4)
    assert (none.status_code, none.json()["code"]) == (401, "not_authenticated")
    assert forbidden.status_code == 403 and forbidden.json()["permission"] == "order.create"
    for r in (zh, en):  # another tenant's order does not exist for it
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        assert r.headers["content-type"] == "application/problem+json"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh.json()["title"]) and zh.json()["title"] != en.json()["title"]

    invalid = await client.post(url, json={"provider": ""}, headers=tenant.auth)
    long_key = await client.post(
        url, json={"provider": "sandbox"}, headers={**tenant.auth, "Idempotency-Key": "k" * 201}
    )
    lane.took(0)  # passed on: the full stack's 422s
    assert invalid.status_code == 422 and invalid.json()["code"] == "validation_error"
    assert long_key.status_code == 422 and long_key.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_notification_applies_once_and_a_forged_one_is_refused(runtime, client, tenant, lane) -> None:  # noqa: ANN001
    order = await _pending(runtime, client, tenant, lane)
    start = await client.post(f"{CREATE}/{order['id']}/payments", json={"provider": "sandbox"}, headers=tenant.auth)
    trade_no = await gateway_pay(runtime, start.json()["redirect_url"])
    lane.took_paths(START)
    async with runtime.uow(readonly=True) as uow:
        trade = await gw.get_trade(uow.session, trade_no)
    body = gw.notification_body(trade, f"N{trade.trade_no}")
    sig = gw.sign(gw.merchant_key(runtime.secret_key), body)
    answers = [
        await client.post("/api/v1/payments/notify/sandbox", content=body, headers={gw.SIGNATURE_HEADER: sig})
        for _ in range(3)
    ]
    forged = await client.post(
        "/api/v1/payments/notify/sandbox?lang=en",
        content=body.replace(b"2", b"3"),
        headers={gw.SIGNATURE_HEADER: sig},
    )
    lane.took_paths(NOTIFY, NOTIFY, NOTIFY, NOTIFY)
    for r in answers:
        assert r.status_code == 200 and r.text == "success"
        assert r.headers["content-type"].startswith("text/plain")
        assert r.headers["content-security-policy"] == API_CSP
    assert forged.status_code == 400 and forged.json()["code"] == "invalid_signature"
    assert forged.headers["content-type"] == "application/problem+json"
    got = (await client.get(f"{CREATE}/{order['id']}", headers=tenant.auth)).json()
    assert got["status"] == "paid" and len(got["payments"]) == 1 and got["paid_minor"] == got["total_minor"]


async def test_status_query_the_lane_does_not_serve_goes_to_the_full_stack(runtime, client, tenant, lane) -> None:  # noqa: ANN001
    order = await _pending(runtime, client, tenant, lane)
    url = f"{CREATE}/{order['id']}/status"
    too_long = await client.get(url, params={"wait": 31}, headers=tenant.auth)
    not_a_number = await client.get(url, params={"wait": "soon"}, headers=tenant.auth)
    not_a_bool = await client.get(url, params={"with_order": "perhaps"}, headers=tenant.auth)
    repeated = await client.get(url + "?wait=0&wait=0.1", headers=tenant.auth)
    lane.took(0)
    for r in (too_long, not_a_number, not_a_bool):
        assert r.status_code == 422 and r.json()["code"] == "validation_error"
    assert repeated.status_code == 200 and repeated.json()["status"] == "pending"

    plain = await client.get(url, params={"with_order": "yes", "other": "ignored"}, headers=tenant.auth)
    none = await client.get(url)
    stranger = await make_tenant(runtime, slug="other-theatre")
    hidden = await client.get(url, params={"wait": 20}, headers={**stranger.auth, "Accept-Language": "zh-CN"})
    lane.took(3)
    assert plain.status_code == 200 and plain.json() == {**plain.json(), "status": "pending", "order": None}
    assert (none.status_code, none.json()["code"]) == (401, "not_authenticated")
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"  # at once: no waiting for a stranger
    assert any("\u4e00" <= ch <= "\u9fff" for ch in hidden.json()["title"])
    assert runtime.wakeups.waiting == 0


async def test_many_held_requests_block_no_order(runtime, client, tenant, lane) -> None:  # noqa: ANN001
    order = await _pending(runtime, client, tenant, lane, capacity=5)
    url = f"{CREATE}/{order['id']}/status"
    held = [asyncio.create_task(client.get(url, params={"wait": 20}, headers=tenant.auth)) for _ in range(8)]
    for _ in range(100):
        if runtime.wakeups.waiting == len(held):
            break
        await asyncio.sleep(0.02)
    assert await _released(runtime) == 0 and runtime.wakeups.waiting == len(held)
    lane.took(len(held))
    another = await _pending(runtime, client, tenant, lane)  # placed while eight requests are held
    assert another["status"] == "pending" and not any(t.done() for t in held)
    cancel = await client.post(f"{CREATE}/{order['id']}/cancel", headers=tenant.auth)
    assert cancel.status_code == 200
    answers = await asyncio.wait_for(asyncio.gather(*held), 5)
    assert {r.json()["status"] for r in answers} == {"cancelled"}
    lane.took(0)  # the cancel stays on the full stack


async def _revoke_elsewhere(runtime: Any, token_id: str) -> None:
    """What another worker or host does: the row changes, this process's token cache is not told."""
    async with runtime.uow() as uow:
        await uow.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=uow.now()))
        await uow.commit()


async def test_start_payment_and_the_status_read_use_the_token_cache_and_still_refuse_a_revoked_token(
    runtime,  # noqa: ANN001
    client,  # noqa: ANN001
    tenant,  # noqa: ANN001
    lane,  # noqa: ANN001
) -> None:
    """Both routes take the caller from this process's token cache without reading the token's row; their first
    statement re-verifies it. A token revoked by another process is refused by the next request — also for an
    order that does not exist (401, not 404) and a held request (at once) — and nothing is written or opened."""
    order = await _pending(runtime, client, tenant, lane)
    other = await _pending(runtime, client, tenant, lane)
    url = f"{CREATE}/{order['id']}"
    cached = accounts.cached_token_actor(tenant.token)
    assert cached is not None
    assert (await client.get(url + "/status", headers=tenant.auth)).status_code == 200
    lane.took(1)

    await _revoke_elsewhere(runtime, cached.id)
    unknown = f"{CREATE}/{'0' * 26}"
    requests = [
        lambda: client.post(url + "/payments", json={"provider": "sandbox"}, headers=tenant.auth),
        lambda: client.get(url + "/status", headers=tenant.auth),
        lambda: client.get(url + "/status", params={"wait": 20, "with_order": "true"}, headers=tenant.auth),
        lambda: client.post(unknown + "/payments", json={"provider": "sandbox"}, headers=tenant.auth),
        lambda: client.get(unknown + "/status", params={"wait": 20}, headers=tenant.auth),
    ]
    for send in requests:
        # As in a worker that still has the token cached (a refusal drops this process's cache)
        accounts.TOKEN_CACHE.put(tenant.token, cached)
        r = await send()
        assert (r.status_code, r.json()["code"]) == (401, "not_authenticated"), r.text
        assert accounts.cached_token_actor(tenant.token) is None
    # without the cache: refused by the token's read, as before
    again = await client.post(f"{CREATE}/{other['id']}/payments", json={"provider": "sandbox"}, headers=tenant.auth)
    assert again.status_code == 401
    lane.took(len(requests) + 1)
    assert runtime.wakeups.waiting == 0
    async with runtime.uow(readonly=True) as uow:
        for table in (Payment, SandboxTransaction):  # no payment, and no trade opened at the gateway
            assert (await uow.session.execute(select(func.count()).select_from(table))).scalar_one() == 0


async def test_start_payment_and_the_status_read_send_no_token_read(runtime, app, client, tenant, lane) -> None:  # noqa: ANN001
    """The statements a paid order's start payment and held status request send, with the token cached: no
    read of the token's row; start payment is the order read, the gateway's trade and ONE statement for the
    payment with its audit event (PostgreSQL); the status read is one statement."""
    wire_callbacks(runtime, app)
    order = await _pending(runtime, client, tenant, lane)  # the token is now cached
    url = f"{CREATE}/{order['id']}"
    with statements(runtime) as started:
        start = await client.post(url + "/payments", json={"provider": "sandbox"}, headers=tenant.auth)
    with statements(runtime) as pending:
        still = await client.get(url + "/status", params={"wait": 0, "with_order": "true"}, headers=tenant.auth)
    await gateway_pay(runtime, start.json()["redirect_url"])
    assert await drain(runtime) >= 1
    with statements(runtime) as paid:
        done = await client.get(url + "/status", params={"wait": 20, "with_order": "true"}, headers=tenant.auth)
    lane.took_paths(START, STATUS, NOTIFY, STATUS)
    assert start.status_code == 201 and still.json()["status"] == "pending"
    assert done.json()["status"] == "paid" and done.json()["order"]["lines"][0]["ticket"]["status"] == "valid"
    for sent in (started, pending, paid):
        assert not [s for s in sent if s.startswith("SELECT api_tokens")], short(sent)
    postgres = runtime.db.dialect == "postgresql"
    # order read (with the token's check and the sessions' state), the sandbox's trade, the payment + audit —
    # on SQLite the last is its two checks' reads and one insert per table
    assert len(started) == (3 if postgres else 6), short(started)
    assert started[0].startswith("SELECT orders.id") and "api_tokens" not in started[1]
    if postgres:
        assert started[2].startswith("WITH"), short(started)
    assert len(pending) == 1 and pending[0].startswith("SELECT orders.id, orders.status"), short(pending)
    # the status read, then the whole order in one statement: the order with its lines and their sessions'
    # labels, their tickets with entitlements, its payments
    assert len(paid) == 1 + 1, short(paid)
    assert "FROM orders LEFT OUTER JOIN order_lines" in paid[1], short(paid)
    assert "ticket_entitlements" in paid[1] and "JOIN payments" in paid[1], short(paid)


# A paid order's requests to the server (not the gateway's own work): place it (1), start its payment (3: the
# order read, the sandbox's trade, the payment with its audit event), the notification (4, between BEGIN and
# COMMIT; 5 before the hold's confirm rode in the tickets' statement, 7 before its lines were read with the order's
# lock and its transition rode in the payment's mark), the held status request that learns it is paid (1 read,
# then the whole order in one: the order with its lines, tickets, payments). Explicit transactions: the
# notification's; everything else is autocommit.
PAID_ORDER_STATEMENTS = 1 + 3 + 4 + 1 + 1
PAID_ORDER_TRANSACTIONS = 1


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_a_paid_order_costs_the_server_a_fixed_list_of_statements(runtime, app, client, tenant, lane) -> None:  # noqa: ANN001
    """The whole paid path's statements and transactions on the server, pinned: a change that adds a round trip
    to any of its four requests shows here (docs/benchmarks.md, "Paid path (issue 7, paidlean)" and "Paid path: the
    final read (issue 7, paidread)")."""
    wire_callbacks(runtime, app)
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=5)
    await create_order(client, tenant.auth, sale.ticket_type_id)  # the token is cached, as in a sale
    with statements(runtime) as sent, transactions(runtime) as begun:
        r = await create_order(client, tenant.auth, sale.ticket_type_id)
        url = f"{CREATE}/{r.json()['id']}"
        start = await client.post(url + "/payments", json={"provider": "sandbox"}, headers=tenant.auth)
        with statements(runtime) as not_ours, transactions(runtime) as not_our_tx:  # the gateway's own work
            trade_no = await gateway_pay(runtime, start.json()["redirect_url"])
        async with runtime.uow(readonly=True) as uow:
            trade = await gw.get_trade(uow.session, trade_no)
        body = gw.notification_body(trade, f"N{trade_no}")
        signature = gw.sign(gw.merchant_key(runtime.secret_key), body)
        notified = await client.post(
            NOTIFY.format(provider="sandbox"), content=body, headers={gw.SIGNATURE_HEADER: signature}
        )
        done = await client.get(url + "/status", params={"wait": 20, "with_order": "true"}, headers=tenant.auth)
    lane.took_paths(CREATE, CREATE, START, NOTIFY, STATUS)
    assert notified.text == "success" and done.json()["order"]["lines"][0]["ticket"]["status"] == "valid"
    # less the gateway's own statements and transactions, and the test's read of the trade (one, in a transaction)
    assert len(sent) - len(not_ours) - 1 == PAID_ORDER_STATEMENTS, short(sent)
    assert len(begun) - len(not_our_tx) - 1 == PAID_ORDER_TRANSACTIONS, begun


async def test_the_order_read_with_its_lines_in_one_statement_answers_as_the_entities_do(
    runtime,  # noqa: ANN001
    client,  # noqa: ANN001
    tenant,  # noqa: ANN001
    lane,  # noqa: ANN001
) -> None:
    """``orders.get_order`` reads the order and its lines in one statement (repository.order_whole, with tickets and
    payments — tests/integration/test_order_read_whole.py has them): an order of lines in two sessions answers as
    the order built from its entities and the sessions' labels read apart (``order_out``'s other path), lines in
    id order; another organizer's order is not found."""
    owner = await owner_actor(runtime, tenant.owner_id)
    first = await on_sale_session(runtime, owner, capacity=5, name="第一场 First")
    second = await on_sale_session(runtime, owner, capacity=5, name="第二场 Second", second_type=True)
    items = [
        {"ticket_type_id": first.ticket_type_id, "quantity": 2},
        {"ticket_type_id": second.ticket_type_id, "quantity": 1},
    ]
    placed = await client.post(CREATE, json={"items": items, "buyer": BUYER}, headers=tenant.auth)
    assert placed.status_code == 201, placed.text
    lane.took_paths(CREATE)
    order_id = placed.json()["id"]
    async with runtime.uow(readonly=True) as uow:
        with statements(runtime) as sent:
            read = await orders.get_order(uow, owner, order_id)
        entity = await orders.load(uow, tenant.organizer_id, order_id)
        built = await order_out(uow, entity, await orders_repo.lines(uow.session, [order_id]))
    assert read == built
    assert len(read.lines) == 3 and [line.id for line in read.lines] == sorted(line.id for line in read.lines)
    assert {line.event_name for line in read.lines} == {"第一场 First", "第二场 Second"}
    # the order with its lines and labels, its tickets with their entitlements, its payments: one statement
    assert len(sent) == 1 and sent[0].startswith("SELECT orders.") and "JOIN order_lines" in sent[0], short(sent)

    stranger = await make_tenant(runtime, slug="other-theatre")
    async with runtime.uow(readonly=True) as uow:
        with pytest.raises(NotFound):
            await orders.get_order(uow, await owner_actor(runtime, stranger.owner_id), order_id)
