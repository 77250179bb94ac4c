"""Payment reconciliation as a job: ask the provider about every payment that may still change, then apply
each answer in a transaction of its own (orders/reconciliation.py). Runs periodically in every server process
(``PIAOWU_RECONCILE_INTERVAL_SECONDS``) and on demand (``piaowu payments reconcile``, the back-office page).

Safe to run from several processes at once and repeatedly: see orders/reconciliation.py. The provider is asked
with no transaction open — it is a network call for a real gateway — and one payment's failure (the provider
down, a row busy) is logged and left for the next run; it never stops the others.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from piaowu.orders import payment_flow, reconciliation
from piaowu.payments import reconciliation as recon
from piaowu.payments.reconcile_rules import Outcome
from piaowu.runtime import Runtime

log = logging.getLogger("piaowu.reconcile")


@dataclass
class ReconcileRun:
    """What one run did: payments checked, and the day's outcome of each (matched / fixed / open / error)."""

    checked: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def fixed(self) -> int:
        return self.outcomes[Outcome.FIXED]


async def reconcile_payments(rt: Runtime, *, since: datetime | None = None, limit: int = 500) -> ReconcileRun:
    """Reconcile every candidate payment (payments/reconciliation.py ``candidates``); closed orders' payments
    are looked at back to ``since`` (default: PIAOWU_RECONCILE_DAYS ago)."""
    s = rt.settings
    grace = timedelta(seconds=s.reconcile_grace_seconds)
    since = since or rt.clock.now() - timedelta(days=s.reconcile_days)
    async with rt.uow(readonly=True) as uow:
        ids = await recon.candidates(uow, since=since, grace=grace, limit=limit)
    run = ReconcileRun()
    for payment_id in ids:
        try:
            async with rt.uow(readonly=True) as uow:
                answer = await recon.ask(uow, payment_id)
            if answer is None:
                continue
            async with rt.uow() as uow:
                outcome = await reconciliation.apply_answer(uow, answer, refund_grace=grace)
                await uow.commit()
        except Exception:  # this payment is tried again next run; the others go on
            log.exception("reconciling payment %s failed", payment_id)
            run.outcomes["error"] += 1
            continue
        run.checked += 1
        run.outcomes[outcome] += 1
    if run.fixed or run.outcomes[Outcome.OPEN]:
        log.warning("payment reconciliation: %s", dict(run.outcomes))
    return run


async def periodic(rt: Runtime) -> int:
    """The background loop's entry: starts ``reconcile_payments`` once per PIAOWU_RECONCILE_INTERVAL_SECONDS in
    this process (the loop ticks far more often), beside the loop — provider queries must not hold up expiry and
    the outbox. → 1 when a run was started."""
    now = rt.clock.now()
    last = rt.extras.get("reconciled_at")
    if last is not None and now - last < timedelta(seconds=rt.settings.reconcile_interval_seconds):
        return 0
    worker = rt.extras.get("worker")
    if worker is None:  # no loop to run beside (a script): run it here
        rt.extras["reconciled_at"] = now
        await reconcile_payments(rt)
        return 1
    if not worker.spawn("reconcile_payments", lambda: reconcile_payments(rt)):
        return 0  # the last run is still going
    rt.extras["reconciled_at"] = now
    return 1


async def recover_order(rt: Runtime, organizer_id: str, order_id: str) -> None:
    """Reconciliation for one order, when its buyer looks it up: ask the provider about the payments that may
    still turn out paid (a late or lost notification; a payment made after the order closed) with no transaction
    open, then apply the answers in a transaction of their own — a pending order is paid, a closed one revived or
    refunded in full."""
    async with rt.uow(readonly=True) as uow:
        answers = await payment_flow.ask_provider(uow, organizer_id, order_id)
    if answers:
        async with rt.uow() as uow:
            await payment_flow.apply_answers(uow, answers)
            await uow.commit()
