"""Best available: which seats to offer a buyer who asks for N seats in a zone rather than picking them.

The rules (issue 8), in order of priority:

1. Only free seats of the zones asked for (a zone, or every zone sold at the price asked for); never a taken or
   blocked one.
2. Wheelchair spaces and companion seats only to a buyer who asks for wheelchair spaces (``wheelchairs``), and
   then each wheelchair space comes with companion seats: the block holds exactly ``wheelchairs`` wheelchair
   spaces and at least ``min(wheelchairs, N - wheelchairs)`` companion seats.
3. No seat with a restricted or partial view (``restricted_view``, ``partial_view``: 柱子票) unless the buyer
   allows them (``allow_restricted``), and even then only when no answer of unrestricted seats exists for the
   request as asked (one block, or several if the buyer agreed to a split): a clear view comes before sitting
   together. A block that needs them holds as few as possible. When only such seats would do and the buyer did
   not allow them, the answer is the refusal ``restricted_view_only`` (so the shop can ask).
4. N seats side by side in one row (``layout``'s adjacency: no aisle or gap between them) whenever such a block
   exists in the zones asked for.
5. No single seat left stranded: a free seat between the block and a taken seat, an aisle or a row end
   (``orphans``) only when every possible block would leave one.
6. Closest to the best point of the seat's section: the smallest sum of the seats' distances to it.
7. Ties: the earlier row (sections in the map's order, rows in order of first appearance), then the block
   further left in the row's order. So the same map, states and request always give the same seats.

Without a block of N, the answer is a ``Refusal``: ``no_adjacent_block`` (enough seats, but not side by side:
ask the buyer whether to split the group), ``not_enough_seats``, ``no_wheelchair_space`` or
``restricted_view_only``. With the buyer's
consent (``allow_split``) the group is split across rows: the biggest block that fits first (the best one, by
the same rules), then the biggest for what is left, and so on.

**Speed.** ``SeatIndex`` is built once per seat map and session and kept current with ``take``/``release``
(a later service feeds it what the database says); ``choose`` does not scan the seats. For each row it keeps
the runs of free ordinary seats of one zone (cut at taken seats, zone changes, aisles and special seats), and
for each zone and group size N a heap of every run's best block of N (orphans, cost, row, position), stamped
with the run's id: a change to a row pushes the blocks of the runs it made and makes the entries of the runs it
ended stale (the row's other runs keep theirs), and stale entries are dropped when they reach the top (and a
heap is compacted once stale entries outnumber live runs four to one, so it stays the size of the house over a
long session). Asking is a look at the top of one heap per zone; a change costs a walk of the row and, for the
runs it made, their length times the group sizes asked so far. Wheelchair requests look
at the rows that hold a free wheelchair space in the zone (few). The heaps hold unrestricted blocks only (a
restricted-view seat cuts a run like a taken one); seats with a restricted view are looked at only when no
unrestricted answer exists, by a scan of the rows that hold one (a split over them, of the zones' rows).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, count
from operator import sub

from piaowu.core.errors import ValidationFailed
from piaowu.seating.layout import Seat, SeatKey, SeatMap, Section, rows_of

FREE, TAKEN, BLOCKED = "free", "taken", "blocked"
MAX_QUANTITY = 100
HEAP_SLACK = 256  # stale heap entries tolerated beyond four per live run before a heap is compacted

_NEVER = math.inf  # a cost no block has: marks the offsets ``_best_window`` passes over
_ORDINARY, _WHEELCHAIR, _COMPANION, _LIMITED = 0, 1, 2, 3  # _LIMITED: an ordinary seat with a limited view
# Attributes that limit the view: a pillar (柱子票) or only part of the stage seen. Buyers must opt in to them.
LIMITED_VIEW = frozenset({"restricted_view", "partial_view"})


@dataclass(frozen=True, slots=True)
class Request:
    """``quantity`` seats in one of ``zones``; ``wheelchairs`` of them wheelchair spaces (0: none, and then no
    wheelchair space or companion seat is offered); ``allow_split``: the buyer agreed to sit in several blocks;
    ``allow_restricted``: the buyer accepts seats with a restricted or partial view when nothing else fits."""

    zones: tuple[str, ...]
    quantity: int
    wheelchairs: int = 0
    allow_split: bool = False
    allow_restricted: bool = False


@dataclass(frozen=True, slots=True)
class Allocation:
    """The seats offered, block by block in row order; ``blocks`` is 1 unless the group was split; ``orphans``
    counts the single seats the choice strands (0 unless every choice would); ``limited_view``: how many of
    the seats have a restricted or partial view (0 unless the buyer allowed them and nothing else fitted)."""

    seats: tuple[SeatKey, ...]
    blocks: int
    orphans: int
    limited_view: int = 0


@dataclass(frozen=True, slots=True)
class Refusal:
    """No seats offered: ``code`` is ``no_adjacent_block`` (``free`` seats would do if split; the longest
    side-by-side run is ``largest_block``), ``not_enough_seats``, ``no_wheelchair_space``, or
    ``restricted_view_only`` (seats with a restricted or partial view would do, if the buyer allows them)."""

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
    return _best_window(list(accumulate(scores[start : start + length], initial=0)), start, length, n)


def _best_window(sums: list[int], start: int, length: int, n: int) -> tuple[int, int, int]:
    """``_window`` from the run's prefix sums (``sums[k]``: its first ``k`` scores), shared by every ``n``.

    The smallest (orphans, cost, position). A block at offset ``s`` strands a seat on its left when ``s == 1`` and
    on its right when ``s == length - n - 1``: every other offset strands none, so the best of those is the
    cheapest, the leftmost on a tie (found in C: ``min`` then ``index``), and the two stranding offsets are looked
    at only when no other exists. Runs a row change for each run and group size (``_refresh``): the house's
    index follows every seat sold elsewhere this way."""
    m = length - n + 1  # the offsets of a block of n
    costs = list(map(sub, sums[n:], sums[:m]))
    if m > 2:  # the ends strand nothing: the two stranding offsets are passed over
        costs[1] = costs[m - 2] = _NEVER
        cost = min(costs)
        return (0, cost, start + costs.index(cost))
    cost = min(costs)
    return (m - 1, cost, start + costs.index(cost))  # one offset strands nothing; two both strand one


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
        self._limited: list[bool] = []
        self._limited_rows_of_zone: dict[str, list[int]] = {}  # rows holding a limited-view seat of the zone
        for r, row in enumerate(rows_of(seat_map)):
            ids = []
            for pos, seat in enumerate(row.seats):
                i = len(self._keys)
                ids.append(i)
                self._keys.append(seat.key)
                self._at[seat.key] = i
                self._zone.append(seat.zone)
                limited = bool(LIMITED_VIEW & seat.attributes)
                kind = _WHEELCHAIR if seat.wheelchair else _COMPANION if seat.companion else _ORDINARY
                kind = _LIMITED if kind == _ORDINARY and limited else kind
                self._kind.append(kind)
                self._limited.append(limited)
                if limited:
                    limited_rows = self._limited_rows_of_zone.setdefault(seat.zone, [])
                    if not limited_rows or limited_rows[-1] != r:
                        limited_rows.append(r)
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
        # Per row, the stretches a run can never cross, whatever the states: (zone, first, end) positions of
        # ordinary seats side by side in one zone. A run is a stretch's free seats between taken ones.
        self._stretches: list[list[tuple[str, int, int]]] = [self._stretches_of(r) for r in range(len(self._rows))]
        for key in blocked:
            self._state[self._at[key]] = BLOCKED
        for key in taken:
            self._state[self._at[key]] = TAKEN
        # Per row, its runs: (zone, first position, length, run id). A heap entry names its run's id and is stale
        # once that run is gone (``_live``): a change to a row leaves the entries of its other runs valid.
        self._runs: list[list[tuple[str, int, int, int]]] = [[] for _ in self._rows]
        self._live: set[int] = set()
        self._run_ids = count()
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
        """Free ordinary seats of the zone with a clear view (wheelchair spaces, companion seats and seats with a
        restricted or partial view not counted)."""
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

    def _stretches_of(self, r: int) -> list[tuple[str, int, int]]:
        ids, adjacent, kind, zone = self._rows[r], self._adjacent[r], self._kind, self._zone
        out: list[tuple[str, int, int]] = []
        start = -1
        for pos, i in enumerate(ids):
            ordinary = kind[i] == _ORDINARY
            if start >= 0 and not (ordinary and adjacent[pos - 1] and zone[i] == zone[ids[start]]):
                out.append((zone[ids[start]], start, pos))
                start = -1
            if ordinary and start < 0:
                start = pos
        if start >= 0:
            out.append((zone[ids[start]], start, len(ids)))
        return out

    def _refresh(self, r: int) -> None:
        """Recompute row ``r``'s runs of free ordinary seats and push the best blocks of its new runs; the entries
        of its runs that are gone become stale. Every seat sold elsewhere moves each process's index through here
        (``take`` from the live states), so a run the change did not touch keeps its entries, the row is walked
        by its stretches only, and a new run's blocks are costed from one sum."""
        ids, state = self._rows[r], self._state
        found: list[tuple[str, int, int]] = []
        for zone, first, end in self._stretches[r]:
            start = -1
            for pos in range(first, end):
                if state[ids[pos]] == FREE:
                    if start < 0:
                        start = pos
                elif start >= 0:
                    found.append((zone, start, pos - start))
                    start = -1
            if start >= 0:
                found.append((zone, start, end - start))
        gone = {(zone, start, length): run for zone, start, length, run in self._runs[r]}
        runs: list[tuple[str, int, int, int]] = []
        grown: set[str] = set()
        scores, push = self._scores[r], heapq.heappush
        for zone, start, length in found:
            run = gone.pop((zone, start, length), None)
            if run is None:
                run = next(self._run_ids)
                self._live.add(run)
                self._lengths[zone][length] += 1
                self._runs_of_zone[zone] += 1
                self._free[zone] += length
                sums = None
                for n, heap in self._heaps[zone].items():
                    if n <= length:
                        if sums is None:
                            sums = list(accumulate(scores[start : start + length], initial=0))
                        orphans, cost, block = _best_window(sums, start, length, n)
                        push(heap, (orphans, cost, r, block, run))
                grown.add(zone)
            runs.append((zone, start, length, run))
        for (zone, _, length), run in gone.items():
            self._live.discard(run)
            self._forget(zone, length)
        self._runs[r] = runs
        live = self._live
        for zone in grown:
            for heap in self._heaps[zone].values():
                # Stale entries below a valid top are never popped: drop them once they outnumber the live
                # runs four to one, so a long session's heaps stay the size of the house.
                if len(heap) > 4 * self._runs_of_zone[zone] + HEAP_SLACK:
                    heap[:] = [entry for entry in heap if entry[4] in live]
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
                for run_zone, start, length, run in self._runs[r]:
                    if run_zone == zone and n <= length:
                        orphans, cost, first = _window(self._scores[r], start, length, n)
                        heap.append((orphans, cost, r, first, run))
            heapq.heapify(heap)
            heaps[n] = heap
        return heaps[n]

    def _top(self, zone: str, n: int) -> tuple[int, int, int, int, int] | None:
        heap = self._heap(zone, n)
        live = self._live
        while heap and heap[0][4] not in live:
            heapq.heappop(heap)  # stale: its run is gone since
        return heap[0] if heap else None

    # ---- asking --------------------------------------------------------------------------------------------

    def choose(self, request: Request) -> Allocation | Refusal:
        """The seats best available for ``request`` (see the module's rules), or why there are none. Changes
        nothing: the caller claims the seats, then calls ``take``."""
        check_request(request)
        zones = tuple(dict.fromkeys(z for z in request.zones if z in self._heaps))
        if request.wheelchairs:
            return self._accessible(zones, request)
        n = request.quantity
        block = self._best_block(zones, n)
        if block is not None:
            orphans, _, r, first = block
            return Allocation(self._block_keys(r, first, n), 1, orphans)
        free = sum(self._free[z] for z in zones)
        largest = max((max(self._lengths[z], default=0) for z in zones), default=0)
        if free >= n and request.allow_split:
            return self._split(zones, n, ())
        clear = Refusal("not_enough_seats" if free < n else "no_adjacent_block", free, largest)
        if not any(self._limited_rows_of_zone.get(z) for z in zones):
            return clear
        # No answer of seats with a clear view: one with restricted-view seats, if the buyer allows them.
        wide = self._limited_answer(zones, n, request.allow_split)
        if isinstance(wide, Refusal):
            return wide if request.allow_restricted else clear
        if not request.allow_restricted:
            runs = self._wide_runs(zones, sorted({r for z in zones for r in self._rows_of_zone[z]}))
            lengths = [length for *_, length in runs]
            return Refusal("restricted_view_only", sum(lengths), max(lengths, default=0))
        return wide

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

    # ---- seats with a restricted view: looked at only when no clear-view answer exists --------------------

    def _wide_runs(self, zones: Sequence[str], rows: Iterable[int]) -> list[tuple[int, int, int]]:
        """(row, start, length) of the runs of free ordinary seats, with any view, of one zone in ``rows``."""
        runs = []
        for r in rows:
            ids, adjacent = self._rows[r], self._adjacent[r]
            start = -1
            for pos, i in enumerate(ids):
                usable = self._state[i] == FREE and self._kind[i] in (_ORDINARY, _LIMITED) and self._zone[i] in zones
                if start >= 0 and not (usable and adjacent[pos - 1] and self._zone[i] == self._zone[ids[start]]):
                    runs.append((r, start, pos - start))
                    start = -1
                if usable and start < 0:
                    start = pos
            if start >= 0:
                runs.append((r, start, len(ids) - start))
        return runs

    def _wide_block(self, runs: Sequence[tuple[int, int, int]], n: int) -> tuple[int, int, int, int, int] | None:
        """The best block of ``n`` in these runs: (limited-view seats, orphans, cost, row, first position)."""
        best = None
        for r, start, length in runs:
            ids, scores = self._rows[r], self._scores[r]
            for s in range(start, start + length - n + 1):
                window = ids[s : s + n]
                orphans = (s - start == 1) + (start + length - n - s == 1)
                key = (sum(self._limited[i] for i in window), orphans, sum(scores[s : s + n]), r, s)
                if best is None or key < best:
                    best = key
        return best

    def _limited_answer(self, zones: Sequence[str], n: int, allow_split: bool) -> Allocation | Refusal:
        """The best answer that takes seats with a restricted view (no clear-view answer exists): a block in a
        row that holds one (a block elsewhere would have a clear view), else, with consent, a split over every
        row of the zones, biggest blocks first."""
        mixed = sorted({r for z in zones for r in self._limited_rows_of_zone.get(z, ())})
        found = self._wide_block(self._wide_runs(zones, mixed), n)
        if found is not None:
            limited, orphans, _, r, first = found
            return Allocation(self._block_keys(r, first, n), 1, orphans, limited)
        every = sorted({r for z in zones for r in self._rows_of_zone[z]})
        runs = self._wide_runs(zones, every)
        free, largest = sum(length for *_, length in runs), max((length for *_, length in runs), default=0)
        if free < n:
            return Refusal("not_enough_seats", free, largest)
        if not allow_split:
            return Refusal("no_adjacent_block", free, largest)
        chosen: list[SeatKey] = []
        blocks = orphans = limited = 0
        try:
            while len(chosen) < n:
                size = min(n - len(chosen), max(length for *_, length in runs))
                found = self._wide_block([run for run in runs if run[2] >= size], size)
                assert found is not None  # a run of at least ``size`` seats exists
                block = self._block_keys(found[3], found[4], size)
                self.take(block)
                chosen.extend(block)
                blocks, orphans, limited = blocks + 1, orphans + found[1], limited + found[0]
                runs = self._wide_runs(zones, every)
        finally:
            self.release(chosen)
        ordered = sorted(chosen, key=lambda key: (self._row[self._at[key]], self._pos[self._at[key]]))
        return Allocation(tuple(ordered), blocks, orphans, limited)

    def _accessible(self, zones: Sequence[str], request: Request) -> Allocation | Refusal:
        # A clear view before sitting together: seats with a limited view only when no clear-view answer exists
        # at all, split included (a block behind a pillar must not beat clear seats in two blocks).
        clear = self._accessible_answer(zones, request, allow_limited=False)
        if isinstance(clear, Allocation):
            return clear
        wide = self._accessible_answer(zones, request, allow_limited=True)
        if not isinstance(wide, Allocation):
            return clear
        if request.allow_restricted:
            return wide
        return Refusal("restricted_view_only", sum(self._free[z] for z in zones), 0)

    def _accessible_answer(self, zones: Sequence[str], request: Request, allow_limited: bool) -> Allocation | Refusal:
        n, k = request.quantity, request.wheelchairs
        companions = min(k, n - k)
        best = self._accessible_block(zones, n, k, companions, allow_limited)
        if best is not None:
            limited, orphans, _, r, first = best
            return Allocation(self._block_keys(r, first, n), 1, orphans, limited)
        core = self._accessible_block(zones, k + companions, k, companions, allow_limited)
        free = sum(self._free[z] for z in zones)
        if core is None:
            return Refusal("no_wheelchair_space", free, 0)
        if not request.allow_split:
            return Refusal("no_adjacent_block", free, k + companions)
        first_block = self._block_keys(core[3], core[4], k + companions)
        answer = self._split(zones, n - k - companions, first_block, core[1])
        if isinstance(answer, Allocation) and core[0]:
            return Allocation(answer.seats, answer.blocks, answer.orphans, core[0])
        return answer

    def _accessible_block(
        self, zones: Sequence[str], n: int, k: int, companions: int, allow_limited: bool = False
    ) -> tuple[int, int, int, int, int] | None:
        """The best block of ``n`` free seats side by side holding exactly ``k`` wheelchair spaces and at least
        ``companions`` companion seats, by the same order as ordinary blocks: (limited-view seats, orphans, cost,
        row, first position); one with a restricted view only if ``allow_limited``, and then as few as possible.
        Only runs around a free wheelchair space are looked at."""
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
                    limited = sum(self._limited[i] for i in ids[s : s + n])
                    if limited and not allow_limited:
                        continue
                    orphans = (s - a == 1) + (length - n - (s - a) == 1)
                    key = (limited, orphans, sum(self._scores[r][s : s + n]), r, s)
                    if best is None or key < best:
                        best = key
        return best


def best_available(
    seat_map: SeatMap, request: Request, *, taken: Iterable[SeatKey] = (), blocked: Iterable[SeatKey] = ()
) -> Allocation | Refusal:
    """One answer without keeping an index (it reads every seat once): for tests, previews and small maps."""
    return SeatIndex(seat_map, taken=taken, blocked=blocked).choose(request)
