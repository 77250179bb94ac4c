"""Provider registry: the names an order may pay with."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from piaowu.core.errors import ValidationFailed
from piaowu.payments.providers.base import PaymentProvider
from piaowu.payments.providers.counter import CounterProvider
from piaowu.payments.providers.sandbox import SandboxProvider

COUNTER = ("cash", "card_terminal")
ONLINE = ("sandbox",)


def get_provider(
    name: str, *, app_secret: str, public_url: str, now: Callable[[], datetime], gateway_url: str = ""
) -> PaymentProvider:
    if name in COUNTER:
        return CounterProvider(name)
    if name == "sandbox":
        return SandboxProvider(app_secret, public_url, now, gateway_url=gateway_url)
    raise ValidationFailed([{"field": "provider", "code": "unknown_provider", "message": "Unknown payment method."}])
