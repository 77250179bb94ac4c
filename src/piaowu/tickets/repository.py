"""All queries on tickets. Gate reads return plain rows (``GateView``), never identity-mapped objects, so a
re-read after a lost race sees the database, not a cached instance."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.core.errors import NotFound
from piaowu.db import hotpath
from piaowu.organizers.repository import sealed_key_of
from piaowu.tickets import signing
from piaowu.tickets.models import ReplacedCode, Ticket, TicketEntitlement, TicketTypeGrant
from piaowu.tickets.schemas import EntitlementView, GateView, SessionTicketCounts, TicketStatus, TicketUse

_GATE_COLUMNS = (
    Ticket.id,
    Ticket.code,
    Ticket.session_id,
    Ticket.status,
    Ticket.entries_allowed,
    Ticket.entries_used,
    Ticket.valid_from,
    Ticket.valid_until,
    Ticket.last_entry_at,
    Ticket.last_gate,
    Ticket.ticket_type_name,
    Ticket.holder_name,
    Ticket.qr_payload,  # for the seat it carries (shown at the gate)
)


def gate_view_query(organizer_id: str) -> Select[Any]:
    return select(*_GATE_COLUMNS).where(Ticket.organizer_id == organizer_id)


def to_gate_view(row: Any) -> GateView:
    *columns, payload = row
    return GateView(*columns, seat=signing.seat_of(payload))


def days_of(days_used: str) -> tuple[str, ...]:
    """``",2026-05-01,2026-05-03,"`` → ``("2026-05-01", "2026-05-03")`` (the column's format: redemption)."""
    return tuple(d for d in days_used.split(",") if d)


_ENT_COLUMNS = (
    TicketEntitlement.id,
    TicketEntitlement.position,
    TicketEntitlement.session_id,
    TicketEntitlement.event_id,
    TicketEntitlement.label,
    TicketEntitlement.mode,
    TicketEntitlement.allowed,
    TicketEntitlement.used,
    TicketEntitlement.valid_from,
    TicketEntitlement.valid_until,
    TicketEntitlement.days_used,
    TicketEntitlement.last_entry_at,
    TicketEntitlement.last_gate,
)


# The reads of every order read and ticket issue are built once (parameters, expanding lists): building one
# per call and walking it for its cache key cost more CPU than running it.
_ORG = bindparam("org")
_ENTITLEMENTS_OF = (
    select(TicketEntitlement.ticket_id, *_ENT_COLUMNS)
    .where(TicketEntitlement.organizer_id == _ORG, TicketEntitlement.ticket_id.in_(bindparam("ids", expanding=True)))
    .order_by(TicketEntitlement.ticket_id, TicketEntitlement.position)
)
_GRANTS_OF = (
    select(TicketTypeGrant)
    .where(TicketTypeGrant.organizer_id == _ORG, TicketTypeGrant.ticket_type_id.in_(bindparam("ids", expanding=True)))
    .order_by(TicketTypeGrant.ticket_type_id, TicketTypeGrant.position)
)
_BY_ORDER_LINES = select(Ticket).where(
    Ticket.organizer_id == _ORG, Ticket.order_line_id.in_(bindparam("ids", expanding=True))
)
_BY_ORDERS = (  # plain rows (read only: order reads and prints), no entities to build and track
    select(*Ticket.__table__.c)
    .where(Ticket.organizer_id == _ORG, Ticket.order_id.in_(bindparam("ids", expanding=True)))
    .order_by(Ticket.order_id, Ticket.issued_at, Ticket.id)
)

# The order read's tickets with their entitlements, ONE statement where it took two (the buyer's page reads it on
# every paid order): a ticket's columns by name, then its entitlement's as ``e_<column>`` (NULL for a ticket
# without entitlements), one row per entitlement in position order.
_WITH_ENTITLEMENTS = (
    select(*Ticket.__table__.c, *[c.label(f"e_{c.key}") for c in _ENT_COLUMNS])
    .select_from(Ticket)
    .outerjoin(
        TicketEntitlement,
        (TicketEntitlement.ticket_id == Ticket.id) & (TicketEntitlement.organizer_id == _ORG),
    )
    .where(Ticket.organizer_id == _ORG, Ticket.order_id.in_(bindparam("ids", expanding=True)))
    .order_by(Ticket.order_id, Ticket.issued_at, Ticket.id, TicketEntitlement.position)
)
_E_KEYS = tuple(f"e_{c.key}" for c in _ENT_COLUMNS)
_DAYS_USED = _E_KEYS.index("e_days_used")

# What issuing tickets reads, in ONE statement (three before, in the payment notification's transaction): the
# organizer's sealed key, whether any of the lines has a ticket already, and the ticket types' grants. One row
# (the first two, grant columns NULL) when the types have no grants, else one per grant.
_ISSUE_HEAD = select(
    sealed_key_of(_ORG).label("sealed_key"),
    exists(
        select(Ticket.id).where(
            Ticket.organizer_id == _ORG, Ticket.order_line_id.in_(bindparam("lines", expanding=True))
        )
    ).label("issued"),
).subquery("head")
_ISSUE_FACTS = (
    select(
        _ISSUE_HEAD.c.sealed_key,
        _ISSUE_HEAD.c.issued,
        TicketTypeGrant.ticket_type_id,
        TicketTypeGrant.position,
        TicketTypeGrant.mode,
        TicketTypeGrant.allowed,
        TicketTypeGrant.session_id,
        TicketTypeGrant.event_id,
        TicketTypeGrant.window_days,
    )
    .select_from(
        _ISSUE_HEAD.outerjoin(
            TicketTypeGrant,
            and_(
                TicketTypeGrant.organizer_id == _ORG,
                TicketTypeGrant.ticket_type_id.in_(bindparam("types", expanding=True)),
            ),
        )
    )
    .order_by(TicketTypeGrant.ticket_type_id, TicketTypeGrant.position)
)


@dataclass(frozen=True)
class IssueFacts:
    sealed_key: str | None  # None: no such organizer
    issued: bool  # some of the lines has a ticket already (``by_order_lines`` reads them)
    grants: dict[str, list[Any]]  # ticket type → its grant rows in position order (as ``grants_of``'s)


async def issue_facts(
    session: AsyncSession, organizer_id: str, line_ids: Sequence[str], ticket_type_ids: Sequence[str]
) -> IssueFacts:
    params = {
        "org": organizer_id,
        "lines": list(line_ids),
        "types": [i for i in set(ticket_type_ids) if i] or [""],  # an empty IN list is not one statement shape
    }
    rows = list(await hotpath.execute(session, _ISSUE_FACTS, params))
    grants: dict[str, list[Any]] = {}
    for r in rows:
        if r.ticket_type_id is not None:
            grants.setdefault(r.ticket_type_id, []).append(r)
    return IssueFacts(rows[0].sealed_key, bool(rows[0].issued), grants)


async def entitlements_of(
    session: AsyncSession, organizer_id: str, ticket_ids: Sequence[str]
) -> dict[str, tuple[EntitlementView, ...]]:
    """Each ticket's entitlements in position order, as plain rows (read fresh, never from the identity map)."""
    if not ticket_ids:
        return {}
    out: dict[str, list[EntitlementView]] = {}
    params = {"org": organizer_id, "ids": list(ticket_ids)}
    for row in (await hotpath.execute(session, _ENTITLEMENTS_OF, params)).all():
        values = list(row[1:])
        values[10] = days_of(values[10])
        out.setdefault(row[0], []).append(EntitlementView(*values))
    return {k: tuple(v) for k, v in out.items()}


async def _with_entitlements(session: AsyncSession, organizer_id: str, row: Any) -> GateView | None:
    if not row:
        return None
    view = to_gate_view(row)
    ents = await entitlements_of(session, organizer_id, [view.id])
    return replace(view, entitlements=ents.get(view.id, ()))


async def gate_view_by_code(session: AsyncSession, organizer_id: str, code: str) -> GateView | None:
    row = (await session.execute(gate_view_query(organizer_id).where(Ticket.code == code))).first()
    return await _with_entitlements(session, organizer_id, row)


async def replaced_ticket_id(session: AsyncSession, organizer_id: str, code: str) -> str | None:
    q = select(ReplacedCode.ticket_id).where(ReplacedCode.organizer_id == organizer_id, ReplacedCode.code == code)
    return (await session.execute(q)).scalar_one_or_none()


async def gate_view_by_id(session: AsyncSession, organizer_id: str, ticket_id: str) -> GateView | None:
    row = (await session.execute(gate_view_query(organizer_id).where(Ticket.id == ticket_id))).first()
    return await _with_entitlements(session, organizer_id, row)


async def grants_of(
    session: AsyncSession, organizer_id: str, ticket_type_ids: Sequence[str]
) -> dict[str, list[TicketTypeGrant]]:
    """The grant rows of these ticket types, in position order (types without grants are absent)."""
    ids = [i for i in set(ticket_type_ids) if i]
    if not ids:
        return {}
    out: dict[str, list[TicketTypeGrant]] = {}
    for g in (await session.execute(_GRANTS_OF, {"org": organizer_id, "ids": ids})).scalars():
        out.setdefault(g.ticket_type_id, []).append(g)
    return out


async def delete_grants(session: AsyncSession, organizer_id: str, ticket_type_id: str) -> None:
    await session.execute(
        delete(TicketTypeGrant).where(
            TicketTypeGrant.organizer_id == organizer_id, TicketTypeGrant.ticket_type_id == ticket_type_id
        )
    )


async def insert_issued(
    session: AsyncSession, organizer_id: str, rows: hotpath.Rows, writes: Sequence[hotpath.GuardedWrite] = ()
) -> None:
    """Insert new tickets, their entitlements and the rows that go with them (audit events) as plain rows, in
    the given table order, with the caller's counter ``writes``: one statement on PostgreSQL (it runs in the
    payment notification's transaction). A write whose row is missing is a bug (foreign keys), not a race."""
    if not writes:
        await hotpath.insert_together(session, rows)
        return
    if await hotpath.guarded_write_and_insert(session, organizer_id, writes, rows):
        raise NotFound(kind=writes[0].guard.table.name)


async def by_order_lines(session: AsyncSession, organizer_id: str, line_ids: Sequence[str]) -> list[Ticket]:
    if not line_ids:
        return []
    return list((await session.execute(_BY_ORDER_LINES, {"org": organizer_id, "ids": list(line_ids)})).scalars())


async def by_orders(session: AsyncSession, organizer_id: str, order_ids: Sequence[str]) -> list[Any]:
    """The tickets of these orders as plain rows (a ticket's columns by name), for reading only."""
    if not order_ids:
        return []
    return list(await hotpath.execute(session, _BY_ORDERS, {"org": organizer_id, "ids": list(order_ids)}))


async def by_orders_with_entitlements(
    session: AsyncSession, organizer_id: str, order_ids: Sequence[str]
) -> list[tuple[Any, tuple[EntitlementView, ...]]]:
    """``by_orders`` and each ticket's ``entitlements_of``, read together: (the ticket's row, its entitlements in
    position order), tickets in ``by_orders``' order."""
    if not order_ids:
        return []
    out: list[tuple[Any, list[EntitlementView]]] = []
    for row in await hotpath.execute(session, _WITH_ENTITLEMENTS, {"org": organizer_id, "ids": list(order_ids)}):
        if not out or out[-1][0].id != row.id:
            out.append((row, []))
        m = row._mapping
        if m["e_id"] is not None:
            values = [m[k] for k in _E_KEYS]
            values[_DAYS_USED] = days_of(values[_DAYS_USED])
            out[-1][1].append(EntitlementView(*values))
    return [(t, tuple(ents)) for t, ents in out]


# The tickets of a read of order lines, joined into that read (``with_tickets``): the order read takes the order,
# its lines, their tickets with entitlements and its payments in ONE statement, hence one snapshot with no
# transaction around it. A ticket's columns are prefixed ``TICKET_PREFIX``, its entitlement's ``e_`` (as above).
TICKET_PREFIX = "ticket_"
_TICKET_COLUMNS = tuple(c.name for c in Ticket.__table__.c)
TicketRow = namedtuple("TicketRow", _TICKET_COLUMNS)  # type: ignore[misc]  # a ticket's columns, attribute access


def with_tickets(stmt: Select[Any], order_id: Any, order_line_id: Any, org: Any) -> Select[Any]:
    """``stmt`` (a prebuilt read with one row per order line) with each line's tickets of the order and their
    entitlements outer-joined: a line's rows repeat per ticket and entitlement (NULL columns when it has none),
    tickets in issue order, entitlements in position order, after the statement's own order."""
    return (
        stmt.add_columns(
            *[c.label(TICKET_PREFIX + c.name) for c in Ticket.__table__.c],
            *[c.label(f"e_{c.key}") for c in _ENT_COLUMNS],
        )
        .outerjoin(
            Ticket,
            (Ticket.order_line_id == order_line_id) & (Ticket.order_id == order_id) & (Ticket.organizer_id == org),
        )
        .outerjoin(
            TicketEntitlement,
            (TicketEntitlement.ticket_id == Ticket.id) & (TicketEntitlement.organizer_id == org),
        )
        .order_by(Ticket.issued_at, Ticket.id, TicketEntitlement.position)
    )


def tickets_in(rows: Sequence[Any]) -> list[tuple[Any, tuple[EntitlementView, ...]]]:
    """The tickets a read ``with_tickets`` carries, as ``by_orders_with_entitlements`` returns them: (the
    ticket's row, its entitlements in position order), each once whatever else repeated its rows."""
    out: dict[str, tuple[Any, dict[str, EntitlementView]]] = {}
    key = TICKET_PREFIX + "id"
    for row in rows:
        m = row._mapping
        ticket_id = m[key]
        if ticket_id is None:
            continue
        found = out.get(ticket_id)
        if found is None:
            found = out[ticket_id] = (TicketRow(*(m[TICKET_PREFIX + k] for k in _TICKET_COLUMNS)), {})
        if m["e_id"] is not None and m["e_id"] not in found[1]:
            values = [m[k] for k in _E_KEYS]
            values[_DAYS_USED] = days_of(values[_DAYS_USED])
            found[1][m["e_id"]] = EntitlementView(*values)
    return [(t, tuple(ents.values())) for t, ents in out.values()]


async def by_code(session: AsyncSession, organizer_id: str, code: str) -> Ticket | None:
    q = select(Ticket).where(Ticket.organizer_id == organizer_id, Ticket.code == code)
    return (await session.execute(q)).scalar_one_or_none()


async def codes_by_id(session: AsyncSession, organizer_id: str, ticket_ids: Sequence[str]) -> dict[str, str]:
    if not ticket_ids:
        return {}
    q = select(Ticket.id, Ticket.code).where(Ticket.organizer_id == organizer_id, Ticket.id.in_(list(ticket_ids)))
    return {r.id: r.code for r in (await session.execute(q)).all()}


async def session_counts(session: AsyncSession, organizer_id: str, session_ids: Sequence[str]) -> SessionTicketCounts:
    """All the organizer's tickets (no ids), or what admits to these sessions: counted per entitlement, so a combo
    pass counts at each attraction's gate it covers (an entitlement to an event, with no session of its own,
    counts under the ticket's own session)."""
    valid = Ticket.status == TicketStatus.VALID
    if session_ids:
        E = TicketEntitlement
        used = E.used > 0
        ids = list(session_ids)
        covers = or_(E.session_id.in_(ids), and_(E.session_id.is_(None), Ticket.session_id.in_(ids)))
        base = (
            select().select_from(E).join(Ticket, Ticket.id == E.ticket_id).where(E.organizer_id == organizer_id, covers)
        )
    else:
        used = Ticket.entries_used > 0
        base = select().select_from(Ticket).where(Ticket.organizer_id == organizer_id)
    q = base.add_columns(
        func.coalesce(func.sum(case((valid, 1), else_=0)), 0),
        func.coalesce(func.sum(case((used, 1), else_=0)), 0),
        func.coalesce(func.sum(case((and_(used, ~valid), 1), else_=0)), 0),
    ).where(or_(valid, used))
    n_valid, checked_in, after_entry = (await session.execute(q)).one()
    return SessionTicketCounts(
        tickets=int(n_valid or 0) + int(after_entry or 0),
        checked_in=int(checked_in or 0),
        refunded_after_entry=int(after_entry or 0),
    )


_USE_COLUMNS = (
    Ticket.order_line_id,
    Ticket.id,
    Ticket.code,
    Ticket.status,
    Ticket.entries_used,
    Ticket.last_entry_at,
    Ticket.last_gate,
)


def _use_query(organizer_id: str, line_ids: Sequence[str]) -> Select[Any]:
    return (
        select(*_USE_COLUMNS)
        .where(Ticket.organizer_id == organizer_id, Ticket.order_line_id.in_(list(line_ids)))
        .order_by(Ticket.id)
    )


async def use_by_order_lines(
    session: AsyncSession, organizer_id: str, line_ids: Sequence[str], *, lock: bool
) -> list[TicketUse]:
    """The tickets of these lines as plain rows; ``lock``: under ``FOR UPDATE``, taken in ticket-id order (a
    fixed order, so two refunds never deadlock), held until the caller's transaction ends."""
    if not line_ids:
        return []
    q = _use_query(organizer_id, line_ids)
    if lock:
        q = q.with_for_update()
    return [TicketUse(*row) for row in (await session.execute(q)).all()]
