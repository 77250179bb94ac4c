"""The permission matrix: every route of the API and of the pages × every role, a shop customer and no credentials
→ allowed or refused exactly as the one table (``piaowu.accounts.access.ROUTES``) says.

The walk reads the application's own routes, so a route added later is walked too; a route without an entry in
the table fails here with the line to add. Requests carry real ids of a seeded organizer and valid bodies, so an
allowed call reaches the service (whose own check must agree with the table). Allowed or refused is decided by
the answer's class: refused = 401/403, or (pages) a redirect to the sign-in page or, for a buyer's order pages,
to the order lookup; anything else (200, 201, 303 elsewhere, 404, 409, 422) means the door was open.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from piaowu.accounts import access
from piaowu.accounts import service as accounts
from piaowu.accounts.permissions import Role, permissions_for
from piaowu.routes import RouteInfo, all_routes, undeclared
from tests.factories import staff_member
from tests.order_helpers import BUYER
from tests.tenant_world import SMALL_MAP, World, build_world, path_values
from tests.web.helpers import csrf_of, hidden, sign_in

PASSWORD = "matrix password"
CUSTOMER, ANONYMOUS = "customer", "no credentials"
_counter = itertools.count()


@dataclass
class Caller:
    name: str
    client: httpx.AsyncClient
    token: str | None = None  # API
    csrf: str = ""  # pages

    def admitted(self, rule: access.Rule) -> bool:
        if self.name == CUSTOMER:
            return rule.admits(customer=True)
        if self.name == ANONYMOUS:
            return rule.admits()
        return rule.admits(staff_permissions=permissions_for(self.name))


def _api_bodies(w: World, now: str, later: str) -> dict[str, Any]:
    """A valid body per request schema, so that an allowed call reaches the service's own permission check."""
    n = next(_counter)
    order = {"items": [{"ticket_type_id": w.ticket_type_id, "quantity": 1}], "buyer": BUYER}
    return {
        "EventIn": {"name": "Matrix event"},
        "EventPatch": {"name": "Matrix renamed"},
        "SessionIn": {"name": "Extra", "starts_at": now, "ends_at": later, "capacity": 5},
        "SessionPatch": {"name": "Evening"},
        "TicketTypeIn": {"name": "Matrix", "price_minor": 100},
        "TicketTypePatch": {"price_minor": 100},
        "GrantsIn": {"grants": [{"session_id": w.session_id, "mode": "entries", "allowed": 2}]},
        "OrderIn": order,
        "OrderLookupIn": {"code": w.paid_order_code, "contact": BUYER["phone"]},
        "BestAvailableIn": {"quantity": 1},
        "CustomerPaymentIn": {"provider": "sandbox", "contact": BUYER["phone"]},
        "ContactIn": {"contact": BUYER["phone"]},
        "CashPaymentIn": {"method": "cash"},
        "CounterSaleIn": {**order, "payment": {"method": "cash"}},
        "OnlinePaymentIn": {"provider": "sandbox"},
        "RefundIn": {},
        "SessionCancelIn": {"reason": "matrix"},
        "ScanIn": {"raw": w.ticket_code},
        "StaffIn": {"email": f"new{n}@example.com", "name": "New", "password": PASSWORD, "role": "gate"},
        "TokenIn": {"name": f"matrix {n}", "role": "gate"},
        "StaffPatch": {"is_active": True},
        "OrganizerSettingsPatch": {"return_origins": ["https://tickets.matrix.example"]},
        "VenueIn": {"name": f"Matrix hall {n}", "timezone": "Asia/Shanghai"},
        "VenuePatch": {"entrances": ["North"]},
        "EventTicketTypeIn": {"name": "Matrix", "price_minor": 100},
        "SeatExchangeIn": {"seat_id": "01nosuchseat00000000000000"},
        "EventTicketTypePatch": {"price_minor": 100},
        "SeriesIn": {
            "first_date": now[:10],
            "last_date": now[:10],
            "start_times": ["09:00"],
            "duration_minutes": 60,
            "capacity": 5,
            "dry_run": True,
        },
        "LayoutIn": {"name": f"Matrix layout {n}"},
        "LayoutReplaceIn": {"map": SMALL_MAP},
        "SectionAddIn": {"section": {"kind": "rect", "section_id": "Z", "rows": 1, "seats_per_row": 1}},
        "SeatEditsIn": {"ops": [{"op": "set_zone", "seats": [["A", "1", "1"]], "zone": "A"}]},
        "SessionSeatingIn": {"layout_id": w.layout_id},
        "ZonePricesIn": {"prices": []},
        "SeatIdsIn": {"seat_ids": ["no-such-seat"], "reason": "house"},
        "SeatChannelsIn": {"seat_ids": ["no-such-seat"], "channel": "api"},
    }


