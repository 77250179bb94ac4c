"""Retrying one online refund, through the API, on SQLite and PostgreSQL: a refund the provider refused, and one
the outbox gave up on (its message ``dead``, the refund pending for ever), are asked for again by staff with
``POST /api/v1/refunds/{id}/retry`` — the same refund row, a new outbox message, an audit event in the same
transaction — and paid out once: never a second refund row, never a second pay-out, even when the provider had
paid and its answer was lost, and even when two attempts reach the provider at the same moment. A refund paid
out, or one the outbox is still asking for, is refused with ``refund_not_retryable``; a clerk without
``payment.refund`` gets 403 and another organizer's refund is an unknown one (404)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from piaowu.accounts import service as accounts
from piaowu.audit.models import AuditEvent
from piaowu.db.outbox import MAX_ATTEMPTS, OutboxMessage
from piaowu.payments import sandbox_gateway
from piaowu.payments.models import Payment, Refund, SandboxTransaction
from piaowu.runtime import Runtime
from piaowu.workers import outbox_dispatch, reconcile
from tests.conftest import Tenant
from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import create_order, drain, gateway_pay, wire_callbacks
from tests.refund_gateway import Gateway

PRICE = 18000  # one ticket; orders here buy three and refund one at a time: a second pay-out would always fit


async def refunded_online(runtime: Runtime, app: Any, client: httpx.AsyncClient, tenant: Tenant) -> dict:
    """Three tickets paid on the sandbox gateway; one refunded (its refund waits for the outbox). → the order,
    with ``refund_id``."""
    wire_callbacks(runtime, app)
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=10, price_minor=PRICE)
    order = (await create_order(client, tenant.auth, sale.ticket_type_id, 3)).json()
    start = await client.post(f"/api/v1/orders/{order['id']}/payments", json={}, headers=tenant.auth)
    assert start.status_code == 201, start.text
    await gateway_pay(runtime, start.json()["redirect_url"])
    assert await drain(runtime) == 1  # the gateway's notification: the order is paid
    line = order["lines"][0]["id"]
    r = await client.post(f"/api/v1/orders/{order['id']}/refunds", json={"line_ids": [line]}, headers=tenant.auth)
    assert r.status_code == 200 and r.json()["refunded_minor"] == PRICE, r.text
    (refund,) = (await client.get(f"/api/v1/orders/{order['id']}/refunds", headers=tenant.auth)).json()
    assert (refund["status"], refund["amount_minor"], refund["retryable"]) == ("pending", PRICE, False)
    return {**order, "refund_id": refund["id"]}


async def retry(client: httpx.AsyncClient, refund_id: str, auth: dict[str, str], key: str = "") -> httpx.Response:
    headers = {**auth, **({"Idempotency-Key": key} if key else {})}
    return await client.post(f"/api/v1/refunds/{refund_id}/retry", headers=headers)


async def listed(client: httpx.AsyncClient, tenant: Tenant, order_id: str) -> list[dict]:
    r = await client.get(f"/api/v1/orders/{order_id}/refunds", headers=tenant.auth)
    assert r.status_code == 200, r.text
    return r.json()


async def paid_back(rt: Runtime, order_id: str) -> int:
    """What the sandbox gateway has paid back on the order's trade."""
    async with rt.uow(readonly=True) as uow:
        return (
            await uow.session.execute(
                select(SandboxTransaction.refunded_minor)
                .join(Payment, Payment.provider_ref == SandboxTransaction.trade_no)
                .where(Payment.order_id == order_id)
            )
        ).scalar_one()


async def ledger(rt: Runtime, order_id: str, refund_id: str) -> dict[str, Any]:
    """The refund rows of the order, the outbox messages asking for this refund, its audit events."""
    async with rt.uow(readonly=True) as uow:
        s = uow.session
        rows = (await s.execute(select(Refund.id, Refund.status).where(Refund.order_id == order_id))).all()
        messages = (await s.execute(select(OutboxMessage).where(OutboxMessage.topic == "refund.requested"))).scalars()
        events = (
            await s.execute(select(AuditEvent.action).where(AuditEvent.subject_id == refund_id).order_by(AuditEvent.at))
        ).scalars()
        return {
            "refunds": [tuple(r) for r in rows],
            "messages": sorted(m.status for m in messages if m.payload["refund_id"] == refund_id),
            "events": list(events),
        }


