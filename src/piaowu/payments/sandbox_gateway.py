"""The sandbox payment gateway: a stand-in for an external online gateway (Alipay/WeChat Pay-like), run inside
Piaowu so that the whole flow can be tried and tested without a merchant account.

It behaves like a real one: a trade is created with a notify URL and a return URL; the buyer pays on the
gateway's own hosted page (``/sandbox-gateway/pay/{trade_no}``); the gateway then notifies the merchant
asynchronously, server to server, with an HMAC-SHA256-signed body, retrying until the merchant answers
``success``; the merchant can query a trade and refund it. Our payment code reaches it only through
``payments.providers.sandbox`` — the same shape a real adapter will have.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import Integer, String, bindparam, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.core.errors import Conflict, NotFound
from piaowu.core.events import Topic
from piaowu.core.ids import new_id
from piaowu.db import hotpath, outbox
from piaowu.db.outbox import OutboxMessage
from piaowu.db.statements import insert_ignore
from piaowu.payments.models import SandboxTransaction

SIGNATURE_HEADER = "X-Sandbox-Signature"


def merchant_key(app_secret: str) -> bytes:
    return hmac.new(app_secret.encode(), b"sandbox-gateway-merchant-key", hashlib.sha256).digest()


def sign(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


@lru_cache(maxsize=8)
def _merchant_key(app_secret: str) -> bytes:
    return merchant_key(app_secret)


def _signature(app_secret: str, body: bytes) -> str:
    """``sign`` with the merchant key derived once per process (one HMAC less per paid trade)."""
    return sign(_merchant_key(app_secret), body)


@dataclass(frozen=True)
class TradeView:
    trade_no: str
    merchant_ref: str
    amount_minor: int
    currency: str
    subject: str
    status: str
    refunded_minor: int
    return_url: str
    paid_at: datetime | None


def _view(t: SandboxTransaction) -> TradeView:
    return TradeView(
        t.trade_no,
        t.merchant_ref,
        t.amount_minor,
        t.currency,
        t.subject,
        t.status,
        t.refunded_minor,
        t.return_url,
        t.paid_at,
    )


# created → paid, once: the paid row comes back with the update (one statement where it took three).
_T = SandboxTransaction.__table__
_PAY = (
    update(_T)
    .where(_T.c.trade_no == bindparam("no"), _T.c.status == "created")
    .values(status="paid", paid_at=bindparam("now", type_=_T.c.paid_at.type))
    .returning(*_T.c)
)
_BY_REF = select(*SandboxTransaction.__table__.c).where(SandboxTransaction.merchant_ref == bindparam("ref"))
_BY_TRADE = select(SandboxTransaction.status, SandboxTransaction.note).where(
    SandboxTransaction.trade_no == bindparam("no")
)


async def create_trade(
    session: AsyncSession,
    now: datetime,
    *,
    merchant_ref: str,
    amount_minor: int,
    currency: str,
    subject: str,
    notify_url: str,
    return_url: str,
) -> TradeView:
    row = {
        "merchant_ref": merchant_ref,
        "amount_minor": amount_minor,
        "currency": currency,
        "subject": subject[:200],
        "status": "created",
        "refunded_minor": 0,
        "notify_url": notify_url,
        "return_url": return_url,
        "created_at": now,
        "paid_at": None,
        "note": "",
    }
    # One plain statement (the trade is opened on every online payment, in the server's process in the sandbox):
    # the insert itself tells whether the trade exists, instead of a read before it.
    for _ in range(3):
        row["trade_no"] = "SBX" + now.strftime("%Y%m%d") + secrets.token_hex(6).upper()
        if await insert_ignore(session, SandboxTransaction.__table__, row):
            return _view(SimpleNamespace(**row))  # type: ignore[arg-type]
        existing = (await session.execute(_BY_REF, {"ref": merchant_ref})).one_or_none()
        if existing is not None:  # creating the same trade twice returns the first (gateways are idempotent on ref)
            return _view(existing)
        # else: the random trade number was taken (48 bits a day); draw another
    raise Conflict()


async def get_trade(session: AsyncSession, trade_no: str) -> TradeView:
    trade = await session.get(SandboxTransaction, trade_no)
    if trade is None:
        raise NotFound(kind="trade")
    return _view(trade)


def _status(status: str) -> str:
    return "TRADE_SUCCESS" if status == "paid" else status.upper()


def notification_fields(trade: TradeView, notify_id: str) -> dict[str, Any]:
    """What the gateway tells the merchant about a trade: the notification's body as a dict."""
    return {
        "notify_id": notify_id,
        "trade_no": trade.trade_no,
        "merchant_ref": trade.merchant_ref,
        "amount_minor": trade.amount_minor,
        "currency": trade.currency,
        "trade_status": _status(trade.status),
        "paid_at": trade.paid_at.isoformat() if trade.paid_at else None,
    }


def notification_json(fields: dict[str, Any]) -> bytes:
    """The body on the wire: keys sorted, so that the same fields are always the same bytes (and signature)."""
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def notification_body(trade: TradeView, notify_id: str) -> bytes:
    return notification_json(notification_fields(trade, notify_id))


def signed_notification(app_secret: str, payload: dict[str, Any]) -> tuple[bytes, str]:
    """A queued notification (``pay``'s outbox payload) → (body, signature), signed when it is sent, as a
    gateway signs each notification it sends (nothing signed is stored). Messages queued before the payload
    carried the fields hold their signed body."""
    if "notify" in payload:
        body = notification_json(payload["notify"])
        return body, _signature(app_secret, body)
    return payload["body"].encode(), payload["signature"]


