"""Check-in (验票/检票): judge a scan, use one entry of the ticket atomically, and record every scan.

Guarantees:
- each entitlement of a ticket is used at most ``allowed`` times (a multi-day one counts at most ``allowed``
  distinct days), whatever the number of gates scanning it at once (a conditional update in
  ``tickets.redemption``; proven by tests/concurrency); two gates using different entitlements of one pass both
  admit;
- the answer lists the ticket's entitlements as they are after the scan, and which one the scan used;
- every scan, admitted or rejected, is recorded in the same transaction as its effect;
- a payload signed for another organizer, or another organizer's code, is ``invalid_ticket``: a gate never
  learns anything about another tenant's tickets.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from piaowu.accounts.permissions import Permission
from piaowu.catalog import views as catalog_views
from piaowu.catalog.rules import SessionStatus
from piaowu.catalog.views import SessionLabel
from piaowu.checkin import repository as repo
from piaowu.checkin.models import Scan
from piaowu.checkin.rules import (
    EntitlementFacts,
    Mode,
    ScanResult,
    TicketFacts,
    Verdict,
    Window,
    admission_window,
    replaced_verdict,
    verdict,
)
from piaowu.checkin.schemas import CheckinStats, PreviousEntry, ScanIn, ScanOut, ScanRecord, TicketSummary
from piaowu.core.actor import Actor
from piaowu.core.clock import ensure_utc
from piaowu.core.errors import InvalidTicket
from piaowu.db.uow import UnitOfWork
from piaowu.organizers import service as organizers
from piaowu.tickets import service as tickets
from piaowu.tickets import signing
from piaowu.tickets.grant_rules import local_day
from piaowu.tickets.schemas import EntitlementView, GateView, TicketSeat

# Refusals that name the last use of the entitlement judged.
_WITH_PREVIOUS = (ScanResult.ALREADY_CHECKED_IN, ScanResult.DAYS_USED_UP)


def _window(label: SessionLabel | None, valid_from: datetime, valid_until: datetime) -> Window:
    """The live session decides the window (a rescheduled show moves its gates with it); the window fixed at
    issue is what offline gates use, and the fallback if the session is gone."""
    if label is None:
        return Window(valid_from, valid_until)
    return admission_window(label.starts_at, label.ends_at, label.admission_opens_minutes)


def _entitlement_facts(e: EntitlementView, labels: dict[str, SessionLabel]) -> EntitlementFacts:
    label = labels.get(e.session_id) if e.session_id else None
    return EntitlementFacts(
        e.position,
        e.session_id,
        e.event_id,
        e.mode,
        e.allowed,
        e.used,
        _window(label, e.valid_from, e.valid_until),
        frozenset(e.days_used),
        e.last_entry_at,
        e.last_gate,
        label is not None and label.status == SessionStatus.CANCELLED,
    )


def _facts(t: GateView, labels: dict[str, SessionLabel]) -> TicketFacts:
    label = labels.get(t.session_id)
    cancelled = label is not None and label.status == SessionStatus.CANCELLED
    return TicketFacts(
        t.status,
        t.session_id,
        t.entries_allowed,
        t.entries_used,
        t.last_entry_at,
        t.last_gate,
        cancelled,
        tuple(_entitlement_facts(e, labels) for e in t.entitlements),
    )


def _at(t: GateView, position: int | None) -> EntitlementView | None:
    return next((e for e in t.entitlements if e.position == position), None) if position is not None else None


async def _find(uow: UnitOfWork, organizer_id: str, raw: str) -> tuple[GateView | None, GateView | None]:
    """(the organizer's ticket this scan names, or None; the ticket it names by a code replaced since, or None).
    A bad signature and an unknown code look the same."""
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
        return None, None
    found = await tickets.load_for_gate(uow, organizer_id, code)
    if found is not None:
        return found, None
    return None, await tickets.replaced_by(uow, organizer_id, code)


async def scan(uow: UnitOfWork, actor: Actor, cmd: ScanIn) -> ScanOut:
    """Judges one scan and, when it admits, uses the entitlement the gate covers (the first usable one, in the
    ticket's order). Rejections are answers, not errors: the result says why (``checkin.rules.ScanResult``)."""
    actor.require(Permission.CHECKIN)
    org = actor.organizer_id
    now = uow.now()
    gate = cmd.gate.strip()[:64] or "main"
    ticket, replaced = await _find(uow, org, cmd.raw)
    labels: dict[str, SessionLabel] = {}
    reentry = False
    if replaced is not None:
        v = replaced_verdict()
    elif ticket is not None:
        wanted = {ticket.session_id, *cmd.session_ids} | {e.session_id for e in ticket.entitlements if e.session_id}
        labels = await catalog_views.session_labels(uow, org, sorted(wanted))
        gate_events = {labels[s].event_id for s in cmd.session_ids if s in labels}
        home = labels.get(ticket.session_id)
        window = _window(home, ticket.valid_from, ticket.valid_until)
        day = ""
        if any(e.mode == Mode.DAYS for e in ticket.entitlements):
            day = local_day(now, (await organizers.get_organizer(uow, org)).timezone).isoformat()

        def judge(t: GateView) -> Verdict:
            return verdict(_facts(t, labels), cmd.session_ids, now, window, expected_event_ids=gate_events, day=day)

        v = judge(ticket)
        chosen = _at(ticket, v.position)
        if v.admitted and chosen is None:  # a ticket without entitlement rows: none since migration 0009
            v = Verdict(ScanResult.INVALID_TICKET)
        elif v.admitted and chosen is not None:
            done = await tickets.redeem(uow, ticket, chosen, day, gate)
            fresh = await tickets.gate_view(uow, org, ticket.id)
            ticket = fresh or ticket
            if done is not None:
                reentry = not done.consumed
            else:
                # Lost a race (another gate, the same second) or voided meanwhile: judge the row as it is now.
                v = judge(ticket)
                if v.admitted:
                    e = _at(ticket, v.position)
                    used_up = ScanResult.DAYS_USED_UP if e and e.mode == Mode.DAYS else ScanResult.ALREADY_CHECKED_IN
                    v = Verdict(used_up, e.last_entry_at if e else None, e.last_gate if e else "", position=v.position)
    else:
        v = verdict(None, cmd.session_ids, now, Window(now, now))
    judged = _at(ticket, v.position) if ticket is not None else None
    uow.session.add(
        Scan(
            organizer_id=org,
            ticket_id=ticket.id if ticket else replaced.id if replaced else None,
            session_id=(judged.session_id if judged and judged.session_id else ticket.session_id)
            if ticket
            else replaced.session_id
            if replaced
            else None,
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
        label = labels.get(ticket.session_id)
        summary = TicketSummary(
            code=ticket.code,
            session_id=ticket.session_id,
            event_name=label.event_name if label else "",
            session_name=label.name if label else "",
            starts_at=label.starts_at if label else None,
            ticket_type_name=ticket.ticket_type_name,
            holder_name=ticket.holder_name,
            seat=TicketSeat.of(ticket.seat),
            entries_allowed=ticket.entries_allowed,
            entries_used=ticket.entries_used,
            entitlements=[tickets.entitlement_out(e) for e in ticket.entitlements],
        )
    return ScanOut(
        result=v.result,
        admitted=v.admitted,
        message_key=v.message,
        message=v.message,
        scanned_at=now,
        gate=gate,
        ticket=summary,
        previous=PreviousEntry(at=v.previous_at, gate=v.previous_gate) if v.result in _WITH_PREVIOUS else None,
        opens_at=v.opens_at,
        entitlement=v.position if judged is not None else None,
        reentry=reentry,
        # Only the seat: the ticket's new code is the holder's to show, not the old paper's to learn.
        new_seat=TicketSeat.of(replaced.seat) if replaced is not None else None,
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
            # A replaced code's scan names no code: the ticket's code now is the holder's new one, not the one scanned.
            ticket_code=codes.get(r.ticket_id) if r.ticket_id and r.result != ScanResult.REPLACED else None,
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
