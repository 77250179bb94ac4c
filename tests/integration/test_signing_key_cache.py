"""Issuing tickets opens the organizer's sealed signing key once per process and key, not per issue — and a
key that was replaced (by any process) signs the very next ticket: the opened key is cached by its sealed text,
which every issue reads with the tickets' other facts, so there is nothing to invalidate by hand and nothing a
stale process could keep using."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from piaowu.core.errors import InvalidTicket
from piaowu.organizers import keys
from piaowu.organizers.models import Organizer
from piaowu.tickets import service as tickets
from piaowu.tickets import signing
from tests.factories import on_sale_session, owner_actor
from tests.ticket_fixtures import issue_paid


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sealed texts opened (decrypted) from now on, in order."""
    calls: list[str] = []
    real = keys.open_private_key

    def counting(sealed: str, app_secret: str):  # noqa: ANN202
        calls.append(sealed)
        return real(sealed, app_secret)

    tickets._private_key.cache_clear()
    monkeypatch.setattr(keys, "open_private_key", counting)
    yield calls
    tickets._private_key.cache_clear()


async def test_the_key_is_opened_once_for_many_issues(runtime, tenant, opened):
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor)
    for _ in range(3):
        await issue_paid(runtime, actor, sale, n=2)
    assert len(opened) == 1


async def test_a_replaced_key_signs_the_next_ticket(runtime, tenant, opened):
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor)
    before = (await issue_paid(runtime, actor, sale)).tickets[0]
    async with runtime.uow(readonly=True) as uow:
        old_public = await tickets.public_key(uow, tenant.organizer_id)

    # The key is replaced behind this process's back (another process, an operator's script): no hook runs here.
    sealed, public = keys.new_keypair(runtime.secret_key)
    async with runtime.uow() as uow:
        await uow.session.execute(
            update(Organizer)
            .where(Organizer.id == tenant.organizer_id)
            .values(signing_key_encrypted=sealed, public_key=public)
        )
        await uow.commit()

    after = (await issue_paid(runtime, actor, sale)).tickets[0]
    assert signing.verify(keys.load_public_key(public), after.qr_payload).code == after.code
    with pytest.raises(InvalidTicket):
        signing.verify(keys.load_public_key(old_public), after.qr_payload)
    assert signing.verify(keys.load_public_key(old_public), before.qr_payload).code == before.code
    assert opened == [opened[0], sealed]  # each key opened once: the old one, then the new one
