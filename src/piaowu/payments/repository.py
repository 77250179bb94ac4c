from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, case, cast, exists, func, insert, literal_column, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.audit.models import AuditEvent
from piaowu.db import hotpath
from piaowu.db.outbox import OutboxMessage
from piaowu.db.statements import insert_ignore
from piaowu.payments.models import Payment, PaymentNotification, Refund
from piaowu.payments.states import GAVE_UP, PaymentStatus, RefundStatus


async def payment(session: AsyncSession, payment_id: str) -> Payment | None:
    return await session.get(Payment, payment_id)


_PAYMENTS_OF = (  # built once: every order read lists its payments
    select(Payment)
    .where(Payment.organizer_id == bindparam("org"), Payment.order_id.in_(bindparam("ids", expanding=True)))
    .order_by(Payment.created_at)
)


_PAYMENT_ROWS = (  # the same as plain rows, for reading only (the buyer's page, once paid)
    select(*Payment.__table__.c)
    .where(Payment.organizer_id == bindparam("org"), Payment.order_id.in_(bindparam("ids", expanding=True)))
    .order_by(Payment.created_at)
)


async def payment_rows(session: AsyncSession, organizer_id: str, order_ids: Sequence[str]) -> list[Any]:
    """``payments_of`` as plain rows (a payment's columns by name): read fresh, never from the identity map, so
    only for a unit of work that changes no payment."""
    if not order_ids:
        return []
    return list(await hotpath.execute(session, _PAYMENT_ROWS, {"org": organizer_id, "ids": list(order_ids)}))


# An order's payments joined into a read of the order (``with_payments``; see tickets.repository.with_tickets):
# a payment's columns prefixed ``PAYMENT_PREFIX``.
PAYMENT_PREFIX = "payment_"
_PAYMENT_COLUMNS = tuple(c.name for c in Payment.__table__.c)
PaymentRow = namedtuple("PaymentRow", _PAYMENT_COLUMNS)  # type: ignore[misc]  # a payment's columns, attribute access


def with_payments(stmt: Select[Any], order_id: Any, org: Any) -> Select[Any]:
    """``stmt`` (a prebuilt read of an order's rows) with the order's payments outer-joined: every row repeats
    per payment (NULL columns when there is none), payments in ``payment_rows``' order after the statement's."""
    return (
        stmt.add_columns(*[c.label(PAYMENT_PREFIX + c.name) for c in Payment.__table__.c])
        .outerjoin(Payment, (Payment.order_id == order_id) & (Payment.organizer_id == org))
        .order_by(Payment.created_at, Payment.id)
    )


def payments_in(rows: Sequence[Any]) -> list[Any]:
    """The payments a read ``with_payments`` carries, each once, in order: plain rows as ``payment_rows``'."""
    out: dict[str, Any] = {}
    key = PAYMENT_PREFIX + "id"
    for row in rows:
        m = row._mapping
        if m[key] is not None and m[key] not in out:
            out[m[key]] = PaymentRow(*(m[PAYMENT_PREFIX + k] for k in _PAYMENT_COLUMNS))
    return list(out.values())


async def payments_of(session: AsyncSession, organizer_id: str, order_ids: Sequence[str]) -> list[Payment]:
    if not order_ids:
        return []
    return list((await session.execute(_PAYMENTS_OF, {"org": organizer_id, "ids": list(order_ids)})).scalars())


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


@dataclass(frozen=True)
class WithMark:
    """Another area's conditional write that goes with a payment's mark: run by the same statement, only when it
    marked the payment (the caller's ``UPDATE``, prebuilt once so that it can key the compiled statement, and its
    parameters, named apart from log-and-mark's: ``l_*``, ``a_*``, ``pid``, ``now``, ``ref``)."""

    stmt: Any
    params: dict[str, Any]


def _log_and_mark(
    with_ref: bool, columns: tuple[str, ...], audit_columns: tuple[str, ...], with_mark: Any = None
) -> Any:
    table = PaymentNotification.__table__
    logged = (
        postgresql.insert(table)
        .values({c: bindparam(f"l_{c}", type_=table.c[c].type) for c in columns})
        .on_conflict_do_nothing()
        .returning(table.c.id)
        .cte("logged")
    )
    values: dict[str, Any] = {
        "status": PaymentStatus.SUCCEEDED,
        "succeeded_at": bindparam("now", type_=Payment.succeeded_at.type),
    }
    if with_ref:
        values["provider_ref"] = bindparam("ref", type_=Payment.provider_ref.type)
    marked = (
        update(Payment)
        .where(Payment.id == bindparam("pid"), Payment.status.in_([PaymentStatus.PENDING, PaymentStatus.CANCELLED]))
        .values(**values)
        .returning(Payment.id)
        .cte("marked")
    )
    # The payment's audit event, only when this statement marked it; its "first delivery" is whether the log
    # row was new — both answers are parameters, the statement picks one.
    a = AuditEvent.__table__
    plain = [c for c in audit_columns if c != "after"]
    after = case(
        (exists(select(logged.c.id)), cast(bindparam("a_after_fresh", type_=a.c.after.type), a.c.after.type)),
        else_=cast(bindparam("a_after_again", type_=a.c.after.type), a.c.after.type),
    )
    source = select(
        *[cast(bindparam(f"a_{c}", type_=a.c[c].type), a.c[c].type).label(c) for c in plain], after.label("after")
    ).where(exists(select(marked.c.id)))
    audited = insert(a).from_select([*plain, "after"], source, include_defaults=False).cte("audited")
    counts = [
        select(func.count()).select_from(logged).scalar_subquery(),
        select(func.count()).select_from(marked).scalar_subquery(),
    ]
    if with_mark is None:
        return select(*counts).add_cte(audited)
    along = with_mark.where(exists(select(marked.c.id))).returning(literal_column("1").label("one")).cte("along")
    return select(*counts, select(func.count()).select_from(along).scalar_subquery()).add_cte(audited)


