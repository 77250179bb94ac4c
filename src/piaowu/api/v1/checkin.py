"""Check-in at the gates: scan a ticket, recent scans, counts.

A scan always answers ``200`` with a verdict when it could be judged: rejections (``already_checked_in``,
``wrong_session``, ``not_yet_valid``, ``expired``, ``invalid_ticket``, ``refunded``, ``voided``) are results,
not errors, and each is recorded. Another organizer's ticket is ``invalid_ticket`` with no details."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from piaowu.api.deps import ActorDep, RuntimeDep
from piaowu.api.errors import request_locale
from piaowu.checkin import service as checkin
from piaowu.checkin.schemas import CheckinStats, ScanIn, ScanOut, ScanRecord
from piaowu.fields import Moment
from piaowu.i18n import gettext

router = APIRouter()

AUTH = {401: {"description": "`not_authenticated`"}, 403: {"description": "`permission_denied` (needs checkin.scan)"}}


@router.post(
    "/checkin/scan",
    response_model=ScanOut,
    summary="Scan a ticket at a gate",
    responses={
        **AUTH,
        422: {"description": "`validation_error`: empty or over-long `raw`, bad `gate`"},
        503: {"description": "`busy`: the database lock was not granted in time; retry (Retry-After)"},
    },
)
async def scan(request: Request, rt: RuntimeDep, actor: ActorDep, data: ScanIn) -> ScanOut:
    """Judges a scanned QR payload (`PW2.…`, or `PW1.…` of tickets issued before passes) or a typed ticket
    code and, if it admits, uses one entry of the ticket atomically: scanned at two gates at once, a ticket is
    admitted once. `result` is one of `admitted`, `already_checked_in` (with `previous.at` and `previous.gate`),
    `wrong_session`, `not_yet_valid` (with `opens_at`), `expired`, `invalid_ticket`, `refunded`, `voided`;
    `message` is the sentence to show, in the request's language (Accept-Language)."""
    async with rt.uow() as uow:
        out = await checkin.scan(uow, actor, data)
        await uow.commit()
    out.message = gettext(request_locale(request), out.message_key)
    return out


@router.get("/checkin/scans", response_model=list[ScanRecord], summary="Recent scans, newest first", responses=AUTH)
async def recent_scans(
    rt: RuntimeDep,
    actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    gate: Annotated[str | None, Query(max_length=64, description="only this gate's scans")] = None,
) -> list[ScanRecord]:
    async with rt.uow(readonly=True) as uow:
        return await checkin.recent_scans(uow, actor, limit, gate)


@router.get("/checkin/stats", response_model=CheckinStats, summary="Tickets and check-ins", responses=AUTH)
async def stats(
    rt: RuntimeDep,
    actor: ActorDep,
    session_id: Annotated[list[str], Query(max_length=50, description="repeat for several; none = all")] = [],  # noqa: B006
    since: Annotated[Moment | None, Query(description="count scans from this moment (ISO 8601, with offset)")] = None,
) -> CheckinStats:
    """Valid tickets and how many were used, for the given sessions; admitted and rejected scans (since
    `since`, e.g. local midnight for "today's check-ins")."""
    async with rt.uow(readonly=True) as uow:
        return await checkin.counts(uow, actor, session_id, since)
