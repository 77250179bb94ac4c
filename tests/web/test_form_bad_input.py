"""Whatever is typed into a back-office form, the answer is the form again with a message (or a redirect when
it happens to be valid), never a server error."""

from __future__ import annotations

import httpx

from piaowu.runtime import Runtime
from tests.factories import on_sale_session, owner_actor
from tests.web.helpers import post_form, sign_in

TYPED = ["", "abc", "-1", "99999999999999999999999", "1e309", "３", "3.5", "x" * 5000,
         # issue 5: times at the ends of the calendar (overflow converting to UTC), control and bidi characters
         "0001-01-01T00:00", "9999-12-31T23:59", "名\u202e字", "a\x07b"]  # fmt: skip


async def test_no_form_answers_bad_input_with_a_server_error(client: httpx.AsyncClient, tenant, runtime: Runtime):  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor)
    await sign_in(client, tenant.owner_email, tenant.password)
    session, tt = f"/manage/sessions/{sale.session_id}", sale.ticket_type_id
    for v in TYPED:
        forms = {
            "/manage/events/new": {"name": v, "kind": v, "venue_name": v},
            f"/manage/events/{sale.event_id}/sessions/new": {
                "name": v,
                "starts_at": v,
                "ends_at": "2030-01-01T10:00",
                "capacity": v,
                "status": v,
                "admission_opens_minutes": v,
                "sales_start": v,
            },
            f"{session}/edit": {"starts_at": "2030-01-01T10:00", "ends_at": "2030-01-01T12:00", "capacity": v},
            f"{session}/ticket-types/new": {"name": v, "price": v, "quota": v, "min_per_order": v},
            f"{session}/ticket-types/{tt}/edit": {"name": "A", "price": v, "quota": v, "max_per_order": v},
            "/manage/sell": {"session": sale.session_id, f"qty_{tt}": v, "buyer_phone": v, "method": v, "tendered": v},
            "/manage/staff": {"name": v, "email": v, "password": v, "role": v},
            "/manage/tokens": {"name": v, "role": v},
        }
        for path, data in forms.items():
            r = await post_form(client, path, data)
            assert r.status_code < 500, (path, v[:20], r.status_code)
            if r.status_code != 303:
                assert 'id="error-summary"' in r.text, (path, v[:20])  # the reason is on the form
