"""The used-ticket rule of refunds (pure) and the override's validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from piaowu.core.errors import TicketUsed
from piaowu.core.selections import PoolHolding, UnitHolding
from piaowu.orders.refund_rules import RefundLine, plan_refund
from piaowu.orders.schemas import RefundIn

S, Q = PoolHolding("pool-s"), PoolHolding("pool-q")
FRESH = RefundLine("L1", 18000, (S, Q), entries_used=0, ticket_code="AAAA")
USED = RefundLine("L2", 38000, (S,), entries_used=1, ticket_code="BBBB")
PASS_HALF_USED = RefundLine("L3", 5000, (S,), entries_used=1, ticket_code="CCCC")  # 1 of 3 entries
SEAT = RefundLine("L4", 28000, (S, UnitHolding("seat-7", 0b1)), ticket_code="DDDD")
USED_SEAT = RefundLine("L5", 28000, (S, UnitHolding("seat-8", 0b1)), entries_used=1, ticket_code="EEEE")


def test_unused_tickets_are_refunded_and_every_pool_of_their_lines_gets_its_unit_back():
    plan = plan_refund([FRESH], allow_used=False)
    assert plan.line_ids == ("L1",) and plan.amount_minor == 18000
    assert plan.returned_takes == (("pool-s", 1), ("pool-q", 1)) and plan.returned_unit_ids == ()
    assert plan.used_line_ids == () and not plan.override_used


@pytest.mark.parametrize("lines", [[USED], [FRESH, USED], [PASS_HALF_USED]])
def test_a_used_ticket_refuses_the_whole_refund_and_names_the_used_lines(lines):
    with pytest.raises(TicketUsed) as caught:
        plan_refund(lines, allow_used=False)
    used = [line for line in lines if line.entries_used]
    assert caught.value.code == "ticket_used" and caught.value.status == 409
    assert caught.value.data == {
        "line_ids": [line.line_id for line in used],
        "ticket_codes": [line.ticket_code for line in used],
    }


def test_override_refunds_the_money_of_used_tickets_but_their_places_stay_sold():
    plan = plan_refund([FRESH, USED, PASS_HALF_USED], allow_used=True)
    assert plan.line_ids == ("L1", "L2", "L3") and plan.amount_minor == 18000 + 38000 + 5000
    assert plan.used_line_ids == ("L2", "L3") and plan.override_used
    assert plan.returned_takes == (("pool-s", 1), ("pool-q", 1))  # only the unused ticket's units come back


def test_override_with_nothing_used_is_an_ordinary_refund():
    assert plan_refund([FRESH], allow_used=True) == plan_refund([FRESH], allow_used=False)


def test_a_line_without_a_ticket_counts_as_unused():
    plan = plan_refund([RefundLine("L9", 100, (PoolHolding("p", 2),))], allow_used=False)
    assert plan.returned_takes == (("p", 2),)


def test_an_unused_seat_gives_back_its_claim_and_a_used_seat_stays_taken():
    plan = plan_refund([SEAT, USED_SEAT], allow_used=True)
    assert plan.returned_takes == (("pool-s", 1),) and plan.returned_unit_ids == ("seat-7",)


@pytest.mark.parametrize("reason", ["", "   "])
def test_the_override_needs_a_written_reason(reason):
    with pytest.raises(ValidationError) as caught:
        RefundIn(allow_used=True, reason=reason)
    (err,) = caught.value.errors()
    assert err["loc"] == ("reason",)
    with pytest.raises(ValidationError):
        RefundIn.model_validate({"allow_used": True})  # absent, not only empty


def test_a_reason_is_optional_without_the_override_and_is_trimmed():
    assert RefundIn().reason == "" and RefundIn().allow_used is False
    assert RefundIn(allow_used=True, reason="  show cancelled after the first half ").reason == (
        "show cancelled after the first half"
    )
