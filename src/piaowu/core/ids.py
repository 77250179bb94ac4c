"""Identifiers: time-ordered ids for rows, unambiguous human codes for orders and tickets."""

from __future__ import annotations

import os
import secrets
import time

# No 0/O, 1/I/L: codes are read aloud at box offices and typed at gates.
HUMAN_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


_last = 0


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
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    out = []
    for _ in range(26):
        n, r = divmod(n, 32)
        out.append(alphabet[r])
    return "".join(reversed(out))


def human_code(length: int = 8, prefix: str = "") -> str:
    return prefix + "".join(secrets.choice(HUMAN_ALPHABET) for _ in range(length))


def ticket_code() -> str:
    """A random, unguessable ticket code (~100 bits), still short enough to type at a gate."""
    return human_code(20)


def normalize_code(text: str) -> str:
    """What a person typed → the canonical code: upper case, no spaces or dashes."""
    return "".join(ch for ch in text.upper() if ch.isalnum())
