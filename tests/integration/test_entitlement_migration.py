"""Migration 0009 carries every existing ticket forward (SQLite and PostgreSQL): a database filled by the
previous version (0007: an organizer, an event, a session, an order with two lines, two tickets — one unused,
one multi-entry ticket partly used) is upgraded, and each ticket has exactly its one session entitlement with
its entries allowed and used, its window and its last entry; down and up again keep it so."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from piaowu.db.migrate import downgrade, upgrade
from piaowu.db.types import UTCDateTime

T0 = datetime(2026, 5, 1, 11, 0, tzinfo=UTC)
WHEN = {"created_at", "starts_at", "ends_at", "valid_from", "valid_until", "issued_at", "last_entry_at", "paid_at"}


@pytest.fixture
def old_url(empty_url: str) -> str:
    """An empty database migrated to 0007, the version before this change."""
    upgrade(empty_url, "0007")
    return empty_url


def _table(name: str, row: dict) -> sa.TableClause:
    """A table of that version, typed just enough for the values we write (times through UTCDateTime)."""
    return sa.table(name, *(sa.column(c, UTCDateTime() if c in WHEN else None) for c in row))


ORG, EVENT, SESSION, POOL, TYPE, ORDER = (f"01old{x}" + "0" * 20 for x in "oespty")
LINES = ["01oldl10000000000000000000", "01oldl20000000000000000000"]
TICKETS = ["01oldk10000000000000000000", "01oldk20000000000000000000"]

ROWS: list[tuple[str, dict]] = [
    (
        "organizers",
        {
            "id": ORG,
            "slug": "old-park",
            "name": "Old Park",
            "timezone": "Asia/Shanghai",
            "currency": "CNY",
            "signing_key_encrypted": "x",
            "public_key": "y",
            "created_at": T0,
        },
    ),
    (
        "inventory_pools",
        {
            "id": POOL,
            "organizer_id": ORG,
            "kind": "session",
            "label": "p",
            "capacity": 10,
            "held": 0,
            "sold": 2,
            "allowance": 0,
            "created_at": T0,
        },
    ),
    (
        "events",
        {
            "id": EVENT,
            "organizer_id": ORG,
            "kind": "attraction",
            "name": "古镇 Old Town",
            "description": "",
            "is_published": True,
            "created_at": T0,
        },
    ),
    (
        "sessions",
        {
            "id": SESSION,
            "organizer_id": ORG,
            "event_id": EVENT,
            "name": "Day",
            "starts_at": T0 + timedelta(days=1),
            "ends_at": T0 + timedelta(days=1, hours=8),
            "status": "on_sale",
            "capacity": 10,
            "pool_id": POOL,
            "admission_opens_minutes": 60,
            "created_at": T0,
        },
    ),
    (
        "ticket_types",
        {
            "id": TYPE,
            "organizer_id": ORG,
            "session_id": SESSION,
            "name": "成人 Adult",
            "description": "",
            "price_minor": 5000,
            "currency": "CNY",
            "min_per_order": 1,
            "max_per_order": 10,
            "sort_order": 0,
            "is_active": True,
            "created_at": T0,
        },
    ),
    (
        "orders",
        {
            "id": ORDER,
            "organizer_id": ORG,
            "code": "OLD12345",
            "status": "paid",
            "channel": "box_office",
            "buyer_name": "张三",
            "buyer_phone": "+8613812345678",
            "buyer_email": "",
            "total_minor": 10000,
            "paid_minor": 10000,
            "refunded_minor": 0,
            "currency": "CNY",
            "created_by": "test",
            "locale": "zh-CN",
            "created_at": T0,
        },
    ),
    *(
        (
            "order_lines",
            {
                "id": line,
                "order_id": ORDER,
                "organizer_id": ORG,
                "session_id": SESSION,
                "ticket_type_id": TYPE,
                "ticket_type_name": "成人 Adult",
                "price_minor": 5000,
                "holder_name": "",
                "pool_ids": POOL,
                "status": "active",
            },
        )
        for line in LINES
    ),
    *(
        (
            "tickets",
            {
                "id": tid,
                "organizer_id": ORG,
                "order_id": ORDER,
                "order_line_id": line,
                "session_id": SESSION,
                "code": f"OLDTICKET{i}",
                "status": "valid",
                "entries_allowed": allowed,
                "entries_used": used,
                "valid_from": T0 + timedelta(hours=23),
                "valid_until": T0 + timedelta(days=1, hours=8),
                "issued_at": T0,
                "last_entry_at": last,
                "last_gate": gate,
                "qr_payload": "PW1.x.y",
                "ticket_type_name": "成人 Adult",
                "holder_name": "",
            },
        )
        for i, (tid, line, allowed, used, last, gate) in enumerate(
            [
                (TICKETS[0], LINES[0], 1, 0, None, ""),
                (TICKETS[1], LINES[1], 3, 2, T0 + timedelta(days=1, hours=2), "East"),
            ]
        )
    ),
]

ENT_COLUMNS = (
    "id",
    "ticket_id",
    "organizer_id",
    "position",
    "session_id",
    "event_id",
    "label",
    "mode",
    "allowed",
    "used",
    "valid_from",
    "valid_until",
    "days_used",
    "last_entry_at",
    "last_gate",
)


async def _run(url: str, work):  # noqa: ANN001, ANN202
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            return await work(conn)
    finally:
        await engine.dispose()


async def _fill(conn) -> None:  # noqa: ANN001
    for name, row in ROWS:
        await conn.execute(sa.insert(_table(name, row)).values(**row))


async def _entitlements(conn) -> list[tuple]:  # noqa: ANN001
    t = sa.table("ticket_entitlements", *(sa.column(c, UTCDateTime() if c in WHEN else None) for c in ENT_COLUMNS))
    return [tuple(r) for r in (await conn.execute(sa.select(t).order_by(t.c.id))).all()]


def test_every_ticket_gets_its_session_entitlement(old_url: str) -> None:
    asyncio.run(_run(old_url, _fill))
    upgrade(old_url)
    until = T0 + timedelta(days=1, hours=8)
    expected = [
        (
            TICKETS[0],
            TICKETS[0],
            ORG,
            0,
            SESSION,
            None,
            "古镇 Old Town · Day",
            "entries",
            1,
            0,
            T0 + timedelta(hours=23),
            until,
            "",
            None,
            "",
        ),
        (
            TICKETS[1],
            TICKETS[1],
            ORG,
            0,
            SESSION,
            None,
            "古镇 Old Town · Day",
            "entries",
            3,
            2,
            T0 + timedelta(hours=23),
            until,
            "",
            T0 + timedelta(days=1, hours=2),
            "East",
        ),
    ]
    assert asyncio.run(_run(old_url, _entitlements)) == expected
    downgrade(old_url, "0007")  # the tickets keep their columns: going back loses nothing of a one-session ticket
    upgrade(old_url)
    assert asyncio.run(_run(old_url, _entitlements)) == expected
