"""Migrations run up and down on both databases, match the models, and make the audit log append-only."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from piaowu.db.migrate import downgrade, upgrade
from piaowu.models import Base


def _diff(url: str) -> list:
    async def run() -> list:
        engine = create_async_engine(url)
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
        await engine.dispose()
        return diff

    return asyncio.run(run())


def test_up_down_up_and_the_schema_matches_the_models(empty_url: str) -> None:
    upgrade(empty_url)
    downgrade(empty_url, "base")
    upgrade(empty_url)
    assert _diff(empty_url) == [], "a model changed without a migration (alembic revision --autogenerate)"


async def test_the_database_refuses_to_rewrite_or_delete_audit_events(runtime, tenant) -> None:  # noqa: ANN001
    async with runtime.uow() as uow:
        event_id = (await uow.session.execute(text("SELECT id FROM audit_events LIMIT 1"))).scalar_one()
    for statement in (
        "UPDATE audit_events SET action = 'forged' WHERE id = :id",
        "DELETE FROM audit_events WHERE id = :id",
    ):
        async with runtime.uow() as uow:
            with pytest.raises(DBAPIError, match="append-only"):
                await uow.session.execute(text(statement), {"id": event_id})
