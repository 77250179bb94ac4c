"""``normalize_phone``'s shortcut for plain mainland numbers agrees exactly with the phonenumbers library.

The oracle is the library's documented way (parse, ``is_valid_number``, ``number_type``, format), as
``normalize_phone`` did it before the shortcut: every input gives the same E.164 string or the same refusal."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from piaowu.orders import schemas
from piaowu.orders.schemas import normalize_phone


def library(value: str, region: str = "CN") -> str:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return "refused: valid"
    if not phonenumbers.is_valid_number(number):
        return "refused: valid"
    if phonenumbers.number_type(number) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        return "refused: mobile"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def ours(value: str, region: str = "CN") -> str:
    try:
        return normalize_phone(value, region)
    except ValueError as exc:
        return "refused: valid" if "valid" in str(exc) else "refused: mobile"


DIGITS = "0123456789"
# Every start the shortcut or the parser treats specially: mobile ranges, carrier codes (11xxx, 12xxx, 179xx),
# their "00" international form, the 86 country code, the national prefix 0.
STARTS = ["1", "10", "11", "12", "13", "14", "145", "147", "15", "16", "1610", "17", "1740", "17400", "179", "18"]
STARTS += ["19", "86", "0", "00", "1120000", "1795100", "12593"]


@st.composite
def mainland_digits(draw: st.DrawFn) -> str:
    start = draw(st.sampled_from(STARTS))
    length = draw(st.sampled_from([11, 11, 11, 10, 12]))
    return (start + draw(st.text(DIGITS, min_size=length, max_size=length)))[:length]


@settings(max_examples=1500, deadline=None)
@given(mainland_digits())
@example("13812345678")
@example("17951138123")  # a carrier code before a mobile number's start
@example("11200123456")
@example("17400123456")
@example("17406123456")
@example("16101234567")
def test_plain_digits_agree_with_the_library(value: str) -> None:
    assert ours(value) == library(value)


@settings(max_examples=600, deadline=None)
@given(st.text("0123456789+-() x#.", max_size=20), st.sampled_from(["CN", "CN", "HK", "US", "GB"]))
@example("１３８１２３４５６７８", "CN")  # full-width digits: the parser reads them, the shortcut leaves them alone
@example("+8613812345678", "CN")
@example("13812345678", "HK")
def test_any_input_agrees_with_the_library(value: str, region: str) -> None:
    assert ours(value, region) == library(value, region)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20))
def test_any_text_agrees_with_the_library(value: str) -> None:
    assert ours(value) == library(value)


def test_the_shortcut_is_taken_for_a_plain_mobile_number_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # Control: the property above would pass without a shortcut too; this shows the parser is skipped for the
    # form a buyer types, and still used for anything else.
    calls: list[str] = []
    real = phonenumbers.parse
    monkeypatch.setattr(schemas.phonenumbers, "parse", lambda v, r: calls.append(v) or real(v, r))
    assert normalize_phone("13812345678") == "+8613812345678"
    assert calls == []
    assert normalize_phone("138 1234 5678") == "+8613812345678"
    assert calls == ["138 1234 5678"]
    with pytest.raises(ValueError, match="valid"):
        normalize_phone("12593123456")  # a carrier prefix: the parser strips it, the rest is not a number
    assert calls[-1] == "12593123456"
