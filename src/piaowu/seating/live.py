"""A session's seats as the sale path reads them: the seats themselves (cached per process while the session's
seating is unchanged), their live states (a snapshot at most a moment old) and, for best available, a
``SeatIndex`` kept equal to the last snapshot.

Nothing here decides a sale: the claim in the reservation statement does (``inventory.reserve``). A snapshot is a
view of the units' ``occupied``/``blocked`` bits; best available chooses from it, and a seat that was taken since
is refused by the claim and chosen again from a fresh snapshot (``orders.service.create_order``).

Per process: ``LIVE`` keeps, per (organizer, session), the seats, the last snapshot, the ring of recent ones
(answers to ``since=``) and the index. The seats are re-read when the session's ``session_seating`` row says
another layout or version (a re-assigned layout has other units). Bounded: cleared past ``MAX_SESSIONS``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

from piaowu.catalog import views as catalog_views
from piaowu.core.errors import NotFound
from piaowu.db.uow import UnitOfWork
from piaowu.inventory import service as inventory
from piaowu.seating import repository as repo
from piaowu.seating.availability import BLOCKED, FREE, TAKEN, Snapshot, SnapshotRing, state_of
from piaowu.seating.best_available import SeatIndex
from piaowu.seating.layout import ATTRIBUTES, Seat, SeatKey, SeatMap, Section
from piaowu.seating.models import ZonePrice

MAX_SESSIONS = 256
SEAT_LEG = 0b1  # a seat is sold once: its unit's one leg
# A snapshot younger than this is used for best available without reading the units again.
SNAPSHOT_SECONDS = 1.0


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
    zone_of: tuple[str, ...] = field(default=(), repr=False)  # by ordinal
    zone_totals: dict[str, int] = field(default_factory=dict)  # seats per zone, in the order of ``zones``

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
    ring: SnapshotRing = field(default_factory=SnapshotRing)
    states: bytearray = field(default_factory=bytearray)  # what ``index`` reflects, by ordinal
    index: SeatIndex | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def apply(self, states: Sequence[int]) -> None:
        """Make the index (when built) show ``states``: each changed seat moved to its new state."""
        if self.index is None:
            self.states = bytearray(states)
            return
        moves: dict[tuple[int, int], list[SeatKey]] = {}
        for i in changed(self.states, states):
            moves.setdefault((self.states[i], states[i]), []).append(self.seats.seats[i].key)
        index = self.index
        for (old, new), keys in moves.items():
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

    def build_index(self, group_sizes: Sequence[int] = ()) -> SeatIndex:
        if self.index is None:
            keys = [s.key for s in self.seats.seats]
            self.index = SeatIndex(
                self.seats.seat_map(),
                taken=[k for k, st in zip(keys, self.states, strict=True) if st == TAKEN],
                blocked=[k for k, st in zip(keys, self.states, strict=True) if st == BLOCKED],
                group_sizes=group_sizes,
            )
        return self.index

    def mark_taken(self, ordinals: Sequence[int]) -> None:
        """Seats this process just chose for an order: shown taken to the next buyer here until the next
        snapshot says what became of them (a refused order's seats come back then). Moves only those seats (not
        a diff of every state: this runs on each best-available order)."""
        keys = []
        for o in ordinals:
            if self.states[o] == FREE:
                self.states[o] = TAKEN
                keys.append(self.seats.seats[o].key)
        if self.index is not None and keys:
            self.index.take(keys)


CHUNK = 1024


def changed(old: Sequence[int], new: Sequence[int]) -> list[int]:
    """The ordinals whose state differs, in order. Compared as bytes a chunk at a time and looked into only where
    a chunk differs: a snapshot a second after the last differs in a few seats of 80,000."""
    if len(old) != len(new):
        raise ValueError("states of different seat maps")
    a, b = bytes(old), bytes(new)
    out: list[int] = []
    for start in range(0, len(a), CHUNK):
        end = start + CHUNK
        if a[start:end] != b[start:end]:
            out.extend(i for i in range(start, min(end, len(a))) if a[i] != b[i])
    return out


class LiveSeats:
    """The per-process registry of ``SessionLive`` by (organizer, session)."""

    def __init__(self) -> None:
        self._by_session: dict[tuple[str, str], SessionLive] = {}
        self._loading: dict[tuple[str, str], asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def seats(self, uow: UnitOfWork, organizer_id: str, session_id: str) -> SessionLive | None:
        """The session's seats (None: the session sells no seats). One primary-key read of its seating row;
        the seats themselves are read again only when that row changed."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # the locks belong to one event loop (tests run one loop per test)
            self._by_session.clear()
            self._loading.clear()
            self._loop = loop
        seating = await repo.seating(uow.session, organizer_id, session_id)
        if seating is None:
            return None
        stamp = (seating.layout_id, seating.layout_version, seating.seat_count, seating.created_at)
        key = (organizer_id, session_id)
        live = self._by_session.get(key)
        if live is not None and live.seats.stamp == stamp:
            return live
        # One load per session at a time: concurrent first requests (a sale opening on a fresh worker) would
        # each read every seat and each install its own SessionLive, and a request holding a replaced one would
        # build its index from states that were never read into it.
        async with self._loading.setdefault(key, asyncio.Lock()):
            live = self._by_session.get(key)
            if live is not None and live.seats.stamp == stamp:
                return live
            return await self._load(uow, organizer_id, session_id, key, seating, stamp)

    async def _load(
        self, uow: UnitOfWork, organizer_id: str, session_id: str, key: tuple[str, str], seating: Any, stamp: Any
    ) -> SessionLive:
        pool_id = (await catalog_views.session_or_404(uow, organizer_id, session_id)).pool_id
        rows = await repo.session_seats(uow.session, organizer_id, session_id)
        seats = tuple(
            SeatRow(s.unit_id, i, s.section, s.row, s.number, s.x, s.y, s.zone, tuple(s.attributes or ()))
            for i, s in enumerate(rows)
        )
        live = SessionLive(
            SessionSeats(
                session_id=session_id,
                pool_id=pool_id,
                stamp=stamp,
                sections=tuple(seating.sections or ()),
                seats=seats,
                by_unit={s.unit_id: s for s in seats},
                by_key={s.key: s for s in seats},
                zones=tuple(dict.fromkeys(s.zone for s in seats)),
                zone_of=tuple(s.zone for s in seats),
                zone_totals=dict(Counter(s.zone for s in seats)),
            )
        )
        if len(self._by_session) >= MAX_SESSIONS:
            self._by_session.clear()
            self._loading = {k: v for k, v in self._loading.items() if v.locked()}
        self._by_session[key] = live
        return live

    async def snapshot(
        self, uow: UnitOfWork, organizer_id: str, session_id: str, *, max_age: float = 0.0
    ) -> tuple[SessionLive, Snapshot]:
        """The session's live states, read now or at most ``max_age`` seconds ago (in this process) — with
        ``max_age`` > 0, also the last read while another read is under way. ``NotFound`` when the session sells
        no seats."""
        live = await self.seats(uow, organizer_id, session_id)
        if live is None:
            raise NotFound(kind="seat map")
        if max_age > 0 and live.snapshot is not None and live.lock.locked():
            # A read is under way: a view that may be older (best available's) takes the last one rather than
            # queue behind the read — on a stadium that read is tens of milliseconds a second, and every
            # best-available order of this worker would wait it out. The claim decides; a taken seat is chosen
            # again from a fresh view.
            return live, live.snapshot
        asked = time.monotonic()
        async with live.lock:  # one read at a time per session; waiters use it when it is young enough
            # A read that began after this caller asked is as fresh as one it would start now: concurrent callers
            # that need the states now (buyers whose best seats were just taken, choosing again) share one read.
            if live.snapshot is not None and (time.monotonic() - live.read_at <= max_age or live.read_at >= asked):
                return live, live.snapshot
            began = time.monotonic()
            last = live.snapshot.zones if live.snapshot is not None else {}
            not_free = sum(z["total"] - z["free"] for z in last.values())
            states, counts = await _read_states(uow, organizer_id, live.seats, not_free)
            snap = Snapshot.of(states, live.seats.zone_of, counts)
            live.snapshot, live.read_at = snap, began
            live.ring.add(snap)
            live.apply(states)
            return live, snap

    def clear(self) -> None:
        self._by_session.clear()


