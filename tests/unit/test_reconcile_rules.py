"""The pure rules of payment reconciliation, and of the public URL the server is reached at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piaowu.config import Settings, default_public_url, public_url_problem
from piaowu.payments.reconcile_rules import (
    Mismatch,
    Outcome,
    ProviderState,
    Verdict,
    applied_outcome,
    judge,
    merge,
    refund_verdict,
)

PAID = ProviderState(paid=True, amount_minor=18000, currency="CNY")
UNPAID = ProviderState(paid=False, amount_minor=18000, currency="CNY")


@pytest.mark.parametrize("ours", ["pending", "cancelled"])
def test_money_the_provider_took_that_we_did_not_record_is_applied(ours):
    assert judge(ours, 18000, "CNY", PAID) == Verdict(Mismatch.PAID_NOT_RECORDED, True, Outcome.FIXED)


def test_a_failed_payment_the_provider_took_is_open_not_applied():
    assert judge("failed", 18000, "CNY", PAID) == Verdict(Mismatch.PAID_NOT_RECORDED, False, Outcome.OPEN)


@pytest.mark.parametrize(
    "provider", [ProviderState(True, 17900, "CNY"), ProviderState(True, 18000, "USD")], ids=["amount", "currency"]
)
@pytest.mark.parametrize("ours", ["pending", "cancelled", "succeeded"])
def test_a_different_amount_or_currency_is_never_applied(ours, provider):
    verdict = judge(ours, 18000, "CNY", provider)
    assert verdict == Verdict(Mismatch.AMOUNT_DIFFERS, False, Outcome.OPEN)


@pytest.mark.parametrize("ours", ["pending", "cancelled", "failed"])
@pytest.mark.parametrize("provider", [UNPAID, None], ids=["not-paid", "no-trade"])
def test_nothing_paid_on_either_side_matches(ours, provider):
    assert judge(ours, 18000, "CNY", provider) == Verdict(Mismatch.NONE, False, Outcome.MATCHED)


def test_both_paid_matches():
    assert judge("succeeded", 18000, "CNY", PAID) == Verdict(Mismatch.NONE, False, Outcome.MATCHED)


@pytest.mark.parametrize("provider", [UNPAID, None], ids=["not-paid", "no-trade"])
def test_we_say_paid_the_provider_does_not_is_open(provider):
    assert judge("succeeded", 18000, "CNY", provider) == Verdict(Mismatch.NOT_PAID_AT_PROVIDER, False, Outcome.OPEN)


def test_a_failed_query_is_open_whatever_else():
    assert judge("cancelled", 18000, "CNY", PAID, query_failed=True) == Verdict(
        Mismatch.QUERY_FAILED, False, Outcome.OPEN
    )


@given(
    ours=st.sampled_from(["pending", "cancelled", "failed", "succeeded"]),
    paid=st.booleans(),
    amount=st.integers(0, 10**7),
    theirs=st.integers(0, 10**7),
    currency=st.sampled_from(["CNY", "USD"]),
)
def test_only_paid_for_the_amount_asked_and_not_yet_recorded_is_ever_applied(ours, paid, amount, theirs, currency):
    verdict = judge(ours, amount, "CNY", ProviderState(paid, theirs, currency))
    assert verdict.apply == (paid and amount == theirs and currency == "CNY" and ours in ("pending", "cancelled"))
    assert verdict.apply <= (verdict.outcome == Outcome.FIXED)


NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
GRACE = timedelta(minutes=2)


def test_refunds_failed_or_pending_too_long_are_open_young_or_done_are_not():
    young, old = NOW - timedelta(seconds=30), NOW - timedelta(minutes=10)
    assert refund_verdict([], NOW, GRACE) is None
    assert refund_verdict([("pending", young)], NOW, GRACE) is None
    assert refund_verdict([("succeeded", old)], NOW, GRACE) is None
    assert refund_verdict([("pending", old)], NOW, GRACE) == Verdict(Mismatch.REFUND_PENDING, False, Outcome.OPEN)
    assert refund_verdict([("pending", young), ("failed", young)], NOW, GRACE) == Verdict(
        Mismatch.REFUND_FAILED, False, Outcome.OPEN
    )


def test_applied_outcome_fixed_only_when_this_call_applied_it():
    assert applied_outcome("revived") == applied_outcome("refunded_late") == Outcome.FIXED
    assert applied_outcome(None) == Outcome.MATCHED  # another delivery or run was first


@pytest.mark.parametrize(
    ("previous", "new", "kept"),
    [
        (None, Outcome.MATCHED, Outcome.MATCHED),
        (None, Outcome.FIXED, Outcome.FIXED),
        (Outcome.FIXED, Outcome.MATCHED, Outcome.FIXED),  # the fix is what happened today
        (Outcome.OPEN, Outcome.MATCHED, Outcome.FIXED),  # resolved since (a stuck refund went through)
        (Outcome.FIXED, Outcome.OPEN, Outcome.OPEN),  # wrong again: a person must look
        (Outcome.MATCHED, Outcome.OPEN, Outcome.OPEN),
        (Outcome.MATCHED, Outcome.FIXED, Outcome.FIXED),
    ],
)
def test_merge_of_a_days_checks(previous, new, kept):
    assert merge(previous, new) == kept


# ---- the public URL ----------------------------------------------------------------------------------------


def test_the_public_url_defaults_to_the_port_the_server_is_started_on():
    s = Settings(port=8103)
    assert s.public_url == "http://127.0.0.1:8103" and not s.public_url_configured
    assert Settings(host="0.0.0.0", port=9000).public_url == "http://127.0.0.1:9000"
    assert default_public_url("::", 80) == "http://127.0.0.1:80"
    assert default_public_url("::1", 8000) == "http://[::1]:8000"


def test_a_configured_public_url_wins_over_the_port():
    s = Settings(port=8103, public_url="https://tickets.example.com/")
    assert s.public_url == "https://tickets.example.com" and s.public_url_configured


def test_the_environment_sets_it_as_documented(monkeypatch):
    monkeypatch.setenv("PIAOWU_PORT", "8103")
    monkeypatch.delenv("PIAOWU_PUBLIC_URL", raising=False)
    assert Settings().public_url == "http://127.0.0.1:8103"
    monkeypatch.setenv("PIAOWU_PUBLIC_URL", "https://piao.example.cn")
    assert Settings().public_url == "https://piao.example.cn"


@pytest.mark.parametrize(
    ("url", "port", "wrong"),
    [
        ("http://127.0.0.1:8000", 8103, True),  # the README's --port 8103 with a stale URL
        ("http://localhost", 8103, True),
        ("http://127.0.0.1:8103", 8103, False),
        ("https://tickets.example.com", 8103, False),  # a proxy: checked online once the server is up
        ("tickets.example.com", 8103, True),
        ("http://127.0.0.1:notaport", 8103, True),
    ],
)
def test_public_url_problem(url, port, wrong):
    assert (public_url_problem(url, "127.0.0.1", port) is not None) == wrong
