from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from piaowu.checkin.rules import MESSAGES, ScanResult, TicketFacts, admission_window, verdict

START = datetime(2026, 6, 8, 11, 30, tzinfo=UTC)
END = START + timedelta(hours=3)
WINDOW = admission_window(START, END, 120)
DURING = START - timedelta(minutes=30)


def facts(**kw) -> TicketFacts:
    base = {"status": "valid", "session_id": "s1", "entries_allowed": 1, "entries_used": 0}
    return TicketFacts(**{**base, **kw})


def test_admission_window_opens_before_the_start_and_closes_at_the_end():
    assert (WINDOW.opens_at, WINDOW.closes_at) == (START - timedelta(minutes=120), END)
    assert admission_window(START, END, -5).opens_at == START  # a negative setting never moves it later


def test_admitted_inside_the_window_for_an_expected_session():
    v = verdict(facts(), ["s1", "s2"], DURING, WINDOW)
    assert v.result is ScanResult.ADMITTED and v.admitted and v.message == "Admitted"


def test_any_session_when_the_gate_names_none():
    assert verdict(facts(session_id="s9"), [], DURING, WINDOW).admitted


def test_unknown_ticket_is_invalid():
    assert verdict(None, [], DURING, WINDOW).result is ScanResult.INVALID_TICKET


def test_refunded_and_void():
    assert verdict(facts(status="refunded"), [], DURING, WINDOW).result is ScanResult.REFUNDED
    assert verdict(facts(status="void"), [], DURING, WINDOW).result is ScanResult.VOIDED
    # a refunded ticket is refused even after it was used once (it says refunded, not "already in")
    assert verdict(facts(status="refunded", entries_used=1), [], DURING, WINDOW).result is ScanResult.REFUNDED


def test_wrong_session():
    assert verdict(facts(), ["s2"], DURING, WINDOW).result is ScanResult.WRONG_SESSION


def test_window_edges():
    opens = WINDOW.opens_at
    v = verdict(facts(), [], opens - timedelta(seconds=1), WINDOW)
    assert v.result is ScanResult.NOT_YET_VALID and v.opens_at == opens
    assert verdict(facts(), [], opens, WINDOW).admitted
    assert verdict(facts(), [], END, WINDOW).admitted
    assert verdict(facts(), [], END + timedelta(seconds=1), WINDOW).result is ScanResult.EXPIRED


def test_already_checked_in_says_when_and_where():
    at = DURING - timedelta(minutes=5)
    v = verdict(facts(entries_used=1, last_entry_at=at, last_gate="East 2"), [], DURING, WINDOW)
    assert v.result is ScanResult.ALREADY_CHECKED_IN and not v.admitted
    assert (v.previous_at, v.previous_gate) == (at, "East 2")


def test_multi_entry_pass_admits_until_used_up():
    assert verdict(facts(entries_allowed=3, entries_used=2), [], DURING, WINDOW).admitted
    assert verdict(facts(entries_allowed=3, entries_used=3), [], DURING, WINDOW).result is ScanResult.ALREADY_CHECKED_IN


def test_every_result_has_a_message():
    assert set(MESSAGES) == set(ScanResult)


@given(
    status=st.sampled_from(["valid", "refunded", "void", "weird"]),
    session=st.sampled_from(["s1", "s2"]),
    expected=st.lists(st.sampled_from(["s1", "s2", "s3"]), max_size=3),
    allowed=st.integers(1, 5),
    used=st.integers(0, 6),
    offset_min=st.integers(-600, 600),
)
def test_admits_exactly_when_every_condition_holds(status, session, expected, allowed, used, offset_min):
    now = START + timedelta(minutes=offset_min)
    v = verdict(
        facts(status=status, session_id=session, entries_allowed=allowed, entries_used=used), expected, now, WINDOW
    )
    should = (
        status == "valid"
        and (not expected or session in expected)
        and WINDOW.opens_at <= now <= WINDOW.closes_at
        and used < allowed
    )
    assert v.admitted == should
    if status == "valid" and v.result is ScanResult.VOIDED:
        raise AssertionError("a valid ticket is never reported void")
    if status not in ("valid", "refunded"):
        assert v.result is ScanResult.VOIDED  # unknown states fail closed


def test_a_cancelled_session_is_said_first_whatever_else_is_true():
    """Before the job refunds the ticket (valid) and after (refunded), used or not, this gate's session or not."""
    for kw in ({}, {"status": "refunded"}, {"status": "void"}, {"entries_used": 1}, {"session_id": "s9"}):
        v = verdict(facts(session_cancelled=True, **kw), ["s1"], DURING, WINDOW)
        assert v.result is ScanResult.SESSION_CANCELLED and not v.admitted, kw
    assert verdict(facts(session_cancelled=True), [], START - timedelta(days=3), WINDOW).result == "session_cancelled"
    assert MESSAGES[ScanResult.SESSION_CANCELLED].startswith("Session cancelled")
