"""Write audit events in the caller's transaction. The log is append-only: nothing here updates or deletes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table

from piaowu.audit.models import AuditEvent
from piaowu.core.actor import Actor
from piaowu.core.ids import new_id
from piaowu.db.uow import UnitOfWork


def record(
    uow: UnitOfWork,
    actor: Actor,
    action: str,
    subject_type: str,
    subject_id: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    _, (row,) = as_row(uow, actor, action, subject_type, subject_id, before=before, after=after)
    uow.session.add(AuditEvent(**row))


def as_row(
    uow: UnitOfWork,
    actor: Actor,
    action: str,
    subject_type: str,
    subject_id: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> tuple[Table, list[dict[str, Any]]]:
    """The same event as a plain row, for a caller that inserts it inside a larger statement (the hot path)."""
    return AuditEvent.__table__, [
        {
            "id": new_id(),
            "organizer_id": actor.organizer_id,
            "actor": actor.ref,
            "action": action,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "before": before,
            "after": after,
            "at": uow.now(),
        }
    ]
