"""The seats best available just handed out, shared by the processes of one host.

Each worker keeps its own view of a session's seats (``seating.live``) and shows the seats it hands out as taken
at once, but another worker learns of them only from its next read of the states (every ~0.6 s), and only once
their orders have committed. Until then both workers' best available — the same rules on nearly the same states
— offer the same best block, and the later claim is refused: a third of the best-available orders at 16 buyers
on two workers met a refused claim, some several in a row, each a reservation statement spent on the hot pool
row for nothing (issue 8, docs/benchmarks.md "seatcpu").

So a worker writes, for each seat it hands out, when it did so into a file that every process of the host maps
(``<var_dir>/seat-marks/``, one per session and seating, 4 bytes a seat); before offering a block, a worker looks
at those seats and passes over any that another process handed out in the last ``MARK_SECONDS``, as it does with
its own. The allocation rules are unchanged: these seats are simply taken in the view it chooses from.

Nothing here decides a sale — the claim does. A lost or torn write costs at most a collision as before (or a
seat passed over for two seconds); processes of other hosts are not seen, and collide as before.
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DIRECTORY = "seat-marks"
# A file nobody wrote to for this long belongs to a session long sold (or re-mapped): removed when a process
# opens its first file.
STALE_FILE_SECONDS = 2 * 86400
_WRAP = 1 << 32
_swept: set[Path] = set()


def _now_ms() -> int:
    # CLOCK_MONOTONIC: one clock for every process of the host. 0 means "never handed out".
    return int(time.monotonic() * 1000) % _WRAP or 1


class HostMarks:
    """One session's seats (by ordinal): when a process of this host last handed each out."""

    def __init__(self, buffer: mmap.mmap, seats: int) -> None:
        self._mmap = buffer
        self._at: Any = memoryview(buffer).cast("I")  # one unsigned 32-bit slot per seat, in milliseconds
        self.seats = seats

    def mark(self, ordinals: Iterable[int]) -> None:
        """These seats were just handed out by this process."""
        now, at = _now_ms(), self._at
        for o in ordinals:
            at[o] = now

    def recent(self, ordinals: Sequence[int], seconds: float) -> list[int]:
        """Those of ``ordinals`` some process handed out in the last ``seconds``."""
        now, at, window = _now_ms(), self._at, int(seconds * 1000)
        return [o for o in ordinals if (t := at[o]) and (now - t) % _WRAP < window]


def open_marks(var_dir: Path, session_id: str, stamp: tuple[Any, ...], seats: int) -> HostMarks | None:
    """The shared marks of a session's seats as of ``stamp`` (its seating: another layout, another file), or
    None when they cannot be had (no seats; the directory not writable: logged, best available goes on alone)."""
    if seats <= 0:
        return None
    directory = Path(var_dir) / DIRECTORY
    name = f"{session_id}.{hashlib.blake2b(repr(stamp).encode(), digest_size=8).hexdigest()}"
    size = 4 * seats
    try:
        directory.mkdir(parents=True, exist_ok=True)
        sweep_stale(directory)
        fd = os.open(directory / name, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # Processes opening it together all extend it to the same size: no write of another is lost.
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)
            buffer = mmap.mmap(fd, size)
        finally:
            os.close(fd)
    except OSError:
        log.warning("seat marks of session %s: not shared with this host's other processes", session_id, exc_info=True)
        return None
    return HostMarks(buffer, seats)


def sweep_stale(directory: Path) -> None:
    """Removes the files of ``directory`` nobody wrote to for ``STALE_FILE_SECONDS`` (once per process)."""
    if directory in _swept:
        return
    _swept.add(directory)
    cutoff = time.time() - STALE_FILE_SECONDS
    for path in directory.iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass  # another process removed it first, or it is in use where that is refused
