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
import logging
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import compress
from pathlib import Path
from typing import Any

from piaowu.catalog import views as catalog_views
from piaowu.core import channels
from piaowu.db.uow import UnitOfWork
from piaowu.inventory import service as inventory
from piaowu.seating import best_available as ba
from piaowu.seating import map_parts
from piaowu.seating import repository as repo
from piaowu.seating.availability import BLOCKED, FREE, TAKEN, Snapshot, SnapshotRing, state_of, withheld_view
from piaowu.seating.best_available import SeatIndex
from piaowu.seating.host_marks import HostMarks, open_marks
from piaowu.seating.layout import ATTRIBUTES, Seat, SeatKey, SeatMap, Section
from piaowu.seating.map_parts import MapParts, parts_of
from piaowu.seating.models import ZonePrice

MAX_SESSIONS = 256
MAX_SEATS = 500_000
# A snapshot younger than this is used for best available without reading the units again.
SNAPSHOT_SECONDS = 1.0
# How long the seats this process chose stay taken in its view whatever the reads say (``SessionLive.marks``):
# longer than an order takes to be placed. The same for seats another process of the host handed out
# (``host_marks``).
MARK_SECONDS = 2.0
# At most this many times a choice passes over seats another process of the host just handed out before it offers
# a block anyway (the claim decides).
MAX_PASSES = 20
# The background refresher (``LiveSeats.current``) reads a used session's states this share of the age its
# requests accept (0.6 s for best available's 1 s), so the view stays young enough and a request reads the states
# itself only when the refresher failed or fell behind.
REFRESH_SHARE = 0.6
# A refresher stops when no request used its session's view for this long (it starts again with the next one).
IDLE_SECONDS = 15.0
# At most this many refreshers per process; past it, requests of further sessions read the states themselves.
MAX_REFRESHERS = 32
# After a failed read, the refresher waits this long before the next (the error is logged, never raised).
ERROR_BACKOFF_SECONDS = 2.0

log = logging.getLogger(__name__)


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


