"""Payment reconciliation, the orders side: apply what the provider said about one payment, exactly as if its
notification had arrived — the order is paid, revived, or its money refunded in full when the units are gone —
and record the finding. The provider is asked beforehand, outside this transaction (payments/reconciliation.py):
no lock is ever held across a provider call.

Safe to run from several processes at once and any number of times: the order's row is locked first (as the
notification path does), the payment's state is re-read under that lock, and confirming a payment is a
conditional update only one caller wins; the loser finds the records in agreement and changes nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from piaowu.db.uow import UnitOfWork
from piaowu.orders import repository as repo
from piaowu.orders.payment_flow import apply_provider_note
from piaowu.payments import reconciliation as recon
from piaowu.payments.reconcile_rules import Outcome, applied_outcome, judge, refund_verdict
from piaowu.payments.reconciliation import Finding, ProviderAnswer


def reconciliation_day(uow: UnitOfWork) -> date:
    """Finance's day: the date in PIAOWU_TIMEZONE."""
    return uow.now().astimezone(ZoneInfo(uow.settings.timezone)).date()


async def apply_answer(uow: UnitOfWork, answer: ProviderAnswer, *, refund_grace: timedelta) -> Outcome:
    """Reconcile one payment with the provider's answer and record it. → what this check found or did (matched,
    fixed, open); the day's record merges it with the earlier checks."""
    await repo.lock(uow.session, answer.organizer_id, answer.order_id)  # the order first, as notifications do
    order = await repo.order(uow.session, answer.organizer_id, answer.order_id)
    assert order is not None, "a payment always belongs to an order of its organizer"
    order_status = str(order.status)
    status = await recon.payment_status(uow, answer.payment_id)  # re-read: it may have changed since we asked
    assert status is not None
    verdict = judge(status, answer.amount_minor, answer.currency, answer.state, query_failed=bool(answer.error))
    mismatch, outcome, action, detail = verdict.mismatch, verdict.outcome, "none", answer.error
    if verdict.apply:
        assert answer.note is not None
        result = await apply_provider_note(uow, answer.provider, answer.note)
        outcome, action = applied_outcome(result), result or "applied_elsewhere"
    elif outcome != Outcome.OPEN:
        owed = refund_verdict(await recon.refunds_owed(uow, answer.payment_id), uow.now(), refund_grace)
        if owed is not None:
            mismatch, outcome = owed.mismatch, owed.outcome
    elif mismatch != "query_failed":
        action = "flagged"
    finding = Finding(
        organizer_id=answer.organizer_id,
        payment_id=answer.payment_id,
        order_id=order.id,
        order_code=order.code,
        order_status=order_status,
        payment_status=status,
        answer=answer,
        mismatch=str(mismatch),
        action=action,
        outcome=outcome,
        detail=detail,
    )
    await recon.note(uow, finding, reconciliation_day(uow))
    return outcome
