"""Check-in (验票/检票): judge a scan, use one entry of the ticket atomically, and record every scan.

Guarantees:
- a ticket is admitted at most ``entries_allowed`` times, whatever the number of gates scanning it at once
  (the entry is taken by a conditional update in ``tickets.redemption``; proven by tests/concurrency);
- every scan, admitted or rejected, is recorded in the same transaction as its effect;
- a payload signed for another organizer, or another organizer's code, is ``invalid_ticket``: a gate never
  learns anything about another tenant's tickets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from piaowu.accounts.permissions import Permission
from piaowu.catalog import views as catalog_views
from piaowu.catalog.rules import SessionStatus
from piaowu.catalog.views import SessionLabel
from piaowu.checkin import repository as repo
from piaowu.checkin.models import Scan
from piaowu.checkin.rules import ScanResult, TicketFacts, Verdict, Window, admission_window, verdict
from piaowu.checkin.schemas import CheckinStats, PreviousEntry, ScanIn, ScanOut, ScanRecord, TicketSummary
from piaowu.core.actor import Actor
from piaowu.core.clock import ensure_utc
from piaowu.core.errors import InvalidTicket
from piaowu.db.uow import UnitOfWork
from piaowu.tickets import service as tickets
from piaowu.tickets import signing
from piaowu.tickets.schemas import GateView


def _facts(t: GateView, label: SessionLabel | None = None) -> TicketFacts:
    cancelled = label is not None and label.status == SessionStatus.CANCELLED
    return TicketFacts(
        t.status, t.session_id, t.entries_allowed, t.entries_used, t.last_entry_at, t.last_gate, cancelled
    )


async def _find(uow: UnitOfWork, organizer_id: str, raw: str) -> GateView | None:
    """The organizer's ticket this scan names, or None. A bad signature and an unknown code look the same."""
    try:
        scanned = signing.parse(raw)
        if isinstance(scanned, signing.Signed):
            claims = signing.verify(await tickets.verifier(uow, organizer_id), scanned.payload)
            if claims.organizer_id != organizer_id:  # cannot happen with distinct keys; cheap to be sure
                return None
            code = claims.code
        else:
            code = scanned.code
    except InvalidTicket:
        return None
    return await tickets.load_for_gate(uow, organizer_id, code)


async def scan(uow: UnitOfWork, actor: Actor, cmd: ScanIn) -> ScanOut:
    """Judges one scan and, when it admits, uses one entry of the ticket. Rejections are answers, not errors:
    the result says why (``checkin.rules.ScanResult``)."""
    actor.require(Permission.CHECKIN)
    org = actor.organizer_id
    now = uow.now()
    gate = cmd.gate.strip()[:64] or "main"
    ticket = await _find(uow, org, cmd.raw)
    label = None
    if ticket is not None:
        label = (await catalog_views.session_labels(uow, org, [ticket.session_id])).get(ticket.session_id)
        # The live session decides the window (a rescheduled show moves its gates with it); the signed validity
        # is what offline gates use, and the fallback if the session is gone.
        window = (
            admission_window(label.starts_at, label.ends_at, label.admission_opens_minutes)
            if label
            else Window(ticket.valid_from, ticket.valid_until)
        )
        v = verdict(_facts(ticket, label), cmd.session_ids, now, window)
        if v.admitted:
            if await tickets.redeem(uow, ticket, gate):
                ticket = replace(ticket, entries_used=ticket.entries_used + 1, last_entry_at=now, last_gate=gate)
            else:
                # Lost a race (another gate, the same second) or voided meanwhile: judge the row as it is now.
                fresh = await tickets.gate_view(uow, org, ticket.id)
                ticket = fresh or ticket
                v = verdict(_facts(ticket, label), cmd.session_ids, now, window)
                if v.admitted:
                    v = Verdict(ScanResult.ALREADY_CHECKED_IN, ticket.last_entry_at, ticket.last_gate)
    else:
        v = verdict(None, cmd.session_ids, now, Window(now, now))
    uow.session.add(
        Scan(
            organizer_id=org,
            ticket_id=ticket.id if ticket else None,
            session_id=ticket.session_id if ticket else None,
            raw=signing.clean(cmd.raw)[:600],
            gate=gate,
            direction=cmd.direction,
            result=v.result,
            actor=actor.ref[:80],
            scanned_at=now,
        )
    )
    await uow.session.flush()
    summary = None
    if ticket is not None:
        summary = TicketSummary(
            code=ticket.code,
            session_id=ticket.session_id,
            event_name=label.event_name if label else "",
            session_name=label.name if label else "",
            starts_at=label.starts_at if label else None,
            ticket_type_name=ticket.ticket_type_name,
            holder_name=ticket.holder_name,
            entries_allowed=ticket.entries_allowed,
            entries_used=ticket.entries_used,
        )
    return ScanOut(
        result=v.result,
        admitted=v.admitted,
        message_key=v.message,
        message=v.message,
        scanned_at=now,
        gate=gate,
        ticket=summary,
        previous=PreviousEntry(at=v.previous_at, gate=v.previous_gate)
        if v.result is ScanResult.ALREADY_CHECKED_IN
        else None,
        opens_at=v.opens_at,
    )


async def recent_scans(uow: UnitOfWork, actor: Actor, limit: int = 10, gate: str | None = None) -> list[ScanRecord]:
    """The latest scans of the organizer (of one gate, if named), newest first."""
    actor.require(Permission.CHECKIN)
    limit = max(1, min(limit, 200))
    rows = await repo.recent(uow.session, actor.organizer_id, limit, gate)
    codes = await tickets.codes_by_id(uow, actor.organizer_id, [r.ticket_id for r in rows if r.ticket_id])
    return [
        ScanRecord(
            id=r.id,
            scanned_at=r.scanned_at,
            gate=r.gate,
            direction=r.direction,
            result=r.result,
            ticket_code=codes.get(r.ticket_id) if r.ticket_id else None,
            session_id=r.session_id,
            actor=r.actor,
        )
        for r in rows
    ]


async def counts(
    uow: UnitOfWork, actor: Actor, session_ids: Sequence[str] = (), since: datetime | None = None
) -> CheckinStats:
    """Tickets and check-ins of these sessions (all of the organizer's when empty), for a gate's header and the
    back office; scan counts can be limited to those since a moment (e.g. local midnight for "today")."""
    actor.require(Permission.CHECKIN)
    ids = sorted(set(session_ids))
    since = ensure_utc(since) if since is not None else None
    t = await tickets.session_counts(uow, actor.organizer_id, ids)
    admitted, rejected = await repo.scan_counts(uow.session, actor.organizer_id, ids, since)
    return CheckinStats(
        session_ids=ids,
        tickets=t.tickets,
        checked_in=t.checked_in,
        refunded_after_entry=t.refunded_after_entry,
        scans_admitted=admitted,
        scans_rejected=rejected,
        since=since,
    )
