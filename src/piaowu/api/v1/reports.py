"""Read-only figures for the back office and finance."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from piaowu.api.deps import ActorDep, RuntimeDep
from piaowu.reports import service as reports

router = APIRouter()


@router.get("/reports/today", summary="Today's sales, refunds, admissions and the next sessions' load")
async def today(rt: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    """ "Today" is the organizer's calendar day in its own time zone."""
    async with rt.uow(readonly=True) as uow:
        return asdict(await reports.dashboard(uow, actor))
