from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from piaowu.accounts.permissions import Permission, Role, permissions_for
from piaowu.accounts.tokens import digest, generate, matches, prefix_of
from piaowu.catalog.rules import SaleState, check_transition, sale_state
from piaowu.core.errors import InvalidState
from piaowu.core.ids import HUMAN_ALPHABET, human_code, new_id, normalize_code
from piaowu.core.money import Money, format_money, parse_major
from piaowu.i18n import Translator, negotiate, normalize_locale


def test_money_formats_and_parses_exactly():
    assert format_money(12345) == "¥123.45"
    assert format_money(-5) == "-¥0.05"
    assert parse_major("380") == 38000 and parse_major("380.5") == 38050 and parse_major("0.07") == 7
    for bad in ["", "-1", "1.234", "abc", "1.2.3"]:
        with pytest.raises(ValueError):
            parse_major(bad)
    with pytest.raises(ValueError):
        Money(1, "CNY") + Money(1, "USD")


def test_ids_are_time_ordered_and_codes_unambiguous():
    a, b = new_id(), new_id()
    assert len(a) == 26 and a[:8] <= b[:8]
    code = human_code(8)
    assert len(code) == 8 and set(code) <= set(HUMAN_ALPHABET) and not set("01IOL") & set(code)
    assert normalize_code(" ab-cd 12 ") == "ABCD12"


def test_roles_grant_explicit_permissions_and_unknown_roles_nothing():
    assert Permission.CHECKIN in permissions_for(Role.GATE)
    assert Permission.ORDER_CREATE not in permissions_for(Role.GATE)
    assert Permission.REFUND in permissions_for(Role.FINANCE)
    assert permissions_for("superuser") == frozenset()


def test_api_tokens_store_only_a_digest():
    token, prefix, stored = generate()
    assert prefix_of(token) == prefix and stored == digest(token) and token not in stored
    assert matches(token, stored) and not matches(token + "x", stored)
    assert prefix_of("garbage") is None


def test_sale_window():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    start, end = now + timedelta(days=1), now + timedelta(days=1, hours=3)
    assert sale_state("on_sale", now, start, end, None, None) == SaleState.ON_SALE
    assert sale_state("on_sale", now, start, end, now + timedelta(hours=1), None) == SaleState.NOT_YET
    assert sale_state("on_sale", end, start, end, None, None) == SaleState.ENDED
    assert sale_state("paused", now, start, end, None, None) == SaleState.UNAVAILABLE
    with pytest.raises(InvalidState):
        check_transition("cancelled", "on_sale")


def test_locale_negotiation_and_translation():
    assert negotiate("en-US,en;q=0.9") == "en" and negotiate("zh-CN,zh;q=0.9") == "zh_CN" and negotiate(None) == "zh_CN"
    assert normalize_locale("zh-cn") == "zh_CN" and normalize_locale("en_GB") == "en"
    assert Translator("en")("Sold out: not enough tickets left for this selection.").startswith("Sold out")


def test_ids_made_in_one_millisecond_keep_their_order():
    ids = [new_id() for _ in range(2000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def _base32_by_division(n: int) -> str:
    out = []
    for _ in range(26):
        n, r = divmod(n, 32)
        out.append("0123456789abcdefghjkmnpqrstvwxyz"[r])
    return "".join(reversed(out))


@pytest.mark.parametrize("random_bytes", [bytes(10), b"\xff" * 10, bytes(range(10)), b"\x80" + bytes(9)])
def test_new_id_spells_its_128_bits_in_crockford_base32(monkeypatch, random_bytes):
    # The table lookup (two characters per 10 bits) spells the number as the division by 32 did.
    from piaowu.core import ids

    monkeypatch.setattr(ids, "_last", -1)
    monkeypatch.setattr(ids.os, "urandom", lambda k: random_bytes[:k])
    for ms in (0, 1_765_000_000_000, 2**48 - 1):
        monkeypatch.setattr(ids, "_last", -1)
        monkeypatch.setattr(ids.time, "time", lambda ms=ms: ms / 1000)
        n = int.from_bytes((int(ms / 1000 * 1000)).to_bytes(6, "big") + random_bytes, "big")
        assert new_id() == _base32_by_division(n)


def test_human_codes_draw_once_and_use_the_whole_alphabet(monkeypatch):
    from piaowu.core import ids

    asked = []
    monkeypatch.setattr(ids.secrets, "randbelow", lambda k: asked.append(k) or k - 1)
    assert human_code(8) == HUMAN_ALPHABET[-1] * 8 and asked == [len(HUMAN_ALPHABET) ** 8]
    monkeypatch.setattr(ids.secrets, "randbelow", lambda k: 0)
    assert human_code(5, prefix="T") == "T" + HUMAN_ALPHABET[0] * 5
    monkeypatch.undo()
    codes = [human_code(8) for _ in range(2000)]
    for position in range(8):
        assert {c[position] for c in codes} == set(HUMAN_ALPHABET)