_STATE_BYTES = bytes.maketrans(b"012", bytes((FREE, TAKEN, BLOCKED)))


# Past this share of seats not free (at the last read), one aggregate of every seat's state costs less than
# loading the rows of the seats not free one by one (PostgreSQL; measured on the 80,000-seat bench).
AGGREGATE_ABOVE = 0.25


async def _read_states(
    uow: UnitOfWork, organizer_id: str, seats: SessionSeats, not_free: int
) -> tuple[bytearray, dict[str, dict[str, int]]]:
    """Every seat's state by ordinal, and per zone the free and total seats. The units' masks of the seats taken
    or kept back only (the rest are free) while few are (``not_free`` at the last read); past
    ``AGGREGATE_ABOVE`` of the house, on PostgreSQL, one aggregate of every seat's state (one text value)."""
    n = len(seats.seats)
    text = None
    if not_free > AGGREGATE_ABOVE * n:
        text = await repo.seat_states(uow.session, organizer_id, seats.session_id)
    if text is not None and len(text) == n:
        states = bytearray(text.encode("ascii").translate(_STATE_BYTES))
        # The zones of the seats not free (a state byte is 0 only when free), counted in C.
        used = Counter(compress(seats.zone_of, states))
    else:
        masks = await inventory.pool_unit_masks(uow, organizer_id, seats.pool_id, in_use=SEAT_LEG)
        states = bytearray(n)
        used = Counter()
        for unit_id, (occupied, blocked) in masks.items():
            seat = seats.by_unit.get(unit_id)
            if seat is not None:
                states[seat.ordinal] = state_of(occupied, blocked)
                used[seat.zone] += 1
    return states, {z: {"free": total - used[z], "total": total} for z, total in seats.zone_totals.items()}


LIVE = LiveSeats()
# Tests inject their own registry (a process of its own) under this key.
LIVE_KEY = "seating.live"


def live_of(uow: UnitOfWork) -> LiveSeats:
    return uow.strategies.get(LIVE_KEY, LIVE)


async def zone_prices(uow: UnitOfWork, organizer_id: str, session_id: str) -> list[ZonePrice]:
    """The session's prices per (zone, ticket type), read fresh."""
    return await repo.zone_prices(uow.session, organizer_id, session_id)
