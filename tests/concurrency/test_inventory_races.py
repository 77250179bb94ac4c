"""Many buyers, few units: the inventory engine never sells a unit twice, on SQLite and PostgreSQL.

Every buyer is its own task with its own unit of work (own connection, own transaction), started together
with ``asyncio.gather``. After each race the pool counters must equal the rows they summarise
(``tests/concurrency/ledger.py`` defines that precisely) and never exceed capacity.

Each race has its control run: the same race with the guard switched off (a naive check-then-act strategy
injected through ``runtime.strategies["inventory.reserve"]``) must oversell — otherwise the race test would
be blind.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from piaowu.core.errors import SoldOut
from piaowu.inventory import service as inventory
from piaowu.inventory.rules import Take
from piaowu.inventory.service import STRATEGY_KEY
from piaowu.inventory.strategies import Refusal
from piaowu.orders.models import Order
from piaowu.orders.schemas import OrderOut
from piaowu.workers import sweeper
from tests.concurrency.ledger import assert_ledger, buy, codes, in_uow, ledger, pools_of, settle, warm
from tests.concurrency.naive import NaiveStrategy
from tests.factories import on_sale_session, owner_actor

pytestmark = pytest.mark.slow


class SplitTransactionNaive(NaiveStrategy):
    """The naive strategy, with its check in a transaction of its own.

    On SQLite every write transaction begins with ``BEGIN IMMEDIATE``, which takes the database's write lock
    before the first statement; ``create_order`` reads the catalog first, so the naive strategy's "stale" read
    happens while this transaction already holds the lock and nobody can have changed the pool — SQLite
    serializes the in-transaction check-then-act completely. The realistic form of the bug on a single-writer
    database is a check and a write in two transactions (read availability, then open the write): this
    variant ends the transaction (nothing has been written yet), reads, waits a network hop, and writes the
    absolute value it computed in a new transaction. On PostgreSQL the plain ``NaiveStrategy`` oversells.
    """

    async def take(self, session: AsyncSession, organizer_id: str, takes: Sequence[Take], *rest: Any) -> Refusal | None:
        assert not session.new and not session.dirty, "the split must not commit anything of the order"
        await session.commit()
        return await super().take(session, organizer_id, takes, *rest)


@asynccontextmanager
async def naive_reserve(runtime):  # noqa: ANN001, ANN201
    """Inject the naive strategy for the block. On PostgreSQL the read and write engines are one pool: 60
    tasks each holding a write connection and waiting for a read one would exhaust it, so the naive reads
    get an engine of their own — as large as the runtime's pool (at most that many tasks hold a write
    connection at once), not larger: PostgreSQL's own limit (max_connections, 100 by default) is shared with
    everything else running."""
    if runtime.db.dialect == "sqlite":
        runtime.strategies[STRATEGY_KEY] = SplitTransactionNaive(runtime.db.read_sessions)
        engine = None
    else:
        engine = create_async_engine(runtime.db.url, pool_size=32, max_overflow=0)  # above db.engine's 24
        runtime.strategies[STRATEGY_KEY] = NaiveStrategy(async_sessionmaker(engine, expire_on_commit=False))
    try:
        yield
    finally:
        runtime.strategies.pop(STRATEGY_KEY)
        if engine is not None:
            await engine.dispose()


def units(outcomes: list) -> int:  # noqa: ANN001
    return sum(len(o.lines) for o in outcomes if isinstance(o, OrderOut))


async def test_sixty_buyers_twenty_units_single_pool(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=20)
    await warm(runtime, 16)
    outcomes = await settle(buy(runtime, actor, sale.ticket_type_id) for _ in range(60))
    assert codes(outcomes) == {"ok": 20, "sold_out": 40}
    books = await assert_ledger(runtime, await pools_of(runtime, sale.session_id))
    (book,) = books.values()
    assert (book.held, book.sold) == (20, 0)


async def test_mixed_quantities_over_a_quota_inside_a_session_pool(runtime, tenant):
    """Type A (quota 12) and type B share a session pool of 30; buyers ask for 1–3 of either. Takes are
    all-or-nothing over both pools, and a refusal is never wrong: what was refused is unavailable at the end
    too (units only go down in this race)."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=30, quota=12, second_type=True)
    assert sale.other_ticket_type_id
    rnd = random.Random(7)
    asks = [(rnd.choice([sale.ticket_type_id, sale.other_ticket_type_id]), rnd.randint(1, 3)) for _ in range(60)]
    await warm(runtime, 16)
    outcomes = await settle(buy(runtime, actor, tt, q) for tt, q in asks)
    assert set(codes(outcomes)) <= {"ok", "sold_out"}, [repr(o) for o in outcomes[:2]]
    session_pool, quota_pool = await pools_of(runtime, sale.session_id)
    books = await assert_ledger(runtime, [session_pool, quota_pool])
    took_a = sum(
        q for (tt, q), o in zip(asks, outcomes, strict=True) if tt == sale.ticket_type_id and o.__class__ is OrderOut
    )
    assert books[quota_pool].held == took_a <= 12
    assert books[session_pool].held == units(outcomes) <= 30
    left_session = 30 - books[session_pool].held
    left_a = min(left_session, 12 - books[quota_pool].held)
    for (tt, q), o in zip(asks, outcomes, strict=True):
        if isinstance(o, SoldOut):
            assert q > (left_a if tt == sale.ticket_type_id else left_session), (tt, q, left_a, left_session)


