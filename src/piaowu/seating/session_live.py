"""One session's seats as a process sees them (``SessionLive``): the seats themselves (``SessionSeats``, cached while
the session's seating is unchanged), their last states, the ring of recent snapshots (answers to ``since=``), the
``SeatIndex`` best available chooses on, and the seats this process (or another of its host) chose lately. The
process-wide registry that keeps one per session and refreshes them is ``seating.live``.

Nothing here decides a sale: the claim in the reservation statement does (``inventory.reserve``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from piaowu.core import channels
from piaowu.seating import best_available as ba
from piaowu.seating import map_parts
from piaowu.seating.availability import BLOCKED, FREE, TAKEN, Snapshot, SnapshotRing, withheld_view
from piaowu.seating.best_available import SeatIndex
from piaowu.seating.host_marks import HostMarks
from piaowu.seating.layout import ATTRIBUTES, Seat, SeatKey, SeatMap, Section
from piaowu.seating.map_parts import MapParts, parts_of

# A snapshot younger than this is used for best available without reading the units again.
SNAPSHOT_SECONDS = 1.0
# How long the seats this process chose stay taken in its view whatever the reads say (``SessionLive.marks``):
# longer than an order takes to be placed. The same for seats another process of the host handed out
# (``host_marks``).
MARK_SECONDS = 2.0
# At most this many times a choice passes over seats another process of the host just handed out before it offers
# a block anyway (the claim decides).
MAX_PASSES = 20


@dataclass(frozen=True)
class SeatRow:
    """One seat of a session, by ordinal."""

    unit_id: str
    ordinal: int
    section: str
    row: str
    number: str
    x: float
    y: float
    zone: str
    attributes: tuple[str, ...]
    withheld: int = 0  # the sales channels the seat is not on sale through (``core.channels``)

    @property
    def key(self) -> SeatKey:
        return (self.section, self.row, self.number)

    @property
    def attr_bits(self) -> int:
        return sum(1 << i for i, a in enumerate(ATTRIBUTES) if a in self.attributes)

    def label(self) -> dict[str, str]:
        return {"id": self.unit_id, "section": self.section, "row": self.row, "number": self.number}


@dataclass(frozen=True)
class SessionSeats:
    """The seats a session sells, in ordinal order, and what is derived from them once."""

    session_id: str
    pool_id: str
    stamp: tuple[Any, ...]  # (layout id, layout version, seat count, assigned at): another stamp, other seats
    sections: tuple[dict[str, Any], ...]
    seats: tuple[SeatRow, ...]
    by_unit: dict[str, SeatRow] = field(repr=False)
    by_key: dict[SeatKey, SeatRow] = field(repr=False)
    zones: tuple[str, ...]  # in order of first appearance
    zone_totals: dict[str, int] = field(default_factory=dict)  # seats per zone, in the order of ``zones``
    # Where the host's processes keep ``parts`` for these seats (``map_parts.parts_file``; None: not kept).
    parts_path: Path | None = None

    @cached_property
    def unit_ids(self) -> list[str]:
        return [s.unit_id for s in self.seats]

    @cached_property
    def zone_of(self) -> list[str]:
        return [s.zone for s in self.seats]

    @cached_property
    def ordinal_of(self) -> dict[str, int]:
        """unit id → ordinal."""
        return {s.unit_id: s.ordinal for s in self.seats}

    @cached_property
    def row_ordinals(self) -> dict[tuple[str, str], tuple[int, ...]]:
        """The ordinals of each row's seats, by (section, row)."""
        rows: dict[tuple[str, str], list[int]] = {}
        for s in self.seats:
            rows.setdefault((s.section, s.row), []).append(s.ordinal)
        return {k: tuple(v) for k, v in rows.items()}

    @cached_property
    def _withheld(self) -> dict[int, tuple[int, ...]]:
        by_bit: dict[int, list[int]] = {}
        for s in self.seats:
            if s.withheld:
                for b in map(channels.bit, channels.CHANNELS):
                    if s.withheld & b:
                        by_bit.setdefault(b, []).append(s.ordinal)
        return {b: tuple(v) for b, v in by_bit.items()}

    def withheld_ordinals(self, channel_bit: int) -> tuple[int, ...]:
        """The seats not on sale through the channel of ``channel_bit``, by ordinal (as of ``stamp``: a change of
        channels changes the stamp, so these are re-read with the seats)."""
        return self._withheld.get(channel_bit, ())

    @cached_property
    def _withheld_sets(self) -> dict[int, frozenset[int]]:
        return {b: frozenset(v) for b, v in self._withheld.items()}

    def withheld_set(self, channel_bit: int) -> frozenset[int]:
        """``withheld_ordinals`` as a set, made once."""
        return self._withheld_sets.get(channel_bit, frozenset())

    @cached_property
    def parts(self) -> MapParts:
        """The map as the shop sends it (``map_parts``: a summary per section, each section's seats as an answer
        of its own), made once for these seats — the same for every language and answer until the seating
        changes (another stamp, other ``SessionSeats``). Cut by the host's first process to need them and kept in
        ``parts_path`` for the others (0.66 s of CPU for 80,000 seats; read back in a fraction of that)."""
        if self.parts_path is None:
            return parts_of(self.sections, self.seats)
        parts = map_parts.load(self.parts_path)
        if parts is None:
            parts = parts_of(self.sections, self.seats)
            map_parts.store(self.parts_path, parts)
        return parts

    def seat_map(self) -> SeatMap:
        """The map best available reads (states come from the snapshot, not from the layout's block reasons)."""
        return SeatMap(
            tuple(section_of(s) for s in self.sections),
            tuple(Seat(s.section, s.row, s.number, s.x, s.y, s.zone, frozenset(s.attributes)) for s in self.seats),
        )


