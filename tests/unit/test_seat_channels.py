"""Seats published per sales channel, as plain values: channel bits, the masks a publish or withhold leaves, the
counts per channel, the shop's view of seats withheld from it, and the claim that carries the order's channel."""

from __future__ import annotations

import pytest

from piaowu.core import channels
from piaowu.inventory.models import Unit
from piaowu.inventory.rules import Claim, plan_claims
from piaowu.inventory.strategies import CLAIM, channel_claim
from piaowu.seating.availability import BLOCKED, FREE, TAKEN, Snapshot, unpack, withheld_view
from piaowu.seating.channel_rules import ChannelCount, changed_mask, channel_counts

WEB, BOX, API = (channels.bit(c) for c in ("web", "box_office", "api"))


def test_each_channel_has_its_own_bit_and_unknown_names_are_refused() -> None:
    assert len({WEB, BOX, API}) == 3 and WEB | BOX | API == channels.ALL_BITS
    assert channels.mask(["web", "api"]) == WEB | API
    assert channels.on_sale_through(0) == ("web", "box_office", "api")
    assert channels.on_sale_through(WEB | API) == ("box_office",)
    assert channels.published(BOX, "web") and not channels.published(BOX, "box_office")
    assert not channels.is_channel("kiosk") and not channels.is_channel(None)
    with pytest.raises(ValueError, match="kiosk"):
        channels.bit("kiosk")


def test_publish_and_withhold_change_only_their_channel() -> None:
    assert changed_mask(0, "web", publish=False) == WEB
    assert changed_mask(WEB, "web", publish=False) == WEB  # twice: once
    assert changed_mask(WEB | API, "web", publish=True) == API
    assert changed_mask(API, "web", publish=True) == API  # publishing a published seat changes nothing


def test_counts_per_channel_leave_kept_back_seats_out_and_count_taken_seats_published_not_free() -> None:
    groups = [
        (0, False, False, 40),  # free everywhere
        (0, True, False, 5),  # held or sold, on sale everywhere
        (WEB, False, False, 10),  # kept for the box office and distributors
        (WEB | BOX, True, False, 2),  # sold, then withheld from web and box office
        (0, False, True, 3),  # kept back (house): no channel
    ]
    assert channel_counts(groups) == [
        ChannelCount("web", 45, 40),
        ChannelCount("box_office", 55, 50),
        ChannelCount("api", 57, 50),
    ]
    assert channel_counts([]) == [ChannelCount(c, 0, 0) for c in channels.CHANNELS]


def test_the_shop_sees_withheld_free_seats_as_not_for_sale_and_taken_ones_as_taken() -> None:
    zones = ["A", "A", "A", "B"]
    snap = Snapshot.of([FREE, TAKEN, FREE, FREE], zones)
    view = withheld_view(snap, [1, 2, 3], zones)
    assert unpack(view.packed, 4) == [FREE, TAKEN, BLOCKED, BLOCKED]
    assert view.zones == {"A": {"free": 1, "total": 3}, "B": {"free": 0, "total": 1}}
    assert view.version != snap.version
    assert withheld_view(snap, [], zones) is snap
    assert withheld_view(snap, [1], zones) is snap  # only a taken seat withheld: nothing to hide


def test_a_claim_carries_its_channel_and_gets_the_guard_of_that_channel() -> None:
    assert plan_claims([Claim("u2", 1, WEB), Claim("u1", 1, WEB)]) == [Claim("u1", 1, WEB), Claim("u2", 1, WEB)]
    assert plan_claims([Claim("u1", 1)]) == [Claim("u1", 1, 0)]
    assert channel_claim(0) is CLAIM
    web, api = channel_claim(WEB), channel_claim(API)
    assert web is channel_claim(WEB) and web.name != api.name != CLAIM.name
    assert web.table is CLAIM.table


def test_the_channel_claim_matches_only_units_not_withheld_from_its_channel() -> None:
    sql = str(channel_claim(BOX).condition(Unit.__table__.c, 1).compile(compile_kwargs={"literal_binds": True}))
    assert "withheld & 2" in sql.replace("(", "").replace(")", "") and "occupied" in sql
    assert "withheld" not in str(CLAIM.condition(Unit.__table__.c, 1))
