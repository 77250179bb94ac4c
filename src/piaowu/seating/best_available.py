"""Best available: which seats to offer a buyer who asks for N seats in a zone rather than picking them.

The rules (issue 8), in order of priority:

1. Only free seats of the zones asked for (a zone, or every zone sold at the price asked for); never a taken or
   blocked one.
2. Wheelchair spaces and companion seats only to a buyer who asks for wheelchair spaces (``wheelchairs``), and
   then each wheelchair space comes with companion seats: the block holds exactly ``wheelchairs`` wheelchair
   spaces and at least ``min(wheelchairs, N - wheelchairs)`` companion seats.
3. N seats side by side in one row (``layout``'s adjacency: no aisle or gap between them) whenever such a block
   exists in the zones asked for.
4. No single seat left stranded: a free seat between the block and a taken seat, an aisle or a row end
   (``orphans``) only when every possible block would leave one.
5. Closest to the best point of the seat's section: the smallest sum of the seats' distances to it.
6. Ties: the earlier row (sections in the map's order, rows in order of first appearance), then the block
   further left in the row's order. So the same map, states and request always give the same seats.

Without a block of N, the answer is a ``Refusal``: ``no_adjacent_block`` (enough seats, but not side by side:
ask the buyer whether to split the group), ``not_enough_seats``, or ``no_wheelchair_space``. With the buyer's
consent (``allow_split``) the group is split across rows: the biggest block that fits first (the best one, by
the same rules), then the biggest for what is left, and so on.

**Speed.** ``SeatIndex`` is built once per seat map and session and kept current with ``take``/``release``
(a later service feeds it what the database says); ``choose`` does not scan the seats. For each row it keeps
the runs of free ordinary seats of one zone (cut at taken seats, zone changes, aisles and special seats), and
for each zone and group size N a heap of every run's best block of N (orphans, cost, row, position), stamped
with the row's version: a change to a row pushes its new runs' blocks and makes the old entries stale, and
stale entries are dropped when they reach the top (and a heap is compacted once stale entries outnumber live
runs four to one, so it stays the size of the house over a long session). Asking is a look at the top of one
heap per zone; a change costs the row's length times the group sizes asked so far. Wheelchair requests look
at the rows that hold a free wheelchair space in the zone (few).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from piaowu.core.errors import ValidationFailed
from piaowu.seating.layout import Seat, SeatKey, SeatMap, Section, rows_of

FREE, TAKEN, BLOCKED = "free", "taken", "blocked"
MAX_QUANTITY = 100
HEAP_SLACK = 256  # stale heap entries tolerated beyond four per live run before a heap is compacted

_ORDINARY, _WHEELCHAIR, _COMPANION = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Request:
    """``quantity`` seats in one of ``zones``; ``wheelchairs`` of them wheelchair spaces (0: none, and then no
    wheelchair space or companion seat is offered); ``allow_split``: the buyer agreed to sit in several blocks."""

    zones: tuple[str, ...]
    quantity: int
    wheelchairs: int = 0
    allow_split: bool = False


@dataclass(frozen=True, slots=True)
class Allocation:
    """The seats offered, block by block in row order; ``blocks`` is 1 unless the group was split; ``orphans``
    counts the single seats the choice strands (0 unless every choice would)."""

    seats: tuple[SeatKey, ...]
    blocks: int
    orphans: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """No seats offered: ``code`` is ``no_adjacent_block`` (``free`` seats would do if split; the longest
    side-by-side run is ``largest_block``), ``not_enough_seats`` or ``no_wheelchair_space``."""

    code: str
    free: int
    largest_block: int


def seat_score(seat: Seat, section: Section) -> int:
    """A seat's distance to its section's best point, in hundredths of a map unit: whole numbers, so a block's
    cost is an exact sum and two mirror-image blocks tie exactly (then the documented order decides)."""
    return round(math.hypot(seat.x - section.best_x, seat.y - section.best_y) * 100)


def check_request(request: Request) -> None:
    """A request the allocator can answer, or ``ValidationFailed`` naming the bad fields."""
    errors = []
    q = request.quantity
    if isinstance(q, bool) or not isinstance(q, int) or not 1 <= q <= MAX_QUANTITY:
        errors.append({"field": "quantity", "code": "out_of_range", "message": "Ask for 1 to 100 seats."})
        q = MAX_QUANTITY
    w = request.wheelchairs
    if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= q:
        message = "Ask for at most as many wheelchair spaces as seats."
        errors.append({"field": "wheelchairs", "code": "out_of_range", "message": message})
    if not request.zones or not all(isinstance(z, str) for z in request.zones):
        errors.append({"field": "zones", "code": "missing_field", "message": "Choose a zone or a price."})
    if errors:
        raise ValidationFailed(errors)


def _window(scores: Sequence[int], start: int, length: int, n: int) -> tuple[int, int, int]:
    """The best block of ``n`` in the run ``scores[start:start + length]``: (orphans, cost, first position)."""
    cost = sum(scores[start : start + n])
    best = (int(length - n == 1), cost, start)  # the block at the run's left end leaves length - n on the right
    for s in range(1, length - n + 1):
        cost += scores[start + s + n - 1] - scores[start + s - 1]
        orphans = (s == 1) + (length - n - s == 1)
        if (orphans, cost) < best[:2]:
            best = (orphans, cost, start + s)
    return best


class SeatIndex:
    """The seats of one map in one session, indexed for best available (see the module's docstring).

    Not thread-safe; pure: it reads and writes nothing but itself."""

    def __init__(
        self,
        seat_map: SeatMap,
        *,
        taken: Iterable[SeatKey] = (),
        blocked: Iterable[SeatKey] = (),
        group_sizes: Iterable[int] = (),
    ) -> None:
        """``group_sizes``: the sizes to index now (say 1 to the order limit) rather than at the first request
        of each size, which reads the zone's rows once."""
        sections = {section.id: section for section in seat_map.sections}
        self._keys: list[SeatKey] = []
        self._zone: list[str] = []
        self._kind: list[int] = []
        self._score: list[int] = []
        self._state: list[str] = []
        self._row: list[int] = []
        self._pos: list[int] = []
        self._at: dict[SeatKey, int] = {}
        self._rows: list[list[int]] = []  # seat ids in row order
        self._adjacent: list[list[bool]] = []  # per row: position i and i + 1 side by side
        self._scores: list[list[int]] = []  # per row: the seats' scores in row order
        self._rows_of_zone: dict[str, list[int]] = {}
        self._wheelchairs_of_zone: dict[str, list[int]] = {}
        for r, row in enumerate(rows_of(seat_map)):
            ids = []
            for pos, seat in enumerate(row.seats):
                i = len(self._keys)
                ids.append(i)
                self._keys.append(seat.key)
                self._at[seat.key] = i
                self._zone.append(seat.zone)
                kind = _WHEELCHAIR if seat.wheelchair else _COMPANION if seat.companion else _ORDINARY
                self._kind.append(kind)
                self._score.append(seat_score(seat, sections[seat.section]))
                self._state.append(BLOCKED if seat.blocked else FREE)
                self._row.append(r)
                self._pos.append(pos)
                zone_rows = self._rows_of_zone.setdefault(seat.zone, [])
                if not zone_rows or zone_rows[-1] != r:
                    zone_rows.append(r)
                if kind == _WHEELCHAIR:
                    self._wheelchairs_of_zone.setdefault(seat.zone, []).append(i)
            self._rows.append(ids)
            self._adjacent.append(list(row.adjacent))
            self._scores.append([self._score[i] for i in ids])
        for key in blocked:
            self._state[self._at[key]] = BLOCKED
        for key in taken:
            self._state[self._at[key]] = TAKEN
        self._version = [0] * len(self._rows)
        self._runs: list[list[tuple[str, int, int]]] = [[] for _ in self._rows]
        self._lengths: dict[str, Counter[int]] = {zone: Counter() for zone in self._rows_of_zone}
        self._free: dict[str, int] = dict.fromkeys(self._rows_of_zone, 0)
        self._runs_of_zone: dict[str, int] = dict.fromkeys(self._rows_of_zone, 0)
        self._heaps: dict[str, dict[int, list[tuple[int, int, int, int, int]]]] = {z: {} for z in self._rows_of_zone}
        for r in range(len(self._rows)):
            self._refresh(r)
        for n in group_sizes:
            for zone in self._heaps:
                self._heap(zone, n)

    # ---- state ---------------------------------------------------------------------------------------------

    def state(self, key: SeatKey) -> str:
        return self._state[self._at[key]]

    def free_count(self, zone: str) -> int:
        """Free ordinary seats of the zone (wheelchair spaces and companion seats not counted)."""
        return self._free.get(zone, 0)

    def take(self, keys: Iterable[SeatKey]) -> None:
        """Mark seats taken (held or sold); taking a seat that is not free is a bug of the caller."""
        self._set(keys, FREE, TAKEN)

    def release(self, keys: Iterable[SeatKey]) -> None:
        """Give taken seats back (a hold expired, an order was refunded)."""
        self._set(keys, TAKEN, FREE)

    def block(self, keys: Iterable[SeatKey]) -> None:
        """Hold free seats back for this session (house, press, technical)."""
        self._set(keys, FREE, BLOCKED)

    def unblock(self, keys: Iterable[SeatKey]) -> None:
        """Release blocked seats for sale."""
        self._set(keys, BLOCKED, FREE)

    def _set(self, keys: Iterable[SeatKey], before: str, after: str) -> None:
        ids = list(dict.fromkeys(self._at[key] for key in keys))
        for i in ids:
            if self._state[i] != before:
                raise ValueError(f"{self._keys[i]} is {self._state[i]}, not {before}")
        rows = set()
        for i in ids:
            self._state[i] = after
            rows.add(self._row[i])
        for r in sorted(rows):
            self._refresh(r)

    def _refresh(self, r: int) -> None:
        """Recompute row ``r``'s runs of free ordinary seats and push their best blocks; older entries of the
        row become stale."""
        for zone, _, length in self._runs[r]:
            self._forget(zone, length)
        ids, adjacent = self._rows[r], self._adjacent[r]
        runs: list[tuple[str, int, int]] = []
        start = -1
        for pos, i in enumerate(ids):
            usable = self._state[i] == FREE and self._kind[i] == _ORDINARY
            if start >= 0 and not (usable and adjacent[pos - 1] and self._zone[i] == self._zone[ids[start]]):
                runs.append((self._zone[ids[start]], start, pos - start))
                start = -1
            if usable and start < 0:
                start = pos
        if start >= 0:
            runs.append((self._zone[ids[start]], start, len(ids) - start))
        self._version[r] += 1
        self._runs[r] = runs
        version, scores = self._version[r], self._scores[r]
        for zone, start, length in runs:
            self._lengths[zone][length] += 1
            self._runs_of_zone[zone] += 1
            self._free[zone] += length
            for n, heap in self._heaps[zone].items():
                if n <= length:
                    orphans, cost, first = _window(scores, start, length, n)
                    heapq.heappush(heap, (orphans, cost, r, first, version))
        for zone in {zone for zone, _, _ in runs}:
            for heap in self._heaps[zone].values():
                # Stale entries below a valid top are never popped: drop them once they outnumber the live
                # runs four to one, so a long session's heaps stay the size of the house.
                if len(heap) > 4 * self._runs_of_zone[zone] + HEAP_SLACK:
                    heap[:] = [entry for entry in heap if self._version[entry[2]] == entry[4]]
                    heapq.heapify(heap)

    def _forget(self, zone: str, length: int) -> None:
        lengths = self._lengths[zone]
        lengths[length] -= 1
        if not lengths[length]:
            del lengths[length]
        self._runs_of_zone[zone] -= 1
        self._free[zone] -= length

    def _heap(self, zone: str, n: int) -> list[tuple[int, int, int, int, int]]:
        heaps = self._heaps[zone]
        if n not in heaps:
            # The first request of this size in this zone: one pass over the zone's rows.
            heap = []
            for r in self._rows_of_zone[zone]:
                for run_zone, start, length in self._runs[r]:
                    if run_zone == zone and n <= length:
                        orphans, cost, first = _window(self._scores[r], start, length, n)
                        heap.append((orphans, cost, r, first, self._version[r]))
            heapq.heapify(heap)
            heaps[n] = heap
        return heaps[n]

    def _top(self, zone: str, n: int) -> tuple[int, int, int, int, int] | None:
        heap = self._heap(zone, n)
        version = self._version
        while heap and version[heap[0][2]] != heap[0][4]:
            heapq.heappop(heap)  # stale: its row changed since
        return heap[0] if heap else None

    # ---- asking --------------------------------------------------------------------------------------------

    def choose(self, request: Request) -> Allocation | Refusal:
        """The seats best available for ``request`` (see the module's rules), or why there are none. Changes
        nothing: the caller claims the seats, then calls ``take``."""
        check_request(request)
        zones = tuple(dict.fromkeys(z for z in request.zones if z in self._heaps))
        if request.wheelchairs:
            return self._accessible(zones, request)
        block = self._best_block(zones, request.quantity)
        if block is not None:
            orphans, _, r, first = block
            return Allocation(self._block_keys(r, first, request.quantity), 1, orphans)
        free = sum(self._free[z] for z in zones)
        largest = max((max(self._lengths[z], default=0) for z in zones), default=0)
        if free < request.quantity:
            return Refusal("not_enough_seats", free, largest)
        if not request.allow_split:
            return Refusal("no_adjacent_block", free, largest)
        return self._split(zones, request.quantity, ())

    def _best_block(self, zones: Sequence[str], n: int) -> tuple[int, int, int, int] | None:
        best = None
        for zone in zones:
            top = self._top(zone, n)
            if top is not None and (best is None or top[:4] < best):
                best = top[:4]
        return best

    def _block_keys(self, r: int, first: int, n: int) -> tuple[SeatKey, ...]:
        return tuple(self._keys[i] for i in self._rows[r][first : first + n])

    def _split(
        self, zones: Sequence[str], n: int, first_block: tuple[SeatKey, ...] = (), first_orphans: int = 0
    ) -> Allocation | Refusal:
        """The group in several blocks, biggest first (after ``first_block``, if any). Takes each block in the
        index to find the next one, and gives them all back before answering."""
        chosen: list[SeatKey] = list(first_block)
        blocks, orphans, remaining = (1 if first_block else 0), first_orphans, n
        self.take(first_block)
        try:
            while remaining:
                largest = max((max(self._lengths[z], default=0) for z in zones), default=0)
                if not largest:
                    break
                size = min(remaining, largest)
                found = self._best_block(zones, size)
                assert found is not None  # a run of ``largest`` seats exists
                block = self._block_keys(found[2], found[3], size)
                self.take(block)
                chosen.extend(block)
                blocks, orphans, remaining = blocks + 1, orphans + found[0], remaining - size
        finally:
            self.release(chosen)
        if remaining:
            return Refusal("not_enough_seats", sum(self._free[z] for z in zones), 0)
        ordered = sorted(chosen, key=lambda key: (self._row[self._at[key]], self._pos[self._at[key]]))
        return Allocation(tuple(ordered), blocks, orphans)

    def _accessible(self, zones: Sequence[str], request: Request) -> Allocation | Refusal:
        n, k = request.quantity, request.wheelchairs
        companions = min(k, n - k)
        best = self._accessible_block(zones, n, k, companions)
        if best is not None:
            orphans, _, r, first = best
            return Allocation(self._block_keys(r, first, n), 1, orphans)
        core = self._accessible_block(zones, k + companions, k, companions)
        free = sum(self._free[z] for z in zones)
        if core is None:
            return Refusal("no_wheelchair_space", free, 0)
        if not request.allow_split:
            return Refusal("no_adjacent_block", free, k + companions)
        return self._split(zones, n - k - companions, self._block_keys(core[2], core[3], k + companions), core[0])

    def _accessible_block(
        self, zones: Sequence[str], n: int, k: int, companions: int
    ) -> tuple[int, int, int, int] | None:
        """The best block of ``n`` free seats side by side holding exactly ``k`` wheelchair spaces and at least
        ``companions`` companion seats, by the same order as ordinary blocks. Only runs around a free
        wheelchair space are looked at."""
        best = None
        seen: set[tuple[int, int]] = set()
        for zone in zones:
            for w in self._wheelchairs_of_zone.get(zone, ()):
                if self._state[w] != FREE:
                    continue
                r, ids, adjacent = self._row[w], self._rows[self._row[w]], self._adjacent[self._row[w]]

                def usable(pos: int, zone: str = zone, ids: list[int] = ids) -> bool:
                    return self._state[ids[pos]] == FREE and self._zone[ids[pos]] == zone

                a = b = self._pos[w]
                while a > 0 and adjacent[a - 1] and usable(a - 1):
                    a -= 1
                while b + 1 < len(ids) and adjacent[b] and usable(b + 1):
                    b += 1
                if (r, a) in seen:
                    continue
                seen.add((r, a))
                length = b - a + 1
                for s in range(a, b - n + 2):
                    kinds = [self._kind[i] for i in ids[s : s + n]]
                    if kinds.count(_WHEELCHAIR) != k or kinds.count(_COMPANION) < companions:
                        continue
                    orphans = (s - a == 1) + (length - n - (s - a) == 1)
                    key = (orphans, sum(self._scores[r][s : s + n]), r, s)
                    if best is None or key < best:
                        best = key
        return best


def best_available(
    seat_map: SeatMap, request: Request, *, taken: Iterable[SeatKey] = (), blocked: Iterable[SeatKey] = ()
) -> Allocation | Refusal:
    """One answer without keeping an index (it reads every seat once): for tests, previews and small maps."""
    return SeatIndex(seat_map, taken=taken, blocked=blocked).choose(request)