class LiveSeats:
    """The per-process registry of ``SessionLive`` by (organizer, session)."""

    def __init__(self) -> None:
        self._by_session: dict[tuple[str, str], SessionLive] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loading: dict[tuple[str, str], asyncio.Lock] = {}

    async def seats(
        self, uow: UnitOfWork, organizer_id: str, session_id: str, *, cached: bool = False
    ) -> SessionLive | None:
        """The session's seats (None: the session sells no seats). One primary-key read of its seating row;
        the seats themselves are read again only when that row changed. ``cached``: the seats this process
        already has, without that read — for a caller whose statement re-verifies ``live.seats.stamp`` itself (a
        seat order's reservation, ``SeatResolver``)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # the locks belong to one event loop (tests run one loop per test)
            self._by_session.clear()
            self._loading.clear()
            self._loop = loop
        if cached and (live := self._by_session.get((organizer_id, session_id))) is not None:
            return live
        stamp = await repo.seating_stamp(uow.session, organizer_id, session_id)
        if stamp is None:
            return None
        key = (organizer_id, session_id)
        live = self._by_session.get(key)
        if live is not None and live.seats.stamp == stamp:
            return live
        # One read of the seats per session at a time: a burst of first buyers shares it.
        async with self._loading.setdefault(key, asyncio.Lock()):
            live = self._by_session.get(key)
            if live is not None and live.seats.stamp == stamp:
                return live
            seating = await repo.seating(uow.session, organizer_id, session_id)  # its sections, once
            if seating is None:
                return None
            return await self._load(uow, organizer_id, session_id, stamp, seating.sections)

    async def _load(
        self, uow: UnitOfWork, organizer_id: str, session_id: str, stamp: tuple[Any, ...], sections: Any
    ) -> SessionLive:
        key = (organizer_id, session_id)
        pool_id = (await catalog_views.session_or_404(uow, organizer_id, session_id)).pool_id
        rows = await repo.session_seat_rows(uow.session, organizer_id, session_id)
        withheld = await repo.withheld_seats(uow.session, organizer_id, session_id)
        seats = tuple(
            SeatRow(
                unit_id,
                i,
                section,
                row,
                number,
                x,
                y,
                zone,
                tuple(attributes) if attributes else (),
                withheld.get(unit_id, 0),
            )
            for i, (unit_id, section, row, number, x, y, zone, attributes) in enumerate(rows)
        )
        var_dir = uow.settings.var_dir if uow.settings is not None else None
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
                zone_totals=dict(Counter(s.zone for s in seats)),
                parts_path=map_parts.parts_file(var_dir, session_id, stamp) if var_dir is not None else None,
            ),
            host=open_marks(var_dir, session_id, stamp, len(seats)) if var_dir is not None else None,
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
        if began_after is None and max_age > 0 and live.snapshot is not None and live.lock.locked():
            # A read is under way: a view that may be older (best available's) takes the last one rather than
            # queue behind the read — on a stadium that read is tens of milliseconds a second, and every
            # best-available order of this worker would wait it out. The claim decides.
            return live.snapshot
        if live.snapshot is not None and _young_enough(live, max_age, began_after):
            # The view will do: no read, so no connection either. Taking one made a best-available order's unit of
            # work begin on SQLAlchemy's session (connection, commit, close: its one statement went through the
            # session instead of the driver's own connection, db/driver.py) for a read it never made.
            return live.snapshot
        # The connection first, then the lock: a holder of the lock never waits for the pool. The other way round,
        # requests holding every connection of the pool while queued on this lock and a reader holding the lock
        # while queued on the pool waited for each other until the pool's timeout (30 s: the background refresher
        # against 60 best-available buyers on a pool of 24, tests/concurrency/test_seat_sale_races.py).
        await uow.session.connection()
        async with live.lock:
            if live.snapshot is not None and _young_enough(live, max_age, began_after):
                return live.snapshot  # read by the holder of the lock before us
            began = time.monotonic()
            last = live.snapshot.zones if live.snapshot is not None else {}
            not_free = sum(z["total"] - z["free"] for z in last.values())
            read = await _read_states(uow, organizer_id, live.seats, not_free, first=live.snapshot is None)
            if read is None:  # every unit's masks: also tells whether the session's seats were replaced
                masks = await inventory.pool_unit_masks(uow, organizer_id, live.seats.pool_id)
                missing = (0, 1)  # a seat whose unit is gone reads as blocked
                unit_ids = live.seats.unit_ids
                states = bytearray(state_of(*masks.get(unit_id, missing)) for unit_id in unit_ids)
                if any(u not in masks for u in unit_ids):
                    self.forget(live)  # the session's seats were replaced: the next buyer reads them again
                snap = Snapshot.of(states, live.seats.zone_of)
            else:
                states, counts = read
                snap = Snapshot.of(states, live.seats.zone_of, counts)
            live.snapshot, live.read_at = snap, began
            live.ring.add(snap)
            live.apply(live.with_marks(states))
            return snap

    async def current(
        self, uow: UnitOfWork, organizer_id: str, live: SessionLive, *, max_age: float = SNAPSHOT_SECONDS
    ) -> Snapshot:
        """``live``'s states as a request uses them: the view kept by this process's background refresher (one
        per used session, started here, reading every ``REFRESH_SHARE * max_age``), so a request does not wait for
        a read. Read now only for the first view, with ``max_age`` 0, or when the view is older than ``max_age``
        and no read is under way (the refresher failed or fell behind): the bound on staleness is ``refresh``'s.
        The view may be a moment old: the claim in the reservation decides."""
        live.used_at = time.monotonic()
        if max_age > 0:
            live.refresh_every = min(live.refresh_every, max(0.05, REFRESH_SHARE * max_age))
            self._ensure_refresher(uow, organizer_id, live)
        # Within max_age: the refresher's view. Older (or a read under way): ``refresh``'s own rules.
        return await self.refresh(uow, organizer_id, live, max_age=max_age)

    def refreshers(self) -> int:
        """How many background refreshers run in this process."""
        return sum(1 for v in self._by_session.values() if v.refresher is not None and not v.refresher.done())

    def _ensure_refresher(self, uow: UnitOfWork, organizer_id: str, live: SessionLive) -> None:
        if live.refresher is not None and not live.refresher.done():
            return
        if self.refreshers() >= MAX_REFRESHERS or all(v is not live for v in self._by_session.values()):
            return  # bounded; a view no longer kept here is not refreshed
        live.refresher = asyncio.get_running_loop().create_task(
            self._refresh_loop(uow, organizer_id, live), name=f"seating-refresh-{live.seats.session_id}"
        )

    async def _refresh_loop(self, uow: UnitOfWork, organizer_id: str, live: SessionLive) -> None:
        """Read ``live``'s states every ``live.refresh_every`` seconds (each in a read-only unit of work of its
        own) until no
        request used it for ``IDLE_SECONDS`` or it is no longer this process's view of the session."""
        try:
            while True:
                await asyncio.sleep(max(0.05, live.read_at + live.refresh_every - time.monotonic()))
                if time.monotonic() - live.used_at > IDLE_SECONDS or all(
                    v is not live for v in self._by_session.values()
                ):
                    return
                try:
                    async with UnitOfWork(
                        uow.db, uow.clock, readonly=True, strategies=uow.strategies, settings=uow.settings
                    ) as bg:
                        # A request that read meanwhile (its view was too old) spares this read.
                        await self.refresh(bg, organizer_id, live, max_age=live.refresh_every / 2)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning("seat states of session %s: refresh failed", live.seats.session_id, exc_info=True)
                    await asyncio.sleep(ERROR_BACKOFF_SECONDS)
        finally:
            live.refresher = None

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

    def stop(self) -> None:
        """Cancel every background refresher (a registry given up, e.g. before its database goes away)."""
        for live in self._by_session.values():
            if live.refresher is not None:
                live.refresher.cancel()


