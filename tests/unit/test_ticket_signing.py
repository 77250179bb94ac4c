from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from piaowu.core.errors import InvalidTicket
from piaowu.core.ids import ticket_code
from piaowu.organizers import keys
from piaowu.tickets import signing
from piaowu.tickets.signing import Signed, TicketClaims, Typed

KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()
CLAIMS = TicketClaims(
    code=ticket_code(),
    organizer_id="01ja0000000000000000000000",
    valid_from=1_780_000_000,
    valid_until=1_780_010_800,
    covers=("s:01jb0000000000000000000000",),
)
# A ticket signed before passes existed (version 1: one session and its entries).
OLD = TicketClaims(
    code=ticket_code(),
    organizer_id="01ja0000000000000000000000",
    valid_from=1_780_000_000,
    valid_until=1_780_010_800,
    covers=("s:01jb0000000000000000000000",),
    version="PW1",
    entries_allowed=1,
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_round_trip_and_deterministic():
    payload = signing.sign(KEY, CLAIMS)
    assert payload.startswith("PW2.") and payload.count(".") == 2
    assert signing.verify(KEY.public_key(), payload) == CLAIMS
    assert signing.sign(KEY, CLAIMS) == payload  # Ed25519 is deterministic: no need to store signatures
    assert len(payload) < 300  # fits a QR code a phone camera reads at arm's length


def test_sealed_organizer_key_signs_and_its_public_key_verifies():
    sealed, public = keys.new_keypair("app-secret")
    payload = signing.sign(keys.open_private_key(sealed, "app-secret"), CLAIMS)
    assert signing.verify(keys.load_public_key(public), payload).code == CLAIMS.code


def test_wrong_key_is_invalid():
    payload = signing.sign(OTHER, CLAIMS)
    with pytest.raises(InvalidTicket):
        signing.verify(KEY.public_key(), payload)


@pytest.mark.parametrize("part", [1, 2])
def test_flipping_any_byte_of_claims_or_signature_is_invalid(part):
    payload = signing.sign(KEY, CLAIMS)
    pieces = payload.split(".")
    raw = bytearray(base64.urlsafe_b64decode(pieces[part] + "=" * (-len(pieces[part]) % 4)))
    for i in range(0, len(raw), 7):
        tampered = bytearray(raw)
        tampered[i] ^= 0x01
        forged = list(pieces)
        forged[part] = _b64(bytes(tampered))
        with pytest.raises(InvalidTicket):
            signing.verify(KEY.public_key(), ".".join(forged))


def test_changed_claims_with_the_old_signature_are_invalid():
    payload = signing.sign(KEY, CLAIMS)
    _, _, sig = payload.split(".")
    more = {**CLAIMS.to_json(), "n": 99}
    forged = f"PW2.{_b64(json.dumps(more, separators=(',', ':')).encode())}.{sig}"
    with pytest.raises(InvalidTicket):
        signing.verify(KEY.public_key(), forged)


def test_version_tag_is_signed_too():
    payload = signing.sign(KEY, CLAIMS)
    with pytest.raises(InvalidTicket):
        signing.verify(KEY.public_key(), "PW1" + payload[3:])
    old = signing.sign(KEY, OLD)
    with pytest.raises(InvalidTicket):
        signing.verify(KEY.public_key(), "PW2" + old[3:])


def test_genuine_signature_over_malformed_claims_is_still_invalid():
    def signed_body(body: bytes) -> str:
        part = f"PW1.{_b64(body)}"
        return f"{part}.{_b64(KEY.sign(part.encode()))}"

    for body in [b"not json", b"[1,2]", b'{"c":"X"}', json.dumps({**OLD.to_json(), "n": 0}).encode()]:
        with pytest.raises(InvalidTicket):
            signing.verify(KEY.public_key(), signed_body(body))

    def signed_v2(body: dict) -> str:
        part = f"PW2.{_b64(json.dumps(body).encode())}"
        return f"{part}.{_b64(KEY.sign(part.encode()))}"

    for g in [[], "s:x", ["x:1"], ["s:"], [1], None]:
        with pytest.raises(InvalidTicket):
            signing.verify(KEY.public_key(), signed_v2({**CLAIMS.to_json(), "g": g}))


def test_a_payload_of_the_old_format_still_verifies_and_covers_its_session():
    """Tickets issued before passes keep their PW1 payload: gates must still accept it."""
    old = signing.sign(KEY, OLD)
    assert old.startswith("PW1.")
    body = json.loads(base64.urlsafe_b64decode(old.split(".")[1] + "==="))
    assert set(body) == {"c", "s", "o", "f", "u", "n"}  # the old claims, byte for byte
    claims = signing.verify(KEY.public_key(), old)
    assert claims == OLD and claims.session_ids == ("01jb0000000000000000000000",) and claims.event_ids == ()
    assert signing.parse(old) == Signed(old)


def test_a_pass_is_one_payload_naming_the_ticket_and_what_it_covers():
    combo = TicketClaims(
        code=ticket_code(),
        organizer_id="01ja0000000000000000000000",
        valid_from=1_780_000_000,
        valid_until=1_780_600_000,
        covers=tuple(f"{k}:01jb{i:022d}" for i, k in enumerate("sseeseee")),  # grant_rules.MAX_GRANTS targets
    )
    payload = signing.sign(KEY, combo)
    assert signing.verify(KEY.public_key(), payload) == combo
    assert "s" not in json.loads(base64.urlsafe_b64decode(payload.split(".")[1] + "==="))  # no session claim
    assert len(payload) <= signing.MAX_PAYLOAD


@pytest.mark.parametrize(
    "garbage",
    ["", "PW1.", "PW1..", "PW1.a.b", "PW1.!!!.???", "PW2." + "A" * 2000, "hello.world.x", "PW2.e30.e30.e30"],
)
def test_garbage_is_invalid(garbage):
    with pytest.raises(InvalidTicket):
        signing.verify(KEY.public_key(), garbage)


@given(st.text(max_size=400))
def test_verify_never_raises_anything_but_invalid_ticket(text):
    with pytest.raises(InvalidTicket):
        signing.verify(KEY.public_key(), text)


def test_parse_tells_payloads_from_typed_codes():
    payload = signing.sign(KEY, CLAIMS)
    # keyboard-wedge scanners add CR/LF or control prefixes; staff type lower case and dashes
    assert signing.parse(f"\x02{payload}\r\n") == Signed(payload)
    assert signing.parse(" ab2c-3d4e-5f6g \n") == Typed("AB2C3D4E5F6G")
    for bad in ["", "   ", "abc", "票务票务票务票务", "A" * 40, "DROP TABLE tickets;"]:
        with pytest.raises(InvalidTicket):
            signing.parse(bad)
