"""Sessions in series: one rule makes many sessions of an event, each with the event's ticket types.

What generation guarantees:
- all or nothing: every new session (its capacity pool, its ticket types — one per active event-level
  definition, with the definition's price, limits and per-session quota — and their audit records) is written
  in the caller's one transaction; a rule over the cap (``TooManySessions``) or matching no day
  (``EmptySeries``) writes nothing;
- it only adds: a session is identified by (event, start moment), and the rule's moments the event already
  has a session at are left as they are — sold or not, edited or not. Running a rule again, or a longer rule
  over the same days, makes only the missing sessions. Editing a rule therefore never deletes or moves a sold
  session; a session that should no longer take place is cancelled on its own (with its refunds), as today;
- two generations for one event run one after the other (the event's row is locked), so racing operators
  cannot make one moment twice;
- ``dry_run`` reads only: the same list, nothing written (the page's preview).
"""

from __future__ import annotations

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.catalog import series_repository as srepo
from piaowu.catalog import views
from piaowu.catalog.event_ticket_type_service import as_ticket_type
from piaowu.catalog.schemas import SessionIn
from piaowu.catalog.series_rules import Recurrence, SalesWindow, missing, plan
from piaowu.catalog.series_schemas import SeriesIn, SeriesOut, SeriesSessionOut
from piaowu.catalog.session_service import add_session
from piaowu.catalog.ticket_type_service import add_ticket_type
from piaowu.core.actor import Actor
from piaowu.db.uow import UnitOfWork
from piaowu.organizers import service as organizers

LOCK_STRATEGY_KEY = "catalog.series_lock"


async def generate_series(uow: UnitOfWork, actor: Actor, event_id: str, data: SeriesIn) -> SeriesOut:
    """Makes the sessions of a rule that the event does not have yet (see the module for the guarantees)."""
    actor.require(Permission.CATALOG_WRITE)
    ev = await views.event_or_404(uow, actor.organizer_id, event_id)
    tz = data.timezone or (await organizers.get_organizer(uow, actor.organizer_id)).timezone
    rule = Recurrence(
        first_date=data.first_date,
        last_date=data.last_date,
        weekdays=frozenset(data.weekdays),
        start_times=tuple(data.start_times),
        duration_minutes=data.duration_minutes,
        timezone=tz,
        excluded_dates=frozenset(data.excluded_dates),
    )
    window = SalesWindow(data.sales_opens_days_before, data.sales_closes_minutes_before)
    planned = plan(rule, window)  # refuses before anything is read or written
    if not data.dry_run:
        # Injectable only so that the race test's control can run without it (tests/concurrency/naive.py).
        lock = uow.strategies.get(LOCK_STRATEGY_KEY, srepo.lock_event)
        await lock(uow.session, actor.organizer_id, ev.id)
    existing = await srepo.session_starts(uow.session, actor.organizer_id, ev.id)
    to_make = missing(planned, existing)
    definitions = [d for d in await srepo.definitions_of(uow.session, actor.organizer_id, ev.id) if d.is_active]
    made: dict[object, str] = {}
    if not data.dry_run:
        for p in to_make:
            s = await add_session(
                uow,
                actor,
                ev,
                SessionIn(
                    name=data.name,
                    starts_at=p.starts_at,
                    ends_at=p.ends_at,
                    sales_start=p.sales_start,
                    sales_end=p.sales_end,
                    capacity=data.capacity,
                    admission_opens_minutes=data.admission_opens_minutes,
                    status=data.status,
                ),
            )
            for d in definitions:
                await add_ticket_type(uow, actor, s, as_ticket_type(d), definition_id=d.id, currency=d.currency)
            made[p.starts_at] = s.id
        record(
            uow,
            actor,
            "event.series_generated",
            "event",
            ev.id,
            after={
                "rule": data.model_dump(mode="json", exclude={"dry_run"}) | {"timezone": tz},
                "planned": len(planned),
                "created": len(made),
                "session_ids": list(made.values()),
                "definition_ids": [d.id for d in definitions],
            },
        )
        await uow.session.flush()
    return SeriesOut(
        dry_run=data.dry_run,
        timezone=tz,
        planned=len(planned),
        created=len(made),
        existing=len(planned) - len(to_make),
        ticket_types=len(definitions),
        sessions=[
            SeriesSessionOut(
                starts_at=p.starts_at,
                ends_at=p.ends_at,
                sales_start=p.sales_start,
                sales_end=p.sales_end,
                exists=p.starts_at in existing,
                session_id=existing.get(p.starts_at) or made.get(p.starts_at),
            )
            for p in planned
        ],
    )
