"""The worker's outbox loop (``outbox_dispatch.Deliveries``): a message's delivery starts as soon as it is
claimed, whatever other deliveries are still waiting on their endpoints, and every delivery is marked — done,
or failed for a retry — with the marks coalesced. (A paid order's notification is such a message: in the
gateway's process, its wait for a drain was the gateway's share of the until-paid tail, docs/benchmarks.md
"paidtail".)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from piaowu.core.events import Topic
from piaowu.db import outbox
from piaowu.db.outbox import OutboxMessage
from piaowu.workers import outbox_dispatch
from piaowu.workers.jobs import outbox_job
from piaowu.workers.runner import Worker
from tests.statements import statements

TOPIC = Topic.ORDER_SESSION_CANCELLED  # a topic whose real handler does nothing; replaced here


async def _queue(rt: Any, worker: Worker, payload: dict[str, Any]) -> None:
    async with rt.uow() as uow:
        uow.emit(TOPIC, payload)
        await uow.commit()
    worker.wake_outbox()  # as the gateway's pay does after its commit


async def _statuses(rt: Any) -> dict[str, str]:
    async with rt.uow(readonly=True) as uow:
        rows = await uow.session.execute(select(OutboxMessage.payload, OutboxMessage.status))
        return {p["name"]: s for p, s in rows}


async def _until(check: Any, seconds: float) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A merchant endpoint stand-in: a payload with ``hang`` waits until released; ``fail`` raises."""
    state: dict[str, Any] = {"release": asyncio.Event(), "delivered": []}

    async def handler(rt: Any, payload: dict[str, Any]) -> None:
        if payload.get("hang"):
            await state["release"].wait()
        if payload.get("fail"):
            raise outbox_dispatch.DeliveryFailed("the endpoint said no")
        state["delivered"].append(payload["name"])

    monkeypatch.setitem(outbox_dispatch.HANDLERS, TOPIC, handler)
    return state


async def test_a_message_is_delivered_while_earlier_deliveries_still_wait(runtime, endpoint):  # noqa: ANN001
    """Four deliveries hang, each claimed on its own wake-up; a fifth message goes out at once. Control: main's
    loop (at most four drains, each waiting for its whole batch) claims the fifth only when a hung one ends."""
    worker = Worker(runtime, [], interval_s=60, outbox=outbox_job())
    worker.start()
    try:
        for i in range(4):
            await _queue(runtime, worker, {"name": f"slow{i}", "hang": True})
            await asyncio.sleep(0.3)  # claimed alone
        await _queue(runtime, worker, {"name": "quick"})

        async def quick_delivered() -> bool:
            return endpoint["delivered"] == ["quick"]

        assert await _until(quick_delivered, 3), endpoint["delivered"]
        statuses = await _statuses(runtime)
        assert await _until(lambda: _marked(runtime, "quick"), 3), statuses
        endpoint["release"].set()

        async def all_done() -> bool:
            return set((await _statuses(runtime)).values()) == {"done"}

        assert await _until(all_done, 3), await _statuses(runtime)
        assert sorted(endpoint["delivered"]) == ["quick", "slow0", "slow1", "slow2", "slow3"]
    finally:
        await worker.stop()


async def _marked(rt: Any, name: str) -> bool:
    return (await _statuses(rt)).get(name) == "done"


async def test_a_claim_that_filled_every_slot_is_followed_by_another_when_one_frees(runtime, endpoint):  # noqa: ANN001
    """With two slots, three messages due: the third is claimed when a delivery ends, not at the next tick (60 s
    here). Control: without the wake-up on a freed slot, it waits for the tick."""
    worker = Worker(runtime, [], interval_s=60, outbox=outbox_dispatch.Deliveries(limit=2))
    async with runtime.uow() as uow:
        for name in ("a", "b", "c"):
            uow.emit(TOPIC, {"name": name})
        await uow.commit()
    worker.start()
    try:

        async def all_done() -> bool:
            return set((await _statuses(runtime)).values()) == {"done"}

        assert await _until(all_done, 3), await _statuses(runtime)
        assert sorted(endpoint["delivered"]) == ["a", "b", "c"]
    finally:
        await worker.stop()


async def test_a_failed_delivery_is_kept_for_a_retry_and_marks_are_coalesced(runtime, endpoint):  # noqa: ANN001
    """Deliveries that end while a mark is written are marked together by the next: twelve messages delivered
    at once take fewer marks than messages; a failed one stays pending with its attempt counted and a later
    ``available_at`` (the outbox's backoff), the others are done."""
    deliveries = outbox_dispatch.Deliveries()
    async with runtime.uow() as uow:
        for i in range(12):
            uow.emit(TOPIC, {"name": f"m{i}"})
        uow.emit(TOPIC, {"name": "bad", "fail": True})
        await uow.commit()
    with statements(runtime) as sent:
        assert await deliveries.feed(runtime, lambda: None) == 13

        async def settled() -> bool:
            return deliveries.running == 0 and deliveries._marking is None

        assert await _until(settled, 5)
    marks = [s for s in sent if s.startswith("UPDATE outbox SET status")]
    assert 1 <= len(marks) < 12, len(marks)
    async with runtime.uow(readonly=True) as uow:
        rows = (await uow.session.execute(select(OutboxMessage))).scalars().all()
        by_name = {m.payload["name"]: m for m in rows}
    assert {n for n, m in by_name.items() if m.status == "done"} == {f"m{i}" for i in range(12)}
    bad = by_name["bad"]
    assert bad.status == "pending" and bad.attempts == 1 and "said no" in (bad.last_error or "")
    assert bad.claimed_until is None and bad.available_at > bad.created_at


async def test_a_claim_takes_no_more_than_its_limit(runtime):  # noqa: ANN001
    """Control: main's claim on PostgreSQL (the pick a subquery of the ``IN``) took all three."""
    async with runtime.uow() as uow:
        for name in "abc":
            uow.emit(TOPIC, {"name": name})
        await uow.commit()

    async def claim() -> int:
        async with runtime.uow() as uow:
            claimed = await outbox.claim_batch(uow.session, uow.now(), limit=2)
            await uow.commit()
        return len(claimed)

    assert [await claim(), await claim(), await claim()] == [2, 1, 0]