def _notify_id(trade_no: str) -> str:
    return f"N{trade_no}"


# PostgreSQL: paying and queueing the notification in ONE statement (a data-modifying CTE; it commits by itself
# in an autocommit unit of work): the conditional update marks the trade paid, the outbox row is inserted only
# from the row it returned — so only the call that paid queues the notification — and the paid row comes back.
# The notification's fields are built from the paid row by the database; their bytes and signature are made
# when it is sent (``signed_notification``).
_O = OutboxMessage.__table__
_PAID = _PAY.cte("paid")
_NOTIFY = func.jsonb_build_object(
    "url",
    _PAID.c.notify_url,
    "notify",
    func.jsonb_build_object(
        "notify_id",
        literal("N", String()).concat(_PAID.c.trade_no),
        "trade_no",
        _PAID.c.trade_no,
        "merchant_ref",
        _PAID.c.merchant_ref,
        "amount_minor",
        _PAID.c.amount_minor,
        "currency",
        _PAID.c.currency,
        "trade_status",
        bindparam("trade_status", type_=String()),
        "paid_at",
        bindparam("paid_at", type_=String()),
    ),
)
_QUEUED = (
    insert(_O)
    .from_select(
        ["id", "topic", "payload", "status", "attempts", "created_at", "available_at"],
        select(
            bindparam("id", type_=_O.c.id.type),
            bindparam("topic", type_=_O.c.topic.type),
            _NOTIFY,
            literal("pending", String()),
            literal(0, Integer()),
            bindparam("now_", type_=_O.c.created_at.type),
            bindparam("available_at", type_=_O.c.available_at.type),
        ).select_from(_PAID),
    )
    .returning(_O.c.id)
    .cte("queued")
)
_PAY_AND_QUEUE = select(*_PAID.c).add_cte(_QUEUED)


async def pay(session: AsyncSession, now: datetime, trade_no: str, delay_s: float = 0) -> TradeView:
    """The buyer pays on the hosted page. Paying twice is a no-op; the notification is queued once: only by the
    call whose conditional update marked the trade paid, which returns the paid row (no read after it).
    PostgreSQL: one statement for both (``_PAY_AND_QUEUE``); SQLite: the update, then the outbox row."""
    if session.get_bind().dialect.name == "postgresql":
        params = {
            "no": trade_no,
            "now": now,
            "trade_status": _status("paid"),
            "paid_at": now.isoformat(),
            "id": new_id(),
            "topic": Topic.SANDBOX_CALLBACK,
            "now_": now,
            "available_at": now + timedelta(seconds=delay_s),
        }
        paid = (await hotpath.execute(session, _PAY_AND_QUEUE, params)).one_or_none()
    else:
        paid = (await session.execute(_PAY, {"no": trade_no, "now": now})).one_or_none()
        if paid is not None:
            fields = notification_fields(_view(paid), _notify_id(paid.trade_no))
            payload = {"url": paid.notify_url, "notify": fields}
            outbox.enqueue(session, now, Topic.SANDBOX_CALLBACK, payload, delay_s=delay_s)
    if paid is None:  # not ours to pay: already paid (a repeat, answered as the first) or closed
        trade = await get_trade(session, trade_no)
        if trade.status != "paid":
            raise Conflict("This trade can no longer be paid.")
        return trade
    return _view(paid)


async def close(session: AsyncSession, trade_no: str) -> TradeView:
    """The buyer gives up on the hosted page."""
    await session.execute(
        update(SandboxTransaction)
        .where(SandboxTransaction.trade_no == trade_no, SandboxTransaction.status == "created")
        .values(status="closed")
    )
    return await get_trade(session, trade_no)


def _refunded(note: str, refund_id: str) -> bool:
    return refund_id in note.split(",")


async def refund(session: AsyncSession, trade_no: str, refund_id: str, amount_minor: int) -> tuple[bool, str]:
    """Idempotent per ``refund_id`` (a real gateway's out-refund number): the same refund asked any number of
    times, one after the other or at once, is paid out once, and each ask is answered "done". → (ok, error)."""
    trade = (await session.execute(_BY_TRADE, {"no": trade_no})).one_or_none()
    if trade is None or trade.status != "paid":
        return False, "trade not paid"
    if _refunded(trade.note, refund_id):
        return True, ""
    # The refund id's absence is part of the update's condition, not only of the read above: two asks at once
    # both read it absent, and PostgreSQL re-checks the condition against the row the first one wrote.
    res = await session.execute(
        update(SandboxTransaction)
        .where(
            SandboxTransaction.trade_no == trade_no,
            SandboxTransaction.refunded_minor + amount_minor <= SandboxTransaction.amount_minor,
            ~("," + SandboxTransaction.note).contains("," + refund_id + ",", autoescape=True),
        )
        .values(
            refunded_minor=SandboxTransaction.refunded_minor + amount_minor,
            note=SandboxTransaction.note + refund_id + ",",
        )
    )
    if res.rowcount == 1:
        return True, ""
    again = (await session.execute(_BY_TRADE, {"no": trade_no})).one()  # read fresh: what the other ask wrote
    if _refunded(again.note, refund_id):
        return True, ""
    return False, "refund exceeds the amount paid"
