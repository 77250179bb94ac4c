"""Several outbox workers claiming at once (db/outbox.claim_batch: one UPDATE … RETURNING per batch): every
message is handed to exactly one of them; marking a batch done is one statement. The control (read the ids,
then lease them unconditionally) must be caught handing messages out twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from piaowu.core.events import Topic
from piaowu.db import outbox
from tests.concurrency.ledger import warm
from tests.concurrency.naive import naive_outbox_claim

pytestmark = pytest.mark.slow

MESSAGES, WORKERS, BATCH = 200, 8, 10


async def _claim_all(runtime, claim, *, autocommit: bool = False) -> Counter[str]:  # noqa: ANN001
    async with runtime.uow() as uow:
        for i in range(MESSAGES):
            uow.emit(Topic.REFUND_REQUESTED, {"refund_id": f"r{i}"})
        await uow.commit()
    await warm(runtime, WORKERS)
    got: Counter[str] = Counter()

    async def worker() -> None:
        while True:
            try:
                async with runtime.uow(autocommit=autocommit) as uow:
                    batch = await claim(uow.session, uow.now(), limit=BATCH)
                    await uow.commit()
            except DBAPIError:  # the naive claim's overlapping leases may deadlock: a worker retries next tick
                continue
            if not batch:
                return
            got.update(m.id for m in batch)
            with contextlib.suppress(DBAPIError):  # (the control's double claims may deadlock marking too)
                async with runtime.uow(autocommit=autocommit) as uow:
                    await outbox.mark_done(uow.session, [m.id for m in batch])
                    await uow.commit()

    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return got


# Autocommit: as ``outbox_dispatch.drain`` claims and marks (each statement its own transaction on PostgreSQL).
@pytest.mark.parametrize("autocommit", [False, True])
async def test_each_message_is_claimed_by_exactly_one_worker(runtime, autocommit):  # noqa: ANN001
    got = await _claim_all(runtime, outbox.claim_batch, autocommit=autocommit)
    assert len(got) == MESSAGES and set(got.values()) == {1}
    async with runtime.uow(readonly=True) as uow:
        left = await uow.session.execute(
            select(outbox.OutboxMessage.status, func.count()).group_by(outbox.OutboxMessage.status)
        )
        assert dict(left.all()) == {"done": MESSAGES}


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_control_a_read_then_lease_claim_hands_messages_out_twice(runtime):
    got = await _claim_all(runtime, naive_outbox_claim)
    assert max(got.values()) > 1, "the race test would not catch a double claim"
