"""Migration 0008 on a database filled by the previous version: every order line's ``pool_ids`` becomes holdings
rows, a refund of such a migrated order gives its units back to the right pools, and a downgrade restores
``pool_ids`` as it was. On SQLite and PostgreSQL (``empty_url``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from piaowu.core.actor import system_actor
from piaowu.core.clock import FrozenClock
from piaowu.core.ids import new_id
from piaowu.db.migrate import downgrade, upgrade
from piaowu.inventory.models import Pool
from piaowu.orders.refunds import refund_order
from piaowu.orders.schemas import RefundIn
from piaowu.runtime import build_runtime
from tests.conftest import make_settings

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


async def _run(url: str, work: Any) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(work)
    finally:
        await engine.dispose()


def _fill_at_0007(conn: sa.Connection) -> dict[str, Any]:
    """An organizer with one paid order of three tickets as 0007 wrote them: two lines of a ticket type with a
    quota (session pool + quota pool), one of a type without (session pool only), and a line whose pool_ids is
    empty (rows written before pools were recorded)."""
    meta = sa.MetaData()
    meta.reflect(conn)
    t = meta.tables
    org, session_pool, quota_pool, other_pool = new_id(), new_id(), new_id(), new_id()
    event, session, tt_quota, tt_plain, order, hold = (new_id() for _ in range(6))
    lines = [new_id() for _ in range(4)]
    ins = conn.execute
    ins(
        t["organizers"].insert(),
        [
            {
                "id": org,
                "slug": "mig-" + org[-8:],
                "name": "Org",
                "timezone": "Asia/Shanghai",
                "currency": "CNY",
                "signing_key_encrypted": "x",
                "public_key": "x",
                "created_at": NOW,
                "return_origins": [],
            }
        ],
    )
    ins(
        t["inventory_pools"].insert(),
        [
            {
                "id": pid,
                "organizer_id": org,
                "kind": kind,
                "label": kind,
                "capacity": cap,
                "held": 0,
                "sold": sold,
                "allowance": 0,
                "created_at": NOW,
            }
            for pid, kind, cap, sold in (
                (session_pool, "session", 10, 3),
                (quota_pool, "ticket_type", 5, 2),
                (other_pool, "session", 10, 0),
            )
        ],
    )
    ins(
        t["events"].insert(),
        [
            {
                "id": event,
                "organizer_id": org,
                "kind": "concert",
                "name": "E",
                "description": "",
                "is_published": True,
                "created_at": NOW,
            }
        ],
    )
    ins(
        t["sessions"].insert(),
        [
            {
                "id": session,
                "organizer_id": org,
                "event_id": event,
                "name": "S",
                "starts_at": NOW + timedelta(days=7),
                "ends_at": NOW + timedelta(days=7, hours=2),
                "status": "scheduled",
                "capacity": 10,
                "pool_id": session_pool,
                "admission_opens_minutes": 60,
                "created_at": NOW,
            }
        ],
    )
    ins(
        t["ticket_types"].insert(),
        [
            {
                "id": tid,
                "organizer_id": org,
                "session_id": session,
                "name": name,
                "description": "",
                "price_minor": 10000,
                "currency": "CNY",
                "quota": quota,
                "pool_id": pool,
                "min_per_order": 1,
                "max_per_order": 10,
                "sort_order": 0,
                "is_active": True,
                "created_at": NOW,
                "sold": sold,
            }
            for tid, name, quota, pool, sold in ((tt_quota, "VIP", 5, quota_pool, 2), (tt_plain, "GA", None, None, 1))
        ],
    )
    ins(
        t["inventory_holds"].insert(),
        [
            {
                "id": hold,
                "organizer_id": org,
                "status": "converted",
                "expires_at": NOW,
                "closed_at": NOW,
                "owner_ref": f"order:{order}",
                "created_at": NOW,
            }
        ],
    )
    ins(
        t["orders"].insert(),
        [
            {
                "id": order,
                "organizer_id": org,
                "code": "MIG" + order[-5:].upper(),
                "status": "paid",
                "channel": "box_office",
                "buyer_name": "张三",
                "buyer_phone": "+8613812345678",
                "buyer_email": "",
                "total_minor": 40000,
                "paid_minor": 40000,
                "refunded_minor": 0,
                "currency": "CNY",
                "hold_id": hold,
                "paid_at": NOW,
                "created_by": "test",
                "locale": "zh_CN",
                "created_at": NOW,
            }
        ],
    )
    pools_of_line = [f"{session_pool} {quota_pool}", f"{session_pool} {quota_pool}", session_pool, ""]
    types_of_line = [tt_quota, tt_quota, tt_plain, tt_plain]
    ins(
        t["order_lines"].insert(),
        [
            {
                "id": lid,
                "order_id": order,
                "organizer_id": org,
                "session_id": session,
                "ticket_type_id": tid,
                "ticket_type_name": "T",
                "price_minor": 10000,
                "holder_name": "",
                "pool_ids": pools,
                "status": "active",
            }
            for lid, tid, pools in zip(lines, types_of_line, pools_of_line, strict=True)
        ],
    )
    ins(
        t["payments"].insert(),
        [
            {
                "id": new_id(),
                "organizer_id": org,
                "order_id": order,
                "provider": "cash",
                "status": "succeeded",
                "amount_minor": 40000,
                "refunded_minor": 0,
                "currency": "CNY",
                "redirect_url": "",
                "succeeded_at": NOW,
                "created_by": "test",
                "created_at": NOW,
            }
        ],
    )
    return {
        "org": org,
        "order": order,
        "lines": lines,
        "pools": (session_pool, quota_pool, other_pool),
        "pool_ids": dict(zip(lines, pools_of_line, strict=True)),
    }


def _holdings(conn: sa.Connection) -> dict[str, list[tuple[str | None, str | None, int, int]]]:
    out: dict[str, list[tuple[str | None, str | None, int, int]]] = {}
    rows = conn.execute(
        sa.text("SELECT line_id, pool_id, unit_id, quantity, mask FROM order_line_holdings ORDER BY line_id, id")
    )
    for line_id, pool_id, unit_id, quantity, mask in rows:
        out.setdefault(line_id, []).append((pool_id, unit_id, quantity, mask))
    return out


def _pool_ids(conn: sa.Connection) -> dict[str, str]:
    return dict(conn.execute(sa.text("SELECT id, pool_ids FROM order_lines")).all())  # type: ignore[arg-type]


async def _refund(url: str, tmp_path: Path, org: str, order: str, line_ids: list[str]) -> dict[str, tuple[int, int]]:
    rt = build_runtime(make_settings(tmp_path, url), clock=FrozenClock(NOW))
    try:
        async with rt.uow() as uow:
            await refund_order(uow, system_actor(org, "test"), order, RefundIn(line_ids=line_ids, reason="test"))
            await uow.commit()
        async with rt.uow(readonly=True) as uow:
            pools = (await uow.session.execute(sa.select(Pool).where(Pool.organizer_id == org))).scalars()
            return {p.id: (p.held, p.sold) for p in pools}
    finally:
        await rt.db.dispose()


def test_pool_ids_become_holdings_and_a_refund_of_a_migrated_order_returns_its_units(
    empty_url: str,
    tmp_path: Path,
) -> None:
    upgrade(empty_url, "0007")
    before = asyncio.run(_run(empty_url, _fill_at_0007))
    session_pool, quota_pool, other_pool = before["pools"]
    vip1, vip2, plain, empty = before["lines"]

    upgrade(empty_url)

    held = asyncio.run(_run(empty_url, _holdings))
    assert held == {
        vip1: [(session_pool, None, 1, 0), (quota_pool, None, 1, 0)],
        vip2: [(session_pool, None, 1, 0), (quota_pool, None, 1, 0)],
        plain: [(session_pool, None, 1, 0)],
    }, "every pool named in pool_ids is one row of quantity 1, in the order named; an empty pool_ids none"

    # A refund of the migrated order reads those rows: one VIP ticket gives one unit back to the session pool
    # and one to its quota pool; the plain ticket one to the session pool; the pool of another session is
    # untouched. (Before 0008 the same refund read pool_ids: lost rows would return nothing here.)
    pools = asyncio.run(_refund(empty_url, tmp_path, before["org"], before["order"], [vip1, plain, empty]))
    assert pools == {session_pool: (0, 1), quota_pool: (0, 1), other_pool: (0, 0)}

    downgrade(empty_url, "0007")
    assert asyncio.run(_run(empty_url, _pool_ids)) == before["pool_ids"]
    upgrade(empty_url)
    assert asyncio.run(_run(empty_url, _holdings)) == held, "up, down, up carries the rows through"