def section_of(d: dict[str, Any]) -> Section:
    """A section of the interchange format's JSON (``{"id", "label", "kind", "best": [x, y], "seat_gap"}``)."""
    best = d.get("best") or [0, 0]
    return Section(
        id=str(d["id"]),
        label=str(d.get("label") or d["id"]),
        kind=str(d.get("kind") or "rect"),
        best_x=float(best[0]),
        best_y=float(best[1]),
        seat_gap=float(d.get("seat_gap") or 0.0),
    )


@dataclass
class SessionLive:
    """One session's seats in this process: the last snapshot, the ring of recent ones, and the index."""

    seats: SessionSeats
    snapshot: Snapshot | None = None
    read_at: float = -1e18
    # The last read's states (without this process's marks) and its horizon (PostgreSQL): the next read returns
    # only the units written since, applied to these (``seating.live``). When the last read of every state began.
    read_states: bytearray | None = None
    horizon: str | None = None
    full_read_at: float = -1e18
    ring: SnapshotRing = field(default_factory=SnapshotRing)
    states: bytearray = field(default_factory=bytearray)  # what ``index`` reflects, by ordinal
    index: SeatIndex | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    used_at: float = -1e18  # when a request last took the view (``LiveSeats.current``)
    refresh_every: float = SNAPSHOT_SECONDS
    # Per sales channel that has seats withheld from it (by channel bit): an index of this view in which those
    # seats are blocked for good, built at the channel's first best-available request and kept current with
    # ``index``. Best available for that channel never walks the withheld seats (taking them out of ``index``
    # for each order and giving them back cost a refresh of every row holding one, each order).
    channel_indexes: dict[int, SeatIndex] = field(default_factory=dict)
    # Seats this process chose for orders (ordinal → when): kept taken over reads for ``MARK_SECONDS``, so a read
    # that began before their orders committed does not offer them again to this process's next buyers.
    marks: dict[int, float] = field(default_factory=dict)
    refresher: asyncio.Task[None] | None = None
    # Per ticket type and zone, the session's prices as last read (``zone_prices``; verified by each order's
    # reservation statement), with the stamp of the seats they were read for.
    prices: list[PriceRow] | None = None
    # Snapshots as one channel sees them (seats withheld from it not for sale), by (channel bit, version): the
    # shop's answers, made once per snapshot rather than per request.
    channel_views: dict[tuple[int, str], Snapshot] = field(default_factory=dict)
    # When each seat was last handed out by a process of this host (None: not shared, this process alone).
    host: HostMarks | None = None

    def for_channel(self, snapshot: Snapshot, channel_bit: int) -> Snapshot:
        """``snapshot`` as the channel of ``channel_bit`` sees it (``availability.withheld_view``)."""
        ordinals = self.seats.withheld_ordinals(channel_bit)
        if not ordinals:
            return snapshot
        key = (channel_bit, snapshot.version)
        view = self.channel_views.get(key)
        if view is None:
            if len(self.channel_views) >= 64:
                self.channel_views.clear()
            view = self.channel_views[key] = withheld_view(snapshot, ordinals, self.seats.zone_of)
        return view

    def _indexes(self) -> list[tuple[SeatIndex, frozenset[int]]]:
        """Every index built, each with the ordinals it keeps blocked whatever the states say."""
        out = [(self.index, frozenset())] if self.index is not None else []
        out += [(index, self.seats.withheld_set(b)) for b, index in self.channel_indexes.items()]
        return out

    def apply(self, states: Sequence[int]) -> None:
        """Make the indexes (when built) show ``states``: each changed seat moved to its new state (a seat
        withheld from a channel stays blocked in that channel's index)."""
        indexes = self._indexes()
        if not indexes:
            self.states = bytearray(states)
            return
        moves: dict[tuple[int, int], list[int]] = {}
        for i in changed(self.states, states):
            moves.setdefault((self.states[i], states[i]), []).append(i)
        seats = self.seats.seats
        for index, fixed in indexes:
            for (old, new), ordinals in moves.items():
                keys = [seats[o].key for o in ordinals if o not in fixed]
                if not keys:
                    continue
                # Through free: the index moves seats free ↔ taken and free ↔ blocked only.
                if old == TAKEN:
                    index.release(keys)
                elif old == BLOCKED:
                    index.unblock(keys)
                if new == TAKEN:
                    index.take(keys)
                elif new == BLOCKED:
                    index.block(keys)
        self.states = bytearray(states)

    def build_index(self, group_sizes: Sequence[int] = (), *, channel_bit: int = 0) -> SeatIndex:
        """The index best available chooses from: with ``channel_bit``, the one of that sales channel (the seats
        withheld from it blocked; the plain index when none is)."""
        withheld = self.seats.withheld_set(channel_bit) if channel_bit else frozenset()
        if not withheld:
            if self.index is None:
                self.index = self._new_index(frozenset(), group_sizes)
            return self.index
        index = self.channel_indexes.get(channel_bit)
        if index is None:
            index = self.channel_indexes[channel_bit] = self._new_index(withheld, group_sizes)
        return index

    def _new_index(self, withheld: frozenset[int], group_sizes: Sequence[int]) -> SeatIndex:
        seats, states = self.seats.seats, self.states
        return SeatIndex(
            self.seats.seat_map(),
            taken=[s.key for s, st in zip(seats, states, strict=True) if st == TAKEN and s.ordinal not in withheld],
            blocked=[s.key for s, st in zip(seats, states, strict=True) if st == BLOCKED or s.ordinal in withheld],
            group_sizes=group_sizes,
        )

    def choose(self, request: ba.Request, *, channel_bit: int = 0) -> ba.Allocation | ba.Refusal:
        """Best available on this view (``build_index`` first; with ``channel_bit``, among the seats on sale
        through that channel), passing over the seats another process of this host handed out in the last
        ``MARK_SECONDS`` (``host_marks``): when the answer's rows hold some, they are marked taken here, as this
        process's own choices are, and the choice is made again by the same rules. A seat handed out elsewhere in
        a row the choice did not meet stays free in this view until a read shows it taken (the claim decides).
        Seats taken in the index for this choice only (the order's own) stay as they are."""
        index = self.build_index(channel_bit=channel_bit)
        answer = index.choose(request)
        if self.host is None:
            return answer
        seats, states = self.seats, self.states
        for _ in range(MAX_PASSES):
            if isinstance(answer, ba.Refusal):
                break
            rows = dict.fromkeys((s.section, s.row) for s in map(seats.by_key.__getitem__, answer.seats))
            # The rows' free seats another process just handed out; the index is asked only about those (few), not
            # about every seat of the rows: this pass runs on nearly every best-available order of two workers.
            free = [o for row in rows for o in seats.row_ordinals[row] if states[o] == FREE]
            theirs = [o for o in self.host.recent(free, MARK_SECONDS) if index.state(seats.seats[o].key) == ba.FREE]
            if not theirs:
                break
            self.mark_taken(theirs)
            answer = index.choose(request)
        return answer

    def mark_units_taken(self, unit_ids: Sequence[str]) -> None:
        """Seats a claim just found taken (``seat_taken``): shown taken here, so choosing again avoids them
        without reading every state again."""
        self.mark_taken([s.ordinal for u in unit_ids if (s := self.seats.by_unit.get(u)) is not None])

    def mark_taken(self, ordinals: Sequence[int], *, share: bool = False) -> None:
        """Seats this process just chose for an order: shown taken to the next buyer here until the next
        snapshot says what became of them (a refused order's seats come back then). Moves only those seats (not
        a diff of every state: this runs on each best-available order). ``share``: they are this process's
        choice, which the host's other processes are told of (``host_marks``)."""
        if share and self.host is not None:
            self.host.mark(ordinals)
        keys, moved = [], []
        now = time.monotonic()
        for o in ordinals:
            if self.states[o] == FREE:
                self.states[o] = TAKEN
                self.marks[o] = now
                keys.append(self.seats.seats[o].key)
                moved.append(o)
        if keys:
            for index, fixed in self._indexes():
                index.take([k for o, k in zip(moved, keys, strict=True) if o not in fixed])

    def with_marks(self, states: bytearray) -> bytearray:
        """``states`` (a read) with the seats this process chose in the last ``MARK_SECONDS`` shown taken (their
        orders may not have committed when the read was made); a mark goes once a read shows the seat not free
        or it is older (a refused order's seats come back then)."""
        if not self.marks:
            return states
        out, now = bytearray(states), time.monotonic()
        for o, at in list(self.marks.items()):
            if now - at > MARK_SECONDS or out[o] != FREE:
                del self.marks[o]
            else:
                out[o] = TAKEN
        return out


_DIFFERENT = re.compile(rb"[^\x00]")


def changed(old: Sequence[int], new: Sequence[int]) -> list[int]:
    """The ordinals whose state differs, in order. The two states XORed as one integer each and the nonzero
    bytes found by a regular expression, all in C: a read's states differ from the last ones in a few hundred
    seats spread over the whole house, and every chunk of them that differed was walked seat by seat in Python
    (~5 ms a read of the stadium on each worker)."""
    if len(old) != len(new):
        raise ValueError("states of different seat maps")
    a, b = bytes(old), bytes(new)
    if a == b:
        return []
    diff = (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(len(a), "little")
    return [m.start() for m in _DIFFERENT.finditer(diff)]


@dataclass(frozen=True, slots=True)
class PriceRow:
    """A zone price as plain values (kept across units of work; an ORM row would be detached)."""

    id: str
    session_id: str
    zone: str
    ticket_type_id: str
    price_minor: int