def _page_forms(w: World) -> dict[str, dict[str, str]]:
    """Form fields per page (the CSRF token is added); pages not named here are posted with the token only."""
    n = next(_counter)
    return {
        "/manage/events/new": {"name": "Matrix event", "kind": "performance"},
        "/manage/events/{event_id}/edit": {"name": "Matrix renamed", "is_published": "1"},
        "/manage/venues/new": {"name_zh": f"矩阵厅 {n}", "name_en": f"Matrix hall {n}", "timezone": "Asia/Shanghai"},
        "/manage/venues/{venue_id}/edit": {"name_zh": "矩阵厅", "entrances": "North\nSouth"},
        "/manage/events/{event_id}/sessions/new": {
            "starts_at": "2026-07-01T19:30",
            "ends_at": "2026-07-01T21:30",
            "capacity": "5",
        },
        "/manage/sessions/{session_id}/ticket-types/new": {"name": "Matrix", "price": "10", "is_active": "1"},
        "/manage/sell": {
            "session": w.session_id,
            f"qty_{w.ticket_type_id}": "1",
            "buyer_name": BUYER["name"],
            "buyer_phone": BUYER["phone"],
            "method": "cash",
        },
        "/manage/staff": {"name": "New", "email": f"page{n}@example.com", "password": PASSWORD, "role": "gate"},
        "/manage/tokens": {"name": f"page {n}", "role": "gate"},
        "/manage/staff/{staff_id}": {"role": "gate", "is_active": "1"},
        "/manage/settings": {"return_origins": "https://tickets.matrix.example"},
        "/gate/setup": {"gate_name": "Matrix gate", "session_ids": w.session_id},
        "/gate/scan": {"raw": w.ticket_code},
    }


def _gist(r: httpx.Response) -> str:
    """What an answer says, short: the problem code, the page's heading, or where it redirects."""
    if r.is_redirect:
        return f"{r.status_code} → {r.headers.get('location', '')}"
    if "json" in r.headers.get("content-type", ""):
        return f"{r.status_code} {r.text[:120]}"
    heading = r.text.split("<h1", 1)[-1].split(">", 1)[-1].split("</h1>", 1)[0] if "<h1" in r.text else ""
    return f"{r.status_code} <h1>{heading[:80]}</h1>"


def _refused_page(r: httpx.Response, slug: str) -> bool:
    location = r.headers.get("location", "")
    return (
        r.status_code in (401, 403)
        or (r.is_redirect and location.startswith("/manage/login?next="))
        or (r.is_redirect and location.startswith(f"/s/{slug}/lookup"))
    )


async def _callers(runtime, app, w: World) -> list[Caller]:  # noqa: ANN001
    callers: list[Caller] = []

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")

    for role in Role:
        async with runtime.uow() as uow:
            email = f"{role}@matrix.example.com"
            await accounts.create_user(
                uow,
                None,
                runtime.passwords,
                organizer_id=w.tenant.organizer_id,
                email=email,
                name=str(role),
                password=PASSWORD,
                role=role,
            )
            token, _ = await accounts.create_token(uow, None, organizer_id=w.tenant.organizer_id, name=role, role=role)
            await uow.commit()
        c = client()
        await sign_in(c, email, PASSWORD)
        callers.append(Caller(str(role), c, token, csrf_of((await c.get("/manage")).text)))
    # The buyer proves the order is theirs once (its number and phone); the shop remembers it in their session.
    buyer = client()
    form = await buyer.get(f"/s/{w.tenant.slug}/lookup")
    data = {"csrf": csrf_of(form.text), "code": w.paid_order_code, "contact": BUYER["phone"]}
    found = await buyer.post(f"/s/{w.tenant.slug}/lookup", data=data)
    assert found.is_redirect and "/orders/" in found.headers["location"], found.text
    callers.append(Caller(CUSTOMER, buyer, None, data["csrf"]))
    nobody = client()
    callers.append(Caller(ANONYMOUS, nobody, None, csrf_of((await nobody.get(f"/s/{w.tenant.slug}/lookup")).text)))
    return callers


async def _api_call(c: Caller, route: RouteInfo, url: str, body: Any) -> httpx.Response:
    # The API has no customer identity: a buyer calls it as anyone does, with no token.
    headers = {"Authorization": f"Bearer {c.token}"} if c.token else {}
    return await c.client.request(route.method, url, json=body, headers=headers)


async def _page_call(c: Caller, route: RouteInfo, url: str, form: dict[str, str], has_get: bool) -> httpx.Response:
    if route.method == "GET":
        return await c.client.get(url)
    fields = {"csrf": c.csrf}
    if has_get:  # a form opened first carries its own hidden fields (the shop's one-time form token)
        opened = await c.client.get(url)
        if opened.status_code == 200 and 'name="csrf"' in opened.text:
            fields.update(hidden(opened.text))
    return await c.client.post(url, data={**fields, **form})


