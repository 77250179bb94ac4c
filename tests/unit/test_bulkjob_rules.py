from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from piaowu.bulkjobs.rules import Counts, JobStatus, Outcome, counts_for, percent


def test_each_outcome_counts_once_and_only_refunds_count_money():
    assert counts_for(Outcome.CANCELLED, 500) == Counts(processed=1, cancelled=1)
    assert counts_for(Outcome.REFUNDED, 500) == Counts(processed=1, refunded=1, refunded_minor=500)
    assert counts_for(Outcome.SKIPPED) == Counts(processed=1, skipped=1)
    assert counts_for(None) == Counts(processed=1, failed=1)


def test_a_retried_failure_moves_from_failed_to_its_outcome_and_a_second_failure_changes_nothing():
    assert counts_for(Outcome.REFUNDED, 700, retried_failure=True) == Counts(refunded=1, failed=-1, refunded_minor=700)
    assert counts_for(None, retried_failure=True) == Counts()


@given(st.lists(st.sampled_from([*Outcome, None]), max_size=40), st.data())
def test_counters_always_sum_to_processed(outcomes, data):
    total = Counts()
    for o in outcomes:
        c = counts_for(o, 100)
        total = Counts(*(a + b for a, b in zip(vars(total).values(), vars(c).values(), strict=True)))
    # then every failure is retried once and succeeds
    for _ in range(total.failed):
        c = counts_for(data.draw(st.sampled_from(list(Outcome))), 100, retried_failure=True)
        total = Counts(*(a + b for a, b in zip(vars(total).values(), vars(c).values(), strict=True)))
    assert total.processed == len(outcomes)
    assert total.cancelled + total.refunded + total.skipped + total.failed == total.processed
    assert total.failed == 0


def test_percent_reaches_100_only_when_done():
    assert percent(0, 0, JobStatus.RUNNING) == 0
    assert percent(50, 200, JobStatus.RUNNING) == 25
    assert percent(200, 200, JobStatus.RUNNING) == 99  # more orders may still appear until the job says done
    assert percent(3, 200, JobStatus.DONE) == 100
