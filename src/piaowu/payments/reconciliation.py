"""Payment reconciliation, the payments side: which payments to ask about, asking the provider (no locks held:
in real life it is a network call), and the record of what was found — per payment and day — for the
back-office page and finance's daily summary. What a confirmed payment means for its order is decided by the
orders flow (orders/reconciliation.py), through the same path as a notification.

Guarantees:
- ``ask`` takes no lock and writes nothing;
- ``note`` keeps one row per payment and day whatever the number of runs; a fix is never downgraded by a later
  check the same day, and an audit event is written only when a payment's outcome changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, or_, select, update

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.core.actor import Actor, system_actor
from piaowu.core.errors import DomainError
from piaowu.core.ids import new_id
from piaowu.db.statements import insert_ignore
from piaowu.db.uow import UnitOfWork
from piaowu.payments import repository as repo
from piaowu.payments.models import Payment, PaymentReconciliation, Refund
from piaowu.payments.providers import ONLINE
from piaowu.payments.providers.base import Notification
from piaowu.payments.reconcile_rules import Outcome, ProviderState, merge
from piaowu.payments.service import provider
from piaowu.payments.states import PaymentStatus, RefundStatus


@dataclass(frozen=True)
class ProviderAnswer:
    """The provider's record of one of our payments, with the payment as we had it when asking."""

    payment_id: str
    organizer_id: str
    order_id: str
    provider: str
    provider_ref: str | None
    amount_minor: int
    currency: str
    note: Notification | None  # None: the provider has no such trade, or could not be asked (``error``)
    error: str = ""

    @property
    def state(self) -> ProviderState | None:
        if self.note is None:
            return None
        return ProviderState(self.note.succeeded, self.note.amount_minor, self.note.currency)

    @property
    def provider_status(self) -> str:
        if self.error:
            return "error"
        if self.note is None:
            return "none"
        return "paid" if self.note.succeeded else "not_paid"


@dataclass(frozen=True)
class Finding:
    """One check of one payment, for the day's record."""

    organizer_id: str
    payment_id: str
    order_id: str
    order_code: str
    order_status: str
    payment_status: str
    answer: ProviderAnswer
    mismatch: str
    action: str
    outcome: Outcome
    detail: str = ""


@dataclass(frozen=True)
class ReconciliationRow:
    day: date
    payment_id: str
    order_id: str
    order_code: str
    provider: str
    provider_ref: str | None
    amount_minor: int
    currency: str
    payment_status: str
    order_status: str
    provider_status: str
    provider_amount_minor: int | None
    mismatch: str
    action: str
    outcome: str
    detail: str
    checks: int
    checked_at: datetime


@dataclass(frozen=True)
class DaySummary:
    day: date
    currency: str
    matched: int
    matched_minor: int
    fixed: int
    fixed_minor: int
    open: int
    open_minor: int


async def candidates(uow: UnitOfWork, *, since: datetime, grace: timedelta, limit: int = 500) -> list[str]:
    """Payment ids to ask the provider about: every online payment still pending (older than ``grace``: a fresh
    one is left to its own notification), every one abandoned when its order expired or was cancelled since
    ``since``, every one with a refund still owed (failed, or pending beyond ``grace``), and every one whose
    reconciliation is still open — until it is resolved."""
    now = uow.now()
    s = uow.session
    online = Payment.provider.in_(list(ONLINE))
    not_final = or_(
        and_(Payment.status == PaymentStatus.PENDING, Payment.created_at <= now - grace),
        and_(Payment.status.in_([PaymentStatus.CANCELLED, PaymentStatus.FAILED]), Payment.created_at >= since),
    )
    ids = list((await s.execute(select(Payment.id).where(online, not_final).limit(limit))).scalars())
    owed = select(Refund.payment_id).where(
        Refund.created_at >= since,
        or_(
            Refund.status == RefundStatus.FAILED,
            and_(Refund.status == RefundStatus.PENDING, Refund.created_at <= now - grace),
        ),
    )
    ids += list((await s.execute(owed.distinct().limit(limit))).scalars())
    still_open = select(PaymentReconciliation.payment_id).where(
        PaymentReconciliation.outcome == Outcome.OPEN, PaymentReconciliation.first_checked_at >= since
    )
    ids += list((await s.execute(still_open.distinct().limit(limit))).scalars())
    return list(dict.fromkeys(ids))  # once each, in a stable order


