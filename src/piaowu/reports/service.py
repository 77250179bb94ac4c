"""Back-office reports (read only): today's sales and admissions, capacity of what is coming up, audit trails.

"Today" is the organizer's calendar day in its own time zone (Asia/Shanghai by default), not UTC's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from piaowu.accounts.permissions import Permission
from piaowu.core.actor import Actor
from piaowu.core.errors import PermissionDenied
from piaowu.db.uow import UnitOfWork
from piaowu.organizers import service as organizers
from piaowu.reports import queries
from piaowu.reports.queries import AuditEntry, SalesFigures, SessionLoad


@dataclass(frozen=True)
class Dashboard:
    day_start: datetime  # the organizer's midnight, in UTC
    timezone: str
    currency: str
    sales: SalesFigures
    admitted: int
    upcoming: list[SessionLoad]


def day_bounds(now: datetime, tz: str) -> tuple[datetime, datetime]:
    """[local midnight, next local midnight) of ``now``'s day in ``tz``, as UTC instants (DST-safe)."""
    zone = ZoneInfo(tz)
    local_day = now.astimezone(zone).date()
    start = datetime.combine(local_day, time.min, tzinfo=zone)
    end = datetime.combine(local_day + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _require_any(actor: Actor, *permissions: Permission) -> None:
    if not any(actor.can(p) for p in permissions):
        raise PermissionDenied(permission=str(permissions[0]))


async def dashboard(uow: UnitOfWork, actor: Actor, *, upcoming_limit: int = 8) -> Dashboard:
    """Today's paid orders, tickets, takings and refunds, today's admissions, and the next sessions' load."""
    _require_any(actor, Permission.REPORTS, Permission.ORDER_READ)
    org = await organizers.get_organizer(uow, actor.organizer_id)
    now = uow.now()
    start, end = day_bounds(now, org.timezone)
    s = uow.session
    return Dashboard(
        day_start=start,
        timezone=org.timezone,
        currency=org.currency,
        sales=await queries.sales_between(s, actor.organizer_id, start, end),
        admitted=await queries.admissions_between(s, actor.organizer_id, start, end),
        upcoming=await queries.upcoming_sessions(s, actor.organizer_id, now, upcoming_limit),
    )


async def order_audit(uow: UnitOfWork, actor: Actor, order_id: str) -> list[AuditEntry]:
    """The audit trail of one order of the actor's organizer (empty for an order of another organizer)."""
    _require_any(actor, Permission.ORDER_READ, Permission.AUDIT_READ)
    return await queries.order_audit(uow.session, actor.organizer_id, order_id)
