"""Session use cases: a session (场次) and its capacity pool are made, edited and cancelled here."""

from __future__ import annotations

from collections.abc import Sequence

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.catalog import repository as repo
from piaowu.catalog import views
from piaowu.catalog.models import Event, Session
from piaowu.catalog.rules import (
    TRANSITIONS,
    SessionStatus,
    check_transition,
    has_ended,
    pool_label,
    validate_session_times,
)
from piaowu.catalog.schemas import SessionIn, SessionOut, SessionPatch
from piaowu.catalog.text_edits import default_locale, set_texts
from piaowu.core.actor import Actor
from piaowu.core.errors import InvalidState, SessionEnded, ValidationFailed
from piaowu.db.uow import UnitOfWork
from piaowu.inventory import service as inventory

SESSION_FIELDS = (
    "name",
    "name_i18n",
    "starts_at",
    "ends_at",
    "sales_start",
    "sales_end",
    "status",
    "capacity",
    "admission_opens_minutes",
)


async def create_session(uow: UnitOfWork, actor: Actor, event_id: str, data: SessionIn) -> SessionOut:
    """Creates a session and its capacity pool in one transaction."""
    actor.require(Permission.CATALOG_WRITE)
    ev = await views.event_or_404(uow, actor.organizer_id, event_id)
    s = await add_session(uow, actor, ev, data)
    return (await views.sessions_out(uow, actor.organizer_id, [s]))[0]


async def add_session(uow: UnitOfWork, actor: Actor, ev: Event, data: SessionIn) -> Session:
    """The row and pool of a new session of ``ev`` (checked, audited); one session or each of a series."""
    errors = validate_session_times(data.starts_at, data.ends_at, data.sales_start, data.sales_end)
    if errors:
        raise ValidationFailed(errors)
    status = check_transition(SessionStatus.DRAFT, data.status)
    pool_id = await inventory.create_pool(
        uow, actor.organizer_id, kind="session", capacity=data.capacity, label=pool_label(ev.name, data.name)
    )
    s = Session(
        organizer_id=actor.organizer_id,
        event_id=ev.id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        sales_start=data.sales_start,
        sales_end=data.sales_end,
        status=status,
        capacity=data.capacity,
        pool_id=pool_id,
        admission_opens_minutes=data.admission_opens_minutes,
        created_at=uow.now(),
    )
    set_texts(s, "name", data.name.strip(), data.name_i18n, await default_locale(uow, actor.organizer_id))
    uow.session.add(s)
    await uow.session.flush()
    record(uow, actor, "session.created", "session", s.id, after=views.snapshot(s, SESSION_FIELDS))
    return s


async def get_session(uow: UnitOfWork, actor: Actor, session_id: str) -> SessionOut:
    actor.require(Permission.CATALOG_READ)
    return (
        await views.sessions_out(
            uow, actor.organizer_id, [await views.session_or_404(uow, actor.organizer_id, session_id)]
        )
    )[0]


async def update_session(uow: UnitOfWork, actor: Actor, session_id: str, data: SessionPatch) -> SessionOut:
    """Edits times, capacity (never below what is held or sold) and status (along allowed transitions)."""
    actor.require(Permission.CATALOG_WRITE)
    s = await views.session_or_404(uow, actor.organizer_id, session_id)
    before = views.snapshot(s, SESSION_FIELDS)
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes or "name_i18n" in changes:
        default = await default_locale(uow, actor.organizer_id)
        set_texts(s, "name", changes.pop("name", None), changes.pop("name_i18n", None), default)
    if changes.get("status") is not None:
        target = check_transition(s.status, changes.pop("status"))
        if target == SessionStatus.CANCELLED and s.status != SessionStatus.CANCELLED:
            # Cancelling also cancels and refunds the session's orders: only orders.session_cancel does that.
            raise ValidationFailed(
                [
                    {
                        "field": "status",
                        "code": "use_cancel",
                        "message": "A session is cancelled with its own action, which also cancels and refunds "
                        "its orders.",
                    }
                ]
            )
        s.status = target
    changes.pop("status", None)
    if changes.get("capacity") is not None:
        await inventory.set_capacity(uow, actor.organizer_id, s.pool_id, changes["capacity"])
    for key, value in changes.items():
        if value is not None or key in ("sales_start", "sales_end"):
            setattr(s, key, value)
    errors = validate_session_times(s.starts_at, s.ends_at, s.sales_start, s.sales_end)
    if errors:
        raise ValidationFailed(errors)
    record(uow, actor, "session.updated", "session", s.id, before=before, after=views.snapshot(s, SESSION_FIELDS))
    await uow.session.flush()
    return (await views.sessions_out(uow, actor.organizer_id, [s]))[0]


async def cancel_session(uow: UnitOfWork, actor: Actor, session_id: str) -> SessionOut:
    """The status flip of a cancellation, and only that: from now on the session sells nothing (its offers are
    ``unavailable``), payments for its orders are refused and gates answer ``session_cancelled``. Call it through
    ``orders.session_cancel.cancel_session``, which starts the job that cancels and refunds its orders in the
    same transaction. Raises InvalidState when the session is already cancelled, SessionEnded when it has ended."""
    actor.require(Permission.CATALOG_WRITE)
    s = await views.session_or_404(uow, actor.organizer_id, session_id)
    check_transition(s.status, SessionStatus.CANCELLED)
    if has_ended(s.ends_at, uow.now()):
        raise SessionEnded()
    before = s.status
    sources = [str(x) for x, targets in TRANSITIONS.items() if SessionStatus.CANCELLED in targets]
    # Conditional, so two operators cancelling at once start one job, not two.
    if not await repo.set_status_from(uow.session, actor.organizer_id, s.id, sources, SessionStatus.CANCELLED):
        raise InvalidState(state=str(SessionStatus.CANCELLED))
    await uow.session.refresh(s)
    record(uow, actor, "session.cancelled", "session", s.id, before={"status": before}, after={"status": s.status})
    return (await views.sessions_out(uow, actor.organizer_id, [s]))[0]


async def cancelled_among(uow: UnitOfWork, organizer_id: str, session_ids: Sequence[str]) -> set[str]:
    """Which of these sessions are cancelled (nothing may be sold, paid for or revived for them)."""
    return await repo.cancelled_among(uow.session, organizer_id, list(set(session_ids)))
