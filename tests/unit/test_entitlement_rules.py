"""The pure rules of entitlements: grant definitions (tickets.grant_rules) and the gate's use rule
(checkin.rules.use_verdict / verdict), with Hypothesis properties for the use rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from piaowu.checkin.rules import EntitlementFacts, ScanResult, TicketFacts, Window, use_verdict, verdict
from piaowu.tickets.grant_rules import (
    MAX_GRANTS,
    EntitlementSpec,
    Grant,
    Home,
    SessionFacts,
    check_grants,
    envelope,
    expand,
    local_day,
)

T0 = datetime(2026, 5, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
WINDOW = Window(T0, T0 + timedelta(days=7))
TZ = "Asia/Shanghai"


def ent(**kw) -> EntitlementFacts:  # noqa: ANN003
    base = {"position": 0, "session_id": "s1", "event_id": None, "mode": "entries", "allowed": 1, "used": 0}
    return EntitlementFacts(**{**base, "window": WINDOW, **kw})


def codes(errors: list[dict]) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in errors]


# ---- grant definitions ------------------------------------------------------------------------------------


def test_valid_definitions_have_no_errors():
    sessions, events = {"s1": 1, "s2": 1}, {"e1": 1}
    combo = [Grant("entries", 1, session_id="s1"), Grant("entries", 1, session_id="s2")]
    card = [Grant("entries", 10, session_id="s1")]
    days = [Grant("days", 2, event_id="e1", window_days=7)]
    for grants in ([], combo, card, days):
        assert check_grants(grants, sessions, events) == []


@pytest.mark.parametrize(
    ("grant", "expected"),
    [
        (Grant("entries", 1), ("grants.0", "target")),
        (Grant("entries", 1, session_id="s1", event_id="e1"), ("grants.0", "target")),
        (Grant("entries", 1, session_id="nope"), ("grants.0.session_id", "not_found")),
        (Grant("entries", 1, event_id="nope", window_days=3), ("grants.0.event_id", "not_found")),
        (Grant("weeks", 1, session_id="s1"), ("grants.0.mode", "invalid")),
        (Grant("entries", 0, session_id="s1"), ("grants.0.allowed", "out_of_range")),
        (Grant("days", 400, event_id="e1", window_days=366), ("grants.0.allowed", "out_of_range")),
        (Grant("days", 8, event_id="e1", window_days=7), ("grants.0.allowed", "out_of_range")),
        (Grant("entries", 1, event_id="e1"), ("grants.0.window_days", "required")),
        (Grant("entries", 1, session_id="s1", window_days=3), ("grants.0.window_days", "not_allowed")),
        (Grant("entries", 1, event_id="e1", window_days=0), ("grants.0.window_days", "out_of_range")),
    ],
)
def test_bad_grants_are_named_on_their_field(grant: Grant, expected: tuple[str, str]):
    assert expected in codes(check_grants([grant], {"s1": 1}, {"e1": 1}))


def test_a_target_granted_twice_or_too_many_grants_are_refused():
    twice = [Grant("entries", 1, session_id="s1"), Grant("entries", 2, session_id="s1")]
    assert ("grants.1", "duplicate") in codes(check_grants(twice, {"s1": 1}, {}))
    many = [Grant("entries", 1, session_id=f"s{i}") for i in range(MAX_GRANTS + 1)]
    assert ("grants", "too_many") in codes(check_grants(many, {f"s{i}": 1 for i in range(MAX_GRANTS + 1)}, {}))


HOME = Home("h", "Park · Day", T0 - timedelta(hours=2), T0 + timedelta(hours=8), entries_allowed=2)


def test_no_grants_expand_to_the_home_session_as_tickets_always_were():
    assert expand([], HOME, date(2026, 5, 1), {}, {}, TZ) == [
        EntitlementSpec(0, "h", None, "Park · Day", "entries", 2, HOME.valid_from, HOME.valid_until)
    ]


def test_grants_expand_in_order_with_their_windows():
    sessions = {"a": SessionFacts("ea", "A", T0, T0 + timedelta(hours=3))}
    specs = expand(
        [Grant("entries", 1, session_id="a"), Grant("days", 2, event_id="e", window_days=7)],
        HOME,
        local_day(T0, TZ),
        sessions,
        {"e": "Park"},
        TZ,
    )
    assert specs[0] == EntitlementSpec(0, "a", None, "A", "entries", 1, T0, T0 + timedelta(hours=3))
    # Seven local days from midnight of the home session's day (Shanghai is UTC+8: 16:00 UTC the day before).
    start = datetime(2026, 4, 30, 16, 0, tzinfo=UTC)
    assert (specs[1].valid_from, specs[1].valid_until) == (start, start + timedelta(days=7, microseconds=-1))
    assert envelope(specs) == (start, start + timedelta(days=7, microseconds=-1))


# ---- the use rule: examples ---------------------------------------------------------------------------------


def test_entries_admit_until_used_up_and_then_say_when_and_where():
    at = T0 + timedelta(hours=1)
    assert use_verdict(ent(allowed=2, used=1), at, "").admitted
    v = use_verdict(ent(allowed=2, used=2, last_entry_at=at, last_gate="East"), at, "")
    assert v.result is ScanResult.ALREADY_CHECKED_IN and (v.previous_at, v.previous_gate) == (at, "East")


def test_days_count_a_new_day_readmit_on_a_counted_day_and_refuse_a_new_one_when_all_are_used():
    at = T0 + timedelta(days=1)
    one = ent(mode="days", allowed=2, used=1, days_used=frozenset({"2026-05-01"}))
    new_day = use_verdict(one, at, "2026-05-02")
    assert new_day.admitted and new_day.consumes
    assert use_verdict(one, at, "2026-05-01").consumes is False and use_verdict(one, at, "2026-05-01").admitted
    full = replace(one, used=2, days_used=frozenset({"2026-05-01", "2026-05-02"}))
    assert use_verdict(full, at, "2026-05-03").result is ScanResult.DAYS_USED_UP
    assert use_verdict(full, at, "2026-05-02").admitted


def test_the_gate_takes_the_first_usable_part_it_covers_and_refuses_what_it_does_not_cover():
    parts = (
        ent(position=0, session_id="a", used=1),
        ent(position=1, session_id="b"),
        ent(position=2, event_id="e", session_id=None),
    )
    ticket = TicketFacts("valid", "a", 3, 1, entitlements=parts)
    at = T0 + timedelta(hours=1)
    assert verdict(ticket, [], at, WINDOW).position == 1  # a gate admitting everything: first usable
    assert verdict(ticket, ["a"], at, WINDOW).result is ScanResult.ALREADY_CHECKED_IN
    assert verdict(ticket, ["x"], at, WINDOW, expected_event_ids={"e"}).position == 2
    assert verdict(ticket, ["x"], at, WINDOW, expected_event_ids={"other"}).result is ScanResult.NOT_COVERED
    # A plain one-session ticket keeps its old answer.
    plain = TicketFacts("valid", "a", 1, 0, entitlements=(ent(session_id="a"),))
    assert verdict(plain, ["x"], at, WINDOW).result is ScanResult.WRONG_SESSION
    # Used up now is said before "not yet" of a later part.
    later = ent(position=1, session_id="b", window=Window(T0 + timedelta(days=9), T0 + timedelta(days=10)))
    mixed = TicketFacts("valid", "a", 2, 1, entitlements=(later, ent(position=0, session_id="a", used=1)))
    assert verdict(mixed, [], at, WINDOW).result is ScanResult.ALREADY_CHECKED_IN


# ---- the use rule: properties ---------------------------------------------------------------------------------

DAYS = [(T0 + timedelta(days=d)).date().isoformat() for d in range(-2, 10)]
scans = st.lists(st.tuples(st.integers(-3 * 24, 10 * 24), st.integers(0, 3)), max_size=40)


def _simulate(e: EntitlementFacts, events: list[tuple[int, int]]) -> tuple[EntitlementFacts, list]:
    """Apply the rule to a sequence of scans (hour offset, how many minutes later); → the final state and, per
    scan, (moment, day, verdict)."""
    seen = []
    for hours, minutes in sorted(events):
        at = T0 + timedelta(hours=hours, minutes=minutes)
        day = (at + timedelta(hours=8)).date().isoformat()  # the local (UTC+8) day
        v = use_verdict(e, at, day)
        if v.admitted and v.consumes:
            e = replace(e, used=e.used + 1, days_used=e.days_used | ({day} if e.mode == "days" else set()))
        seen.append((at, day, v))
    return e, seen


@settings(max_examples=300, deadline=None)
@given(allowed=st.integers(1, 6), events=scans)
def test_entries_never_admit_more_than_allowed_nor_outside_the_window(allowed: int, events):
    final, seen = _simulate(ent(allowed=allowed), events)
    admitted = [(at, v) for at, _day, v in seen if v.admitted]
    assert final.used == len(admitted) <= allowed
    in_window = [at for at, _day, _v in seen if WINDOW.opens_at <= at <= WINDOW.closes_at]
    assert len(admitted) == min(allowed, len(in_window))  # and never refuses while uses remain
    assert all(WINDOW.opens_at <= at <= WINDOW.closes_at for at, _v in admitted)


@settings(max_examples=300, deadline=None)
@given(allowed=st.integers(1, 4), events=scans)
def test_days_never_count_more_than_k_distinct_days_and_readmit_only_on_counted_ones(allowed: int, events):
    final, seen = _simulate(ent(mode="days", allowed=allowed), events)
    assert final.used == len(final.days_used) <= allowed
    counted: set[str] = set()
    for at, day, v in seen:
        if not WINDOW.opens_at <= at <= WINDOW.closes_at:
            assert not v.admitted  # outside the window: refused whatever the state
            continue
        if v.admitted and v.consumes:
            assert day not in counted
            counted.add(day)
        elif v.admitted:
            assert day in counted  # a free re-entry only on a day already counted
        else:
            assert v.result is ScanResult.DAYS_USED_UP and len(counted) == allowed and day not in counted
    assert counted == set(final.days_used)


def test_a_part_whose_session_was_cancelled_admits_no_more_while_the_others_do():
    at = T0 + timedelta(hours=1)
    gone = ent(position=0, session_id="a", session_cancelled=True)
    ticket = TicketFacts("valid", "home", 2, 0, entitlements=(gone, ent(position=1, session_id="b")))
    assert verdict(ticket, ["a"], at, WINDOW).result is ScanResult.SESSION_CANCELLED
    assert verdict(ticket, [], at, WINDOW).position == 1  # a gate admitting everything uses the part still valid
