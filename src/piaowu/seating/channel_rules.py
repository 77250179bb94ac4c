"""Which sales channels a session's seats are on sale through, as plain values (no I/O): the masks a publish or a
withhold leaves, and the counts per channel the session seating page and the staff API show.

A seat is *published* to a channel while it is neither withheld from that channel nor kept back (blocked): a
kept-back seat is on sale nowhere, whatever its channels. It is *free* for the channel while published and not
held or sold. Withholding a sold seat changes nothing of its ticket: the seat stays sold, and is on sale again
only through the channels it is published to when it comes back (a refund).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from piaowu.core.channels import ALL_BITS, CHANNELS, bit


def changed_mask(withheld: int, channel: str, *, publish: bool) -> int:
    """The ``withheld`` mask after publishing the seat to ``channel`` (or withholding it from it)."""
    b = bit(channel)
    return withheld & (ALL_BITS & ~b) if publish else withheld | b


@dataclass(frozen=True, slots=True)
class ChannelCount:
    channel: str
    published: int  # seats on sale through the channel: not withheld from it, not kept back
    free: int  # of those, neither held nor sold


def channel_counts(groups: Iterable[tuple[int, bool, bool, int]]) -> list[ChannelCount]:
    """Per channel (in ``CHANNELS`` order) from ``(withheld, occupied, blocked, seats)`` groups of seats."""
    published = dict.fromkeys(CHANNELS, 0)
    free = dict.fromkeys(CHANNELS, 0)
    for withheld, occupied, blocked, n in groups:
        if blocked:  # kept back: on sale nowhere (a kept-back seat is never held or sold, inventory.block_legs)
            continue
        for c in CHANNELS:
            if withheld & bit(c):
                continue
            published[c] += n
            if not occupied:
                free[c] += n
    return [ChannelCount(c, published[c], free[c]) for c in CHANNELS]
