from datetime import timedelta
from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import BUYER, create_order


async def test_probe(runtime, client, tenant, db_url):
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=10)
    A = tenant.auth

    def body(**kw):
        b = {"items": [{"ticket_type_id": sale.ticket_type_id, "quantity": 1}], "buyer": dict(BUYER)}
        b.update(kw)
        return b

    cases = [
        ("nul name", "POST", "/api/v1/orders", dict(json=body(buyer={**BUYER, "name": "a\u0000b"}))),
        ("nul q", "GET", "/api/v1/orders", dict(params={"q": "a\x00b"})),
        ("nul path", "GET", "/api/v1/orders/a%00b", {}),
        ("long path", "GET", "/api/v1/orders/" + "x" * 3000, {}),
        (
            "sort_order huge",
            "POST",
            f"/api/v1/sessions/{sale.session_id}/ticket-types",
            dict(json={"name": "x", "price_minor": 1, "sort_order": 10**20}),
        ),
        (
            "sort_order 2**40",
            "POST",
            f"/api/v1/sessions/{sale.session_id}/ticket-types",
            dict(json={"name": "x", "price_minor": 1, "sort_order": 2**40}),
        ),
        ("text/plain", "POST", "/api/v1/orders", dict(content=b'{"a":1}', headers={"content-type": "text/plain"})),
        ("no ct", "POST", "/api/v1/orders", dict(content=b'{"a":1}', headers={"content-type": ""})),
        (
            "bad json",
            "POST",
            "/api/v1/orders",
            dict(content=b'{"items": [', headers={"content-type": "application/json"}),
        ),
        (
            "non utf8",
            "POST",
            "/api/v1/orders",
            dict(content=b"\xff\xfe{", headers={"content-type": "application/json"}),
        ),
        ("empty body", "POST", "/api/v1/orders", dict(content=b"", headers={"content-type": "application/json"})),
        ("naive cursor", "GET", "/api/v1/orders", dict(params={"cursor": "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwieCJd"})),
        ("garbage cursor", "GET", "/api/v1/orders", dict(params={"cursor": "!!!"})),
        ("events cursor", "GET", "/api/v1/events", dict(params={"cursor": "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwieCJd"})),
        ("audit cursor", "GET", "/api/v1/audit-events", dict(params={"cursor": "zzz"})),
        ("notify unknown provider", "POST", "/api/v1/payments/notify/bogus", dict(content=b"x")),
        ("notify cash", "POST", "/api/v1/payments/notify/cash", dict(content=b"x")),
        ("status bogus", "GET", "/api/v1/orders", dict(params={"status": "bogus"})),
        ("since bad", "GET", "/api/v1/checkin/stats", dict(params={"since": "yesterday"})),
        (
            "huge",
            "POST",
            "/api/v1/orders",
            dict(
                content=b'{"items":[' + b'{"ticket_type_id":"x","quantity":1},' * 200000 + b"{}]}",
                headers={"content-type": "application/json"},
            ),
        ),
        (
            "price str",
            "POST",
            f"/api/v1/sessions/{sale.session_id}/ticket-types",
            dict(json={"name": "x", "price_minor": "18.00"}),
        ),
        (
            "price float",
            "POST",
            f"/api/v1/sessions/{sale.session_id}/ticket-types",
            dict(json={"name": "x", "price_minor": 1.5}),
        ),
        ("landline", "POST", "/api/v1/orders", dict(json=body(buyer={**BUYER, "phone": "010 6552 9988"}))),
        ("us", "POST", "/api/v1/orders", dict(json=body(buyer={**BUYER, "phone": "+1 555 0100"}))),
        ("cap below sold", "PATCH", f"/api/v1/sessions/{sale.session_id}", dict(json={"capacity": -0})),
        ("trans", "PATCH", f"/api/v1/sessions/{sale.session_id}", dict(json={"status": "draft"})),
        ("scan tampered", "POST", "/api/v1/checkin/scan", dict(json={"raw": "PW1.abc.def"})),
        ("idem long", "POST", "/api/v1/orders", dict(json=body(), headers={"Idempotency-Key": "k" * 300})),
        ("limit0", "GET", "/api/v1/orders", dict(params={"limit": 0})),
        ("lang", "GET", "/api/v1/orders/xyz", dict(headers={"Accept-Language": "en"})),
        ("lang zh", "GET", "/api/v1/orders/xyz", dict(headers={"Accept-Language": "zh-CN"})),
    ]
    for name, m, p, kw in cases:
        h = {**A, **kw.pop("headers", {})}
        r = await client.request(m, p, headers=h, **kw)
        print(f"\n## {db_url[:8]} {name}: {r.status_code} {r.headers.get('content-type')} {r.text[:400]}")
