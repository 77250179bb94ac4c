"""The sale path's read of the catalog: ticket types resolved into offers.

What a ticket type consumes is decided here and only here (``Offer.pool_ids``, from ``rules.pools_of``): the
session's pool, plus the ticket type's quota pool when it has a quota. Later products add their pools the same
way (a slot pool, a channel allotment) without the inventory engine or orders changing.

Names are in the buyer's language (``core.reading_locale``): order lines keep them as they were at the sale.

Offers are read on every order, so each process caches the catalog rows behind them (``OfferCache``). The
cache is never trusted on its own: every offer carries ``checks`` — the columns it was built from, which the
one reservation statement re-verifies on the ticket type's and the session's current rows (``db.hotpath.
RowCheck``). A change committed by any process or host makes that statement write nothing, the caller drops
the organizer's cached rows and retries with fresh ones (``orders.service.create_order``). A refusal built
from cached rows (not on sale, inactive, a limit) is re-read before it is given. So correctness depends on no
message arriving; the TTL only bounds how long a renamed ticket type keeps its old name on new orders
(docs/architecture.md, "Caches on the sale path").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from piaowu.catalog import repository as repo
from piaowu.catalog.models import Session, TicketType
from piaowu.catalog.rules import SaleState, pools_of, sale_state
from piaowu.catalog.texts import pick
from piaowu.core.reading_locale import current
from piaowu.db.hotpath import RowCheck
from piaowu.db.uow import UnitOfWork
from piaowu.seating.models import SessionSeating


@dataclass(frozen=True)
class Offer:
    """A ticket type resolved for sale: price, limits, the pools one unit consumes, and when it is valid."""

    ticket_type_id: str
    name: str
    price_minor: int
    currency: str
    min_per_order: int
    max_per_order: int
    is_active: bool
    pool_ids: tuple[str, ...]
    session_id: str
    session_name: str
    event_name: str
    sale_state: SaleState
    starts_at: datetime
    ends_at: datetime
    admission_opens_minutes: int
    # The session sells assigned seats (it has a ``session_seating`` row): its ticket types are sold as seats
    # only, never as counted admission (``orders.placement`` refuses with ``seat_required``).
    seated: bool = False
    # What the reservation statement re-verifies: the ticket type's and the session's columns this offer was
    # built from (price, limits, pools, status, times). Empty only for offers no statement depends on.
    checks: tuple[RowCheck, ...] = field(default=(), compare=False)


# The columns of a ticket type and of its session that decide what is sold at which price and when: an order
# is written only while each still has the value its offer was built from.
TICKET_TYPE_CHECKED = ("session_id", "name", "price_minor", "currency", "min_per_order", "max_per_order",
                       "is_active", "pool_id")  # fmt: skip
SESSION_CHECKED = ("pool_id", "status", "starts_at", "ends_at", "sales_start", "sales_end")
# An offer of a session without seats stays valid only while no ``session_seating`` row names the session:
# giving the session a layout makes a cached general-admission offer stale inside the very statement that would
# have sold it (part of the session's check, no query of its own). Seated stays seated (a layout is replaced,
# never removed), so a seated offer needs no such check.
UNSEATED = ((SessionSeating.__table__, "session_id"),)


def _checks(r: Any) -> tuple[RowCheck, ...]:
    tt = tuple(zip(TICKET_TYPE_CHECKED, (r.session_id, r.name, r.price_minor, r.currency, r.min_per_order,
               r.max_per_order, r.is_active, r.quota_pool_id), strict=True))  # fmt: skip
    ss = tuple(zip(SESSION_CHECKED, (r.pool_id, r.status, r.starts_at, r.ends_at, r.sales_start, r.sales_end),
               strict=True))  # fmt: skip
    return (
        RowCheck("ticket_type", TicketType.__table__, r.id, tt),
        RowCheck("session", Session.__table__, r.session_id, ss, () if r.seated else UNSEATED),
    )


class OfferCache:
    """The catalog rows behind offers, per process, by (organizer, ticket type). Safe to serve stale because
    each offer's ``checks`` ride in the reservation statement; ``ttl`` bounds staleness of what is not checked
    (the buyer-facing names in other languages): no row is served more than ``ttl`` seconds after it was read.
    Bounded: cleared when it grows past ``limit`` entries.

    Refreshed together: the read that a missing or expired row needs also re-reads the organizer's other cached
    rows that would expire within ``ahead`` seconds (at most ``batch`` ids in all). Rows cached over a few
    seconds then expire together and one read per organizer and ``ttl`` keeps them all, instead of one read per
    ticket type (issue 7, spread mode: 200 sessions cost each worker 200 reads every 10 s). A row is only ever
    read earlier than it would have been, so the staleness bound holds."""

    def __init__(
        self,
        ttl: float = 10.0,
        limit: int = 20_000,
        *,
        ahead: float = 5.0,
        batch: int = 500,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl, self.limit, self.ahead, self.batch, self.clock = ttl, limit, ahead, batch, clock
        self._rows: dict[tuple[str, str], tuple[float, Any]] = {}
        # Each cached row's checks, built once per read rather than on every order: id(row) → (row, checks).
        self._checks: dict[int, tuple[Any, tuple[RowCheck, ...]]] = {}
        # The cached ticket type ids of each organizer: the refresh's candidates without a scan of every row.
        self._ids: dict[str, set[str]] = {}

    async def rows(
        self, uow: UnitOfWork, organizer_id: str, ticket_type_ids: Sequence[str], *, fresh: bool = False
    ) -> list[Any]:
        """The rows of these ticket types, from the cache where it has them unexpired; ``fresh``: all read
        again (and cached), e.g. because the statement found one stale or a refusal is about to be given — then
        only the rows asked for are re-read: other buyers' cached rows stay. Otherwise a read made for a missing
        or expired row also refreshes the organizer's rows about to expire (in the same query)."""
        now = self.clock()
        found, missing = [], []
        for tt_id in ticket_type_ids:
            hit = None if fresh else self._rows.get((organizer_id, tt_id))
            if hit is not None and hit[0] > now:
                found.append(hit[1])
            else:
                missing.append(tt_id)
        if not missing:
            return found
        wanted = set(missing)
        read = list(missing)
        if not fresh:
            soon = now + self.ahead
            for tt_id in self._ids.get(organizer_id, ()):
                if len(read) >= self.batch:
                    break
                if tt_id not in wanted and self._rows[(organizer_id, tt_id)][0] <= soon:
                    read.append(tt_id)
        rows = await repo.offers(uow.session, organizer_id, read)
        if len(self._rows) + len(rows) > self.limit:
            self.clear()
        ids = self._ids.setdefault(organizer_id, set())
        for tt_id in read:  # a row read again and not found (deleted) is not kept
            old = self._rows.pop((organizer_id, tt_id), None)
            if old is not None:
                self._checks.pop(id(old[1]), None)
            ids.discard(tt_id)
        for r in rows:
            self._rows[(organizer_id, r.id)] = (now + self.ttl, r)
            self._checks[id(r)] = (r, _checks(r))
            ids.add(r.id)
            if r.id in wanted:
                found.append(r)
        return found

    def checks(self, row: Any) -> tuple[RowCheck, ...]:
        known = self._checks.get(id(row))
        return known[1] if known is not None and known[0] is row else _checks(row)

    def clear(self) -> None:
        self._rows.clear()
        self._ids.clear()
        self._checks.clear()


