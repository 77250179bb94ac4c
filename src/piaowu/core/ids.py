"""Identifiers: time-ordered ids for rows, unambiguous human codes for orders and tickets."""

from __future__ import annotations

import os
import secrets
import time

# No 0/O, 1/I/L: codes are read aloud at box offices and typed at gates.
HUMAN_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


_last = 0
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32, lower case
# Two characters per 10 bits: an id's 130 bits (128 and two leading zeros) are 13 lookups, not 26 divisions —
# placing an order makes six ids (py-spy: new_id was ~3% of a created order's CPU).
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
_PAIR_SHIFTS = tuple(range(120, -1, -10))


def new_id() -> str:
    """A 26-character, time-ordered id (48-bit milliseconds + 80 random bits, Crockford base32), so that
    indexes stay append-mostly. Monotonic within a process: two ids made in the same millisecond still sort in
    the order they were made (audit events of one transaction list in the order they happened)."""
    global _last
    ms = int(time.time() * 1000)
    n = int.from_bytes(ms.to_bytes(6, "big") + os.urandom(10), "big")
    if n <= _last:
        n = _last + 1
    _last = n
    return "".join([_PAIRS[(n >> shift) & 1023] for shift in _PAIR_SHIFTS])


def human_code(length: int = 8, prefix: str = "") -> str:
    """``length`` characters of ``HUMAN_ALPHABET``, each code equally likely: one draw from the system's random
    source for the whole code (a ``secrets.choice`` per character read it once per character)."""
    n = secrets.randbelow(len(HUMAN_ALPHABET) ** length)
    out = []
    for _ in range(length):
        n, r = divmod(n, len(HUMAN_ALPHABET))
        out.append(HUMAN_ALPHABET[r])
    return prefix + "".join(out)


def ticket_code() -> str:
    """A random, unguessable ticket code (~100 bits), still short enough to type at a gate."""
    return human_code(20)


def normalize_code(text: str) -> str:
    """What a person typed → the canonical code: upper case, no spaces or dashes."""
    return "".join(ch for ch in text.upper() if ch.isalnum())
