"""The QR payload of a ticket: claims signed with the organizer's Ed25519 key, verifiable offline.

Format (version 1), URL-safe and compact enough for a version ~11 QR code::

    PW1.<base64url(JSON claims)>.<base64url(64-byte signature)>

The signature covers the ASCII bytes ``PW1.<claims part>``, so neither the version tag nor the claims can be
changed without breaking it. Claims use one-letter keys (see ``TicketClaims``). A gate that holds the organizer's
public key (``GET /api/v1/organizers/{slug}/public-key``) can decide "genuine, for this session, in this time
window" with no network; only "not used yet" needs the server.

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

VERSION = "PW1"
MAX_PAYLOAD = 600  # anything longer is not ours (and is cut before it reaches a log row)
_SIG_LEN = 64
_TYPED_MIN, _TYPED_MAX = 6, 32
_TYPED_ALPHABET = frozenset(HUMAN_ALPHABET) | frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True, slots=True)
class TicketClaims:
    """What the QR code asserts. Times are Unix seconds (UTC)."""

    code: str  # c
    session_id: str  # s
    organizer_id: str  # o
    valid_from: int  # f
    valid_until: int  # u
    entries_allowed: int = 1  # n

    def to_json(self) -> dict[str, Any]:
        return {
            "c": self.code,
            "s": self.session_id,
            "o": self.organizer_id,
            "f": self.valid_from,
            "u": self.valid_until,
            "n": self.entries_allowed,
        }

    @classmethod
    def from_json(cls, data: Any) -> TicketClaims:
        if not isinstance(data, dict):
            raise InvalidTicket()
        try:
            claims = cls(
                code=data["c"],
                session_id=data["s"],
                organizer_id=data["o"],
                valid_from=data["f"],
                valid_until=data["u"],
                entries_allowed=data["n"],
            )
        except KeyError:
            raise InvalidTicket() from None
        types_ok = all(isinstance(v, str) and v for v in (claims.code, claims.session_id, claims.organizer_id))
        ints_ok = all(
            isinstance(v, int) and not isinstance(v, bool)
            for v in (claims.valid_from, claims.valid_until, claims.entries_allowed)
        )
        if not (types_ok and ints_ok) or claims.entries_allowed < 1:
            raise InvalidTicket()
        return claims


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
    signed_part = f"{VERSION}.{_b64e(body.encode('ascii'))}"
    signature = private_key.sign(signed_part.encode("ascii"))
    return f"{signed_part}.{_b64e(signature)}"


def verify(public_key: Ed25519PublicKey, payload: str) -> TicketClaims:
    """The claims of a genuine payload; raises ``InvalidTicket`` for anything tampered, garbled or signed with
    another key. Validity in time, session and use are the gate's rules (``checkin.rules``), not checked here."""
    payload = clean(payload)
    if len(payload) > MAX_PAYLOAD:
        raise InvalidTicket()
    parts = payload.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
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
    return TicketClaims.from_json(data)


def clean(raw: str) -> str:
    """Drop what scanners add around a code: whitespace, control characters (prefix/suffix bytes, CR/LF)."""
    return "".join(ch for ch in raw if ch.isprintable() and not ch.isspace())


def parse(raw: str) -> Signed | Typed:
    """Classify a scan: a signed payload (``PW1.…``) or a typed ticket code. Raises ``InvalidTicket`` for
    anything that can be neither, so garbage never reaches a database lookup."""
    text = clean(raw)
    if text.upper().startswith(VERSION + "."):
        return Signed(text)
    code = "".join(ch for ch in text.upper() if ch not in "-_")
    if _TYPED_MIN <= len(code) <= _TYPED_MAX and all(ch in _TYPED_ALPHABET for ch in code):
        return Typed(code)
    raise InvalidTicket()
