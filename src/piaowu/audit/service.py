"""Reading the audit log (writing is ``recorder.record``, inside each use case's transaction)."""

from __future__ import annotations

from sqlalchemy import select

from piaowu.audit.models import AuditEvent
from piaowu.core.actor import Actor
from piaowu.db.pagination import Page, paginate
from piaowu.db.uow import UnitOfWork

AUDIT_READ = "audit.read"  # accounts.permissions.Permission.AUDIT_READ (audit imports only core and db)


async def list_events(
    uow: UnitOfWork,
    actor: Actor,
    *,
    subject_type: str | None = None,
    subject_id: str | None = None,
    action: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[AuditEvent]:
    """Newest first, scoped to the actor's organizer."""
    actor.require(AUDIT_READ)
    stmt = select(AuditEvent).where(AuditEvent.organizer_id == actor.organizer_id)
    if subject_type:
        stmt = stmt.where(AuditEvent.subject_type == subject_type)
    if subject_id:
        stmt = stmt.where(AuditEvent.subject_id == subject_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return await paginate(uow.session, stmt, AuditEvent, cursor, limit, time_attr="at")
