"""Migration 0018 on SQLite and PostgreSQL (``empty_url``): an order line's one key to its ticket type, session and
organizer together refuses what the three single keys let through (a line of another session's or another
organizer's ticket type), and still refuses what they refused; the migration names the lines it cannot carry; the
two unread organizer indexes are gone and come back on the way down."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from piaowu.core.ids import new_id
from piaowu.db.migrate import downgrade, upgrade

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def _run(url: str, work: Any) -> Any:
    async def run() -> Any:
        engine = create_async_engine(url)
        if url.startswith("sqlite"):  # as the application's engine does (db/engine.py): SQLite checks keys only so

            @sa.event.listens_for(engine.sync_engine, "connect")
            def _keys_on(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

        try:
            async with engine.begin() as conn:
                return await conn.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _tables(conn: sa.Connection) -> dict[str, sa.Table]:
    meta = sa.MetaData()
    meta.reflect(conn)
    return meta.tables


def _rows(table: sa.Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with every other NOT NULL column of ``table`` (as reflected: no Python defaults) given a plain
    value of its type, so that the test names only the columns it is about."""
    filled = []
    for row in rows:
        full = dict(row)
        for col in table.c:
            if col.name in full or col.nullable or col.server_default is not None:
                continue
            kind = col.type.python_type if not isinstance(col.type, sa.JSON) else dict
            full[col.name] = {str: "", int: 0, bool: False, datetime: NOW, dict: {}}.get(kind, "")
        filled.append(full)
    return filled


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    conn.execute(table.insert(), _rows(table, rows))


def _fill(conn: sa.Connection) -> dict[str, str]:
    """Two organizers; the first with an event of two sessions, a ticket type of the first session and a pending
    order with a hold."""
    t = _tables(conn)
    ids = {k: new_id() for k in ("org", "other_org", "event", "s1", "s2", "pool1", "pool2", "tt", "hold", "order")}
    _insert(
        conn,
        t["organizers"],
        [
            {
                "id": ids[k],
                "slug": k.replace("_", "-") + ids[k][-6:],
                "name": k,
                "timezone": "Asia/Shanghai",
                "currency": "CNY",
                "signing_key_encrypted": "x",
                "public_key": "x",
                "created_at": NOW,
                "return_origins": [],
            }
            for k in ("org", "other_org")
        ],
    )
    _insert(
        conn,
        t["inventory_pools"],
        [
            {
                "id": ids[p],
                "organizer_id": ids["org"],
                "kind": "session",
                "label": p,
                "capacity": 10,
                "held": 0,
                "sold": 0,
                "allowance": 0,
                "created_at": NOW,
            }
            for p in ("pool1", "pool2")
        ],
    )
    _insert(
        conn,
        t["events"],
        [{"id": ids["event"], "organizer_id": ids["org"], "kind": "concert", "name": "E", "created_at": NOW}],
    )
    _insert(
        conn,
        t["sessions"],
        [
            {
                "id": ids[s],
                "organizer_id": ids["org"],
                "event_id": ids["event"],
                "name": s,
                "starts_at": NOW + timedelta(days=7),
                "ends_at": NOW + timedelta(days=7, hours=2),
                "status": "on_sale",
                "capacity": 10,
                "pool_id": ids[p],
                "created_at": NOW,
            }
            for s, p in (("s1", "pool1"), ("s2", "pool2"))
        ],
    )
    _insert(
        conn,
        t["ticket_types"],
        [
            {
                "id": ids["tt"],
                "organizer_id": ids["org"],
                "session_id": ids["s1"],
                "name": "GA",
                "price_minor": 10000,
                "currency": "CNY",
                "created_at": NOW,
            }
        ],
    )
    _insert(
        conn,
        t["inventory_holds"],
        [
            {
                "id": ids["hold"],
                "organizer_id": ids["org"],
                "status": "active",
                "expires_at": NOW + timedelta(minutes=15),
                "owner_ref": f"order:{ids['order']}",
                "created_at": NOW,
            }
        ],
    )
    _insert(
        conn,
        t["orders"],
        [
            {
                "id": ids["order"],
                "organizer_id": ids["org"],
                "code": "M18" + ids["order"][-5:].upper(),
                "status": "pending",
                "channel": "api",
                "buyer_name": "张三",
                "buyer_phone": "+8613812345678",
                "total_minor": 10000,
                "currency": "CNY",
                "hold_id": ids["hold"],
                "created_at": NOW,
            }
        ],
    )
    return ids


def _add_line(ids: dict[str, str], **over: str) -> Any:
    def work(conn: sa.Connection) -> str:
        line = {
            "id": new_id(),
            "order_id": ids["order"],
            "organizer_id": ids["org"],
            "session_id": ids["s1"],
            "ticket_type_id": ids["tt"],
            "ticket_type_name": "GA",
            "price_minor": 10000,
            "status": "active",
            **over,
        }
        _insert(conn, _tables(conn)["order_lines"], [line])
        return line["id"]

    return work


def _refused(url: str, ids: dict[str, str], **over: str) -> bool:
    try:
        _run(url, _add_line(ids, **over))
    except IntegrityError:
        return True
    return False


def _indexes(conn: sa.Connection) -> set[str]:
    inspector = sa.inspect(conn)
    return {i["name"] for table in ("inventory_holds", "inventory_units") for i in inspector.get_indexes(table)}


def test_a_line_s_one_key_proves_its_ticket_type_session_and_organizer_together(empty_url: str) -> None:
    url = empty_url
    upgrade(url, "0017")
    ids = _run(url, _fill)
    kept = _run(url, _add_line(ids))
    # Control, before 0018: the three single keys accept a line of another session's ticket type, and of another
    # organizer's — each value exists, which is all they prove.
    other_session = _run(url, _add_line(ids, session_id=ids["s2"]))
    other_org = _run(url, _add_line(ids, organizer_id=ids["other_org"]))
    assert {"ix_inventory_holds_organizer_id", "ix_inventory_units_organizer_id"} <= _run(url, _indexes)

    # The migration cannot carry such lines: it says how many, and changes nothing.
    with pytest.raises(RuntimeError, match="2 order lines"):
        upgrade(url, "0018")
    gone = {"a": other_session, "b": other_org}
    _run(url, lambda c: c.execute(sa.text("DELETE FROM order_lines WHERE id IN (:a, :b)"), gone))
    upgrade(url, "0018")

    assert _refused(url, ids, session_id=ids["s2"])
    assert _refused(url, ids, organizer_id=ids["other_org"])
    # What the single keys refused is still refused: a ticket type, session or organizer that does not exist.
    assert _refused(url, ids, ticket_type_id=new_id())
    assert _refused(url, ids, session_id=new_id())
    assert _refused(url, ids, organizer_id=new_id())
    assert _refused(url, ids, order_id=new_id())
    assert not _refused(url, ids)
    # A ticket type with lines cannot move to another session under them.
    with pytest.raises(IntegrityError):
        _run(url, lambda c: c.execute(sa.text("UPDATE ticket_types SET session_id = :s"), {"s": ids["s2"]}))
    assert not {"ix_inventory_holds_organizer_id", "ix_inventory_units_organizer_id"} & _run(url, _indexes)

    downgrade(url, "0017")
    assert {"ix_inventory_holds_organizer_id", "ix_inventory_units_organizer_id"} <= _run(url, _indexes)
    lines = _run(url, lambda c: set(c.execute(sa.text("SELECT id FROM order_lines")).scalars()))
    assert kept in lines and len(lines) == 2
    assert _refused(url, ids, session_id=new_id())
    assert not _refused(url, ids, session_id=ids["s2"])  # the single keys again
