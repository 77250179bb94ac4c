from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.db.statements import insert_ignore
from piaowu.payments.models import Payment, PaymentNotification, Refund
from piaowu.payments.states import PaymentStatus, RefundStatus


async def payment(session: AsyncSession, payment_id: str) -> Payment | None:
    return await session.get(Payment, payment_id)


async def insert_payment(session: AsyncSession, row: dict[str, Any]) -> None:
    await session.execute(insert(Payment.__table__), [row])


async def payments_of(session: AsyncSession, organizer_id: str, order_ids: Sequence[str]) -> list[Payment]:
    if not order_ids:
        return []
    q = (
        select(Payment)
        .where(Payment.organizer_id == organizer_id, Payment.order_id.in_(list(order_ids)))
        .order_by(Payment.created_at)
    )
    return list((await session.execute(q)).scalars())


async def mark_succeeded(session: AsyncSession, payment_id: str, provider_ref: str | None, now) -> bool:  # noqa: ANN001
    """pending (or cancelled: the buyer paid after the order closed) → succeeded, once. The row count tells
    the one caller that won."""
    res = await session.execute(_mark(payment_id, provider_ref, now))
    return res.rowcount == 1


def _mark(payment_id: str, provider_ref: str | None, now) -> Any:  # noqa: ANN001
    values = {"status": PaymentStatus.SUCCEEDED, "succeeded_at": now}
    if provider_ref:
        values["provider_ref"] = provider_ref
    return (
        update(Payment)
        .where(Payment.id == payment_id, Payment.status.in_([PaymentStatus.PENDING, PaymentStatus.CANCELLED]))
        .values(**values)
    )


async def log_and_mark(
    session: AsyncSession,
    log: dict[str, Any],
    mark: str | None,
    provider_ref: str | None,
    now,  # noqa: ANN001
) -> tuple[bool, bool]:
    """Log a notification (``INSERT … ON CONFLICT DO NOTHING``) and, when ``mark`` names a payment, mark it
    succeeded as ``mark_succeeded`` does — one statement on PostgreSQL. → (the log row is new, this call marked
    the payment)."""
    if mark is None or session.get_bind().dialect.name != "postgresql":
        fresh = await insert_ignore(session, PaymentNotification.__table__, log)
        return fresh, mark is not None and await mark_succeeded(session, mark, provider_ref, now)
    logged = (
        postgresql.insert(PaymentNotification.__table__)
        .values(**log)
        .on_conflict_do_nothing()
        .returning(PaymentNotification.__table__.c.id)
        .cte("logged")
    )
    marked = _mark(mark, provider_ref, now).returning(Payment.id).cte("marked")
    q = select(
        select(func.count()).select_from(logged).scalar_subquery(),
        select(func.count()).select_from(marked).scalar_subquery(),
    )
    fresh, n = (await session.execute(q)).one()
    return fresh == 1, n == 1


async def take_refundable(session: AsyncSession, payment_id: str, amount: int) -> bool:
    """Reserve ``amount`` of a payment for a refund; never lets refunded exceed paid."""
    res = await session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.refunded_minor + amount <= Payment.amount_minor)
        .values(refunded_minor=Payment.refunded_minor + amount)
    )
    return res.rowcount == 1


async def refund(session: AsyncSession, refund_id: str) -> Refund | None:
    return await session.get(Refund, refund_id)


async def refunds_of(session: AsyncSession, organizer_id: str, order_id: str) -> list[Refund]:
    q = (
        select(Refund)
        .where(Refund.organizer_id == organizer_id, Refund.order_id == order_id)
        .order_by(Refund.created_at)
    )
    return list((await session.execute(q)).scalars())


async def refunds_with_status(
    session: AsyncSession, organizer_id: str, order_ids: Sequence[str], status: str
) -> list[Refund]:
    if not order_ids:
        return []
    q = (
        select(Refund)
        .where(Refund.organizer_id == organizer_id, Refund.order_id.in_(list(order_ids)), Refund.status == status)
        .order_by(Refund.created_at)
    )
    return list((await session.execute(q)).scalars())


async def finish_refund(session: AsyncSession, refund_id: str, status: str, **values: Any) -> bool:
    """pending → ``status`` (with the provider's reference, the time), once: False when it was not pending."""
    res = await session.execute(
        update(Refund)
        .where(Refund.id == refund_id, Refund.status == RefundStatus.PENDING)
        .values(status=status, **values)
    )
    return res.rowcount == 1


async def set_refund_status(session: AsyncSession, refund_id: str, only_from: str, status: str) -> bool:
    res = await session.execute(
        update(Refund).where(Refund.id == refund_id, Refund.status == only_from).values(status=status)
    )
    return res.rowcount == 1