async def ask(uow: UnitOfWork, payment_id: str) -> ProviderAnswer | None:
    """Ask the payment's provider for its record of it. Takes no lock and writes nothing (run it outside the
    transaction that applies the answer). None for an unknown payment or a counter payment (nothing to ask)."""
    pay = await repo.payment(uow.session, payment_id)
    if pay is None:
        return None
    prov = provider(uow, pay.provider)
    if not prov.online:
        return None
    note, error = None, ""
    try:
        note = await prov.query(uow.session, pay.id, pay.provider_ref)
    except DomainError as exc:  # e.g. the provider does not know the trade
        error = f"{exc.code}: {exc}"
    except Exception as exc:  # a network failure must not stop the others; it is an open item for finance
        error = f"{type(exc).__name__}: {exc}"
    return ProviderAnswer(
        pay.id, pay.organizer_id, pay.order_id, pay.provider, pay.provider_ref, pay.amount_minor, pay.currency,
        note, error[:300],
    )  # fmt: skip


async def ask_about_order(uow: UnitOfWork, organizer_id: str, order_id: str) -> list[ProviderAnswer]:
    """Ask about an order's online payments that may still turn out paid (pending, or abandoned when the order
    closed). No lock is taken: apply the answers in a transaction of their own."""
    out = []
    for pay in await repo.payments_of(uow.session, organizer_id, [order_id]):
        if pay.status in (PaymentStatus.PENDING, PaymentStatus.CANCELLED):
            answer = await ask(uow, pay.id)
            if answer is not None:
                out.append(answer)
    return out


async def payment_status(uow: UnitOfWork, payment_id: str) -> str | None:
    pay = await repo.payment(uow.session, payment_id)
    return pay.status if pay else None


async def refunds_owed(uow: UnitOfWork, payment_id: str) -> list[tuple[str, datetime]]:
    """(status, created at) of the payment's refunds that are not done."""
    q = select(Refund.status, Refund.created_at).where(
        Refund.payment_id == payment_id, Refund.status != RefundStatus.SUCCEEDED
    )
    return [(r.status, r.created_at) for r in (await uow.session.execute(q)).all()]


async def note(uow: UnitOfWork, finding: Finding, day: date) -> Outcome:
    """Record a check in the payment's row for ``day`` (created on its first check that day). → the day's
    outcome after merging. Call it in the transaction that applied the finding, after locking the order."""
    now, a = uow.now(), finding.answer
    await insert_ignore(
        uow.session,
        PaymentReconciliation.__table__,
        {
            "id": new_id(),
            "organizer_id": finding.organizer_id,
            "payment_id": finding.payment_id,
            "order_id": finding.order_id,
            "order_code": finding.order_code,
            "day": day,
            "provider": a.provider,
            "provider_ref": a.provider_ref,
            "amount_minor": a.amount_minor,
            "currency": a.currency,
            "payment_status": finding.payment_status,
            "order_status": finding.order_status,
            "provider_status": a.provider_status,
            "provider_amount_minor": a.note.amount_minor if a.note else None,
            "mismatch": finding.mismatch,
            "action": finding.action,
            "outcome": finding.outcome,
            "detail": finding.detail[:300],
            "checks": 0,
            "first_checked_at": now,
            "checked_at": now,
        },
    )
    row = (
        await uow.session.execute(
            select(PaymentReconciliation).where(
                PaymentReconciliation.payment_id == finding.payment_id, PaymentReconciliation.day == day
            )
        )
    ).scalar_one()
    fresh = row.checks == 0
    before = {"outcome": None if fresh else row.outcome, "mismatch": None if fresh else row.mismatch}
    outcome = merge(None if fresh else row.outcome, finding.outcome)
    row.checks += 1
    row.checked_at = now
    row.outcome = outcome
    row.provider_status = a.provider_status
    row.provider_amount_minor = a.note.amount_minor if a.note else None
    if finding.outcome != Outcome.MATCHED or fresh:  # a later "all agree" keeps what the fix said it did
        row.mismatch, row.action, row.detail = finding.mismatch, finding.action, finding.detail[:300]
        row.payment_status, row.order_status = finding.payment_status, finding.order_status
    elif before["outcome"] == Outcome.OPEN:
        row.action = "resolved"  # e.g. the refund went through since
    if outcome != Outcome.OPEN:
        # Items left open on earlier days are resolved now (a refund went through, a run fixed them).
        await uow.session.execute(
            update(PaymentReconciliation)
            .where(
                PaymentReconciliation.payment_id == finding.payment_id,
                PaymentReconciliation.day < day,
                PaymentReconciliation.outcome == Outcome.OPEN,
            )
            .values(outcome=Outcome.FIXED, action="resolved_later", checked_at=now)
        )
    if before["outcome"] != outcome and (outcome != Outcome.MATCHED or before["outcome"] is not None):
        record(
            uow,
            system_actor(finding.organizer_id, "reconciliation"),
            "payment.reconciled",
            "payment",
            finding.payment_id,
            before=before if not fresh else None,
            after={"outcome": str(outcome), "mismatch": finding.mismatch, "action": finding.action,
                   "provider_status": a.provider_status, "order_id": finding.order_id},
        )  # fmt: skip
    return outcome


