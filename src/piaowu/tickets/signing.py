"""The QR payload of a ticket: claims signed with the organizer's Ed25519 key, verifiable offline.

Format (version 2), URL-safe and compact enough for a phone camera::

    PW2.<base64url(JSON claims)>.<base64url(64-byte signature)>

The signature covers the ASCII bytes ``PW2.<claims part>``, so neither the version tag nor the claims can be
changed without breaking it. Claims use one-letter keys (see ``TicketClaims``). Version 2 names the *ticket*
(its code) and lists what it covers (``g``: ``s:<session id>`` or ``e:<event id>`` per entitlement), so a pass
over several attractions is one QR code. A gate that holds the organizer's public key
(``GET /api/v1/organizers/{slug}/public-key``) can decide "genuine, covers this entrance, within its overall
validity" with no network; how much of each entitlement is used needs the server.

An assigned seat rides along as ``p``: ``[section, row, number]`` as printed, so an offline gate can show the
seat. Only seated tickets have it: a payload without a seat is byte for byte what it was before, and a reader
that does not know ``p`` ignores it (the signature still covers it).

Version 1 (``PW1``, claims ``c s o f u n``: one session and its entries) was signed before passes existed;
tickets issued then keep their payload and still verify: it covers ``s:<s>``. Nothing is signed as PW1 any more.

Gate staff may also type the human ticket code printed under the QR; ``parse`` tells the two apart.

Pure: imports only ``piaowu.core`` and ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from piaowu.core.errors import InvalidTicket
from piaowu.core.ids import HUMAN_ALPHABET

VERSION = "PW2"
V1 = "PW1"
_VERSIONS = (VERSION, V1)
# What a scanned string starts with when it is a signed payload of any version (the gate page's scanner input).
PAYLOAD_PREFIXES = tuple(f"{v}." for v in _VERSIONS)
# Anything longer is not ours. A pass of grant_rules.MAX_GRANTS targets signs to about 700 characters.
MAX_PAYLOAD = 900
_SIG_LEN = 64
_TYPED_MIN, _TYPED_MAX = 6, 32
_TYPED_ALPHABET = frozenset(HUMAN_ALPHABET) | frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_id(v: Any) -> bool:
    return isinstance(v, str) and bool(v)


@dataclass(frozen=True, slots=True)
class TicketClaims:
    """What the QR code asserts. Times are Unix seconds (UTC): the ticket's overall validity (from the earliest
    opening to the latest closing of its entitlements)."""

    code: str  # c
    organizer_id: str  # o
    valid_from: int  # f
    valid_until: int  # u
    covers: tuple[str, ...]  # g: "s:<session id>" / "e:<event id>", one per entitlement, in order
    version: str = VERSION  # PW1 for payloads signed before passes (read only)
    entries_allowed: int = 0  # PW1 only (n); version 2 leaves counts to the server
    seat: tuple[str, str, str] | None = None  # p: an assigned seat (section, row, number); version 2 only

    @property
    def session_ids(self) -> tuple[str, ...]:
        return tuple(c[2:] for c in self.covers if c.startswith("s:"))

    @property
    def event_ids(self) -> tuple[str, ...]:
        return tuple(c[2:] for c in self.covers if c.startswith("e:"))

    def to_json(self) -> dict[str, Any]:
        if self.version == V1:
            return {
                "c": self.code,
                "s": self.session_ids[0],
                "o": self.organizer_id,
                "f": self.valid_from,
                "u": self.valid_until,
                "n": self.entries_allowed,
            }
        out: dict[str, Any] = {
            "c": self.code,
            "o": self.organizer_id,
            "f": self.valid_from,
            "u": self.valid_until,
            "g": list(self.covers),
        }
        if self.seat is not None:
            out["p"] = list(self.seat)
        return out

    @classmethod
    def from_json(cls, data: Any, version: str = VERSION) -> TicketClaims:
        if not isinstance(data, dict):
            raise InvalidTicket()
        try:
            code, organizer_id, f, u = data["c"], data["o"], data["f"], data["u"]
            if version == V1:
                session_id, n = data["s"], data["n"]
                if not (_is_id(session_id) and _is_int(n) and n >= 1):
                    raise InvalidTicket()
                covers: Any = [f"s:{session_id}"]
            else:
                covers, n = data["g"], 0
        except KeyError:
            raise InvalidTicket() from None
        if not (_is_id(code) and _is_id(organizer_id) and _is_int(f) and _is_int(u)):
            raise InvalidTicket()
        if not isinstance(covers, list) or not covers:
            raise InvalidTicket()
        if not all(isinstance(c, str) and len(c) > 2 and c[:2] in ("s:", "e:") for c in covers):
            raise InvalidTicket()
        seat = data.get("p") if version != V1 else None
        if seat is not None and not (
            isinstance(seat, list) and len(seat) == 3 and all(isinstance(x, str) and x for x in seat)
        ):
            raise InvalidTicket()
        return cls(code, organizer_id, f, u, tuple(covers), version, n, tuple(seat) if seat else None)


@dataclass(frozen=True, slots=True)
class Signed:
    """A scanned string that looks like a signed payload (not yet verified)."""

    payload: str


@dataclass(frozen=True, slots=True)
class Typed:
    """A human ticket code typed at the gate; only the server can say whether it exists."""

    code: str


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    if not text or any(ch not in _B64_CHARS for ch in text):
        raise InvalidTicket()
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidTicket() from None


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def sign(private_key: Ed25519PrivateKey, claims: TicketClaims) -> str:
    """→ the QR string. Ed25519 is deterministic: the same key and claims always give the same string."""
    body = json.dumps(claims.to_json(), separators=(",", ":"), sort_keys=True, ensure_ascii=True)
    signed_part = f"{claims.version}.{_b64e(body.encode('ascii'))}"
    signature = private_key.sign(signed_part.encode("ascii"))
    return f"{signed_part}.{_b64e(signature)}"


def verify(public_key: Ed25519PublicKey, payload: str) -> TicketClaims:
    """The claims of a genuine payload; raises ``InvalidTicket`` for anything tampered, garbled or signed with
    another key. Both versions verify (``PW1`` payloads of tickets issued before passes). Validity in time,
    coverage and use are the gate's rules (``checkin.rules``), not checked here."""
    payload = clean(payload)
    if len(payload) > MAX_PAYLOAD:
        raise InvalidTicket()
    parts = payload.split(".")
    if len(parts) != 3 or parts[0] not in _VERSIONS:
        raise InvalidTicket()
    body, signature = _b64d(parts[1]), _b64d(parts[2])
    if len(signature) != _SIG_LEN:
        raise InvalidTicket()
    try:
        public_key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
    except InvalidSignature:
        raise InvalidTicket() from None
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidTicket() from None
    return TicketClaims.from_json(data, parts[0])


