"""Refund reasons: the ones the system writes read back in the reader's language, staff texts as typed, even
when they merely look like the system's."""

from __future__ import annotations

import pytest

from piaowu.i18n import Translator
from piaowu.orders import refund_reasons
from piaowu.orders.refund_reasons import Kind, SystemReason, parse
from piaowu.web.templating import refund_reason

EN, ZH = Translator("en"), Translator("zh_CN")


def test_the_writers_forms_are_the_ones_stored_before():
    assert refund_reasons.NONE_GIVEN == "refund"
    assert refund_reasons.session_cancelled("") == "session cancelled"
    assert refund_reasons.session_cancelled("台风停演 typhoon") == "session cancelled: 台风停演 typhoon"
    assert refund_reasons.seat_exchange("A 1-2", "B 3-4") == "seat exchange A 1-2 → B 3-4"
    long = refund_reasons.session_cancelled("x" * 300)
    assert len(long) == 200 and long.startswith("session cancelled: x")  # the column's length, as before


@pytest.mark.parametrize(
    ("stored", "en", "zh"),
    [
        ("refund", "", ""),  # none was given: nothing to show
        ("session cancelled", "The session was cancelled.", "场次已取消。"),
        (
            "session cancelled: 台风停演 typhoon",
            "The session was cancelled: 台风停演 typhoon",
            "场次已取消：台风停演 typhoon",
        ),
        (
            "session cancelled: rain: roof leak",
            "The session was cancelled: rain: roof leak",
            "场次已取消：rain: roof leak",
        ),
        ("seat exchange A 1-2 → B 3-4", "Seat exchange A 1-2 → B 3-4", "换座 A 1-2 → B 3-4"),
        ("duplicate payment", "A second payment for an order already paid.", "订单已付款后又收到的重复付款。"),
        (
            "paid after expiry; sold out",
            "Paid after the order had expired, when its tickets were sold out.",
            "订单过期后才付款，而票已售罄。",
        ),
        (
            "seat exchange Stalls Left 10-3 → 楼座 2-1",
            "Seat exchange Stalls Left 10-3 → 楼座 2-1",
            "换座 Stalls Left 10-3 → 楼座 2-1",
        ),
    ],
)
def test_system_reasons_read_in_the_readers_language(stored: str, en: str, zh: str):
    assert refund_reason(EN, stored) == en
    assert refund_reason(ZH, stored) == zh


@pytest.mark.parametrize(
    "typed",
    [
        "customer request",
        "顾客要求退款",
        "refund please",  # starts like "refund"
        "Refund",  # not the system's exact word
        "session cancelled by the venue",  # looks like a cancellation, without the system's colon
        "session cancelled:",  # the system never writes the colon without words after it
        "Session cancelled: rain",  # the system writes lower case
        "seat exchange requested by the buyer",  # no seats and arrow
        "seat exchange A 1-2 -> B 3-4",  # an ASCII arrow: typed, not written by the system
        "{reason} {n}",  # braces are text, not placeholders
        "duplicate payment, refunded by hand",  # starts like the system's
        "paid after expiry",  # only part of the system's words
    ],
)
def test_staff_text_is_shown_as_typed_even_when_it_looks_similar(typed: str):
    assert parse(typed) is None
    assert refund_reason(EN, typed) == typed
    assert refund_reason(ZH, typed) == typed


def test_parse_names_the_parts_staff_wrote_and_the_seats():
    assert parse("session cancelled: 台风") == SystemReason(Kind.SESSION_CANCELLED, staff_text="台风")
    assert parse("seat exchange A 1-2 → B 3-4") == SystemReason(Kind.SEAT_EXCHANGE, old_seat="A 1-2", new_seat="B 3-4")
    assert parse("refund") == SystemReason(Kind.NONE_GIVEN)
