"""Tickets (出票): issue signed tickets for paid order lines, void them on refund, and the gate's primitives.

Guarantees:
- one ticket per order line, whatever the number of calls (``issue`` is idempotent on ``order_line_id``);
- a ticket's QR payload is signed with its organizer's key, so a payload can never pass another tenant's gate;
- an entry is used only by an atomic conditional update (``redemption``), never by read-then-write;
- a ticket holds what its type grants (``grant_rules``), copied at issue into its entitlements: a type without
  grants gives one entitlement to its own session with the spec's ``entries_allowed`` (as tickets always were).

This area knows nothing of orders: the orders service calls ``issue`` when an order is paid and
``void_tickets`` on refunds, with plain values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Table, select, update

from piaowu.accounts.permissions import Permission
from piaowu.audit.models import AuditEvent
from piaowu.audit.recorder import as_row, record
from piaowu.catalog import event_service
from piaowu.catalog import views as catalog_views
from piaowu.catalog.views import SessionLabel
from piaowu.core.actor import Actor, system_actor
from piaowu.core.errors import InvalidTicket, NotFound, TicketUsed, ValidationFailed
from piaowu.core.ids import new_id, normalize_code, ticket_code
from piaowu.db.hotpath import GuardedWrite, Rows
from piaowu.db.uow import UnitOfWork
from piaowu.organizers import keys
from piaowu.organizers import service as organizers
from piaowu.tickets import grant_rules, signing
from piaowu.tickets import repository as repo
from piaowu.tickets.grant_rules import EntitlementSpec, Grant, Home, SessionFacts
from piaowu.tickets.models import ReplacedCode, Ticket, TicketEntitlement
from piaowu.tickets.redemption import GUARDED, Redeemer
from piaowu.tickets.schemas import (
    EntitlementOut,
    EntitlementView,
    GateView,
    PublicKeyOut,
    Redemption,
    SessionTicketCounts,
    TicketOut,
    TicketSeat,
    TicketSpec,
    TicketStatus,
    TicketUse,
)
from piaowu.tickets.usage import LOCKING, UseReader

# Named after its user: the check-in race test swaps in the naive redeemer under this key.
REDEEM_STRATEGY_KEY = "checkin.redeem"
# The refund-versus-scan race test swaps in the stale reader under this key (control run).
REFUND_USE_STRATEGY_KEY = "refunds.ticket_use"


@lru_cache(maxsize=512)
def _private_key(sealed: str, app_secret: str) -> Ed25519PrivateKey:
    """Opened keys are cached per process: unsealing is cheap, but issuing a 2,000-ticket group is not the place
    to repeat it. Keyed by the sealed text, so a new key is simply a new entry."""
    return keys.open_private_key(sealed, app_secret)


@lru_cache(maxsize=512)
def _public_key(public: str) -> Ed25519PublicKey:
    return keys.load_public_key(public)


def entitlement_out(e: EntitlementView) -> EntitlementOut:
    return EntitlementOut(
        position=e.position,
        session_id=e.session_id,
        event_id=e.event_id,
        label=e.label,
        mode=e.mode,  # type: ignore[arg-type]
        allowed=e.allowed,
        used=e.used,
        days_used=list(e.days_used),
        valid_from=e.valid_from,
        valid_until=e.valid_until,
        last_entry_at=e.last_entry_at,
        last_gate=e.last_gate,
    )


def _out(t: Ticket, ents: Sequence[EntitlementView] = ()) -> TicketOut:
    return TicketOut(
        id=t.id,
        code=t.code,
        order_id=t.order_id,
        order_line_id=t.order_line_id,
        session_id=t.session_id,
        status=t.status,
        entries_allowed=t.entries_allowed,
        entries_used=t.entries_used,
        valid_from=t.valid_from,
        valid_until=t.valid_until,
        issued_at=t.issued_at,
        last_entry_at=t.last_entry_at,
        last_gate=t.last_gate,
        ticket_type_name=t.ticket_type_name,
        holder_name=t.holder_name,
        qr_payload=t.qr_payload,
        entitlements=[entitlement_out(e) for e in ents],
        seat=TicketSeat.of(signing.seat_of(t.qr_payload)),
    )


def _session_label(label: SessionLabel) -> str:
    return " · ".join(x for x in (label.event_name, label.name) if x)[:200]


async def _entitlements_for(
    uow: UnitOfWork,
    organizer_id: str,
    specs: Sequence[TicketSpec],
    known: Mapping[str, catalog_views.SessionLabel] | None,
    grants: Mapping[str, Sequence[Any]],
) -> dict[str, list[EntitlementSpec]]:
    """What each spec's ticket will admit to (by order line), from its type's grant rows as read in this
    transaction (``repo.issue_facts``). ``known``: labels the caller read in this transaction already (only the
    missing ones are read)."""
    rows = [g for gs in grants.values() for g in gs]
    wanted = {s.session_id for s in specs} | {g.session_id for g in rows if g.session_id}
    labels = {sid: lb for sid, lb in (known or {}).items() if sid in wanted}
    if missing := wanted - labels.keys():
        labels |= await catalog_views.session_labels(uow, organizer_id, sorted(missing))
    event_ids = sorted({g.event_id for g in rows if g.event_id})
    events: dict[str, str] = {}
    for event_id in event_ids:  # a handful per issue: a pass names at most grant_rules.MAX_GRANTS targets
        events[event_id] = (await event_service.get_event(uow, system_actor(organizer_id), event_id)).name
    tz = (await organizers.get_organizer(uow, organizer_id)).timezone if event_ids else "UTC"
    facts = {
        sid: SessionFacts(
            lb.event_id,
            _session_label(lb),
            lb.starts_at - timedelta(minutes=lb.admission_opens_minutes),
            lb.ends_at,
        )
        for sid, lb in labels.items()
    }
    out: dict[str, list[EntitlementSpec]] = {}
    for s in specs:
        home_label = labels.get(s.session_id)
        home = Home(
            s.session_id,
            _session_label(home_label) if home_label else "",
            s.valid_from,
            s.valid_until,
            s.entries_allowed,
        )
        home_day = grant_rules.local_day(home_label.starts_at if home_label else s.valid_from, tz)
        rules = [
            Grant(g.mode, g.allowed, g.session_id, g.event_id, g.window_days) for g in grants.get(s.ticket_type_id, [])
        ]
        out[s.order_line_id] = grant_rules.expand(rules, home, home_day, facts, events, tz)
    return out


def _covers(e: EntitlementSpec) -> str:
    return f"s:{e.session_id}" if e.session_id else f"e:{e.event_id}"


def _check_specs(specs: Sequence[TicketSpec]) -> None:
    errors = []
    for i, s in enumerate(specs):
        if s.valid_until <= s.valid_from:
            errors.append(
                {"field": f"specs.{i}.valid_until", "code": "before_start", "message": "Ends before it starts."}
            )
        if s.entries_allowed < 1:
            errors.append({"field": f"specs.{i}.entries_allowed", "code": "too_small", "message": "At least one."})
    if len({s.order_line_id for s in specs}) != len(specs):
        errors.append({"field": "specs", "code": "duplicate", "message": "An order line appears twice."})
    if errors:
        raise ValidationFailed(errors)


@dataclass(frozen=True)
class Along:
    """What a caller writes in the same statement as the tickets it issues (``issue``)."""

    # guarded updates, in lock order (e.g. ``inventory.confirm_writes``, ``ticket_type_service.sales_writes``)
    writes: Sequence[GuardedWrite] = ()
    rows: Rows = ()  # plain rows to insert (e.g. ``audit.recorder.as_row``)


def _by_table(rows: Rows) -> list[tuple[Table, list[dict[str, Any]]]]:
    """One entry per table, in first-seen order (a statement inserts each table's rows at once)."""
    out: dict[Table, list[dict[str, Any]]] = {}
    for table, dicts in rows:
        out.setdefault(table, []).extend(dicts)
    return [(t, d) for t, d in out.items() if d]


async def issue(
    uow: UnitOfWork,
    organizer_id: str,
    specs: Sequence[TicketSpec],
    app_secret: str,
    *,
    labels: Mapping[str, catalog_views.SessionLabel] | None = None,
    along: Along = Along(),
) -> list[TicketOut]:
    """Issues one signed ticket per spec, in the order given, each with its ``ticket.issued`` audit event. An
    order line that already has a ticket gets that ticket back unchanged (a repeated payment callback issues
    nothing twice). ``labels``: the sessions' labels if the caller has read them in this transaction (they are
    not read again). ``along``: the caller's writes and rows of the same step (sales counters, its audit
    event), written with the tickets — one statement on PostgreSQL — whether or not a ticket was new."""
    return await write_issue(uow, await prepare_issue(uow, organizer_id, specs, app_secret, labels=labels), along)


@dataclass(frozen=True)
class PreparedIssue:
    """``issue`` up to its write: what was read and signed, the rows to insert (``write_issue``)."""

    organizer_id: str
    specs: Sequence[TicketSpec]
    existing: dict[str, Any]  # order line id → its ticket (already issued, or planned here)
    fresh: dict[str, tuple[EntitlementView, ...]]  # planned ticket id → its entitlements
    written: list[tuple[Table, list[dict[str, object]]]]
    audit_rows: list[dict[str, Any]]


async def prepare_issue(
    uow: UnitOfWork,
    organizer_id: str,
    specs: Sequence[TicketSpec],
    app_secret: str,
    *,
    labels: Mapping[str, catalog_views.SessionLabel] | None = None,
) -> PreparedIssue:
    """``issue``'s reads and signing, without writing: a caller that must take a hot row's lock in the same
    transaction (the payment's hold confirm) reads first and takes the lock after, so that the lock is held for
    the write and the COMMIT only. The reads stay valid until ``write_issue`` when the caller holds what decides
    them (the order's row lock: no other transaction issues its lines' tickets meanwhile)."""
    _check_specs(specs)
    written: list[tuple[Table, list[dict[str, object]]]] = []
    audit_rows: list[dict[str, Any]] = []
    line_ids = [s.order_line_id for s in specs]
    # The sealed key, whether a line has its ticket already and the types' grants: one read (``issue_facts``).
    facts = await repo.issue_facts(uow.session, organizer_id, line_ids, [s.ticket_type_id for s in specs])
    existing = (
        {t.order_line_id: t for t in await repo.by_order_lines(uow.session, organizer_id, line_ids)}
        if facts.issued
        else {}
    )
    todo = [s for s in specs if s.order_line_id not in existing]
    fresh: dict[str, tuple[EntitlementView, ...]] = {}
    if todo:
        # The sealed key is read (one column) with the issue, and opened once per process and key: a key that
        # was replaced is simply a new sealed text, so no process ever signs with an old key (``_private_key``).
        if facts.sealed_key is None:
            raise NotFound(kind="organizer")
        private = _private_key(facts.sealed_key, app_secret)
        actor = system_actor(organizer_id)
        now = uow.now()
        planned = await _entitlements_for(uow, organizer_id, todo, labels, facts.grants)
        ticket_rows: list[dict[str, object]] = []
        ent_rows: list[dict[str, object]] = []
        for s in todo:
            code = ticket_code()
            ents = planned[s.order_line_id]
            valid_from, valid_until = grant_rules.envelope(ents)
            claims = signing.TicketClaims(
                code=code,
                organizer_id=organizer_id,
                valid_from=int(valid_from.timestamp()),
                valid_until=int(valid_until.timestamp()),
                covers=tuple(_covers(e) for e in ents),
                seat=s.seat,
            )
            row = {
                "id": new_id(),
                "organizer_id": organizer_id,
                "order_id": s.order_id,
                "order_line_id": s.order_line_id,
                "session_id": s.session_id,
                "code": code,
                "status": str(TicketStatus.VALID),
                "entries_allowed": sum(e.allowed for e in ents),
                "entries_used": 0,
                "valid_from": valid_from,
                "valid_until": valid_until,
                "issued_at": now,
                "last_entry_at": None,
                "last_gate": "",
                "qr_payload": signing.sign(private, claims),
                "ticket_type_name": s.ticket_type_name,
                "holder_name": s.holder_name,
            }
            ticket_rows.append(row)
            views = []
            for e in ents:
                ent = {
                    "id": new_id(),
                    "organizer_id": organizer_id,
                    "ticket_id": row["id"],
                    "position": e.position,
                    "session_id": e.session_id,
                    "event_id": e.event_id,
                    "label": e.label,
                    "mode": e.mode,
                    "allowed": e.allowed,
                    "used": 0,
                    "valid_from": e.valid_from,
                    "valid_until": e.valid_until,
                    "days_used": "",
                    "last_entry_at": None,
                    "last_gate": "",
                }
                ent_rows.append(ent)
                views.append(
                    EntitlementView(
                        ent["id"],
                        e.position,
                        e.session_id,
                        e.event_id,
                        e.label,
                        e.mode,
                        e.allowed,
                        0,
                        e.valid_from,
                        e.valid_until,
                        (),
                        None,
                        "",
                    )  # fmt: skip
                )
            fresh[row["id"]] = tuple(views)  # type: ignore[index]
            existing[s.order_line_id] = SimpleNamespace(**row)  # type: ignore[assignment]
            audit_rows += as_row(
                uow,
                actor,
                "ticket.issued",
                "ticket",
                row["id"],  # type: ignore[arg-type]
                after={
                    "code": code,
                    "order_id": s.order_id,
                    "order_line_id": s.order_line_id,
                    "session_id": s.session_id,
                    "covers": list(claims.covers),
                },
            )[1]
        written += [(Ticket.__table__, ticket_rows), (TicketEntitlement.__table__, ent_rows)]
    # Plain rows — every ticket, every entitlement, the audit events, the caller's rows and counters — in one
    # statement on PostgreSQL whatever the number of tickets, and no ORM entities to build, track and flush
    # (the notification's largest CPU cost before).
    return PreparedIssue(organizer_id, specs, existing, fresh, written, audit_rows)


async def write_issue(uow: UnitOfWork, prepared: PreparedIssue, along: Along = Along()) -> list[TicketOut]:
    """Writes what ``prepare_issue`` planned (see ``issue``). → one ticket per spec, in the order given."""
    p = prepared
    rows = _by_table([*p.written, *along.rows, (AuditEvent.__table__, p.audit_rows)])
    await repo.insert_issued(uow.session, p.organizer_id, rows, along.writes)
    ents_by_ticket = dict(p.fresh)
    if old := [t.id for t in p.existing.values() if t.id not in p.fresh]:
        ents_by_ticket |= await repo.entitlements_of(uow.session, p.organizer_id, old)
    return [_out(t, ents_by_ticket.get(t.id, ())) for t in (p.existing[s.order_line_id] for s in p.specs)]


async def tickets_for_orders(
    uow: UnitOfWork, organizer_id: str, order_ids: Sequence[str]
) -> dict[str, list[TicketOut]]:
    """Tickets of each order (orders without tickets are absent). Scoped to the organizer."""
    out: dict[str, list[TicketOut]] = {}
    for t, ents in await repo.by_orders_with_entitlements(uow.session, organizer_id, order_ids):
        out.setdefault(t.order_id, []).append(_out(t, ents))
    return out


def tickets_in(rows: Sequence[Any]) -> list[TicketOut]:
    """The tickets a read joined them into (``repository.with_tickets``), as ``tickets_for_orders`` answers them."""
    return [_out(t, ents) for t, ents in repo.tickets_in(rows)]


async def void_tickets(
    uow: UnitOfWork,
    actor: Actor,
    organizer_id: str,
    order_line_ids: Sequence[str],
    status: str = TicketStatus.REFUNDED,
) -> list[TicketOut]:
    """Marks the tickets of these order lines refunded or void, so gates reject them from now on. A ticket that
    was already used can still be voided (the entry stays on record); one already voided is left as it is."""
    if status not in (TicketStatus.REFUNDED, TicketStatus.VOID):
        raise ValidationFailed([{"field": "status", "code": "invalid", "message": "Use refunded or void."}])
    changed = []
    for t in await repo.by_order_lines(uow.session, organizer_id, order_line_ids):
        if t.status != TicketStatus.VALID:
            continue
        t.status = status
        record(
            uow, actor, "ticket.voided", "ticket", t.id, before={"status": TicketStatus.VALID}, after={"status": status}
        )
        changed.append(_out(t))
    await uow.session.flush()
    return changed


async def use_for_refund(uow: UnitOfWork, organizer_id: str, order_line_ids: Sequence[str]) -> dict[str, TicketUse]:
    """What the gates did with the tickets of these order lines, by line id (lines without a ticket are absent).
    Read under each ticket's row lock, held until the caller's transaction ends: no gate can admit these tickets
    in between, so a refund decided on this read cannot race a scan (``tickets.usage``)."""
    reader: UseReader = uow.strategies.get(REFUND_USE_STRATEGY_KEY, LOCKING)
    return {u.order_line_id: u for u in await reader.read(uow.session, organizer_id, order_line_ids)}


async def get_by_code(uow: UnitOfWork, actor: Actor, code: str) -> TicketOut:
    """One of the actor's organizer's tickets; another organizer's code is simply not found."""
    actor.require(Permission.ORDER_READ)
    t = await repo.by_code(uow.session, actor.organizer_id, normalize_code(code))
    if t is None:
        raise NotFound(kind="ticket")
    return _out(t, (await repo.entitlements_of(uow.session, actor.organizer_id, [t.id])).get(t.id, ()))


async def public_key(uow: UnitOfWork, organizer_id: str) -> str:
    return (await organizers.get_organizer(uow, organizer_id)).public_key


async def public_key_for_slug(uow: UnitOfWork, slug: str) -> PublicKeyOut:
    """Public by design: gates verify tickets offline with it."""
    org = await organizers.get_by_slug(uow, slug)
    return PublicKeyOut(organizer_id=org.id, slug=org.slug, public_key=org.public_key)


async def verifier(uow: UnitOfWork, organizer_id: str) -> Ed25519PublicKey:
    return _public_key(await public_key(uow, organizer_id))


# ---- the gate's primitives (used by checkin.service) -------------------------------------------------------


def _redeemer(uow: UnitOfWork) -> Redeemer:
    return uow.strategies.get(REDEEM_STRATEGY_KEY, GUARDED)


async def load_for_gate(uow: UnitOfWork, organizer_id: str, code: str) -> GateView | None:
    return await _redeemer(uow).load(uow.session, organizer_id, code)


async def redeem(
    uow: UnitOfWork, ticket: GateView, entitlement: EntitlementView, day: str, gate: str
) -> Redemption | None:
    """Uses ``entitlement`` of the ticket once on local day ``day``, atomically; None when it is used up or the
    ticket is no longer valid at write time (``tickets.redemption``)."""
    return await _redeemer(uow).redeem(uow.session, ticket, entitlement, day, gate, uow.now())


async def replaced_by(uow: UnitOfWork, organizer_id: str, code: str) -> GateView | None:
    """The ticket that ``code`` was a code of before it was reissued (a seat exchange), as it is now; None for
    a code that was never replaced (or another organizer's)."""
    ticket_id = await repo.replaced_ticket_id(uow.session, organizer_id, code)
    return None if ticket_id is None else await repo.gate_view_by_id(uow.session, organizer_id, ticket_id)


async def gate_view(uow: UnitOfWork, organizer_id: str, ticket_id: str) -> GateView | None:
    """A fresh read inside the caller's transaction (after a lost race: who won, and when)."""
    return await repo.gate_view_by_id(uow.session, organizer_id, ticket_id)


async def codes_by_id(uow: UnitOfWork, organizer_id: str, ticket_ids: Sequence[str]) -> dict[str, str]:
    return await repo.codes_by_id(uow.session, organizer_id, ticket_ids)


async def session_counts(uow: UnitOfWork, organizer_id: str, session_ids: Sequence[str]) -> SessionTicketCounts:
    """Valid tickets of these sessions (all of the organizer's when empty) and how many have been used."""
    return await repo.session_counts(uow.session, organizer_id, session_ids)


async def reissue(
    uow: UnitOfWork,
    actor: Actor,
    organizer_id: str,
    ticket_id: str,
    app_secret: str,
    *,
    seat: tuple[str, str, str] | None = None,
) -> tuple[str, TicketOut]:
    """Voids a valid, never used ticket's code and QR and issues the ticket again under a new code with a newly
    signed payload (same entitlements, same order line) for ``seat``: a seat exchange, where the ticket now
    stands for another seat of its session. → (the old code, the ticket as reissued).

    One conditional update (``status = valid AND entries_used = 0``), under the ticket's row lock until commit:
    a gate scan racing it either admitted the ticket first (then this refuses with ``ticket_used``) or finds
    the old code gone (an unknown ticket from then on). The order line keeps its one ticket, so refunds,
    printing and reports read it as before. Audited (``ticket.reissued``: the old and the new code)."""
    t = (
        await uow.session.execute(
            select(Ticket).where(Ticket.id == ticket_id, Ticket.organizer_id == organizer_id).with_for_update()
        )
    ).scalar_one_or_none()
    if t is None:
        raise NotFound(kind="ticket")
    ents = (await repo.entitlements_of(uow.session, organizer_id, [t.id])).get(t.id, ())
    code = ticket_code()
    private = _private_key(await organizers.sealed_signing_key(uow, organizer_id), app_secret)
    claims = signing.TicketClaims(
        code=code,
        organizer_id=organizer_id,
        valid_from=int(t.valid_from.timestamp()),
        valid_until=int(t.valid_until.timestamp()),
        covers=tuple(f"s:{e.session_id}" if e.session_id else f"e:{e.event_id}" for e in ents),
        seat=seat,
    )
    old = t.code
    res = await uow.session.execute(
        update(Ticket)
        .where(
            Ticket.id == t.id,
            Ticket.organizer_id == organizer_id,
            Ticket.status == TicketStatus.VALID,
            Ticket.entries_used == 0,
        )
        .values(code=code, qr_payload=signing.sign(private, claims), issued_at=uow.now())
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1 or any(e.used for e in ents):
        if t.status != TicketStatus.VALID:
            raise InvalidTicket()
        raise TicketUsed(line_ids=[t.order_line_id], ticket_codes=[old])
    await uow.session.refresh(t)
    # The old code stays known, as replaced: a gate scanning it says so and names the seat the ticket is for now.
    uow.session.add(ReplacedCode(organizer_id=organizer_id, ticket_id=t.id, code=old, replaced_at=uow.now()))
    record(
        uow,
        actor,
        "ticket.reissued",
        "ticket",
        t.id,
        before={"code": old},
        after={"code": code, "seat": list(seat) if seat else None},
    )
    return old, _out(t, ents)
