"""A seat in the signed QR payload (tickets.signing): optional key ``p``, absent for tickets without a seat so
their payloads are unchanged; signed like the rest; readable for display without verifying."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from piaowu.core.errors import InvalidTicket
from piaowu.tickets import signing
from piaowu.tickets.printing import seat_label
from piaowu.tickets.signing import TicketClaims

KEY = Ed25519PrivateKey.generate()


def claims(**kw: object) -> TicketClaims:
    return TicketClaims(code="ABCD2345", organizer_id="org", valid_from=1, valid_until=2, covers=("s:S1",), **kw)


def body_of(payload: str) -> dict:
    part = payload.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_a_ticket_without_a_seat_signs_exactly_as_before():
    payload = signing.sign(KEY, claims())
    assert set(body_of(payload)) == {"c", "o", "f", "u", "g"}
    assert signing.verify(KEY.public_key(), payload).seat is None
    assert signing.seat_of(payload) is None


def test_a_seat_is_signed_and_read_back():
    payload = signing.sign(KEY, claims(seat=("A区", "3", "12")))
    assert body_of(payload)["p"] == ["A区", "3", "12"]
    assert signing.verify(KEY.public_key(), payload).seat == ("A区", "3", "12")
    assert signing.seat_of(payload) == ("A区", "3", "12")


def _resign(payload: str, change: dict) -> str:
    """The same claims with ``change`` applied, signed properly (a forger with the key: tests the parser)."""
    body = {**body_of(payload), **change}
    part = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    sig = base64.urlsafe_b64encode(KEY.sign(f"PW2.{part}".encode())).rstrip(b"=").decode()
    return f"PW2.{part}.{sig}"


def test_a_changed_seat_breaks_the_signature_and_a_malformed_one_is_refused():
    payload = signing.sign(KEY, claims(seat=("A", "3", "12")))
    head, _, sig = payload.split(".")
    forged_body = base64.urlsafe_b64encode(json.dumps({**body_of(payload), "p": ["A", "1", "1"]}).encode())
    with pytest.raises(InvalidTicket):
        signing.verify(KEY.public_key(), f"{head}.{forged_body.rstrip(b'=').decode()}.{sig}")
    for bad in (["A", "1"], ["A", "1", 2], "A-1-1", ["A", "", "1"]):
        with pytest.raises(InvalidTicket):
            signing.verify(KEY.public_key(), _resign(payload, {"p": bad}))
        assert signing.seat_of(_resign(payload, {"p": bad})) in (None, ("A", "", "1"))


def test_seat_of_reads_nothing_from_garbage():
    for raw in ("", "PW2", "PW2.!!.x", "PW1.e30.x", "PW2.WzFd.x", "ABCD-2345"):
        assert signing.seat_of(raw) is None


def test_the_printed_seat_is_in_both_languages():
    assert seat_label(("A", "3", "12")) == "A区 3排 12号 · Section A Row 3 Seat 12"
    assert seat_label(("VIP区", "1", "1")).startswith("VIP区 1排 1号")
    assert seat_label(None) == ""