async def give_up(rt: Runtime, clock: Any, attempts: int = MAX_ATTEMPTS) -> None:
    """Let the outbox try ``attempts`` times, each after its backoff."""
    for _ in range(attempts):
        clock.advance(timedelta(seconds=301))
        assert await drain(rt) == 0


async def test_a_refused_refund_is_retried_and_paid_once(
    runtime: Runtime, app: Any, client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = await refunded_online(runtime, app, client, tenant)
    rid = order["refund_id"]
    gateway = Gateway(monkeypatch, "refuse")
    assert await drain(runtime) == 1 and gateway.asked == 1
    (failed,) = await listed(client, tenant, order["id"])
    assert (failed["status"], failed["stuck"], failed["retryable"]) == ("failed", False, True)
    assert failed["error"] == "merchant balance too low"
    assert (await reconcile.reconcile_payments(runtime)).outcomes["open"] == 1

    gateway.mode = "up"
    r = await retry(client, rid, tenant.auth, key="retry-1")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["id"], body["status"], body["retryable"], body["error"]) == (rid, "pending", False, "")
    again = await retry(client, rid, tenant.auth, key="retry-1")  # the same request, sent twice
    assert again.json() == body and again.headers.get("Idempotent-Replayed") == "true"
    # The same refund row, asked for by a new message; the retry audited in its own transaction.
    assert await ledger(runtime, order["id"], rid) == {
        "refunds": [(rid, "pending")],
        "messages": ["done", "pending"],
        "events": ["refund.created", "refund.failed", "refund.retried"],
    }
    assert await paid_back(runtime, order["id"]) == 0  # nothing asked before the outbox runs

    assert await drain(runtime) == 1 and gateway.asked == 2
    (paid,) = await listed(client, tenant, order["id"])
    assert (paid["status"], paid["retryable"], paid["provider_ref"]) == ("succeeded", False, f"R{rid}")
    assert await paid_back(runtime, order["id"]) == PRICE
    assert (await reconcile.reconcile_payments(runtime)).outcomes["open"] == 0

    # Paid out: never asked for again, and the refusal changes nothing.
    refused = await retry(client, rid, tenant.auth)
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    assert (refused.json()["code"], refused.json()["state"], refused.json()["refund_id"]) == (
        "refund_not_retryable",
        "succeeded",
        rid,
    )
    assert "已退回" in refused.json()["title"]  # in the request's language (zh-CN by default)
    assert (await ledger(runtime, order["id"], rid))["events"][-1] == "refund.succeeded"
    assert await drain(runtime) == 0 and await paid_back(runtime, order["id"]) == PRICE


