"""The session-cancellation job survives its worker process being killed with SIGKILL halfway.

A session with 200 orders in every state is cancelled. Its job runs in a separate OS process
(``tests/concurrency/bulk_worker_process.py``) which is stopped inside an online order's transaction — after the
refund and ticket voiding were written, before the commit — and killed there with SIGKILL: no handler, no
rollback by the client, the lease left behind. PostgreSQL rolls the open transaction back when the connection
drops. While the dead process's lease runs, another worker leaves the job alone; once it ran out, a new process
resumes the job. Every order ends cancelled or refunded exactly once, refunded == paid for each, the pool holds
nothing and sells only the places used at the gate, every ticket is refused at the gate, the books balance, and
each online payment is refunded exactly once at the gateway. (``test_session_cancel_resume.py`` is the
in-process variant, with two workers racing to resume.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select

from piaowu.app import create_app
from piaowu.audit.models import AuditEvent
from piaowu.bulkjobs.models import BulkJob, BulkJobItem
from piaowu.config import Settings
from piaowu.core.clock import FrozenClock
from piaowu.db.outbox import OutboxMessage
from piaowu.orders import session_cancel
from piaowu.orders.models import Order
from piaowu.payments.models import Payment, Refund, SandboxTransaction
from piaowu.runtime import Runtime, build_runtime
from piaowu.workers import bulk
from tests.cancel_world import (
    REFUNDED_KINDS,
    _scan,
    assert_books_after_cancellation,
    mixed_world,
    places_used,
    refresh_from_provider,
)
from tests.concurrency import bulk_worker_process as child
from tests.concurrency.ledger import in_uow, pools_of
from tests.conftest import make_settings, make_tenant
from tests.factories import owner_actor
from tests.order_helpers import drain, wire_callbacks
from tests.servers import server_env

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ORDERS = 200
EXPIRED = 20
KILL_AT = 100  # the process dies in the first online order at or after this position (1-based)
ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60.0  # for anything the child does; the test takes ~20 s


def _child_env(settings: Settings, start: datetime, stall_on: str | None = None) -> dict[str, str]:
    """The test runtime's settings, as a server process would read them, plus the child's test-only knobs."""
    env = server_env(
        settings.database_url,
        settings.var_dir,
        {
            "PIAOWU_SECRET_KEY": settings.secret_key,
            "PIAOWU_PUBLIC_URL": settings.public_url,
            "PIAOWU_HOLD_MINUTES": str(settings.hold_minutes),
            "PIAOWU_RUN_BACKGROUND_JOBS": "false",
            "PIAOWU_DB_POOL_SIZE": "2",
            child.CLOCK_START: start.isoformat(),
            child.STALL_SECONDS: str(WAIT_S),
        },
    )
    if stall_on:
        env[child.STALL_ON] = stall_on
    return env


@contextlib.contextmanager
def _worker_process(env: dict[str, str], logs: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The child, always reaped: killed (with its process group) if still running when the block ends."""
    with (logs.with_suffix(".out")).open("wb") as out, (logs.with_suffix(".err")).open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.concurrency.bulk_worker_process"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _output(logs: Path) -> str:
    return f"stdout:\n{logs.with_suffix('.out').read_text()}\nstderr:\n{logs.with_suffix('.err').read_text()}"


async def _poll(what: str, check: Callable[[], Awaitable[bool]], proc: subprocess.Popen[bytes], logs: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while not await check():
        if proc.poll() is not None:
            pytest.fail(f"the worker exited ({proc.returncode}) before {what}\n{_output(logs)}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{_output(logs)}")
        await asyncio.sleep(0.05)


async def _open_transactions(pg: asyncpg.Connection) -> int:
    """Other connections to this database sitting in an open transaction for a while (a stalled worker)."""
    return await pg.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND state = 'idle in transaction' AND now() - state_change > interval '300 milliseconds'"
    )


