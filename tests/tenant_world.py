"""A tenant with something to protect (an on-sale session, a paid order with tickets, a pending order, a spare
API token) and a snapshot of every row an organizer owns, to prove that a request changed nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select, update

from piaowu.accounts import service as accounts
from piaowu.models import Base, load_all_models
from piaowu.organizers.models import Organizer
from piaowu.payments.models import Refund, SandboxTransaction
from piaowu.runtime import Runtime
from piaowu.workers import outbox_dispatch
from tests.conftest import Tenant
from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import BUYER, create_order, gateway_pay

# Two seats in one row (interchange JSON), for a venue's seat layout.
SMALL_MAP = {
    "version": 1,
    "sections": [{"id": "A", "label": "A", "kind": "rect", "best": [25, 0]}],
    "seats": [
        {"section": "A", "row": "1", "number": "1", "x": 0, "y": 0, "zone": "A"},
        {"section": "A", "row": "1", "number": "2", "x": 50, "y": 0, "zone": "A"},
    ],
}


@dataclass
class World:
    tenant: Tenant
    event_id: str
    session_id: str
    ticket_type_id: str
    paid_order_id: str
    paid_order_code: str
    pending_order_id: str
    pending_order_code: str
    ticket_code: str
    qr_payload: str
    spare_token_id: str
    public_key: str
    venue_id: str = ""  # the event's venue
    event_ticket_type_id: str = ""  # an event-level ticket type of the event (sessions in series)
    ticket_id: str = ""  # the paid order's first ticket (seatoffice: the seat exchange's path)
    layout_id: str = ""  # a seat layout of the venue (no session uses it)
    refund_id: str = ""  # refundretry: an online refund the provider refused (``add_failed_refund``)

    @property
    def auth(self) -> dict[str, str]:
        return self.tenant.auth


async def build_world(rt: Runtime, client: httpx.AsyncClient, tenant: Tenant, *, capacity: int = 20) -> World:
    sale = await on_sale_session(rt, await owner_actor(rt, tenant.owner_id), capacity=capacity)
    paid = (await create_order(client, tenant.auth, sale.ticket_type_id, 2)).json()
    r = await client.post(f"/api/v1/orders/{paid['id']}/pay", json={"method": "cash"}, headers=tenant.auth)
    assert r.status_code == 200, r.text
    ticket = r.json()["lines"][0]["ticket"]
    pending = (await create_order(client, tenant.auth, sale.ticket_type_id, 1)).json()
    assert pending["status"] == "pending", pending
    async with rt.uow() as uow:
        _, spare = await accounts.create_token(uow, None, organizer_id=tenant.organizer_id, name="spare", role="sales")
        await uow.commit()
    me = (await client.get("/api/v1/organizer", headers=tenant.auth)).json()
    event = (await client.get(f"/api/v1/events/{sale.event_id}", headers=tenant.auth)).json()
    definition = await client.post(
        f"/api/v1/events/{sale.event_id}/ticket-types",
        json={"name": "全价 Adult", "price_minor": 100},
        headers=tenant.auth,
    )
    assert definition.status_code == 201, definition.text
    layout = await client.post(
        f"/api/v1/venues/{event['venue_id']}/seat-layouts",
        json={"name": "Hall", "map": SMALL_MAP},
        headers=tenant.auth,
    )
    assert layout.status_code == 201, layout.text
    return World(
        tenant=tenant,
        event_id=sale.event_id,
        session_id=sale.session_id,
        ticket_type_id=sale.ticket_type_id,
        paid_order_id=paid["id"],
        paid_order_code=paid["code"],
        pending_order_id=pending["id"],
        pending_order_code=pending["code"],
        ticket_code=ticket["code"],
        qr_payload=ticket["qr_payload"],
        spare_token_id=spare.id,
        public_key=me["public_key"],
        venue_id=event["venue_id"],
        event_ticket_type_id=definition.json()["id"],
        ticket_id=ticket["id"],
        layout_id=layout.json()["id"],
    )


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


async def snapshot(rt: Runtime, organizer_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table that has an ``organizer_id``, for this organizer, plus the organizer itself.
    Generic on purpose: a table added later is covered without touching this test."""
    load_all_models()
    out: dict[str, list[dict[str, Any]]] = {}
    async with rt.uow(readonly=True) as uow:
        for table in Base.metadata.sorted_tables:
            if "organizer_id" not in table.c:
                continue
            rows = (await uow.session.execute(select(table).where(table.c.organizer_id == organizer_id))).mappings()
            # Rows are told apart by their key, which is ``id`` but for a few tables (session seats: the unit).
            key = table.primary_key.columns.values()[0].name
            out[table.name] = sorted(
                ({"id": row[key], **{k: _plain(v) for k, v in row.items()}} for row in rows), key=lambda r: r["id"]
            )
        org = (await uow.session.execute(select(Organizer.__table__).where(Organizer.id == organizer_id))).mappings()
        out["organizers"] = [{k: _plain(v) for k, v in row.items()} for row in org]
    return out


