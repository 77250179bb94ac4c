"""Money as integer minor units plus an ISO 4217 currency. Never floats."""

from __future__ import annotations

from dataclasses import dataclass

_MINOR_DIGITS = {"CNY": 2, "USD": 2, "EUR": 2, "HKD": 2, "JPY": 0}
_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "HKD": "HK$", "JPY": "¥"}


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str = "CNY"

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError("Money.minor must be an int of minor units")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __mul__(self, n: int) -> Money:
        return Money(self.minor * n, self.currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")

    @staticmethod
    def zero(currency: str = "CNY") -> Money:
        return Money(0, currency)


def minor_digits(currency: str) -> int:
    return _MINOR_DIGITS.get(currency, 2)


def format_money(minor: int, currency: str = "CNY") -> str:
    """`12345, CNY` → `¥123.45`. Pure string formatting; no locale-dependent grouping."""
    digits = minor_digits(currency)
    sign = "-" if minor < 0 else ""
    value = abs(minor)
    symbol = _SYMBOLS.get(currency, currency + " ")
    if digits == 0:
        return f"{sign}{symbol}{value:,}"
    whole, frac = divmod(value, 10**digits)
    return f"{sign}{symbol}{whole:,}.{frac:0{digits}d}"


def parse_major(text: str, currency: str = "CNY") -> int:
    """`"123.4"` → 12340 minor units, exactly (no float on the way). Raises ValueError on bad text."""
    digits = minor_digits(currency)
    text = text.strip().replace(",", "")
    if not text or text.startswith("-"):
        raise ValueError("amount must be a non-negative number")
    whole, _, frac = text.partition(".")
    if not whole:
        whole = "0"
    if not whole.isdigit() or (frac and not frac.isdigit()) or len(frac) > digits:
        raise ValueError(f"amount must have at most {digits} decimal places")
    return int(whole) * 10**digits + int((frac or "0").ljust(digits, "0")[: digits or None] or 0)