OFFERS = OfferCache()
# Tests inject another cache (e.g. the naive one of the cache race test's control) under this key.
CACHE_KEY = "catalog.offers"


def cache_of(uow: UnitOfWork) -> OfferCache:
    return uow.strategies.get(CACHE_KEY, OFFERS)


async def offers_for(
    uow: UnitOfWork,
    organizer_id: str,
    ticket_type_ids: Sequence[str],
    *,
    cached: bool = False,
    fresh: bool = False,
) -> dict[str, Offer]:
    """Resolve ticket types for a sale in one query. Unknown ids (or another organizer's) are simply absent.
    ``cached``: from this process's ``OfferCache`` when it has them — only for a caller that puts each offer's
    ``checks`` into the statement that sells it (the order's reservation); with ``fresh``, read again and
    cached."""
    now = uow.now()
    lang = current()
    out: dict[str, Offer] = {}
    cache = cache_of(uow)
    ids = list(dict.fromkeys(ticket_type_ids))
    if cached:
        rows = await cache.rows(uow, organizer_id, ids, fresh=fresh)
    else:
        rows = await repo.offers(uow.session, organizer_id, ids)
    for r in rows:
        out[r.id] = Offer(
            ticket_type_id=r.id,
            name=pick(r.name_i18n, lang, r.name),
            price_minor=r.price_minor,
            currency=r.currency,
            min_per_order=r.min_per_order,
            max_per_order=r.max_per_order,
            is_active=r.is_active,
            pool_ids=pools_of(r.pool_id, r.quota_pool_id),
            session_id=r.session_id,
            session_name=pick(r.session_name_i18n, lang, r.session_name),
            event_name=pick(r.event_name_i18n, lang, r.event_name),
            sale_state=sale_state(r.status, now, r.starts_at, r.ends_at, r.sales_start, r.sales_end),
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            admission_opens_minutes=r.admission_opens_minutes,
            seated=bool(r.seated),
            checks=cache.checks(r),
        )
    return out
