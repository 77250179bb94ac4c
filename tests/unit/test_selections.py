"""Selections and resolvers (pure): the registry by product kind, the strict parse of a selection, and
properties of the general-admission resolver — never a pool outside the offer, quantities add up, all or
nothing — also across product kinds in one order (``resolvers.resolve``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piaowu.core.errors import DomainError, InvalidQuantity, NotOnSale, UnknownProduct, ValidationFailed
from piaowu.core.selections import Item, PoolHolding, Registry, Resolution, ResolvedLine, UnitHolding
from piaowu.orders import placement, resolvers
from piaowu.orders.admission import AdmissionResolver


@dataclass(frozen=True)
class Offer:
    ticket_type_id: str
    pool_ids: tuple[str, ...]
    price_minor: int = 1000
    name: str = "A"
    currency: str = "CNY"
    min_per_order: int = 1
    max_per_order: int = 10
    is_active: bool = True
    session_id: str = "s1"
    sale_state: str = "on_sale"
    event_name: str = "E"
    session_name: str = "S"
    starts_at: datetime = datetime(2027, 1, 1, tzinfo=UTC)


def admission(tt: str, qty: int, index: int = 0, holders: tuple[str, ...] = ()) -> Item:
    return Item(placement.KIND, placement.AdmissionSelection(tt, qty), holders, index, f"items.{index}")


# ---- the registry -------------------------------------------------------------------------------------------


def test_an_unknown_product_kind_is_a_422_naming_the_kind_and_the_field():
    registry = Registry([AdmissionResolver()])
    assert registry.kinds == ("admission",)
    with pytest.raises(UnknownProduct) as caught:
        registry.parse("seat_map", {"seats": ["A1"]}, [], 2)
    assert caught.value.code == "unknown_product" and caught.value.status == 422
    assert caught.value.data == {"product": "seat_map", "field": "items.2.product", "known": ["admission"]}


def test_two_resolvers_for_one_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="admission"):
        Registry([AdmissionResolver(), AdmissionResolver()])


def test_the_selected_shape_parses_through_its_resolver():
    item = Registry([AdmissionResolver()]).parse("admission", {"ticket_type_id": "t", "quantity": 2}, ["甲", "乙"], 1)
    assert item == Item("admission", placement.AdmissionSelection("t", 2), ("甲", "乙"), 1, "items.1.selection")


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        ({"ticket_type_id": "t"}, ["items.0.selection.quantity"]),
        ({"quantity": 1}, ["items.0.selection.ticket_type_id"]),
        ({"ticket_type_id": "t", "quantity": 1, "price_minor": 1}, ["items.0.selection.price_minor"]),
        ({"ticket_type_id": "t", "quantity": True}, ["items.0.selection.quantity"]),
        ({"ticket_type_id": "t", "quantity": "2"}, ["items.0.selection.quantity"]),
        ({"ticket_type_id": "t", "quantity": 0}, ["items.0.selection.quantity"]),
        ({"ticket_type_id": "t", "quantity": 101}, ["items.0.selection.quantity"]),
        ({"ticket_type_id": "t", "quantity": 1.0}, ["items.0.selection.quantity"]),
        ({"ticket_type_id": "", "quantity": 1}, ["items.0.selection.ticket_type_id"]),
        ({"ticket_type_id": 5, "quantity": 1}, ["items.0.selection.ticket_type_id"]),
        ({"ticket_type_id": "x" * 41, "quantity": 1}, ["items.0.selection.ticket_type_id"]),
    ],
)
def test_an_admission_selection_is_checked_as_strictly_as_the_counted_shape(raw, fields):
    with pytest.raises(ValidationFailed) as caught:
        placement.parse(raw, "items.0.selection")
    assert [e["field"] for e in caught.value.errors] == fields


def test_a_resolution_derives_takes_and_claims_from_its_lines():
    def line(*holdings: PoolHolding | UnitHolding) -> ResolvedLine:
        return ResolvedLine("t", "T", "s", 500, "CNY", holdings)

    r = Resolution((line(PoolHolding("p"), UnitHolding("u1", 1)), line(PoolHolding("p"), PoolHolding("q", 2))))
    assert r.takes == [("p", 2), ("q", 2)] and r.claims == [("u1", 1)] and r.total_minor == 1000


def test_holders_are_one_per_ticket_or_none():
    offers = {"a": Offer("a", ("s",))}
    lines = placement.resolve([admission("a", 2, 0, ("甲", "乙")), admission("a", 1, 1)], offers).lines
    assert [line.holder_name for line in lines] == ["甲", "乙", ""]
    with pytest.raises(ValidationFailed) as caught:
        placement.resolve([admission("a", 1, 0), admission("a", 2, 1, ("甲",))], offers)
    assert caught.value.errors == [
        {"field": "items.1.holders", "code": "holders_count", "message": "Name one holder per ticket, or none."}
    ]


# ---- properties of the general-admission resolver ----------------------------------------------------------

POOLS = ["p0", "p1", "p2", "p3", "p4"]
offer_pools = st.lists(st.sampled_from(POOLS), min_size=1, max_size=3, unique=True).map(tuple)


@st.composite
def catalog_and_request(draw: Any) -> tuple[dict[str, Offer], list[tuple[str, int]]]:
    n = draw(st.integers(1, 4))
    offers = {f"t{i}": Offer(f"t{i}", draw(offer_pools), price_minor=draw(st.integers(0, 50000))) for i in range(n)}
    request = draw(st.lists(st.tuples(st.sampled_from(sorted(offers)), st.integers(1, 5)), min_size=1, max_size=5))
    # keep within the per-type limit so that the request is valid (invalid ones are the next property's)
    per_type: dict[str, int] = {}
    valid = []
    for tt, q in request:
        if per_type.get(tt, 0) + q <= offers[tt].max_per_order:
            per_type[tt] = per_type.get(tt, 0) + q
            valid.append((tt, q))
    return offers, valid or [(request[0][0], 1)]


@given(catalog_and_request())
def test_a_resolution_never_names_a_pool_outside_the_offer_and_quantities_add_up(case):
    offers, request = case
    items = [admission(tt, q, i) for i, (tt, q) in enumerate(request)]
    r = placement.resolve(items, offers)
    # every line holds exactly one unit of each pool of its own offer, and nothing else
    for line in r.lines:
        assert line.holdings == tuple(PoolHolding(p, 1) for p in offers[line.ticket_type_id].pool_ids)
        assert line.price_minor == offers[line.ticket_type_id].price_minor
    assert r.claims == []
    # lines == requested quantity; takes == lines × pools
    assert len(r.lines) == sum(q for _, q in request)
    wanted: dict[str, int] = {}
    for tt, q in request:
        for p in offers[tt].pool_ids:
            wanted[p] = wanted.get(p, 0) + q
    assert dict(r.takes) == wanted
    assert r.total_minor == sum(offers[tt].price_minor * q for tt, q in request)


BREAKERS = {
    "unknown": lambda offers: (admission("nope", 1), ValidationFailed),
    "inactive": lambda offers: (admission("off", 1), ValidationFailed),
    "not on sale": lambda offers: (admission("later", 1), NotOnSale),
    "too many of a type": lambda offers: (admission("t0", 11), InvalidQuantity),
    "holders do not match": lambda offers: (admission("t0", 1, holders=("甲", "乙")), ValidationFailed),
}


@given(catalog_and_request(), st.sampled_from(sorted(BREAKERS)), st.integers(0, 5))
def test_an_invalid_item_anywhere_resolves_nothing(case, breaker, where):
    offers, request = case
    offers = {
        **offers,
        "off": Offer("off", ("p0",), is_active=False),
        "later": Offer("later", ("p0",), sale_state="not_yet"),
    }
    items = [admission(tt, q) for tt, q in request]
    bad, error = BREAKERS[breaker](offers)
    items.insert(min(where, len(items)), bad)
    items = [Item(i.product, i.selection, i.holders, k, f"items.{k}") for k, i in enumerate(items)]
    with pytest.raises(error):
        placement.resolve(items, offers)


# ---- across product kinds: resolvers.resolve ---------------------------------------------------------------


class Loaded(AdmissionResolver):
    """General admission over fixed offers (``load`` reads no database)."""

    def __init__(self, offers: dict[str, Offer]) -> None:
        self.offers = offers

    async def load(  # type: ignore[override]
        self, uow: Any, organizer_id: str, items: Any, *, fresh: bool = False
    ) -> dict[str, Offer]:
        return self.offers


class Seats:
    """A second product kind: each selection is a list of seats of one pool; a seat not on the map is refused."""

    kind = "seats"

    def __init__(self, seat_map: set[str], pool: str = "p0", currency: str = "CNY") -> None:
        self.seat_map, self.pool, self.currency = seat_map, pool, currency

    def parse(self, raw: Any, field: str) -> tuple[str, ...]:
        return tuple(raw["seats"])

    async def load(self, uow: Any, organizer_id: str, items: Any, *, fresh: bool = False) -> set[str]:
        return self.seat_map

    def resolve(self, items: Any, context: set[str]) -> Resolution:
        if any(s not in context for i in items for s in i.selection):
            raise ValidationFailed([{"field": "items", "code": "unknown_seat", "message": "No such seat."}])
        return Resolution(
            tuple(
                ResolvedLine("t0", "Seat", "s1", 2000, self.currency, (PoolHolding(self.pool), UnitHolding(s, 1)))
                for i in items
                for s in i.selection
            )
        )


def _resolve(registry: Registry, items: list[Item]) -> Resolution:
    uow = SimpleNamespace(strategies={resolvers.REGISTRY_KEY: registry})
    return asyncio.run(resolvers.resolve(uow, "org", items))  # type: ignore[arg-type]


def _seats(*ids: str, index: int = 0) -> Item:
    return Item("seats", tuple(ids), (), index, f"items.{index}.selection")


@given(catalog_and_request(), st.lists(st.sampled_from(["A1", "A2", "A3", "B9"]), min_size=1, max_size=3, unique=True))
def test_mixed_products_resolve_together_or_not_at_all(case, chosen):
    offers, request = case
    registry = Registry([Loaded(offers), Seats({"A1", "A2", "A3"})])
    items = [admission(tt, q, i) for i, (tt, q) in enumerate(request)] + [_seats(*chosen, index=len(request))]
    if "B9" in chosen:
        with pytest.raises(ValidationFailed):
            _resolve(registry, items)
        return
    r = _resolve(registry, items)
    assert len(r.lines) == sum(q for _, q in request) + len(chosen)
    assert sorted(r.claims) == sorted((s, 1) for s in chosen)


def test_order_wide_limits_hold_across_product_kinds():
    offers = {"t0": Offer("t0", ("p0",), max_per_order=100)}
    with pytest.raises(ValidationFailed) as mixed:
        _resolve(Registry([Loaded(offers), Seats({"A1"}, currency="USD")]), [admission("t0", 1), _seats("A1", index=1)])
    assert mixed.value.errors[0]["code"] == "mixed_currency"
    seats = {f"S{i}" for i in range(10)}
    with pytest.raises(InvalidQuantity):  # 95 + 10 > 100 tickets in one order
        _resolve(Registry([Loaded(offers), Seats(seats)]), [admission("t0", 95), _seats(*sorted(seats), index=1)])
    with pytest.raises(UnknownProduct):
        _resolve(Registry([Loaded(offers)]), [admission("t0", 1), _seats("A1", index=1)])


def test_every_refusal_is_a_domain_error():
    """So the API answers problem+json, never a 500 (UnknownProduct included)."""
    assert issubclass(UnknownProduct, DomainError) and UnknownProduct.status == 422


def test_a_unit_is_held_by_one_line_of_an_order_only():
    """Refunds give a line's claim back whole (per unit of the hold): two lines on one seat would free each other."""
    offers = {"t0": Offer("t0", ("p0",))}
    with pytest.raises(ValidationFailed) as caught:
        _resolve(Registry([Loaded(offers), Seats({"A1"})]), [_seats("A1"), _seats("A1", index=1)])
    assert caught.value.errors[0]["code"] == "unit_on_two_lines"
