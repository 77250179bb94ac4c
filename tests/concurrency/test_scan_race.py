"""A ticket is admitted at most as many times as it allows, however many gates scan it at the same moment.

Twenty concurrent scans of one ticket, each in its own unit of work (own connection, own transaction), on
SQLite and PostgreSQL. The control run swaps in the naive redeemer (stale read, check in Python, absolute
write) and must see a double admission, which shows that the test can catch one.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from piaowu.checkin import service as checkin
from piaowu.checkin.models import Scan
from piaowu.checkin.schemas import ScanIn, ScanOut
from piaowu.runtime import Runtime
from piaowu.tickets.models import Ticket
from piaowu.tickets.service import REDEEM_STRATEGY_KEY
from tests.concurrency.naive import NaiveRedeemer
from tests.factories import owner_actor
from tests.ticket_fixtures import at_the_door, issue_paid

N = 20


async def _warm(rt: Runtime) -> None:
    """Open the connections first, so that the race is between scans and not between connection set-ups."""

    async def touch() -> None:
        async with rt.db.read_sessions() as s:
            await s.execute(select(1))
            await asyncio.sleep(0.05)
        async with rt.uow() as uow:
            await uow.session.execute(select(1))

    await asyncio.gather(*(touch() for _ in range(N)))


async def _race(rt: Runtime, actor, raw: str) -> list[ScanOut]:  # noqa: ANN001
    async def one(i: int) -> ScanOut:
        async with rt.uow() as uow:
            out = await checkin.scan(uow, actor, ScanIn(raw=raw, gate=f"gate-{i}"))
            await uow.commit()
            return out

    return list(await asyncio.gather(*(one(i) for i in range(N))))


async def _entries_and_scans(rt: Runtime, ticket_id: str) -> tuple[int, int, int]:
    async with rt.uow(readonly=True) as uow:
        used = (await uow.session.execute(select(Ticket.entries_used).where(Ticket.id == ticket_id))).scalar_one()
        scans = (await uow.session.execute(select(func.count()).select_from(Scan))).scalar_one()
        admitted = (
            await uow.session.execute(select(func.count()).select_from(Scan).where(Scan.result == "admitted"))
        ).scalar_one()
    return used, scans, admitted


@pytest.mark.slow
@pytest.mark.parametrize("form", ["qr", "typed"])
async def test_twenty_gates_admit_one_ticket_once(runtime, tenant, form):
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor)
    at_the_door(runtime, issued)
    await _warm(runtime)
    raw = issued.ticket.qr_payload if form == "qr" else issued.ticket.code
    results = await _race(runtime, actor, raw)
    assert sum(r.admitted for r in results) == 1
    assert {r.result for r in results if not r.admitted} == {"already_checked_in"}
    winner = next(r for r in results if r.admitted)
    losers = [r for r in results if not r.admitted]
    assert all(r.previous.gate == winner.gate for r in losers)  # each loser names the gate that won
    assert await _entries_and_scans(runtime, issued.ticket.id) == (1, N, 1)


@pytest.mark.slow
async def test_control_naive_redeem_admits_twice(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor)
    at_the_door(runtime, issued)
    await _warm(runtime)
    runtime.strategies[REDEEM_STRATEGY_KEY] = NaiveRedeemer(runtime.db.read_sessions)
    try:
        results = await _race(runtime, actor, issued.ticket.code)
    finally:
        runtime.strategies.pop(REDEEM_STRATEGY_KEY)
    admitted = sum(r.admitted for r in results)
    assert admitted > 1, "the naive redeemer should admit one ticket several times; the race test is blind"
    used, scans, admitted_rows = await _entries_and_scans(runtime, issued.ticket.id)
    assert admitted_rows == admitted and scans == N
    assert used < admitted  # absolute writes lost updates: the counter no longer matches who got in
