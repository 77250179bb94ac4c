"""Drain the outbox: run each message's handler after the transaction that wrote it has committed.

Handlers are idempotent (a message may run twice if a worker dies between the effect and marking it done).
Failures are retried with backoff; after ``MAX_ATTEMPTS`` a message is kept as ``dead`` for an operator.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp

from piaowu.core.events import Topic
from piaowu.db import outbox
from piaowu.payments import service as payments
from piaowu.payments.sandbox_gateway import SIGNATURE_HEADER, signed_notification
from piaowu.runtime import Runtime

log = logging.getLogger("piaowu.outbox")

Handler = Callable[[Runtime, dict[str, Any]], Awaitable[None]]


class DeliveryFailed(Exception):
    pass


# How many messages one drain runs at once: deliveries wait on the network, not on this process.
CONCURRENCY = 16


_SESSION = "outbox_http_session"


async def post(rt: Runtime, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST ``body`` to ``url`` → (status, text). One aiohttp session per process, its connections kept alive up to
    ``IN_FLIGHT`` (the deliveries that run at once), closed with the runtime. Not httpx's client: in a paid flash
    sale its pool opened a connection per delivery past its 20 kept ones, and a larger pool scans (and polls) every
    connection on each request — the sandbox's notification took 109 / 578 / 905 ms (p50 / p90 / p99) from its POST
    to the server's application, against 19–20 / 41–53 / 68–103 ms with aiohttp at the same load
    (docs/benchmarks.md, "paidride"). Tests inject an ASGI-backed httpx client factory under
    ``extras["http_client"]``."""
    factory = rt.extras.get("http_client")
    if factory is not None:
        async with factory() as client:
            resp = await client.post(url, content=body, headers=headers)
            return resp.status_code, resp.text
    session = rt.extras.get(_SESSION)
    if session is None or session.closed:
        connector = aiohttp.TCPConnector(limit=IN_FLIGHT, limit_per_host=IN_FLIGHT)
        session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10))
        rt.extras[_SESSION] = session
        rt.on_close.append(session.close)
    async with session.post(url, data=body, headers=headers) as resp:
        return resp.status, await resp.text()


