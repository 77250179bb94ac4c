"""A session's seat map cut into parts a phone can load lazily (pure): a summary of every section (what the seat
picker draws before it has any seat) and, per section, its seats as columns.

The shop's ``seat-map`` answer lists the sections (``SectionPart.summary``); each section's seats are a separate
answer (``SectionPart.body``) named by a key that is a hash of that answer's bytes, so its URL can be cached as
immutable: any change of the section's seats — their ids, ordinals, labels, places, zones or attributes —
changes the key, and a page never mixes a section of one seating with the ordinals of another. Ordinals are the
session's (``SessionSeats``), the same that ``seat-availability`` indexes its states by.

A section's answer, in seat (ordinal) order::

    {"section": "A", "count": 3,
     "ordinals": [[0, 3]],                     # runs [first ordinal, how many]: seats 0, 1, 2
     "ids": ["01j…", "01j…", "01j…"],          # the seats' ids, a column apart from the geometry
     "rows": [["1", 3]], "numbers": ["1", "2", "3"],   # rows as runs [label, how many]
     "x": [0, 50, 100], "y": [0, 0, 0],        # map units, to 0.1
     "zones": [["A", 3]],                      # runs [zone, how many]
     "attributes": [[0, 1]]}                   # [position in this answer, attribute bits], only seats with some
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import tempfile
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any, Protocol

import orjson

from piaowu.seating.availability import version_of
from piaowu.seating.host_marks import sweep_stale
from piaowu.seating.interchange import json_number

log = logging.getLogger(__name__)

# A house of at most this many seats gets every section's seats in the map answer itself: one request. On a
# phone such a house is drawn seat by seat (or as paths) from its first view, so every section would be asked
# for at once anyway; a bigger one opens on its sections, and a buyer zooms into one or a few.
INLINE_SEATS = 5_000
# A section's outline: its seats' convex hull grown outwards by this many seat pitches (the seats' discs fit).
OUTLINE_GROW = 0.8
DEFAULT_PITCH = 50.0  # the generator's seat spacing, for a map without two seats side by side


class SeatLike(Protocol):
    unit_id: str
    attributes: tuple[str, ...]
    ordinal: int
    section: str
    row: str
    number: str
    x: float
    y: float
    zone: str

    @property
    def attr_bits(self) -> int: ...


@dataclass(frozen=True)
class SectionPart:
    """One section: ``summary`` for the map answer, ``body`` its seats' answer (serialized), ``key`` a hash of
    ``body``."""

    summary: dict[str, Any]
    body: bytes
    key: str


@dataclass(frozen=True)
class MapParts:
    pitch: float  # the typical distance between two seats side by side (map units)
    bounds: tuple[float, float, float, float]  # every seat's centre lies within (x0, y0, x1, y1)
    sections: tuple[SectionPart, ...]
    by_key: dict[str, SectionPart] = field(repr=False)


def runs(values: Iterable[Hashable]) -> list[list[Any]]:
    """``[[value, how many in a row], …]``: "A", "A", "B" → ``[["A", 2], ["B", 1]]``."""
    out: list[list[Any]] = []
    for v in values:
        if out and out[-1][0] == v:
            out[-1][1] += 1
        else:
            out.append([v, 1])
    return out


def ordinal_runs(ordinals: Iterable[int]) -> list[list[int]]:
    """``[[first, how many], …]`` of consecutive ordinals: 4, 5, 6, 9 → ``[[4, 3], [9, 1]]``."""
    out: list[list[int]] = []
    for o in ordinals:
        if out and out[-1][0] + out[-1][1] == o:
            out[-1][1] += 1
        else:
            out.append([o, 1])
    return out


def pitch_of(seats: Sequence[SeatLike]) -> float:
    """The median distance between seats next to each other in the ordinal order of one row (ordinals run along
    rows); ``DEFAULT_PITCH`` when no two seats share a row."""
    gaps = [
        d
        for a, b in zip(seats, seats[1:], strict=False)
        if a.section == b.section and a.row == b.row and (d := math.hypot(b.x - a.x, b.y - a.y)) > 0
    ]
    return float(median(gaps)) if gaps else DEFAULT_PITCH


def convex_hull(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """The convex hull, counter-clockwise in x-right/y-up terms (Andrew's monotone chain); fewer than three
    distinct points come back as they are."""
    p = sorted(set(points))
    if len(p) < 3:
        return p
    chains = []
    for seq in (p, p[::-1]):
        chain: list[tuple[float, float]] = []
        for x, y in seq:
            # Pop while the last two and this one do not turn left (the cross product inlined: this is the loop
            # that runs once per seat).
            while len(chain) >= 2:
                (ox, oy), (ax, ay) = chain[-2], chain[-1]
                if (ax - ox) * (y - oy) - (ay - oy) * (x - ox) > 0:
                    break
                chain.pop()
            chain.append((x, y))
        chains.append(chain[:-1])
    return chains[0] + chains[1]


def outline(points: Sequence[tuple[float, float]], grow: float) -> list[list[int | float]]:
    """A polygon around ``points``: their hull with each corner moved ``grow`` away from their centroid, to 0.1
    map units; one seat or a single straight row (no area) gets its box grown by ``grow`` on every side
    instead."""
    hull = convex_hull(points)
    if len(hull) < 3:
        xs, ys = [x for x, _ in points], [y for _, y in points]
        x0, y0, x1, y1 = min(xs) - grow, min(ys) - grow, max(xs) + grow, max(ys) + grow
        return [[_coord(x), _coord(y)] for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
    cx = sum(x for x, _ in points) / len(points)
    cy = sum(y for _, y in points) / len(points)
    out = []
    for x, y in hull:
        dx, dy = x - cx, y - cy
        length = math.hypot(dx, dy) or 1.0
        out.append([_coord(x + dx / length * grow), _coord(y + dy / length * grow)])
    return out


def _coord(v: float) -> int | float:
    """``v`` to 0.1, whole numbers without ".0"."""
    return q // 10 if (q := round(v * 10)) % 10 == 0 else q / 10


def _coords(values: Iterable[float]) -> list[int | float]:
    # ``_coord`` inlined (a stadium has 160,000 coordinates); ``round(v, 1)`` would take four times as long.
    return [q // 10 if (q := round(v * 10)) % 10 == 0 else q / 10 for v in values]


def section_answer(section_id: str, seats: Sequence[SeatLike]) -> dict[str, Any]:
    """A section's seats as columns (the module's docstring)."""
    return {
        "section": section_id,
        "count": len(seats),
        "ordinals": ordinal_runs(s.ordinal for s in seats),
        "ids": [s.unit_id for s in seats],
        "rows": runs(s.row for s in seats),
        "numbers": [s.number for s in seats],
        "x": _coords(s.x for s in seats),
        "y": _coords(s.y for s in seats),
        "zones": runs(s.zone for s in seats),
        "attributes": [[k, bits] for k, s in enumerate(seats) if s.attributes and (bits := s.attr_bits)],
    }


def parts_of(sections: Sequence[Mapping[str, Any]], seats: Sequence[SeatLike]) -> MapParts:
    """The parts of a session's map: its sections in the seating's order (sections without seats left out; seats
    of a section the list does not name form one of their own, labelled by its id), each with its summary::

        {"id", "label", "kind", "best_x", "best_y", "seat_count", "zones": [[zone, seats], …],
         "attributes": bits any of its seats has, "bbox": [x0, y0, x1, y1] of its seats' centres,
         "outline": [[x, y], …] (a polygon around its seats), "ordinals": [[first, how many], …], "key"}
    """
    by_section: dict[str, list[SeatLike]] = {}
    for s in seats:
        by_section.setdefault(s.section, []).append(s)
    pitch = pitch_of(seats)
    described = {str(d["id"]): d for d in sections}
    order = list(dict.fromkeys([*described, *by_section]))
    parts = []
    for section_id in order:
        mine = by_section.get(section_id)
        if not mine:
            continue
        d = described.get(section_id, {})
        best = d.get("best") or [0, 0]
        answer = section_answer(section_id, mine)
        body = orjson.dumps(answer)
        key = version_of(body)
        points = [(s.x, s.y) for s in mine]
        zones: dict[str, int] = {}
        for zone, n in answer["zones"]:
            zones[zone] = zones.get(zone, 0) + n
        bits = 0
        for _, b in answer["attributes"]:
            bits |= b
        xs, ys = answer["x"], answer["y"]
        summary = {
            "id": section_id,
            "label": str(d.get("label") or section_id),
            "kind": str(d.get("kind") or "rect"),
            "best_x": json_number(float(best[0])),
            "best_y": json_number(float(best[1])),
            "seat_count": len(mine),
            "zones": [[z, n] for z, n in zones.items()],
            "attributes": bits,
            "bbox": [min(xs), min(ys), max(xs), max(ys)],
            "outline": outline(points, OUTLINE_GROW * pitch),
            "ordinals": answer["ordinals"],
            "key": key,
        }
        parts.append(SectionPart(summary, body, key))
    boxes = [p.summary["bbox"] for p in parts]
    bounds = (
        (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
        if boxes
        else (0.0, 0.0, 0.0, 0.0)
    )
    return MapParts(json_number(round(pitch, 2)), bounds, tuple(parts), {p.key: p for p in parts})


# ---- kept on disk for the host's other processes -----------------------------------------------------------------

PARTS_DIRECTORY = "seat-parts"
# The files' names carry a hash of this module's source: parts cut by other code (another format) are never read.
_SOURCE = hashlib.blake2b(Path(__file__).read_bytes(), digest_size=6).hexdigest()


def parts_file(var_dir: Path, session_id: str, stamp: tuple[Any, ...]) -> Path:
    """Where the parts of a session's seats as of ``stamp`` (its seating: another layout, another file) are kept
    for every process of the host."""
    name = f"{session_id}.{hashlib.blake2b(repr(stamp).encode(), digest_size=8).hexdigest()}.{_SOURCE}"
    return Path(var_dir) / PARTS_DIRECTORY / name


def store(path: Path, parts: MapParts) -> None:
    """``parts`` into ``path``, whole or not at all (written aside, then renamed): a line of JSON (pitch, bounds,
    each section's summary and its answer's size), then the sections' answers one after the other. Errors are
    logged: the caller has its parts, the next process cuts them again."""
    head = {
        "pitch": parts.pitch,
        "bounds": list(parts.bounds),
        "sections": [{"summary": p.summary, "size": len(p.body)} for p in parts.sections],
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(orjson.dumps(head) + b"\n")
                for p in parts.sections:
                    f.write(p.body)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        log.warning("seat map parts not kept for the host's other processes: %s", path, exc_info=True)


def load(path: Path) -> MapParts | None:
    """The parts ``store`` wrote to ``path``; None when there are none or they do not read back whole (each
    section's answer must hash to its key)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        line, _, rest = data.partition(b"\n")
        head = orjson.loads(line)
        sections, at = [], 0
        for s in head["sections"]:
            body = rest[at : at + s["size"]]
            at += s["size"]
            if version_of(body) != s["summary"]["key"]:
                return None
            sections.append(SectionPart(s["summary"], body, s["summary"]["key"]))
        if at != len(rest):
            return None
        x0, y0, x1, y1 = head["bounds"]
        return MapParts(head["pitch"], (x0, y0, x1, y1), tuple(sections), {p.key: p for p in sections})
    except (ValueError, KeyError, TypeError):
        log.warning("seat map parts unreadable, cut again: %s", path, exc_info=True)
        return None
