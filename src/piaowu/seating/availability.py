"""A session's seat availability as a compact snapshot, and the delta between two snapshots (pure).

Every seat has an ``ordinal`` (0 … n−1, the order of the session's seat map). Its state is one of ``FREE`` (0),
``TAKEN`` (1: held or sold — bit 0 of its unit's ``occupied``) or ``BLOCKED`` (2: kept back by the operator — bit 0
of its unit's ``blocked``); a seat both occupied and blocked (never: a block of an occupied seat is refused) reads
as taken. States are packed **2 bits per seat, 4 seats per byte, the lowest bits first** (seat ``i`` is
``(packed[i // 4] >> (2 * (i % 4))) & 3``) and sent base64-encoded: 80,000 seats are 20,000 bytes, a few KB
compressed. The ``version`` is a hash of the packed bytes, so equal states have equal versions whoever computed
them, on any worker.

A page that has a snapshot asks with ``since=<version>`` and gets ``changes``: ``[[ordinal, state], …]`` for
the seats whose state differs (``apply_changes`` of those to the old states gives the new ones). A process keeps
the last few snapshots of each session (``SnapshotRing``) to answer that; an unknown ``since`` (too old, or seen
by another worker) gets the full states.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

FREE, TAKEN, BLOCKED = 0, 1, 2
STATE_NAMES = ("free", "taken", "blocked")


def state_of(occupied: int, blocked: int) -> int:
    """A seat's state from its unit's masks (a seat is a one-leg unit: only bit 0 counts; the ``blocked``
    bits beyond the unit's legs are always set and mean nothing here)."""
    if occupied & 1:
        return TAKEN
    if blocked & 1:
        return BLOCKED
    return FREE


def pack(states: Sequence[int]) -> bytes:
    """States (0, 1 or 2 per ordinal) → 2 bits each, 4 per byte, lowest bits first."""
    raw = bytes(states)  # ValueError for anything outside 0–255; the rest is checked below
    if raw.translate(None, b"\x00\x01\x02"):
        bad = next(i for i, s in enumerate(raw) if s > BLOCKED)
        raise ValueError(f"state {raw[bad]!r} of seat {bad}")
    raw += b"\x00" * (-len(raw) % 4)
    size = len(raw) // 4
    # Lane k holds seats k, k+4, k+8…, one per byte, each below 4: shifting the lane's integer by 2k bits moves
    # every byte's value within its own byte (no carry), so OR-ing the four lanes packs 4 seats a byte at C speed.
    lanes = [int.from_bytes(raw[k::4], "little") << (2 * k) for k in range(4)]
    return (lanes[0] | lanes[1] | lanes[2] | lanes[3]).to_bytes(size, "little")


def unpack(packed: bytes, count: int) -> list[int]:
    """The states of ``count`` seats from ``pack``'s bytes."""
    if len(packed) != (count + 3) // 4:
        raise ValueError("packed states do not match the seat count")
    return [(packed[i >> 2] >> ((i & 3) << 1)) & 3 for i in range(count)]


def encode(packed: bytes) -> str:
    return base64.b64encode(packed).decode("ascii")


def decode(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def version_of(packed: bytes) -> str:
    """An opaque version of a snapshot: 16 URL-safe characters of a hash of its bytes (and so of its length)."""
    digest = hashlib.blake2b(packed, digest_size=12, person=b"piaowu-seats").digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def changes(old: bytes, new: bytes) -> list[list[int]]:
    """``[[ordinal, new state], …]`` in ordinal order for every seat whose state differs between two packed
    snapshots of the same seats. Compares byte by byte and looks inside only the bytes that differ."""
    if len(old) != len(new):
        raise ValueError("snapshots of different seat maps")
    out: list[list[int]] = []
    for b, (x, y) in enumerate(zip(old, new, strict=True)):
        if x != y:
            diff = x ^ y
            for k in range(4):
                if (diff >> (2 * k)) & 3:
                    out.append([4 * b + k, (y >> (2 * k)) & 3])
    return out


def apply_changes(packed: bytes, delta: Iterable[Sequence[int]]) -> bytes:
    """The snapshot ``packed`` with ``delta``'s states written in (what a page does with ``changes``)."""
    out = bytearray(packed)
    for ordinal, state in delta:
        if not 0 <= ordinal < 4 * len(out) or state not in (FREE, TAKEN, BLOCKED):
            raise ValueError(f"change {ordinal}, {state}")
        shift = (ordinal & 3) << 1
        out[ordinal >> 2] = (out[ordinal >> 2] & ~(3 << shift) & 0xFF) | (state << shift)
    return bytes(out)


def zone_counts(states: Sequence[int], zones: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per zone (in order of first appearance): ``free`` seats and the ``total`` of its seats. ``zones[i]`` is
    the zone of ordinal ``i``."""
    if len(states) != len(zones):
        raise ValueError("one zone per seat")
    totals = Counter(zones)
    free = Counter(z for z, s in zip(zones, states, strict=True) if s == FREE)
    return {zone: {"free": free[zone], "total": totals[zone]} for zone in dict.fromkeys(zones)}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The states of a session's seats at one read: packed, its version, and the counts per zone."""

    packed: bytes
    version: str
    zones: Mapping[str, Mapping[str, int]]

    @staticmethod
    def of(
        states: Sequence[int], zones: Sequence[str], counts: Mapping[str, Mapping[str, int]] | None = None
    ) -> Snapshot:
        """``counts``: ``zone_counts(states, zones)`` when the caller knows them already (counted from the seats
        not free rather than from every seat)."""
        packed = pack(states)
        return Snapshot(packed, version_of(packed), zone_counts(states, zones) if counts is None else counts)

    def full(self) -> dict[str, object]:
        """The JSON answer without ``since``: every seat's state."""
        return {"version": self.version, "states": encode(self.packed), "zones": self.zones}

    def since(self, old: Snapshot | None) -> dict[str, object]:
        """The JSON answer to ``since=old.version``: the changes from ``old`` (none when the version is the same),
        or every state when ``old`` is unknown or of another seat map."""
        if old is None or len(old.packed) != len(self.packed):
            return self.full()
        return {
            "version": self.version,
            "since": old.version,
            "changes": changes(old.packed, self.packed),
            "zones": self.zones,
        }


class SnapshotRing:
    """The last ``size`` distinct snapshots of one session, by version: enough to answer ``since=`` of pages
    that asked within the last few seconds. Bounded; the oldest goes first."""

    def __init__(self, size: int = 16) -> None:
        if size < 1:
            raise ValueError("size")
        self.size = size
        self._by_version: OrderedDict[str, Snapshot] = OrderedDict()

    def add(self, snapshot: Snapshot) -> None:
        self._by_version[snapshot.version] = snapshot
        self._by_version.move_to_end(snapshot.version)
        while len(self._by_version) > self.size:
            self._by_version.popitem(last=False)

    def get(self, version: str | None) -> Snapshot | None:
        return self._by_version.get(version) if version else None

    def __len__(self) -> int:
        return len(self._by_version)


def withheld_view(snapshot: Snapshot, ordinals: Sequence[int], zones: Sequence[str]) -> Snapshot:
    """``snapshot`` as a channel sees it: the seats of ``ordinals`` (withheld from that channel) shown as not
    for sale (``BLOCKED``) where the snapshot has them free — not as taken: nobody bought them. Zone counts
    follow. The same snapshot when there is nothing to hide."""
    if not ordinals:
        return snapshot
    states = bytearray(unpack(snapshot.packed, len(zones)))
    hidden = Counter()
    for o in ordinals:
        if states[o] == FREE:
            states[o] = BLOCKED
            hidden[zones[o]] += 1
    if not hidden:
        return snapshot
    counts = {z: {"free": c["free"] - hidden[z], "total": c["total"]} for z, c in snapshot.zones.items()}
    return Snapshot.of(states, zones, counts)