async def deliver_sandbox_callback(rt: Runtime, payload: dict[str, Any]) -> None:
    """The sandbox gateway notifying the merchant, as a real gateway would: POST, retry until ``success``."""
    body, signature = signed_notification(rt.secret_key, payload)
    status, text = await post(
        rt, payload["url"], body, {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
    )
    if status != 200 or text.strip() != "success":
        raise DeliveryFailed(f"merchant answered {status}: {text[:200]}")


async def run_refund(rt: Runtime, payload: dict[str, Any]) -> None:
    """Pay a refund out through its provider. Three short steps, so that no transaction of ours — no row lock,
    no SQLite write lock — is held across the provider's network call: read what to ask, ask (in a unit of work
    that is the provider's alone), then record the answer with a conditional update."""
    async with rt.uow(readonly=True) as uow:
        call = await payments.refund_call(uow, payload["refund_id"])
    if call is None:
        return
    async with rt.uow() as uow:
        result = await payments.call_provider_refund(uow, call)
        await uow.commit()
    async with rt.uow() as uow:
        await payments.record_refund_result(uow, call, result)
        await uow.commit()


# Only topics with a handler are queued at all (``core.events.QUEUED``, checked against this table by
# tests/unit/test_outbox_topics.py): an event nobody reacts to would cost a row, a claim and a mark per order.
async def keep_session_cancelled_notice(rt: Runtime, payload: dict[str, Any]) -> None:
    """The buyer's SMS/e-mail about a cancelled session is a later issue; the done row keeps its contract."""


HANDLERS: dict[str, Handler] = {
    Topic.SANDBOX_CALLBACK: deliver_sandbox_callback,
    Topic.REFUND_REQUESTED: run_refund,
    Topic.ORDER_SESSION_CANCELLED: keep_session_cancelled_notice,
}


def gateway_topics(rt: Runtime) -> tuple[frozenset[str] | None, frozenset[str]]:
    """(topics, skip_topics) this process delivers: with the sandbox gateway in its own process
    (``sandbox_gateway_url``), its notifications are that process's to deliver, as a real gateway's are."""
    own = frozenset({Topic.SANDBOX_CALLBACK})
    if rt.extras.get("role") == "gateway":
        return own, frozenset()
    return None, own if rt.settings.sandbox_gateway_url else frozenset()


async def claim(rt: Runtime, limit: int) -> list[outbox.Claimed]:
    """Claim up to ``limit`` due messages of this process's topics: one statement in an autocommit unit of work
    (no BEGIN … COMMIT around it on PostgreSQL: the claim is atomic by itself)."""
    async with rt.uow(autocommit=True) as uow:
        topics, skip = gateway_topics(rt)
        claimed = await outbox.claim_batch(uow.session, uow.now(), limit=limit, topics=topics, skip_topics=skip)
        await uow.commit()
    return claimed


async def settle(rt: Runtime, done: Sequence[str], failed: Sequence[tuple[outbox.Claimed, str]]) -> None:
    """Mark delivered messages done (one statement) and failed ones for a retry with backoff, in autocommit: the
    marks need no common transaction — a process that dies before them leaves the messages claimed until their
    lease ends, then they run again, as after a death during the deliveries (handlers are idempotent)."""
    async with rt.uow(autocommit=True) as uow:
        await outbox.mark_done(uow.session, done)
        for msg, error in failed:
            await outbox.mark_failed(uow.session, msg, uow.now(), error)
        await uow.commit()


async def drain(rt: Runtime, batch: int = 50) -> int:
    """Run the due messages, up to ``CONCURRENCY`` at once (one after the other, a slow merchant endpoint or a
    busy database would make every later notification wait), then mark them: one statement claims the batch and
    one marks the successes done. → how many succeeded. The worker's loop delivers with ``Deliveries`` instead
    (no message waits for a batch); this is the whole round at once, for the periodic jobs and the tests."""
    claimed = await claim(rt, batch)
    if not claimed:
        return 0
    gate = asyncio.Semaphore(CONCURRENCY)

    async def run(msg: outbox.Claimed) -> str | None:
        async with gate:
            return await _run_one(rt, msg)

    errors = await asyncio.gather(*(run(msg) for msg in claimed))
    await settle(
        rt,
        [m.id for m, e in zip(claimed, errors, strict=True) if e is None],
        [(m, e) for m, e in zip(claimed, errors, strict=True) if e is not None],
    )
    return sum(e is None for e in errors)


# Deliveries in flight at once per process (``Deliveries``): what four drains of CONCURRENCY each allowed.
IN_FLIGHT = 4 * CONCURRENCY
# How long ``Deliveries`` gathers ended deliveries before marking them (well inside a claim's 60 s lease).
MARK_AFTER_S = 0.05


class Deliveries:
    """The outbox delivered as messages come (the worker's outbox loop calls ``feed`` on each wake-up and tick).

    A claim starts each message's delivery at once, as a task of its own, and returns: no message waits for the
    slowest delivery of a batch claimed before it (with drains of a batch each, a notification committed while
    every drain waited on slow deliveries waited for one of those batches to end before it was even claimed —
    the gateway's share of a paid order's tail, bench/flash_sale.py --timeline). Marks are coalesced: the
    deliveries that end within ``MARK_AFTER_S`` of each other, or while a mark is being written, are marked
    together, so a busy outbox writes about one claim per wake-up and one mark per ``MARK_AFTER_S``, not one of
    each per message. At most ``limit`` deliveries run at once; a claim that filled every free slot asks for
    another wake-up (``wake``) when one frees."""

    def __init__(self, limit: int = IN_FLIGHT) -> None:
        self.limit = limit
        self._running: set[asyncio.Task[None]] = set()
        self._done: list[str] = []
        self._failed: list[tuple[outbox.Claimed, str]] = []
        self._marking: asyncio.Task[None] | None = None
        self._full = False
        self._wake: Callable[[], None] = lambda: None

    @property
    def running(self) -> int:
        return len(self._running)

    async def feed(self, rt: Runtime, wake: Callable[[], None]) -> int:
        """Claim what is due, up to the free slots, and start delivering it. → how many were claimed."""
        self._wake = wake
        free = self.limit - len(self._running)
        if free <= 0:
            self._full = True
            return 0
        claimed = await claim(rt, free)
        self._full = len(claimed) >= free
        for msg in claimed:
            task = asyncio.create_task(self._deliver(rt, msg), name="piaowu-outbox-delivery")
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return len(claimed)

    async def _deliver(self, rt: Runtime, msg: outbox.Claimed) -> None:
        error = await _run_one(rt, msg)
        if error is None:
            self._done.append(msg.id)
        else:
            self._failed.append((msg, error))
        if self._marking is None:
            self._marking = asyncio.create_task(self._mark(rt), name="piaowu-outbox-mark")
        if self._full:  # a claim left messages due for want of a slot: this one is free now
            self._full = False
            self._wake()

    async def _mark(self, rt: Runtime) -> None:
        try:
            while self._done or self._failed:
                # Deliveries ending meanwhile are marked with these: the marks are no one's wait (a message stays
                # claimed for its lease), and a busy outbox writes fewer of them.
                await asyncio.sleep(MARK_AFTER_S)
                done, self._done = self._done, []
                failed, self._failed = self._failed, []
                try:
                    await settle(rt, done, failed)
                except Exception as exc:  # unmarked: claimed until the lease ends, then delivered again
                    log.warning("outbox: marking %d messages failed: %s", len(done) + len(failed), exc)
        finally:
            self._marking = None

    def cancel(self) -> None:
        """Stop every delivery and mark (at shutdown): unmarked messages run again once their lease ends."""
        for task in [*self._running, *([self._marking] if self._marking else [])]:
            task.cancel()


async def _run_one(rt: Runtime, msg: outbox.Claimed) -> str | None:
    """→ None when the handler succeeded, else the error to record."""
    handler = HANDLERS.get(msg.topic)
    try:
        if handler is None:
            raise DeliveryFailed(f"no handler for topic {msg.topic}")
        await handler(rt, msg.payload)
    except Exception as exc:  # a failing message is retried later; it must not stop the others
        log.warning("outbox %s (%s) failed: %s", msg.id, msg.topic, exc)
        return f"{type(exc).__name__}: {exc}"
    return None