# Past this share of seats not free (at the last read), one aggregate of every seat's state costs less than
# loading the rows of the seats not free one by one (PostgreSQL; measured on the 80,000-seat bench).
AGGREGATE_ABOVE = 0.25
SEAT_LEG = 0b1  # a seat is sold once: its unit's one leg
_STATE_BYTES = bytes.maketrans(b"012", bytes((FREE, TAKEN, BLOCKED)))


async def _read_states(
    uow: UnitOfWork, organizer_id: str, seats: SessionSeats, not_free: int, *, first: bool
) -> tuple[bytearray, dict[str, dict[str, int]]] | None:
    """Every seat's state by ordinal, and per zone the free and total seats, or None: read every unit's masks
    (the ``first`` read of a view). Then, with ``not_free`` seats at the last read: while few are taken, the masks
    of those only (the rest are free); past ``AGGREGATE_ABOVE`` of the house, on PostgreSQL, one aggregate of
    every seat's state (one text value; None when it does not cover every seat: some unit is gone)."""
    n = len(seats.seats)
    if not_free > AGGREGATE_ABOVE * n:
        text = await repo.seat_states(uow.session, organizer_id, seats.session_id)
        if text is None or len(text) != n:
            return None
        states = bytearray(text.encode("ascii").translate(_STATE_BYTES))
        used = Counter(compress(seats.zone_of, states))  # the zones of the seats not free, counted in C
    elif not first:
        # Walked once as columns (no dict of the units by id first); ordinals looked up in C, zones counted in C.
        ids, occupied, blocked = await inventory.pool_unit_mask_columns(
            uow, organizer_id, seats.pool_id, in_use=SEAT_LEG
        )
        states = bytearray(n)
        in_use = []
        for o, occ, blk in zip(map(seats.ordinal_of.get, ids), occupied, blocked, strict=True):
            if o is not None:
                states[o] = TAKEN if occ & SEAT_LEG else BLOCKED if blk & SEAT_LEG else FREE
                in_use.append(o)
        used = Counter(map(seats.zone_of.__getitem__, in_use))
    else:
        return None
    return states, {z: {"free": total - used[z], "total": total} for z, total in seats.zone_totals.items()}


LIVE = LiveSeats()
# Tests inject their own registry (a process of its own) under this key.
LIVE_KEY = "seating.live"


def live_of(uow: UnitOfWork) -> LiveSeats:
    return uow.strategies.get(LIVE_KEY, LIVE)


async def zone_prices(uow: UnitOfWork, organizer_id: str, session_id: str) -> list[ZonePrice]:
    """The session's prices per (zone, ticket type), read fresh."""
    return await repo.zone_prices(uow.session, organizer_id, session_id)


@dataclass(frozen=True, slots=True)
class PriceRow:
    """A zone price as plain values (kept across units of work; an ORM row would be detached)."""

    id: str
    session_id: str
    zone: str
    ticket_type_id: str
    price_minor: int


async def cached_zone_prices(uow: UnitOfWork, organizer_id: str, live: SessionLive, *, fresh: bool) -> list[PriceRow]:
    """The session's prices as this process last read them (read now when ``fresh`` or never read). Only for a
    caller whose reservation re-verifies each price it charges (the seat resolver's ``zone_price`` row check):
    a changed price fails that check and the order is resolved again with ``fresh``; a zone priced since is
    found by the fresh retry of a refusal (``orders.service._resolve``)."""
    if fresh or live.prices is None:
        rows = await zone_prices(uow, organizer_id, live.seats.session_id)
        live.prices = [PriceRow(p.id, p.session_id, p.zone, p.ticket_type_id, p.price_minor) for p in rows]
    return live.prices


def _young_enough(live: SessionLive, max_age: float, began_after: float | None) -> bool:
    """Whether ``live``'s last snapshot answers ``LiveSeats.refresh``: its read began after ``began_after`` (so
    it holds every change committed before that moment), or, without one, it is at most ``max_age`` old."""
    if began_after is not None:
        return live.read_at > began_after
    return time.monotonic() - live.read_at <= max_age
