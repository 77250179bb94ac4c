"""The audit log: who changed what, when (append-only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from piaowu.api.deps import ActorDep, RuntimeDep
from piaowu.audit import service as audit

router = APIRouter()


# Every kind of thing the audit trail records (``record(..., subject_type, ...)`` in the services): a filter with
# any other value is a typo, answered 422 rather than an empty list.
SubjectType = Literal[
    "api_token",
    "event",
    "order",
    "organizer",
    "payment",
    "refund",
    "session",
    "staff",
    "ticket",
    "ticket_type",
    "venue",
    "event_ticket_type",
]


class AuditEventOut(BaseModel):
    id: str
    actor: str
    action: str
    subject_type: str
    subject_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    at: datetime


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None


@router.get("/audit-events", response_model=AuditPage, summary="Audit events, newest first")
async def list_audit(
    rt: RuntimeDep,
    actor: ActorDep,
    subject_type: Annotated[SubjectType | None, Query(description="only events about this kind of thing")] = None,
    subject_id: str | None = None,
    action: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditPage:
    async with rt.uow(readonly=True) as uow:
        page = await audit.list_events(
            uow, actor, subject_type=subject_type, subject_id=subject_id, action=action, cursor=cursor, limit=limit
        )
        return AuditPage(
            items=[
                AuditEventOut(
                    id=e.id,
                    actor=e.actor,
                    action=e.action,
                    subject_type=e.subject_type,
                    subject_id=e.subject_id,
                    before=e.before,
                    after=e.after,
                    at=e.at,
                )
                for e in page.items
            ],
            next_cursor=page.next_cursor,
        )
