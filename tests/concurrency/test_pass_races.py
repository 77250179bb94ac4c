"""Each entitlement of a pass is redeemed on its own, atomically (SQLite and PostgreSQL).

- twenty gates of one attraction scan one combo pass at the same moment → exactly one admits, that part is used
  once and the ticket's sum agrees;
- gates of attractions A and B scan the same passes at the same moment → every scan admits: the ticket's lock
  serializes them, the per-part conditions let both through;
- twenty gates of a park scan a multi-day pass on a new day at the same moment → all admit (re-entry on a counted
  day is free), exactly one of them counts the day, and the day is listed once;
- control: the naive redeemer (stale read, check in Python, absolute write: tests/concurrency/naive.py) admits
  one part of one pass several times, which shows the first test can catch it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from piaowu.checkin import service as checkin
from piaowu.checkin.schemas import ScanIn, ScanOut
from piaowu.runtime import Runtime
from piaowu.tickets.models import Ticket, TicketEntitlement
from piaowu.tickets.service import REDEEM_STRATEGY_KEY
from tests.concurrency.ledger import settle, warm
from tests.concurrency.naive import NaiveRedeemer
from tests.factories import owner_actor
from tests.ticket_fixtures import Issued, at_the_door, attractions, issue_paid, set_grants

N = 20


async def _combo(rt: Runtime, actor, n: int = 1) -> tuple[list[str], Issued]:  # noqa: ANN001
    """``n`` combo passes over two attractions (one entry at each); → the sessions and the issued passes."""
    a, b = await attractions(rt, actor, 2)
    await set_grants(rt, actor, a.ticket_type_id, {"session_id": a.session_id}, {"session_id": b.session_id})
    issued = await issue_paid(rt, actor, a, n=n)
    at_the_door(rt, issued)
    await warm(rt, N)
    return [a.session_id, b.session_id], issued


async def _scan(rt: Runtime, actor, raw: str, session_id: str, gate: str) -> ScanOut:  # noqa: ANN001
    async with rt.uow() as uow:
        out = await checkin.scan(uow, actor, ScanIn(raw=raw, gate=gate, session_ids=[session_id]))
        await uow.commit()
        return out


async def _uses(rt: Runtime, ticket_id: str) -> tuple[list[int], int]:
    async with rt.uow(readonly=True) as uow:
        s = uow.session
        parts = (
            await s.execute(
                select(TicketEntitlement.used)
                .where(TicketEntitlement.ticket_id == ticket_id)
                .order_by(TicketEntitlement.position)
            )
        ).scalars()
        total = (await s.execute(select(Ticket.entries_used).where(Ticket.id == ticket_id))).scalar_one()
        return list(parts), total


def _outs(outcomes: list) -> list[ScanOut]:
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert not errors, errors
    return outcomes


@pytest.mark.slow
async def test_twenty_gates_of_one_attraction_admit_one_pass_once(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    (a, b), issued = await _combo(runtime, actor)
    raw = issued.ticket.qr_payload
    outs = _outs(await settle(_scan(runtime, actor, raw, b, f"B-{i}") for i in range(N)))
    assert sum(o.admitted for o in outs) == 1
    assert {o.result for o in outs if not o.admitted} == {"already_checked_in"}
    assert {o.entitlement for o in outs} == {1}
    assert await _uses(runtime, issued.ticket.id) == ([0, 1], 1)
    # The other attraction's part is untouched and still admits.
    assert (await _scan(runtime, actor, raw, a, "A")).admitted


@pytest.mark.slow
async def test_gates_of_two_attractions_both_admit_the_same_passes_at_once(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    (a, b), issued = await _combo(runtime, actor, n=N // 2)
    scans = [
        _scan(runtime, actor, t.qr_payload, session, f"{name}-{i}")
        for i, t in enumerate(issued.tickets)
        for session, name in ((a, "A"), (b, "B"))
    ]
    outs = _outs(await settle(scans))
    assert all(o.admitted for o in outs), [o.result for o in outs]
    for t in issued.tickets:
        assert await _uses(runtime, t.id) == ([1, 1], 2)


@pytest.mark.slow
async def test_twenty_gates_count_a_new_day_of_a_multi_day_pass_once(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    (park,) = await attractions(runtime, actor, 1)
    grant = {"event_id": park.event_id, "mode": "days", "allowed": 2, "window_days": 3}
    await set_grants(runtime, actor, park.ticket_type_id, grant)
    issued = await issue_paid(runtime, actor, park)
    at_the_door(runtime, issued)
    await warm(runtime, N)
    outs = _outs(await settle(_scan(runtime, actor, issued.ticket.code, park.session_id, f"P-{i}") for i in range(N)))
    assert all(o.admitted for o in outs), [o.result for o in outs]
    assert sum(not o.reentry for o in outs) == 1
    assert await _uses(runtime, issued.ticket.id) == ([1], 1)
    async with runtime.uow(readonly=True) as uow:
        days = (await uow.session.execute(select(TicketEntitlement.days_used))).scalar_one()
    assert days.count(",") == 2  # one day, listed once: ",YYYY-MM-DD,"


@pytest.mark.slow
async def test_control_naive_redeem_admits_one_part_twice(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    (_a, b), issued = await _combo(runtime, actor)
    runtime.strategies[REDEEM_STRATEGY_KEY] = NaiveRedeemer(runtime.db.read_sessions)
    try:
        outs = _outs(await settle(_scan(runtime, actor, issued.ticket.code, b, f"B-{i}") for i in range(N)))
    finally:
        runtime.strategies.pop(REDEEM_STRATEGY_KEY)
    admitted = sum(o.admitted for o in outs)
    assert admitted > 1, "the naive redeemer should admit one part several times; the race test is blind"
