"""Adapter for the sandbox gateway, shaped like a real online provider adapter."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.core.errors import PaymentSignatureInvalid
from piaowu.payments import sandbox_gateway as gateway
from piaowu.payments.providers.base import Notification, RefundResult, StartRequest, StartResult


class SandboxProvider:
    name = "sandbox"
    online = True

    def __init__(self, app_secret: str, public_url: str, clock_now, *, gateway_url: str = "") -> None:  # noqa: ANN001
        self._secret = app_secret
        self._key = gateway.merchant_key(app_secret)
        self._public_url = public_url.rstrip("/")
        self._now = clock_now
        # The gateway's own process (`piaowu gateway`), or "" when this server serves its pages.
        self._gateway_url = gateway_url.rstrip("/")

    async def start(self, session: AsyncSession, req: StartRequest) -> StartResult:
        trade = await gateway.create_trade(
            session,
            self._now(),
            merchant_ref=req.payment_id,
            amount_minor=req.amount_minor,
            currency=req.currency,
            subject=req.subject,
            notify_url=req.notify_url,
            return_url=req.return_url,
        )
        return StartResult(
            provider_ref=trade.trade_no,
            redirect_url=f"{self._gateway_url}/sandbox-gateway/pay/{trade.trade_no}",
            succeeded=False,
        )

    def verify(self, headers: Mapping[str, str], body: bytes) -> Notification:
        signature = headers.get(gateway.SIGNATURE_HEADER.lower()) or headers.get(gateway.SIGNATURE_HEADER) or ""
        if not signature or not hmac.compare_digest(signature, gateway.sign(self._key, body)):
            raise PaymentSignatureInvalid()
        try:
            data = orjson.loads(body)
            return Notification(
                notification_id=str(data["notify_id"]),
                provider_ref=str(data["trade_no"]),
                payment_id=str(data["merchant_ref"]),
                amount_minor=int(data["amount_minor"]),
                currency=str(data["currency"]),
                succeeded=data["trade_status"] == "TRADE_SUCCESS",
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise PaymentSignatureInvalid("The notification body is malformed.") from None

    async def query(self, session: AsyncSession, payment_id: str, provider_ref: str | None) -> Notification | None:
        if not provider_ref:
            return None
        trade = await gateway.get_trade(session, provider_ref)
        return Notification(
            notification_id=f"Q{trade.trade_no}",
            provider_ref=trade.trade_no,
            payment_id=trade.merchant_ref,
            amount_minor=trade.amount_minor,
            currency=trade.currency,
            succeeded=trade.status == "paid",
        )

    async def refund(
        self, session: AsyncSession, payment_id: str, provider_ref: str | None, refund_id: str, amount_minor: int
    ) -> RefundResult:
        if not provider_ref:
            return RefundResult(False, error="no trade")
        ok, error = await gateway.refund(session, provider_ref, refund_id, amount_minor)
        return RefundResult(ok, provider_ref=f"R{refund_id}" if ok else None, error=error)
