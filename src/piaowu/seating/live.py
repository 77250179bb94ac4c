"""A session's seats as the sale path reads them: the seats themselves (cached per process while the session's
seating is unchanged), their live states (a snapshot at most a moment old) and, for best available, a
``SeatIndex`` kept equal to the last snapshot.

Nothing here decides a sale: the claim in the reservation statement does (``inventory.reserve``). A snapshot is a
view of the units' ``occupied``/``blocked`` bits; best available chooses from it, and a seat that was taken since
is refused by the claim and chosen again from a fresh snapshot (``orders.service.create_order``).

Per process: ``LIVE`` keeps, per (organizer, session), the seats, the last snapshot, the ring of recent ones
(answers to ``since=``) and the index. The seats are re-read when the session's ``session_seating`` row says
another layout or version (a re-assigned layout has other units). Bounded: cleared past ``MAX_SESSIONS`` sessions or
``MAX_SEATS`` seats in all (a stadium's seats and index take tens of MB).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from piaowu.catalog import views as catalog_views
from piaowu.db.uow import UnitOfWork
from piaowu.inventory import service as inventory
from piaowu.seating import repository as repo
from piaowu.seating.availability import BLOCKED, FREE, TAKEN, Snapshot, SnapshotRing, state_of
from piaowu.seating.best_available import SeatIndex
from piaowu.seating.layout import ATTRIBUTES, Seat, SeatKey, SeatMap, Section
from piaowu.seating.models import ZonePrice

MAX_SESSIONS = 256
MAX_SEATS = 500_000
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

    @property
    def unit_ids(self) -> list[str]:
        return [s.unit_id for s in self.seats]

    @property
    def zone_of(self) -> list[str]:
        return [s.zone for s in self.seats]

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
    states: list[int] = field(default_factory=list)  # what ``index`` reflects, by ordinal
    index: SeatIndex | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def apply(self, states: Sequence[int]) -> None:
        """Make the index (when built) show ``states``: each changed seat moved to its new state."""
        if self.index is None:
            self.states = list(states)
            return
        moves: dict[tuple[int, int], list[SeatKey]] = {}
        for i, (old, new) in enumerate(zip(self.states, states, strict=True)):
            if old != new:
                moves.setdefault((old, new), []).append(self.seats.seats[i].key)
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
        self.states = list(states)

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
        snapshot says what became of them (a refused order's seats come back then)."""
        new = list(self.states)
        for o in ordinals:
            if new[o] == FREE:
                new[o] = TAKEN
        self.apply(new)


class LiveSeats:
    """The per-process registry of ``SessionLive`` by (organizer, session)."""

    def __init__(self) -> None:
        self._by_session: dict[tuple[str, str], SessionLive] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loading: dict[tuple[str, str], asyncio.Lock] = {}

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
        # One read of the seats per session at a time: a burst of first buyers shares it.
        async with self._loading.setdefault(key, asyncio.Lock()):
            live = self._by_session.get(key)
            if live is not None and live.seats.stamp == stamp:
                return live
            return await self._load(uow, organizer_id, session_id, stamp, seating.sections)

    async def _load(
        self, uow: UnitOfWork, organizer_id: str, session_id: str, stamp: tuple[Any, ...], sections: Any
    ) -> SessionLive:
        key = (organizer_id, session_id)
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
                sections=tuple(sections or ()),
                seats=seats,
                by_unit={s.unit_id: s for s in seats},
                by_key={s.key: s for s in seats},
                zones=tuple(dict.fromkeys(s.zone for s in seats)),
            )
        )
        cached = sum(len(v.seats.seats) for v in self._by_session.values() if v.seats.session_id != session_id)
        if len(self._by_session) >= MAX_SESSIONS or cached + len(seats) > MAX_SEATS:
            self._by_session.clear()
            self._loading.clear()
        self._by_session[key] = live
        return live

    async def refresh(
        self,
        uow: UnitOfWork,
        organizer_id: str,
        live: SessionLive,
        *,
        max_age: float = 0.0,
        began_after: float | None = None,
    ) -> Snapshot:
        """``live``'s states, its index following them: the last snapshot if it is at most ``max_age`` seconds
        old — or, with ``began_after`` (a ``time.monotonic()``), if its read began after that moment, so it holds
        every change committed before it — else read now. One read at a time per session: buyers who wait for
        it use it (a burst of buyers told "seat taken" costs one read, not one each)."""
        async with live.lock:
            if live.snapshot is not None:
                if began_after is not None and live.read_at > began_after:
                    return live.snapshot
                if began_after is None and time.monotonic() - live.read_at <= max_age:
                    return live.snapshot
            began = time.monotonic()
            masks = await inventory.pool_unit_masks(uow, organizer_id, live.seats.pool_id)
            missing = (0, 1)  # a seat whose unit is gone reads as blocked
            unit_ids = live.seats.unit_ids
            states = [state_of(*masks.get(unit_id, missing)) for unit_id in unit_ids]
            if any(u not in masks for u in unit_ids):
                self.forget(live)  # the session's seats were replaced: the next buyer reads them again
            snap = Snapshot.of(states, live.seats.zone_of)
            live.snapshot, live.read_at = snap, began
            live.ring.add(snap)
            live.apply(states)
            return snap

    def forget(self, live: SessionLive) -> None:
        """Drop ``live`` (its seats were replaced): the next ``seats`` reads them again."""
        for key, cached in list(self._by_session.items()):
            if cached is live:
                del self._by_session[key]

    async def unknown_here(
        self, uow: UnitOfWork, organizer_id: str, live: SessionLive, unit_ids: Sequence[str]
    ) -> SessionLive:
        """``live``, or the session's seats read again when some of ``unit_ids`` that this view does not know
        are seats of the session after all (its seats were replaced since). A small indexed read, so ids that
        are no seat at all never cost a reload."""
        unknown = [u for u in unit_ids if u not in live.seats.by_unit]
        if not unknown or not await repo.seats_by_id(uow.session, organizer_id, live.seats.session_id, unknown):
            return live
        self.forget(live)
        return await self.seats(uow, organizer_id, live.seats.session_id) or live

    def clear(self) -> None:
        self._by_session.clear()


LIVE = LiveSeats()
# Tests inject their own registry (a process of its own) under this key.
LIVE_KEY = "seating.live"


def live_of(uow: UnitOfWork) -> LiveSeats:
    return uow.strategies.get(LIVE_KEY, LIVE)


async def zone_prices(uow: UnitOfWork, organizer_id: str, session_id: str) -> list[ZonePrice]:
    """The session's prices per (zone, ticket type), read fresh."""
    return await repo.zone_prices(uow.session, organizer_id, session_id)