def _row(r: PaymentReconciliation) -> ReconciliationRow:
    return ReconciliationRow(
        r.day, r.payment_id, r.order_id, r.order_code, r.provider, r.provider_ref, r.amount_minor, r.currency,
        r.payment_status, r.order_status, r.provider_status, r.provider_amount_minor, r.mismatch, r.action,
        r.outcome, r.detail, r.checks, r.checked_at,
    )  # fmt: skip


async def findings(
    uow: UnitOfWork, actor: Actor, *, since: date, mismatches_only: bool = True, limit: int = 200
) -> list[ReconciliationRow]:
    """The organizer's reconciliation rows since ``since`` (newest first); by default only the ones where the
    provider's record and ours disagreed (fixed or open). Needs REPORTS."""
    actor.require(Permission.REPORTS)
    return await _findings(uow, actor.organizer_id, since=since, mismatches_only=mismatches_only, limit=limit)


async def all_findings(uow: UnitOfWork, *, since: date, limit: int = 500) -> list[ReconciliationRow]:
    """Every organizer's mismatches since ``since``: for the operator's command line."""
    return await _findings(uow, None, since=since, mismatches_only=True, limit=limit)


async def _findings(
    uow: UnitOfWork, organizer_id: str | None, *, since: date, mismatches_only: bool, limit: int
) -> list[ReconciliationRow]:
    q = select(PaymentReconciliation).where(PaymentReconciliation.day >= since)
    if organizer_id is not None:
        q = q.where(PaymentReconciliation.organizer_id == organizer_id)
    if mismatches_only:
        q = q.where(PaymentReconciliation.outcome != Outcome.MATCHED)
    q = q.order_by(PaymentReconciliation.day.desc(), PaymentReconciliation.checked_at.desc()).limit(limit)
    return [_row(r) for r in (await uow.session.execute(q)).scalars()]


async def daily_summary(uow: UnitOfWork, actor: Actor | None, *, since: date) -> list[DaySummary]:
    """Per day (newest first) and currency: how many payments, and how much money, reconciliation found
    matched, fixed and open. ``actor`` None: every organizer (the command line); otherwise needs REPORTS."""
    t = PaymentReconciliation
    q = select(t.day, t.currency, t.outcome, func.count(), func.coalesce(func.sum(t.amount_minor), 0)).where(
        t.day >= since
    )
    if actor is not None:
        actor.require(Permission.REPORTS)
        q = q.where(t.organizer_id == actor.organizer_id)
    q = q.group_by(t.day, t.currency, t.outcome)
    totals: dict[tuple[date, str], dict[str, tuple[int, int]]] = {}
    for day, currency, outcome, n, minor in (await uow.session.execute(q)).all():
        totals.setdefault((day, currency), {})[outcome] = (int(n), int(minor))
    out = []
    for (day, currency), by in sorted(totals.items(), key=lambda kv: kv[0], reverse=True):
        m, f, o = (by.get(k, (0, 0)) for k in (Outcome.MATCHED, Outcome.FIXED, Outcome.OPEN))
        out.append(DaySummary(day, currency, m[0], m[1], f[0], f[1], o[0], o[1]))
    return out