async def test_control_naive_reserve_oversells(runtime, tenant):
    """The guard switched off: the same race must oversell, or the tests above prove nothing."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=20)
    await warm(runtime, 16)
    async with naive_reserve(runtime):
        outcomes = await settle(buy(runtime, actor, sale.ticket_type_id) for _ in range(60))
    assert set(codes(outcomes)) <= {"ok", "sold_out"}, [repr(o) for o in outcomes if isinstance(o, Exception)][:3]
    (book,) = (await ledger(runtime, await pools_of(runtime, sale.session_id))).values()
    # More orders than units were accepted, and the counter lost updates: it no longer matches the holds.
    assert units(outcomes) > 20, "the naive strategy should oversell; the race test is blind"
    assert book.held_rows == units(outcomes) and book.held < book.held_rows


async def test_expired_holds_come_back_while_buyers_race_for_them(runtime, tenant, clock):
    """20 pending orders and 5 bare holds expire; two sweepers (one per server worker) and 40 buyers run at
    once. Every unit comes back exactly once and no unit is lost: afterwards exactly 20 + 5 can be sold."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=25)
    (pool,) = await pools_of(runtime, sale.session_id)
    first = [await buy(runtime, actor, sale.ticket_type_id) for _ in range(20)]
    for _ in range(5):  # holds whose owner vanished: only the hold sweeper returns them
        await in_uow(
            runtime,
            lambda uow: inventory.reserve(uow, tenant.organizer_id, [Take(pool, 1)], expires_at=uow.now()),
        )
    assert isinstance((await settle([buy(runtime, actor, sale.ticket_type_id)])).pop(), SoldOut)
    clock.advance(timedelta(minutes=16))
    await warm(runtime, 16)

    # The background jobs, as each server worker runs them (one transaction per order or hold).
    sweepers = [job(runtime) for job in (sweeper.expire_orders, sweeper.release_expired_holds) * 2]
    outcomes = await settle([*sweepers, *(buy(runtime, actor, sale.ticket_type_id) for _ in range(40))])
    swept, bought = outcomes[:4], outcomes[4:]
    assert all(isinstance(n, int) for n in swept), swept
    assert set(codes(bought)) <= {"ok", "sold_out"}, codes(bought)
    # Each order was expired by exactly one sweeper; the hold sweeper may have beaten the order sweeper to
    # some order holds (each hold is closed once either way, which the ledger below proves).
    assert swept[0] + swept[2] == 20 and 5 <= swept[1] + swept[3] <= 25, swept
    await assert_ledger(runtime, [pool])
    async with runtime.uow(readonly=True) as uow:
        statuses = (
            await uow.session.execute(select(Order.status).where(Order.id.in_([o.id for o in first])))
        ).scalars()
        assert set(statuses) == {"expired"}

    rest = await settle(buy(runtime, actor, sale.ticket_type_id) for _ in range(30))
    assert units(bought) + units(rest) == 25
    (book,) = (await assert_ledger(runtime, [pool])).values()
    assert book.held == 25 and book.sold == 0
