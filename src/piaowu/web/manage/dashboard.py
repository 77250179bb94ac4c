"""The back office's first screen: today's sales and admissions, and the load of the next sessions."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from piaowu.accounts.permissions import Permission
from piaowu.reports import service as reports
from piaowu.web.deps import RuntimeDep, StaffDep
from piaowu.web.manage.common import page


async def dashboard(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    sees_sales = actor.can(Permission.REPORTS) or actor.can(Permission.ORDER_READ)
    if not sees_sales and actor.can(Permission.CHECKIN):
        return await page(request, rt, actor, "manage/gate_only.html", active="dashboard")
    async with rt.uow(readonly=True) as uow:
        board = await reports.dashboard(uow, actor)
    return await page(request, rt, actor, "manage/dashboard.html", {"board": board}, active="dashboard")
