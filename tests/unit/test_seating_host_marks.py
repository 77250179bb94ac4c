"""Seats handed out by best available, shared by the processes of one host (seating.host_marks): a worker whose
view does not know yet what another worker just handed out passes over those seats instead of offering them again
(their claim would be refused), by the same allocation rules; it stops doing so once the marks are older than
``MARK_SECONDS``, and without a shared file it chooses alone as before."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from piaowu.seating import best_available as ba
from piaowu.seating import host_marks
from piaowu.seating.availability import FREE, TAKEN
from piaowu.seating.host_marks import open_marks
from piaowu.seating.session_live import MARK_SECONDS, SessionLive
from tests.unit.test_seating_live import N, fresh, live

STAMP = ("L", 1, N, None, 0)


@pytest.fixture(autouse=True)
def _sweep_again(monkeypatch):  # each test's directory is swept as a new process's would be
    monkeypatch.setattr(host_marks, "_swept", set())


def worker(var_dir: Path, session_id: str = "S", stamp: tuple = STAMP) -> SessionLive:
    """One worker's view of the session, its seats' marks shared through ``var_dir``."""
    view = live()
    view.host = open_marks(var_dir, session_id, stamp, N)
    assert view.host is not None
    return view


def hand_out(view: SessionLive, request: ba.Request) -> ba.Allocation:
    """What the resolver does with a choice it offers: the seats marked taken here and told to the host."""
    answer = view.choose(request)
    assert isinstance(answer, ba.Allocation)
    view.mark_taken([view.seats.by_key[k].ordinal for k in answer.seats], share=True)
    return answer


def test_a_block_another_worker_just_handed_out_is_passed_over(tmp_path):
    a, b = worker(tmp_path), worker(tmp_path)
    first = hand_out(a, ba.Request(("A",), 3))
    second = b.choose(ba.Request(("A",), 3))
    assert isinstance(second, ba.Allocation) and not set(first.seats) & set(second.seats)
    # The same rules: what an index that knew the first worker's seats would offer.
    states = [FREE] * N
    for k in first.seats:
        states[b.seats.by_key[k].ordinal] = TAKEN
    assert second == fresh(states).choose(ba.Request(("A",), 3))
    # Those seats are now taken in the second worker's view too, until a read says what became of them.
    assert all(b.states[b.seats.by_key[k].ordinal] == TAKEN for k in first.seats)


def test_control_without_shared_marks_both_workers_offer_the_same_block(tmp_path):
    a, b = worker(tmp_path), live()  # b: no shared file (b.host is None), as before
    first = hand_out(a, ba.Request(("A",), 3))
    assert b.choose(ba.Request(("A",), 3)) == first


def test_marks_older_than_mark_seconds_are_not_passed_over(tmp_path, monkeypatch):
    a = worker(tmp_path)
    first = hand_out(a, ba.Request(("A",), 2))
    clock = host_marks.time.monotonic() + MARK_SECONDS + 0.5
    monkeypatch.setattr(host_marks.time, "monotonic", lambda: clock)
    assert worker(tmp_path).choose(ba.Request(("A",), 2)) == first  # that order was refused: the seats are free


def test_marks_belong_to_one_session_and_seating(tmp_path):
    a = worker(tmp_path)
    first = hand_out(a, ba.Request(("A",), 2))
    assert worker(tmp_path, session_id="T").choose(ba.Request(("A",), 2)) == first
    other_layout = ("L", 2, N, None, 0)  # re-assigned: other units, another file
    assert worker(tmp_path, stamp=other_layout).choose(ba.Request(("A",), 2)) == first


def test_seats_kept_for_this_order_are_left_alone(tmp_path):
    """The resolver takes the order's own picked seats in the index for the choice only; one of them marked by
    another worker in the same row must neither break the choice nor be marked taken in the view."""
    a, b = worker(tmp_path), worker(tmp_path)
    first = hand_out(a, ba.Request(("A",), 3))
    index = b.build_index()
    kept = first.seats[:1]
    index.take(kept)
    try:
        second = b.choose(ba.Request(("A",), 2))
    finally:
        index.release(kept)
    assert isinstance(second, ba.Allocation) and not set(second.seats) & set(first.seats)
    assert b.states[b.seats.by_key[kept[0]].ordinal] == FREE


def test_without_a_writable_directory_a_worker_chooses_alone(tmp_path, caplog):
    blocker = tmp_path / "var"
    blocker.write_text("a file where the directory would be")
    assert open_marks(blocker, "S", STAMP, N) is None
    assert "not shared" in caplog.text
    assert open_marks(tmp_path, "S", STAMP, 0) is None  # no seats, nothing to share


def test_stale_files_are_swept_when_a_process_opens_its_first(tmp_path):
    directory = tmp_path / host_marks.DIRECTORY
    directory.mkdir()
    old, recent = directory / "gone.0", directory / "live.0"
    old.write_bytes(b"\0" * 8)
    recent.write_bytes(b"\0" * 8)
    long_ago = host_marks.time.time() - host_marks.STALE_FILE_SECONDS - 60
    os.utime(old, (long_ago, long_ago))
    worker(tmp_path)
    assert not old.exists() and recent.exists()


requests = st.sampled_from(
    [ba.Request(("A",), 1), ba.Request(("A",), 3), ba.Request(("B",), 4), ba.Request(("A", "B"), 5, 0, True)]
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    states=st.lists(st.sampled_from([FREE, FREE, FREE, TAKEN]), min_size=N, max_size=N),
    marked=st.sets(st.integers(0, N - 1)),
    request=requests,
)
def test_never_offers_a_seat_another_worker_just_handed_out(tmp_path_factory, states, marked, request):
    """Whatever the house and the other worker's marks: no seat it marked, and an answer exactly when one exists
    without those seats (a refusal otherwise)."""
    var_dir = tmp_path_factory.mktemp("var")
    session = uuid.uuid4().hex
    a, b = worker(var_dir, session), worker(var_dir, session)
    a.apply(states)
    b.apply(states)
    handed = [o for o in sorted(marked) if states[o] == FREE]
    a.host.mark(handed)
    answer = b.choose(request)
    known = list(states)
    for o in handed:
        known[o] = TAKEN
    expected = fresh(known).choose(request)
    assert isinstance(answer, ba.Allocation) == isinstance(expected, ba.Allocation)
    if isinstance(answer, ba.Allocation):
        assert not {b.seats.seats[o].key for o in handed} & set(answer.seats)
