"""The in-process background loop: releases expired holds, expires orders, drains the outbox.

Each uvicorn worker runs one. Every job is a conditional update or a claimed outbox row, so two loops never
do the same work twice. Jobs register here by name; they receive the Runtime and must not raise for one bad
row (each job isolates its own failures).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from piaowu.db.engine import is_busy
from piaowu.runtime import Runtime

log = logging.getLogger("piaowu.worker")


def log_failure(name: str, exc: BaseException) -> None:
    """A background job failed and will be retried (next tick or wake-up). A busy database (a lock not granted
    in time, SQLite's "database is locked" while another process writes, no connection free) is an expected,
    passing condition: one line, not a traceback. Anything else is a fault worth its traceback."""
    if is_busy(exc):
        log.warning("background job %s: database busy, retried later (%s)", name, type(exc).__name__)
    else:
        log.error("background job %s failed", name, exc_info=exc)


Job = Callable[[Runtime], Awaitable[int]]


class OutboxFeed(Protocol):
    """The outbox's delivery (``workers.outbox_dispatch.Deliveries``): ``feed`` claims what is due and starts its
    deliveries without waiting for them; it calls ``wake`` when it should be fed again (a slot freed)."""

    async def feed(self, rt: Runtime, wake: Callable[[], None]) -> int: ...

    def cancel(self) -> None: ...


class Worker:
    def __init__(
        self, rt: Runtime, jobs: list[tuple[str, Job]], interval_s: float, *, outbox: OutboxFeed | None = None
    ) -> None:
        self.rt = rt
        self.jobs = jobs
        self.interval_s = interval_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # The outbox has a loop of its own: a payment notification waits for nothing but the messages before it
        # (not for a run of every periodic job); each delivery starts when its message is claimed.
        self.outbox = outbox
        self._outbox_wake = asyncio.Event()
        self._outbox_task: asyncio.Task[None] | None = None
        self._spawned: dict[str, asyncio.Task[object]] = {}

    def spawn(self, name: str, work: Callable[[], Awaitable[object]]) -> bool:
        """Run long work (e.g. provider queries) beside the loop, so expiry and the outbox keep their pace; at
        most one at a time per name. → False when the previous one is still running. Cancelled by ``stop``."""
        running = self._spawned.get(name)
        if running is not None and not running.done():
            return False

        async def guarded() -> object:
            try:
                return await work()
            except Exception as exc:  # logged like a failing job; the next tick may spawn it again
                log_failure(name, exc)
                return None

        self._spawned[name] = asyncio.create_task(guarded(), name=f"piaowu-{name}")
        return True

    def wake(self) -> None:
        """Run the jobs now instead of at the next tick (e.g. a bulk job was queued)."""
        self._wake.set()

    def wake_outbox(self) -> None:
        """Drain the outbox now (an outbox message was committed, e.g. a gateway notification to deliver)."""
        if self.outbox is None:
            self._wake.set()
        else:
            self._outbox_wake.set()

    async def _outbox_loop(self) -> None:
        """Claim and start delivering what is due on each wake-up (a message was committed, a delivery slot
        freed) and each tick (retries coming due); deliveries run beside the loop (``OutboxFeed``). Wake-ups
        during a claim are coalesced into one claim after it."""
        assert self.outbox is not None
        while True:
            self._outbox_wake.clear()
            try:
                await self.outbox.feed(self.rt, self.wake_outbox)
            except Exception as exc:  # retried on the next wake or tick
                log_failure("outbox", exc)
            try:
                await asyncio.wait_for(self._outbox_wake.wait(), timeout=self.interval_s)
            except TimeoutError:
                pass

    async def run_once(self) -> dict[str, int]:
        done: dict[str, int] = {}
        for name, job in self.jobs:
            try:
                done[name] = await job(self.rt)
            except Exception as exc:  # one failing job must not stop the others; it is retried next tick
                log_failure(name, exc)
                done[name] = -1
        return done

    async def _loop(self) -> None:
        while True:
            await self.run_once()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)
            except TimeoutError:
                pass
            self._wake.clear()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="piaowu-worker")
        if self.outbox is not None:
            self._outbox_task = asyncio.create_task(self._outbox_loop(), name="piaowu-outbox")

    async def stop(self) -> None:
        for task in self._spawned.values():
            task.cancel()
        if self.outbox is not None:
            self.outbox.cancel()
        for task in (self._task, self._outbox_task):
            if task:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
