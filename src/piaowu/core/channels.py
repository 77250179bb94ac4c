"""Sales channels (an order's ``channel``) and the bit each has in a unit's ``withheld`` mask.

A seat is on sale through every channel unless the operator withholds it from some (``seating.channels``):
bit ``bit(channel)`` of its unit's ``withheld`` is then set, and a claim made for an order of that channel does
not match the unit (``inventory.strategies``). Pure values: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

WEB, BOX_OFFICE, API = "web", "box_office", "api"
CHANNELS: tuple[str, ...] = (WEB, BOX_OFFICE, API)
_BITS = {c: 1 << i for i, c in enumerate(CHANNELS)}
ALL_BITS = sum(_BITS.values())


def is_channel(value: object) -> bool:
    return isinstance(value, str) and value in _BITS


def bit(channel: str) -> int:
    """The channel's bit (``ValueError`` for a name that is no channel)."""
    try:
        return _BITS[channel]
    except KeyError:
        raise ValueError(f"not a sales channel: {channel!r}") from None


def mask(channels: Iterable[str]) -> int:
    """The bits of ``channels`` together."""
    out = 0
    for c in channels:
        out |= bit(c)
    return out


def on_sale_through(withheld: int) -> tuple[str, ...]:
    """The channels a unit whose ``withheld`` mask is this is on sale through, in ``CHANNELS`` order."""
    return tuple(c for c in CHANNELS if not withheld & _BITS[c])


def published(withheld: int, channel: str) -> bool:
    """Whether a unit with this ``withheld`` mask is on sale through ``channel``."""
    return not withheld & bit(channel)
