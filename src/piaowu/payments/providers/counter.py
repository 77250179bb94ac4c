"""Counter payments at the box office: cash and the card terminal. Settled on the spot by the clerk."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.core.errors import PaymentSignatureInvalid
from piaowu.payments.providers.base import Notification, RefundResult, StartRequest, StartResult


class CounterProvider:
    online = False

    def __init__(self, name: str) -> None:
        self.name = name

    async def start(self, session: AsyncSession, req: StartRequest) -> StartResult:
        return StartResult(provider_ref=None, redirect_url="", succeeded=True)

    def verify(self, headers: Mapping[str, str], body: bytes) -> Notification:
        raise PaymentSignatureInvalid("Counter payments have no notifications.")

    async def query(self, session: AsyncSession, payment_id: str, provider_ref: str | None) -> Notification | None:
        return None

    async def refund(
        self, session: AsyncSession, payment_id: str, provider_ref: str | None, refund_id: str, amount_minor: int
    ) -> RefundResult:
        # Cash goes back over the counter (or the terminal reverses it); the clerk's action is the refund.
        return RefundResult(succeeded=True, provider_ref=None)