def seat_of(payload: str) -> tuple[str, str, str] | None:
    """The seat in one of our own stored payloads (a ticket row's ``qr_payload``), read without verifying: for
    showing it (ticket JSON, PDF, the gate's answer), never for deciding anything. None without a seat or for
    anything unreadable."""
    parts = payload.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        return None
    try:
        seat = json.loads(_b64d(parts[1]).decode("utf-8")).get("p")
    except (InvalidTicket, UnicodeDecodeError, ValueError, AttributeError):
        return None
    if isinstance(seat, list) and len(seat) == 3 and all(isinstance(x, str) for x in seat):
        return (seat[0], seat[1], seat[2])
    return None


def clean(raw: str) -> str:
    """Drop what scanners add around a code: whitespace, control characters (prefix/suffix bytes, CR/LF)."""
    return "".join(ch for ch in raw if ch.isprintable() and not ch.isspace())


def parse(raw: str) -> Signed | Typed:
    """Classify a scan: a signed payload (``PW1.…``) or a typed ticket code. Raises ``InvalidTicket`` for
    anything that can be neither, so garbage never reaches a database lookup."""
    text = clean(raw)
    if any(text.upper().startswith(v + ".") for v in _VERSIONS):
        return Signed(text)
    code = "".join(ch for ch in text.upper() if ch not in "-_")
    if _TYPED_MIN <= len(code) <= _TYPED_MAX and all(ch in _TYPED_ALPHABET for ch in code):
        return Typed(code)
    raise InvalidTicket()