def identifiers(snap: dict[str, list[dict[str, Any]]]) -> set[str]:
    """The ids and codes in a snapshot: if any shows up in another organizer's answer, it leaked."""
    found: set[str] = set()
    for rows in snap.values():
        for row in rows:
            for key, value in row.items():
                if isinstance(value, str) and value and (key in ("id", "code", "slug") or key.endswith("_id")):
                    found.add(value)
    return found


# Bookkeeping that any authenticated request may update, not a change made by the request: a token's last use
# (written at most once a minute per token, see accounts.service.record_token_use).
BOOKKEEPING = {("api_tokens", "last_used_at")}


def diff(before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Human-readable differences between two snapshots (empty when nothing changed but bookkeeping)."""
    out = []
    for table in sorted(set(before) | set(after)):
        b = {r["id"]: r for r in before.get(table, [])}
        a = {r["id"]: r for r in after.get(table, [])}
        for row_id in sorted(set(b) | set(a)):
            if row_id not in b:
                out.append(f"{table}: added {a[row_id]}")
            elif row_id not in a:
                out.append(f"{table}: removed {b[row_id]}")
            elif a[row_id] != b[row_id]:
                changed = {
                    k: (b[row_id].get(k), a[row_id].get(k))
                    for k in a[row_id]
                    if a[row_id][k] != b[row_id].get(k) and (table, k) not in BOOKKEEPING
                }
                if changed:
                    out.append(f"{table} {row_id}: changed {changed}")
    return out


async def add_failed_refund(rt: Runtime, client: httpx.AsyncClient, world: World) -> str:
    """An order of the world paid online (the sandbox gateway; the shop's lookup applies the payment, as when its
    notification is late), refunded in full, and the refund refused by the gateway (its trade closed, so it
    answers "trade not paid"): a refund staff may retry. Sets ``world.refund_id``."""
    auth = world.tenant.auth
    order = (await create_order(client, auth, world.ticket_type_id, 1)).json()
    start = await client.post(f"/api/v1/orders/{order['id']}/payments", json={}, headers=auth)
    assert start.status_code == 201, start.text
    trade_no = await gateway_pay(rt, start.json()["redirect_url"])
    found = await client.post(
        f"/api/v1/shop/{world.tenant.slug}/orders/lookup", json={"code": order["code"], "contact": BUYER["phone"]}
    )
    assert found.json()["status"] == "paid", found.text
    async with rt.uow() as uow:
        await uow.session.execute(
            update(SandboxTransaction).where(SandboxTransaction.trade_no == trade_no).values(status="closed")
        )
        await uow.commit()
    refunded = await client.post(f"/api/v1/orders/{order['id']}/refunds", json={}, headers=auth)
    assert refunded.status_code == 200, refunded.text
    async with rt.uow(readonly=True) as uow:
        refund_id = (await uow.session.execute(select(Refund.id).where(Refund.order_id == order["id"]))).scalar_one()
    await outbox_dispatch.run_refund(rt, {"refund_id": refund_id})  # as the outbox would: the gateway says no
    listed = (await client.get(f"/api/v1/orders/{order['id']}/refunds", headers=auth)).json()
    assert [(r["id"], r["status"], r["retryable"]) for r in listed] == [(refund_id, "failed", True)], listed
    world.refund_id = refund_id
    return refund_id


def path_values(w: World, path: str, member_id: str) -> dict[str, str]:
    """A real value for each path parameter of the application's routes (``member_id``: a staff member to manage).
    A route with a parameter not named here fails the permission matrix's walk with the name to add."""
    return {
        "staff_id": member_id,  # a gate member: every role with staff.manage may manage that role
        "slug": w.tenant.slug,
        "event_id": w.event_id,
        "session_id": w.session_id,
        "ticket_type_id": w.ticket_type_id,
        "order_id": w.paid_order_id,
        "code": w.ticket_code if "/tickets/" in path else w.paid_order_code,
        "token_id": w.spare_token_id,
        "venue_id": w.venue_id,
        "provider": "sandbox",
        "trade_no": "T-no-such-trade",
        "event_ticket_type_id": w.event_ticket_type_id,
        "layout_id": w.layout_id,
        "ticket_id": "01nosuchticket0000000000000",  # seatoffice: the seat exchange answers 404 once admitted
        "key": "no-such-section",  # seatlazy: a seat map section's key (public: 404 for anyone)
        "refund_id": "01nosuchrefund000000000000",  # refundretry: a retry answers 404 once admitted
    }
