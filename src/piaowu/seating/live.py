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
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Any

from piaowu.catalog import views as catalog_views
from piaowu.db.uow import UnitOfWork
from piaowu.inventory import service as inventory
from piaowu.seating import map_parts
from piaowu.seating import repository as repo
from piaowu.seating.availability import BLOCKED, FREE, TAKEN, Snapshot, state_of
from piaowu.seating.host_marks import open_marks
from piaowu.seating.models import ZonePrice
from piaowu.seating.session_live import SNAPSHOT_SECONDS, PriceRow, SeatRow, SessionLive, SessionSeats

MAX_SESSIONS = 256
MAX_SEATS = 500_000
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
            read = await _read_states(uow, organizer_id, live)
            if read.replaced:
                self.forget(live)  # the session's seats were replaced: the next buyer reads them again
            snap = Snapshot.of(read.states, live.seats.zone_of, read.counts)
            live.snapshot, live.read_at = snap, began
            live.read_states, live.horizon = read.states, read.horizon
            if read.full:
                live.full_read_at = began
            live.ring.add(snap)
            live.apply(live.with_marks(read.states))
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
# Past this share of seats not free, on PostgreSQL, a read returns only the units written since the last read
# (``db.statements.written_since``) instead of the units in use: it walks every unit of the pool but returns a
# few, a cost that does not grow with the house taken (~20 ms on the 80,192-seat stadium, where the read of the
# units in use cost 8 ms at 10 % taken, 17 ms at 15 % and 64 ms at 60 %; docs/benchmarks.md).
CHANGES_ABOVE = 0.15
# Every this many seconds the view reads every state again all the same: what a read of changes cannot see (a unit
# deleted from the pool) is then seen, and the horizon of the last full read never grows old. Long: the request
# that comes then pays a full read (150-190 ms on a stadium past a quarter taken), and seats replaced are found
# sooner by the seating stamp each request checks.
FULL_READ_SECONDS = 60.0
SEAT_LEG = 0b1  # a seat is sold once: its unit's one leg
_STATE_BYTES = bytes.maketrans(b"012", bytes((FREE, TAKEN, BLOCKED)))


@dataclass(frozen=True, slots=True)
class StatesRead:
    """Every seat's state by ordinal, per zone the free and total seats (None: count them from the states), the
    read's horizon (PostgreSQL), whether every state was read (not only the changes since the last read), and
    whether some seat's unit is gone (the session's seats were replaced)."""

    states: bytearray
    counts: dict[str, dict[str, int]] | None
    horizon: str | None
    full: bool = True
    replaced: bool = False


async def _read_states(uow: UnitOfWork, organizer_id: str, live: SessionLive) -> StatesRead:
    """The seats' states now. The first read of a view: every unit's masks. Then, with the seats not free at the
    last read: while few are taken, the masks of those only (the rest are free); past ``CHANGES_ABOVE`` of the
    house, on PostgreSQL after a read that gave a horizon, the units written since, applied to that read's states
    (a few rows instead of the house), until ``FULL_READ_SECONDS`` after the last full read; past
    ``AGGREGATE_ABOVE`` of the house otherwise, on PostgreSQL, one aggregate of every seat's state (every unit's
    masks when it does not cover every seat: some unit is gone)."""
    seats, last = live.seats, live.snapshot
    if last is None:
        return await _read_every_unit(uow, organizer_id, seats)
    n = len(seats.seats)
    not_free = sum(z["total"] - z["free"] for z in last.zones.values())
    if (
        not_free > CHANGES_ABOVE * n
        and live.horizon is not None
        and live.read_states is not None
        and time.monotonic() - live.full_read_at < FULL_READ_SECONDS
    ):
        cols = await inventory.pool_unit_mask_columns(uow, organizer_id, seats.pool_id, changed_since=live.horizon)
        states, zone_of, freed = bytearray(live.read_states), seats.zone_of, Counter[str]()
        for o, occupied, blocked in zip(map(seats.ordinal_of.get, cols.ids), cols.occupied, cols.blocked, strict=True):
            # A unit of the pool that is no seat of this view is skipped, as by the read of the seats in use; seats
            # replaced since are found by the stamp each request checks, and by the next full read.
            if o is None or (new := state_of(occupied, blocked)) == (old := states[o]):
                continue
            states[o] = new
            if FREE in (old, new):
                freed[zone_of[o]] += 1 if new == FREE else -1
        counts = {z: {"free": c["free"] + freed[z], "total": c["total"]} for z, c in last.zones.items()}
        return StatesRead(states, counts, cols.horizon, full=False)
    if not_free > AGGREGATE_ABOVE * n:
        read = await repo.seat_states(uow.session, organizer_id, seats.session_id)
        if read is None or len(read[0]) != n:
            return await _read_every_unit(uow, organizer_id, seats)
        text, horizon = read
        states = bytearray(text.encode("ascii").translate(_STATE_BYTES))
        used = Counter(compress(seats.zone_of, states))  # the zones of the seats not free, counted in C
    else:
        # Walked once as columns (no dict of the units by id first); ordinals looked up in C, zones counted in C.
        ids, occupied, blocked, horizon = await inventory.pool_unit_mask_columns(
            uow, organizer_id, seats.pool_id, in_use=SEAT_LEG
        )
        states = bytearray(n)
        in_use = []
        for o, occ, blk in zip(map(seats.ordinal_of.get, ids), occupied, blocked, strict=True):
            if o is not None:
                states[o] = TAKEN if occ & SEAT_LEG else BLOCKED if blk & SEAT_LEG else FREE
                in_use.append(o)
        used = Counter(map(seats.zone_of.__getitem__, in_use))
    counts = {z: {"free": total - used[z], "total": total} for z, total in seats.zone_totals.items()}
    return StatesRead(states, counts, horizon)


async def _read_every_unit(uow: UnitOfWork, organizer_id: str, seats: SessionSeats) -> StatesRead:
    """Every unit's masks: also tells whether the session's seats were replaced (a seat whose unit is gone reads
    as blocked)."""
    cols = await inventory.pool_unit_mask_columns(uow, organizer_id, seats.pool_id)
    masks = dict(zip(cols.ids, zip(cols.occupied, cols.blocked, strict=True), strict=True))
    missing = (0, 1)
    states = bytearray(state_of(*masks.get(unit_id, missing)) for unit_id in seats.unit_ids)
    return StatesRead(states, None, cols.horizon, replaced=any(u not in masks for u in seats.unit_ids))


LIVE = LiveSeats()
# Tests inject their own registry (a process of its own) under this key.
LIVE_KEY = "seating.live"


def live_of(uow: UnitOfWork) -> LiveSeats:
    return uow.strategies.get(LIVE_KEY, LIVE)


async def zone_prices(uow: UnitOfWork, organizer_id: str, session_id: str) -> list[ZonePrice]:
    """The session's prices per (zone, ticket type), read fresh."""
    return await repo.zone_prices(uow.session, organizer_id, session_id)


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
