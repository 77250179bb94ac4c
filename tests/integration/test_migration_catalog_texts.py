"""Migration 0010 carries a catalog written by the previous version into the texts-by-language columns."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from piaowu.db.migrate import downgrade, upgrade

NOW = "CURRENT_TIMESTAMP"
ROWS = [
    f"INSERT INTO organizers (id, slug, name, timezone, currency, signing_key_encrypted, public_key, created_at) "
    f"VALUES ('o1', 'old-org', 'Old', 'Asia/Shanghai', 'CNY', 'x', 'y', {NOW})",
    f"INSERT INTO venues (id, organizer_id, name, address, created_at) VALUES ('v1', 'o1', '大剧院', '', {NOW})",
    f"INSERT INTO events (id, organizer_id, venue_id, kind, name, description, is_published, created_at) "
    f"VALUES ('e1', 'o1', 'v1', 'performance', '新年音乐会', '', true, {NOW})",
    f"INSERT INTO inventory_pools (id, organizer_id, kind, label, capacity, held, sold, allowance, created_at) "
    f"VALUES ('p1', 'o1', 'session', 'x', 10, 0, 0, 0, {NOW})",
    f"INSERT INTO sessions (id, organizer_id, event_id, name, starts_at, ends_at, status, capacity, pool_id, "
    f"admission_opens_minutes, created_at) "
    f"VALUES ('s1', 'o1', 'e1', '', {NOW}, {NOW}, 'on_sale', 10, 'p1', 120, {NOW})",
    f"INSERT INTO ticket_types (id, organizer_id, session_id, name, description, price_minor, currency, "
    f"min_per_order, max_per_order, sort_order, is_active, created_at) "
    f"VALUES ('t1', 'o1', 's1', '内场', '站票', 100, 'CNY', 1, 10, 0, true, {NOW})",
]


async def _run(url: str, statements: list[str]) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))
    await engine.dispose()


async def _row(url: str, query: str) -> tuple:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        row = (await conn.execute(text(query))).one()
    await engine.dispose()
    return tuple(json.loads(v) if isinstance(v, str) and v.startswith(("{", "[")) else v for v in row)


@pytest.fixture
def old_url(empty_url: str) -> str:
    """An empty database migrated to 0007, the version before this change."""
    upgrade(empty_url, "0007")
    asyncio.run(_run(empty_url, ROWS))
    return empty_url


def test_existing_texts_become_the_organizers_default_language(old_url: str) -> None:
    upgrade(old_url)
    assert asyncio.run(_row(old_url, "SELECT default_locale FROM organizers")) == ("zh-CN",)
    assert asyncio.run(_row(old_url, "SELECT name, name_i18n, description_i18n FROM events")) == (
        "新年音乐会",
        {"zh-CN": "新年音乐会"},
        {},  # an empty description is no text in any language
    )
    assert asyncio.run(_row(old_url, "SELECT name_i18n, description_i18n FROM ticket_types")) == (
        {"zh-CN": "内场"},
        {"zh-CN": "站票"},
    )
    assert asyncio.run(_row(old_url, "SELECT name_i18n FROM sessions")) == ({},)
    assert asyncio.run(_row(old_url, "SELECT name_i18n, address_i18n, timezone, entrances FROM venues")) == (
        {"zh-CN": "大剧院"},
        {},
        "",
        [],
    )
    downgrade(old_url, "0007")  # and back: the plain columns kept the texts
    assert asyncio.run(_row(old_url, "SELECT name FROM events")) == ("新年音乐会",)
