"""Back office: payment reconciliation for finance — the mismatches between the providers' records and ours
(and what was done about each), the daily summary, and a button to run reconciliation now. An open item about a
refund still owed offers the order page's *Retry refund* for each refund a retry would pay."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from piaowu.accounts.permissions import Permission
from piaowu.payments import reconciliation as recon
from piaowu.payments import service as payments
from piaowu.payments.reconcile_rules import Mismatch, Outcome
from piaowu.web.deps import RuntimeDep, StaffDep
from piaowu.web.manage.common import organizer_tz, page, read_form, redirect, translator
from piaowu.web.manage.filters import QueryCheck
from piaowu.web.templating import flash
from piaowu.workers.reconcile import reconcile_payments

router = APIRouter()

PATH = "/manage/payments/reconciliation"
PAGE = "manage/reconciliation.html"
DAYS = (7, 30, 90)
SHOW = ("mismatches", "open")
BAD_PERIOD = "Choose one of the periods offered."


@router.get("/payments/reconciliation")
async def reconciliation_page(
    request: Request, rt: RuntimeDep, actor: StaffDep, days: str = "", show: str = ""
) -> Response:
    actor.require(Permission.REPORTS)
    # Text, checked here: a period or a view the page does not offer is named inline, not replaced by another.
    check = QueryCheck(request)
    period = check.one_of("days", days, [str(d) for d in DAYS], BAD_PERIOD)
    show = check.one_of("show", show, SHOW) or SHOW[0]
    ctx: dict[str, Any] = {
        "rows": [],
        "summary": [],
        "days": int(period or DAYS[0]),
        "day_choices": DAYS,
        "show": show,
        "errors": check.errors,
        "retry": {},
    }
    if check.errors:
        return await page(request, rt, actor, PAGE, ctx, active="reconciliation", status_code=422)
    tz = await organizer_tz(rt, actor)
    since = (rt.clock.now().astimezone(ZoneInfo(tz)) - timedelta(days=ctx["days"] - 1)).date()
    async with rt.uow(readonly=True) as uow:
        rows = await recon.findings(uow, actor, since=since)
        summary = await recon.daily_summary(uow, actor, since=since)
        owed = await payments.owed_refunds(uow, actor.organizer_id, payment_ids=_owing(rows))
    if show == "open":
        rows = [r for r in rows if r.outcome == "open"]
    # As they stand now (the row says what the last check found): each offered once, on its payment's newest row.
    retry: dict[tuple[date, str], list[payments.RefundInfo]] = {}
    for row in rows:
        mine = [r for r in owed if r.payment_id == row.payment_id]
        if mine and row.payment_id not in {k[1] for k in retry}:
            retry[(row.day, row.payment_id)] = mine
    ctx.update(rows=rows, summary=summary, retry=retry)
    return await page(request, rt, actor, PAGE, ctx, active="reconciliation")


def _owing(rows: list[recon.ReconciliationRow]) -> list[str]:
    """The payments of open items about a refund still owed (failed, or pending too long)."""
    refund_mismatches = (Mismatch.REFUND_FAILED, Mismatch.REFUND_PENDING)
    return list({r.payment_id: None for r in rows if r.outcome == Outcome.OPEN and r.mismatch in refund_mismatches})


@router.post("/payments/reconciliation/run")
async def run_now(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    """Finance asks for a run now (it also runs by itself every few minutes). Safe to press twice."""
    actor.require(Permission.REPORTS)
    await read_form(request)
    run = await reconcile_payments(rt)
    _ = translator(request)
    flash(
        request,
        _.ngettext(
            "Reconciliation checked {checked} payment: {fixed} fixed, {open} open.",
            "Reconciliation checked {checked} payments: {fixed} fixed, {open} open.",
            run.checked,
            checked=run.checked,
            fixed=run.fixed,
            open=run.outcomes["open"],
        ),
        "error" if run.outcomes["open"] or run.outcomes["error"] else "success",
    )
    return redirect(PATH)