class _Built(dict):  # type: ignore[type-arg]
    """(with a provider reference, the log's columns) → the statement, built on first use and kept."""

    def __missing__(self, key: tuple[bool, tuple[str, ...], tuple[str, ...], Any]) -> Any:
        self[key] = _log_and_mark(*key)
        return self[key]


_LOG_AND_MARK = _Built()


async def log_and_mark(
    session: AsyncSession,
    log: dict[str, Any],
    mark: str | None,
    provider_ref: str | None,
    now,  # noqa: ANN001
    audit: tuple[dict[str, Any], dict[str, Any]] | None = None,
    with_mark: WithMark | None = None,
) -> tuple[bool, bool, bool]:
    """Log a notification (``INSERT … ON CONFLICT DO NOTHING``) and, when ``mark`` names a payment, mark it
    succeeded as ``mark_succeeded`` does, and write ``audit`` — the payment's audit event as a row, (if the log
    row is new, if not) — and ``with_mark`` only when this call marked it: one statement on PostgreSQL. → (the
    log row is new, this call marked the payment, ``with_mark`` ran and wrote its one row)."""
    if mark is None or session.get_bind().dialect.name != "postgresql":
        fresh = await insert_ignore(session, PaymentNotification.__table__, log)
        marked = mark is not None and await mark_succeeded(session, mark, provider_ref, now)
        if marked and audit is not None:
            await session.execute(insert(AuditEvent.__table__), [audit[0] if fresh else audit[1]])
        along = (
            marked and with_mark is not None and (await session.execute(with_mark.stmt, with_mark.params)).rowcount == 1
        )
        return fresh, marked, along
    if audit is None:
        raise ValueError("a payment is marked with its audit event")
    params = {f"l_{k}": v for k, v in log.items()} | {"pid": mark, "now": now, "ref": provider_ref}
    row, again = audit
    params |= {f"a_{k}": v for k, v in row.items() if k != "after"}
    params |= {"a_after_fresh": row["after"], "a_after_again": again["after"]}
    if with_mark is not None:
        params |= with_mark.params
    q = _LOG_AND_MARK[bool(provider_ref), tuple(sorted(log)), tuple(sorted(row)), with_mark and with_mark.stmt]
    fresh, n, *along = (await hotpath.execute(session, q, params)).one()
    return fresh == 1, n == 1, along == [1]


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


async def finish_refund(session: AsyncSession, refund_id: str, status: str, **values: Any) -> bool:
    """pending → ``status`` (with the provider's reference, the time), once: False when it was not pending."""
    res = await session.execute(
        update(Refund)
        .where(Refund.id == refund_id, Refund.status == RefundStatus.PENDING)
        .values(status=status, **values)
    )
    return res.rowcount == 1


@dataclass(frozen=True)
class RefundRow:
    """A refund with its payment's provider and the state of the outbox message asking for it (None: none)."""

    refund: Refund
    provider: str
    message_status: str | None
    attempts: int
    last_error: str | None


def _with_message() -> Any:
    return (
        select(Refund, Payment.provider, OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.last_error)
        .join(Payment, Payment.id == Refund.payment_id)
        .outerjoin(OutboxMessage, OutboxMessage.id == Refund.outbox_id)
    )


def _rows(result: Any) -> list[RefundRow]:
    return [RefundRow(r, provider, status, attempts or 0, error) for r, provider, status, attempts, error in result]


async def refund_rows(
    session: AsyncSession,
    organizer_id: str,
    *,
    order_ids: Sequence[str] = (),
    payment_ids: Sequence[str] = (),
    refund_id: str | None = None,
    owed_only: bool = False,
) -> list[RefundRow]:
    """The organizer's refunds of these orders, of these payments, or the one refund (oldest first);
    ``owed_only``: not those paid out (the many that are, e.g. of a cancelled session, are not read)."""
    q = _with_message().where(Refund.organizer_id == organizer_id)
    if owed_only:
        q = q.where(Refund.status != RefundStatus.SUCCEEDED)
    if refund_id is not None:
        q = q.where(Refund.id == refund_id)
    elif order_ids:
        q = q.where(Refund.order_id.in_(list(order_ids)))
    elif payment_ids:
        q = q.where(Refund.payment_id.in_(list(payment_ids)))
    else:
        return []
    return _rows((await session.execute(q.order_by(Refund.created_at, Refund.id))).all())


async def requeue_refund(
    session: AsyncSession, refund_id: str, *, status: str, outbox_id: str | None, new_outbox_id: str
) -> bool:
    """Hand a refund to a new outbox message, only if it is as it was read: failed (→ pending), or pending with
    the same message, which gave up (or none). One conditional update, so of two retries at once one wins."""
    stuck = (Refund.status == RefundStatus.PENDING) & (
        Refund.outbox_id.is_(None) if outbox_id is None else Refund.outbox_id == outbox_id
    )
    if outbox_id is not None:
        stuck &= exists().where(OutboxMessage.id == outbox_id, OutboxMessage.status == GAVE_UP)
    as_read = (Refund.status == RefundStatus.FAILED) if status == RefundStatus.FAILED else stuck
    res = await session.execute(
        update(Refund)
        .where(Refund.id == refund_id, as_read)
        .values(status=RefundStatus.PENDING, outbox_id=new_outbox_id, error="")
        .execution_options(synchronize_session=False)
    )
    return res.rowcount == 1
