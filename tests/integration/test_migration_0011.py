"""Migration 0011 (event ticket types) carries what a database already holds, both ways, on SQLite and PostgreSQL:
ticket types sold before it keep selling after it (no definition, price not overridden), and going back to 0007
keeps every session and ticket type."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from piaowu.catalog import session_service
from piaowu.db.migrate import downgrade, upgrade_async
from piaowu.runtime import build_runtime
from tests.conftest import make_settings, make_tenant
from tests.factories import on_sale_session, owner_actor, pending_order


async def _count(rt, sql: str) -> int:  # noqa: ANN001
    async with rt.uow(readonly=True) as uow:
        return (await uow.session.execute(text(sql))).scalar_one()


async def test_existing_ticket_types_carry_through_0011_down_and_up(own_url: str, tmp_path: Path, clock) -> None:  # noqa: ANN001
    rt = build_runtime(make_settings(tmp_path, own_url), clock=clock)
    try:
        tenant = await make_tenant(rt)
        actor = await owner_actor(rt, tenant.owner_id)
        sale = await on_sale_session(rt, actor, capacity=10, second_type=True)
        await pending_order(rt, actor, sale.ticket_type_id, 2)
        await rt.db.dispose()

        await asyncio.to_thread(downgrade, own_url, "0007")
        assert await _count(rt, "SELECT count(*) FROM ticket_types") == 2
        await upgrade_async(own_url)
        rows = await _count(
            rt, "SELECT count(*) FROM ticket_types WHERE definition_id IS NULL AND price_overridden = false"
        )
        assert rows == 2
        # The legacy ticket types still sell: a second order through the ordinary path.
        await pending_order(rt, actor, sale.ticket_type_id, 1)
        async with rt.uow(readonly=True) as uow:
            s = await session_service.get_session(uow, actor, sale.session_id)
        assert (s.held, s.available) == (3, 7)
        assert [t.definition_id for t in s.ticket_types] == [None, None]
    finally:
        await rt.db.dispose()
