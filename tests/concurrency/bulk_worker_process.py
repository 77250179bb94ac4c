"""A bulk-job worker in an OS process of its own, for tests that kill it (``test_session_cancel_sigkill.py``).

Run as ``python -m tests.concurrency.bulk_worker_process`` with the PIAOWU_* settings of the test's runtime in
the environment (database URL, secret key, var dir). It builds a Runtime as a server process does and runs
``workers.bulk.run_bulk_jobs`` tick after tick until a tick finds nothing to do, then prints one JSON line:
``{"handled": <subjects>, "worker": <lease owner>, "now": <its clock at the end>}``.

Test-only knobs (environment variables read here and nowhere else):

- ``BULK_PROC_CLOCK_START``: ISO instant its clock starts from (the test's frozen "now"); the clock then runs
  with real time, so the leases it writes are those of a live process started at that instant;
- ``BULK_PROC_STALL_ON``: an order id; inside that order's transaction, after its change and before its commit
  (``bulk.HOOK_KEY``), the process stops and waits to be killed — the worst moment to die. If nobody kills it
  within ``BULK_PROC_STALL_SECONDS`` (or its parent is gone) it exits with status 3, without committing.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import datetime, timedelta

from piaowu.config import Settings
from piaowu.runtime import build_runtime
from piaowu.workers import bulk

CLOCK_START = "BULK_PROC_CLOCK_START"
STALL_ON = "BULK_PROC_STALL_ON"
STALL_SECONDS = "BULK_PROC_STALL_SECONDS"
STALLED_EXIT = 3
TICK_ITEMS = 50


class TickingClock:
    """Starts at a given instant and runs with real (monotonic) time from there."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)


def _stall_hook(order_id: str, seconds: float):  # noqa: ANN202
    parent = os.getppid()

    def hook(job_id: str, subject: str) -> None:
        if subject != order_id:
            return
        # A blocking sleep on purpose: the event loop stops with this order's transaction open (idle in
        # transaction on the server), as a process frozen or killed between its last statement and its commit.
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and os.getppid() == parent:
            time.sleep(0.05)
        os._exit(STALLED_EXIT)  # never commit: the test expected to kill us here

    return hook


async def main() -> None:
    settings = Settings()  # PIAOWU_* from the environment, as a server process reads them
    rt = build_runtime(settings, clock=TickingClock(datetime.fromisoformat(os.environ[CLOCK_START])))
    if stall_on := os.environ.get(STALL_ON):
        rt.extras[bulk.HOOK_KEY] = _stall_hook(stall_on, float(os.environ.get(STALL_SECONDS, "60")))
    handled = 0
    try:
        while n := await bulk.run_bulk_jobs(rt, max_items=TICK_ITEMS):
            handled += n
    finally:
        await rt.db.dispose()
    print(json.dumps({"handled": handled, "worker": bulk.worker_id(rt), "now": rt.clock.now().isoformat()}))


if __name__ == "__main__":
    asyncio.run(main())