async def test_a_refund_the_outbox_gave_up_on_is_retried_and_paid(
    runtime: Runtime, app: Any, client: httpx.AsyncClient, tenant: Tenant, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = await refunded_online(runtime, app, client, tenant)
    rid = order["refund_id"]
    gateway = Gateway(monkeypatch, "unreachable")
    assert await drain(runtime) == 0
    (waiting,) = await listed(client, tenant, order["id"])
    assert (waiting["status"], waiting["stuck"], waiting["attempts"]) == ("pending", False, 1)
    assert "the gateway cannot be reached" in waiting["error"]
    early = await retry(client, rid, tenant.auth)  # the outbox still asks by itself: not now
    assert early.status_code == 409 and early.json()["state"] == "in_progress", early.text
    assert "自动重试" in early.json()["title"]

    await give_up(runtime, clock, MAX_ATTEMPTS - 1)
    assert gateway.asked == MAX_ATTEMPTS
    (stuck,) = await listed(client, tenant, order["id"])
    assert (stuck["status"], stuck["stuck"], stuck["retryable"], stuck["attempts"]) == (
        "pending",
        True,
        True,
        MAX_ATTEMPTS,
    )
    assert (await ledger(runtime, order["id"], rid))["messages"] == ["dead"]
    clock.advance(timedelta(days=1))
    assert await drain(runtime) == 0 and gateway.asked == MAX_ATTEMPTS  # nothing asks again by itself

    gateway.mode = "up"
    r = await retry(client, rid, tenant.auth)
    assert r.status_code == 200 and (r.json()["status"], r.json()["stuck"]) == ("pending", False), r.text
    assert await drain(runtime) == 1
    assert await ledger(runtime, order["id"], rid) == {
        "refunds": [(rid, "succeeded")],
        "messages": ["dead", "done"],
        "events": ["refund.created", "refund.retried", "refund.succeeded"],
    }
    assert await paid_back(runtime, order["id"]) == PRICE


async def test_a_refund_paid_whose_answer_was_lost_is_not_paid_twice(
    runtime: Runtime, app: Any, client: httpx.AsyncClient, tenant: Tenant, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway paid the refund, but no answer came back, every time, until the outbox gave up: the refund is
    stuck though the money went out. The retry asks with the same refund id; the gateway answers "done"."""
    order = await refunded_online(runtime, app, client, tenant)
    rid = order["refund_id"]
    gateway = Gateway(monkeypatch, "lost")
    await give_up(runtime, clock)
    assert gateway.asked == MAX_ATTEMPTS and await paid_back(runtime, order["id"]) == PRICE  # paid once, at first
    (stuck,) = await listed(client, tenant, order["id"])
    assert (stuck["status"], stuck["stuck"]) == ("pending", True) and "ReadTimeout" in stuck["error"]

    gateway.mode = "up"
    assert (await retry(client, rid, tenant.auth)).status_code == 200
    assert await drain(runtime) == 1
    assert (await ledger(runtime, order["id"], rid))["refunds"] == [(rid, "succeeded")]
    assert await paid_back(runtime, order["id"]) == PRICE  # not 2 × PRICE


async def test_a_retry_racing_the_outbox_s_last_attempt_pays_once(
    runtime: Runtime, app: Any, client: httpx.AsyncClient, tenant: Tenant, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Staff press retry while the outbox makes its last attempt (which pays, but its answer is lost): the retry
    is refused while the attempt is still the outbox's, or accepted once the message gave up — either way the
    refund is paid out once."""
    order = await refunded_online(runtime, app, client, tenant)
    rid = order["refund_id"]
    gateway = Gateway(monkeypatch, "lost")
    await give_up(runtime, clock, MAX_ATTEMPTS - 1)
    clock.advance(timedelta(seconds=301))
    pressed, last = await asyncio.gather(retry(client, rid, tenant.auth), drain(runtime))
    assert last == 0 and pressed.status_code in (200, 409), pressed.text
    gateway.mode = "up"
    if pressed.status_code == 409:  # it read the refund while the outbox was still at it
        assert pressed.json()["state"] in ("in_progress", "changed")
        assert (await retry(client, rid, tenant.auth)).status_code == 200
    assert await drain(runtime) == 1
    assert (await ledger(runtime, order["id"], rid))["refunds"] == [(rid, "succeeded")]
    assert await paid_back(runtime, order["id"]) == PRICE


async def test_two_attempts_at_the_provider_at_once_pay_once(
    runtime: Runtime, app: Any, client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retried refund's message runs while the first message is delivered again (a worker whose lease lapsed):
    both reach the gateway at the same moment with the same refund id. It pays once, and the refund is recorded
    succeeded once. Control: a gateway that checks the refund id only before its update (as the sandbox once did)
    pays twice on PostgreSQL — SQLite's one writer at a time serializes even that one."""
    order = await refunded_online(runtime, app, client, tenant)
    rid = order["refund_id"]
    gateway = Gateway(monkeypatch, "refuse")
    assert await drain(runtime) == 1
    gateway.mode, gateway.meet = "up", 2
    assert (await retry(client, rid, tenant.auth)).status_code == 200
    _, _ = await asyncio.gather(drain(runtime), outbox_dispatch.run_refund(runtime, {"refund_id": rid}))
    assert gateway.met and gateway.asked == 3  # the refusal, then two at once
    assert await paid_back(runtime, order["id"]) == PRICE
    events = (await ledger(runtime, order["id"], rid))["events"]
    assert events.count("refund.succeeded") == 1 and (await listed(client, tenant, order["id"]))[0]["status"] == (
        "succeeded"
    )

    # Control: the same race on a second refund, against a gateway without the guard in its update.
    monkeypatch.setattr(sandbox_gateway, "refund", naive_refund)
    line = order["lines"][1]["id"]
    r = await client.post(f"/api/v1/orders/{order['id']}/refunds", json={"line_ids": [line]}, headers=tenant.auth)
    assert r.status_code == 200, r.text
    second = next(x["id"] for x in await listed(client, tenant, order["id"]) if x["id"] != rid)
    gateway.meet, gateway.met, gateway._arrived = 2, False, []
    await asyncio.gather(drain(runtime), outbox_dispatch.run_refund(runtime, {"refund_id": second}))
    assert gateway.met
    twice = runtime.db.dialect == "postgresql"
    assert await paid_back(runtime, order["id"]) == PRICE + (2 if twice else 1) * PRICE


async def naive_refund(session: Any, trade_no: str, refund_id: str, amount_minor: int) -> tuple[bool, str]:
    """The sandbox's refund with its idempotency checked only on the read before the update."""
    trade = await session.get(SandboxTransaction, trade_no)
    if refund_id in trade.note.split(","):
        return True, ""
    res = await session.execute(
        update(SandboxTransaction)
        .where(
            SandboxTransaction.trade_no == trade_no,
            SandboxTransaction.refunded_minor + amount_minor <= SandboxTransaction.amount_minor,
        )
        .values(
            refunded_minor=SandboxTransaction.refunded_minor + amount_minor,
            note=SandboxTransaction.note + refund_id + ",",
        )
    )
    return (True, "") if res.rowcount == 1 else (False, "refund exceeds the amount paid")


async def test_retries_at_the_same_moment_queue_the_refund_once(
    runtime: Runtime, app: Any, client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = await refunded_online(runtime, app, client, tenant)
    rid = order["refund_id"]
    gateway = Gateway(monkeypatch, "refuse")
    assert await drain(runtime) == 1
    answers = await asyncio.gather(*(retry(client, rid, tenant.auth) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 5, [a.text for a in answers]
    assert {a.json()["state"] for a in answers if a.status_code == 409} <= {"in_progress", "changed"}
    state = await ledger(runtime, order["id"], rid)
    assert state["messages"] == ["done", "pending"] and state["events"].count("refund.retried") == 1
    gateway.mode = "up"
    assert await drain(runtime) == 1 and await paid_back(runtime, order["id"]) == PRICE


async def test_a_clerk_without_the_refund_permission_and_another_organizer_are_refused(
    runtime: Runtime,
    app: Any,
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order = await refunded_online(runtime, app, client, tenant)
    rid = order["refund_id"]
    Gateway(monkeypatch, "refuse")
    assert await drain(runtime) == 1
    async with runtime.uow() as uow:
        clerk, _ = await accounts.create_token(uow, None, organizer_id=tenant.organizer_id, name="clerk", role="sales")
        await uow.commit()
    before = await ledger(runtime, order["id"], rid)

    denied = await retry(client, rid, {"Authorization": f"Bearer {clerk}"})
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied", denied.text
    assert denied.json()["permission"] == "payment.refund"
    theirs = await retry(client, rid, other_tenant.auth)
    unknown = await retry(client, "01" + "0" * 24, other_tenant.auth)
    assert theirs.status_code == 404 and theirs.json() == unknown.json(), theirs.text
    assert theirs.json()["code"] == "not_found"
    assert (await client.get(f"/api/v1/orders/{order['id']}/refunds", headers=other_tenant.auth)).status_code == 404
    assert await ledger(runtime, order["id"], rid) == before  # still failed, nothing queued, nothing audited
    async with runtime.uow(readonly=True) as uow:
        retried = await uow.session.scalar(select(func.count()).where(AuditEvent.action == "refund.retried"))
    assert retried == 0
