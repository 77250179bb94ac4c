"""The provider protocol. Orders talk to every payment method through it; nothing else knows a provider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class StartRequest:
    payment_id: str
    amount_minor: int
    currency: str
    subject: str
    notify_url: str
    return_url: str


@dataclass(frozen=True)
class StartResult:
    provider_ref: str | None  # the provider's trade number, when it has one
    redirect_url: str  # where to send the buyer ("" when nothing to do: cash)
    succeeded: bool  # money already taken (counter payments)


@dataclass(frozen=True)
class Notification:
    """A verified provider notification."""

    notification_id: str
    provider_ref: str
    payment_id: str
    amount_minor: int
    currency: str
    succeeded: bool


@dataclass(frozen=True)
class RefundResult:
    succeeded: bool
    provider_ref: str | None = None
    error: str = ""


class PaymentProvider(Protocol):
    name: str
    online: bool  # True: asynchronous confirmation by notification; False: settled at the counter

    async def start(self, session: AsyncSession, req: StartRequest) -> StartResult: ...

    def verify(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Check the signature and parse. Raises PaymentSignatureInvalid."""
        ...

    async def query(self, session: AsyncSession, payment_id: str, provider_ref: str | None) -> Notification | None:
        """Ask the provider for the state of a payment (when a notification is late)."""
        ...

    async def refund(
        self, session: AsyncSession, payment_id: str, provider_ref: str | None, refund_id: str, amount_minor: int
    ) -> RefundResult:
        """Pay ``amount_minor`` back, at most once per ``refund_id`` (a real adapter sends it as the gateway's
        out-refund number): asked again — a lost answer, a retry by staff, two deliveries at once — it answers
        "done" without paying again. Raise when the answer is unknown (a timeout): the outbox asks again."""
        ...
