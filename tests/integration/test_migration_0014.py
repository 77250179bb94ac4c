"""Migration 0014 (seats per sales channel) on SQLite and PostgreSQL, with a seated session in the database: going
back to 0013 keeps every seat and its state, and coming up again puts every seat on sale through every channel
(``withheld`` 0) — the sale goes on."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from piaowu.db.migrate import downgrade, upgrade_async
from piaowu.runtime import build_runtime
from piaowu.seating import channels
from tests.conftest import make_settings
from tests.seating_world import seating_world


async def _scalar(rt, sql: str) -> object:  # noqa: ANN001
    async with rt.uow(readonly=True) as uow:
        return (await uow.session.execute(text(sql))).scalar_one()


async def test_seats_carry_through_0014_down_and_up(own_url: str, tmp_path: Path, clock) -> None:  # noqa: ANN001
    rt = build_runtime(make_settings(tmp_path, own_url), clock=clock)
    try:
        world = await seating_world(rt, blocked=[("A", "1", "1")])
        async with rt.uow() as uow:
            await channels.set_published(uow, world.actor, world.session_id, world.seat_ids[1:4], "web", publish=False)
            await uow.commit()
        assert await _scalar(rt, "SELECT count(*) FROM inventory_units WHERE withheld = 1") == 3
        await rt.db.dispose()

        await asyncio.to_thread(downgrade, own_url, "0013")
        assert await _scalar(rt, "SELECT count(*) FROM session_seats") == 60
        assert await _scalar(rt, "SELECT count(*) FROM inventory_units WHERE blocked % 2 = 1") == 1
        await rt.db.dispose()
        await upgrade_async(own_url)
        assert await _scalar(rt, "SELECT count(*) FROM inventory_units WHERE withheld = 0") == 60
        assert await _scalar(rt, "SELECT max(channels_version) FROM session_seating") == 0
        async with rt.uow() as uow:
            await channels.set_published(uow, world.actor, world.session_id, world.seat_ids[5:6], "api", publish=False)
            await uow.commit()
        assert await _scalar(rt, "SELECT withheld FROM inventory_units WHERE withheld <> 0") == 4
    finally:
        await rt.db.dispose()