def _order(routes: list[RouteInfo]) -> list[RouteInfo]:
    """Reads before writes; signing out last (it ends the caller's session)."""
    return sorted(routes, key=lambda r: (r.path == "/manage/logout", r.method != "GET", r.path, r.method))


def test_every_route_has_an_entry_in_the_access_table(app):  # noqa: ANN001
    missing = undeclared(app.routes)
    assert not missing, "routes without an access rule; add to ROUTES in src/piaowu/accounts/access.py:\n" + "\n".join(
        missing
    )
    served = {(r.method, r.path) for r in all_routes(app.routes)}
    stale = sorted(set(access.ROUTES) - served)
    assert not stale, f"entries in access.ROUTES for routes that do not exist (remove them): {stale}"


async def test_every_route_allows_and_refuses_exactly_as_the_table_says(runtime, app, client, tenant):
    w = await build_world(runtime, client, tenant, capacity=80)
    routes = all_routes(app.routes)
    assert len(routes) >= 90 and any(r.path.startswith("/api/") for r in routes)  # the walk really read the app
    undeclared_lines = undeclared(app.routes)
    assert not undeclared_lines, "add to ROUTES in src/piaowu/accounts/access.py:\n" + "\n".join(undeclared_lines)
    spec = (await client.get("/api/v1/openapi.json")).json()["paths"]
    start = runtime.clock.now() + timedelta(days=30)
    with_get = {r.path for r in routes if r.method == "GET"}
    callers = await _callers(runtime, app, w)
    member = await staff_member(runtime, w.tenant.organizer_id, "gate", "member@matrix.example.com")
    problems: list[str] = []
    checked = 0
    try:
        for route, c in itertools.product(_order(routes), callers):
            rule = access.rule_for(route.method, route.path)
            assert rule is not None
            try:
                url = route.path.format(**path_values(w, route.path, member.id))
            except KeyError as exc:
                problems.append(
                    f"{route.method} {route.path}: add a real value for {exc} to tests/tenant_world.path_values"
                )
                continue
            if route.path.startswith("/api/"):
                op = spec.get(route.path.removeprefix("/api"), {}).get(route.method.lower(), {})
                ref = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
                schema = ref.get("$ref", "").rsplit("/", 1)[-1]
                bodies = _api_bodies(w, start.isoformat(), (start + timedelta(hours=2)).isoformat())
                if schema and schema not in bodies:
                    problems.append(f"{route.method} {route.path}: add a valid {schema} body to _api_bodies")
                    continue
                r = await _api_call(c, route, url, bodies.get(schema) if schema else None)
                refused = r.status_code in (401, 403)
            else:
                form = _page_forms(w).get(route.path, {})
                r = await _page_call(c, route, url, form, route.path in with_get)
                refused = _refused_page(r, w.tenant.slug)
            checked += 1
            expected = c.admitted(rule)
            if r.status_code >= 500:
                problems.append(f"{c.name:>14}  {route.method} {route.path}: {_gist(r)}")
            elif refused == expected:
                want = "allowed" if expected else "refused"
                problems.append(
                    f"{c.name:>14}  {route.method} {route.path} ({rule.describe()}): {want}, got {_gist(r)}"
                )
    finally:
        for c in callers:
            await c.client.aclose()
    assert not problems, f"{len(problems)} answers differ from accounts/access.py:\n" + "\n".join(problems)
    assert checked == len(routes) * len(callers)


async def test_a_route_added_without_an_entry_is_named_and_refused(runtime, app, client, tenant):
    @app.get("/manage/unlisted-report")
    async def unlisted() -> dict[str, str]:
        return {"secret": "figures"}

    app.router.routes.insert(0, app.router.routes.pop())  # before the pages' catch-all mount
    missing = undeclared(app.routes)
    assert missing == ['    ("GET", "/manage/unlisted-report"): needs(P.…),  # or PUBLIC / CUSTOMER / STAFF']
    from piaowu.routes import rule_index

    app.state.route_rules = rule_index(app.routes)
    await sign_in(client, tenant.owner_email, tenant.password)  # even the owner: an undeclared route is closed
    r = await client.get("/manage/unlisted-report")
    assert r.status_code == 403 and "figures" not in r.text


@pytest.mark.parametrize("path", ["/api/v1/unlisted", "/api/v1/events/{event_id}/unlisted"])
def test_the_line_to_add_is_ready_to_paste(path: str) -> None:
    line = access.entry_line("POST", path)
    assert line.startswith('    ("POST", f"{API}/') and "needs(P." in line
    # The f-string in the line names the same path again.
    inner = line.split(", ", 1)[1].split("): ")[0]
    assert eval(inner, {"API": access.API}) == path  # noqa: S307 - our own generated literal