async def _locked(pg: asyncpg.Connection, order_id: str) -> bool:
    try:
        async with pg.transaction():
            await pg.execute("SELECT id FROM orders WHERE id = $1 FOR UPDATE NOWAIT", order_id)
    except asyncpg.LockNotAvailableError:
        return True
    return False


async def _drain_all(rt: Runtime) -> None:
    for _ in range(100):
        if not await drain(rt):
            return
    pytest.fail("the outbox never emptied")


async def test_worker_process_killed_by_sigkill_mid_order_and_resumed_by_another(
    pg_url: str, tmp_path: Path, clock: FrozenClock
) -> None:
    rt = build_runtime(make_settings(tmp_path, pg_url), clock=clock)
    pg = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await _scenario(rt, pg, clock, tmp_path)
    finally:
        await pg.close()
        await rt.db.dispose()


async def _scenario(rt: Runtime, pg: asyncpg.Connection, clock: FrozenClock, tmp_path: Path) -> None:
    tenant = await make_tenant(rt)
    actor = await owner_actor(rt, tenant.owner_id)
    world = await mixed_world(rt, actor, ORDERS, EXPIRED)
    kinds = Counter(world.kinds.values())
    pools = await pools_of(rt, world.sale.session_id)
    await in_uow(rt, lambda uow: session_cancel.cancel_session(uow, actor, world.sale.session_id, "typhoon"))

    # The job takes the session's orders in id order; the process dies in an online order's transaction (a
    # provider refund queued, tickets voided, pool counters moved: the most to lose) about halfway.
    order_ids = sorted(world.kinds)
    done_before = next(i for i in range(KILL_AT - 1, ORDERS) if world.kinds[order_ids[i]] == "online")
    victim = order_ids[done_before]

    # ---- 1. the worker process, killed inside the victim's transaction ----
    logs = tmp_path / "killed"
    with _worker_process(_child_env(rt.settings, clock.now(), stall_on=victim), logs) as proc:

        async def stalled() -> bool:
            items = await pg.fetchval("SELECT count(*) FROM bulk_job_items")
            assert items <= done_before, f"the worker went past the victim ({items} items)"
            return items == done_before and await _open_transactions(pg) == 1

        await _poll("the worker to stop inside the victim's transaction", stalled, proc, logs)
        assert await _locked(pg, victim)  # the victim's row is held by the open transaction
        assert await pg.fetchval("SELECT status FROM orders WHERE id = $1", victim) == "paid"  # not committed
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL

    async def rolled_back() -> bool:  # the server noticed the dropped connection and ended its transaction
        return await _open_transactions(pg) == 0 and not await _locked(pg, victim)

    deadline = time.monotonic() + 10
    while not await rolled_back():
        assert time.monotonic() < deadline, "PostgreSQL kept the dead worker's transaction open"
        await asyncio.sleep(0.05)

    async with rt.uow(readonly=True) as uow:
        job = (await uow.session.execute(select(BulkJob))).scalar_one()
        items = (await uow.session.execute(select(func.count()).select_from(BulkJobItem))).scalar_one()
        victim_order = await uow.session.get_one(Order, victim)
        victim_refunds = (
            await uow.session.execute(select(func.count()).select_from(Refund).where(Refund.order_id == victim))
        ).scalar_one()
    assert (job.status, job.processed, items) == ("running", done_before, done_before)
    assert job.lease_owner is not None and f":{proc.pid}:" in job.lease_owner  # the dead process's lease
    assert job.lease_until is not None and job.lease_until > clock.now()
    assert (victim_order.status, victim_order.refunded_minor, victim_refunds) == ("paid", 0, 0)  # rolled back whole
    dead_lease = job.lease_until

    # ---- 2. while the dead process's lease runs, no other worker touches the job ----
    clock.set(dead_lease - timedelta(seconds=1))
    assert await bulk.run_bulk_jobs(rt, max_items=10_000) == 0
    async with rt.uow(readonly=True) as uow:
        assert (await uow.session.execute(select(func.count()).select_from(BulkJobItem))).scalar_one() == items

    # ---- 3. a new process, started once the lease ran out, resumes and finishes the job ----
    logs = tmp_path / "resumed"
    resume_at = dead_lease + timedelta(seconds=1)
    with _worker_process(_child_env(rt.settings, resume_at), logs) as proc2:
        deadline = time.monotonic() + WAIT_S
        while proc2.poll() is None:
            assert time.monotonic() < deadline, f"the resuming worker did not finish\n{_output(logs)}"
            await asyncio.sleep(0.1)
        assert proc2.returncode == 0, _output(logs)
    out = json.loads(logs.with_suffix(".out").read_text().splitlines()[-1])
    assert out["handled"] == ORDERS - done_before  # the rest, nothing twice
    assert out["worker"] != job.lease_owner

    # ---- 4. the books, after the outbox ran (provider refunds) and the late payments landed ----
    clock.set(datetime.fromisoformat(out["now"]) + timedelta(seconds=1))
    wire_callbacks(rt, create_app(runtime=rt))
    await _drain_all(rt)
    for oid, kind in world.kinds.items():  # buyers who paid at the gateway but were not confirmed before
        if kind == "late":
            await refresh_from_provider(rt, actor.organizer_id, oid)
    await _drain_all(rt)

    await assert_books_after_cancellation(rt, world, pools)
    affected = [o for o, k in world.kinds.items() if k not in ("cancelled", "expired")]

    async with rt.uow(readonly=True) as uow:
        s = uow.session
        out_job = await session_cancel.cancellation(uow, actor, world.sale.session_id)
        per_order = Counter(
            (r.subject_id, r.action)
            for r in (
                await s.execute(
                    select(AuditEvent.subject_id, AuditEvent.action).where(
                        AuditEvent.actor == "system:session-cancel",
                        AuditEvent.action.in_(["order.refunded", "order.cancelled"]),
                    )
                )
            ).all()
        )
        all_items = list((await s.execute(select(BulkJobItem))).scalars())
        pending_outbox = (
            await s.execute(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "done"))
        ).scalar_one()
        online = list(
            (
                await s.execute(
                    select(Payment).where(
                        Payment.order_id.in_(list(world.kinds)),
                        Payment.provider == "sandbox",
                        Payment.status == "succeeded",
                    )
                )
            ).scalars()
        )
        refunds = list((await s.execute(select(Refund).where(Refund.order_id.in_(list(world.kinds))))).scalars())
        trades = {t.trade_no: t for t in (await s.execute(select(SandboxTransaction))).scalars()}

    assert max(per_order.values()) == 1 and len(per_order) == len(affected)  # each order changed once
    assert len(all_items) == ORDERS and {i.subject_id for i in all_items} == set(world.kinds)
    assert {i.status for i in all_items} == {"done"}
    assert (out_job.status, out_job.processed, out_job.failed) == ("done", ORDERS, 0)
    assert out_job.refunded == sum(kinds[k] for k in REFUNDED_KINDS)
    assert out_job.cancelled == kinds["pending"] + kinds["late"]
    assert out_job.skipped == kinds["cancelled"] + kinds["expired"]
    assert out_job.refunded_minor == out_job.refunded * world.sale.price_minor
    assert out_job.report["pool_sold"] == places_used(world) and out_job.report["refunds_failed"] == []
    assert pending_outbox == 0  # every provider refund ran, none failed or waits for a retry
    assert {r.status for r in refunds} == {"succeeded"}

    # The gateway paid each online payment back exactly once: one refund id in its ledger, the whole amount.
    assert len(online) == kinds["online"] + kinds["late"]
    for p in online:
        mine = [r.id for r in refunds if r.payment_id == p.id]
        trade = trades[p.provider_ref]
        assert len(mine) == 1, (world.kinds[p.order_id], mine)
        assert [x for x in trade.note.split(",") if x] == mine
        assert trade.refunded_minor == trade.amount_minor == p.amount_minor == p.refunded_minor

    for qr in [world.qr[victim], *list(world.qr.values())[:10]]:
        assert await _scan(rt, actor, qr) == "session_cancelled"
