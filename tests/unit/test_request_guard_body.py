"""The request guard refuses "%00" in a body only when the body is a form (where it decodes to NUL): the same
bytes in JSON are text. The form's headers are looked at only when the body holds "%00"."""

from __future__ import annotations

import pytest

from piaowu.api import guards
from piaowu.api.guards import RequestGuard


async def _through_guard(body: bytes, content_type: bytes) -> int:
    seen: list[bytes] = []

    async def app(scope, receive, send):  # noqa: ANN001, ANN202
        seen.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    statuses: list[int] = []

    async def send(message):  # noqa: ANN001, ANN202
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    sent = False

    async def receive():  # noqa: ANN202
        nonlocal sent
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/orders",
        "raw_path": b"/api/v1/orders",
        "query_string": b"",
        "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
    }
    await RequestGuard(app)(scope, receive, send)
    assert seen == ([body] if statuses == [204] else [])
    return statuses[0]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"name": "100%00"}', b"application/json", 204),
        (b"name=100%00", b"application/x-www-form-urlencoded", 422),
        (b"name=100%2500", b"application/x-www-form-urlencoded", 204),
        (b'{"name": "a\\u0000"}', b"application/json", 422),
    ],
)
async def test_percent_00_is_a_nul_only_in_a_form(body: bytes, content_type: bytes, status: int) -> None:
    assert await _through_guard(body, content_type) == status


async def test_the_headers_are_not_read_for_a_body_without_percent_00(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[object] = []
    real = guards._is_form  # noqa: SLF001
    monkeypatch.setattr(guards, "_is_form", lambda scope: asked.append(scope) or real(scope))
    assert await _through_guard(b'{"name": "x"}', b"application/json") == 204
    assert asked == []
    assert await _through_guard(b"name=%00", b"application/x-www-form-urlencoded") == 422
    assert len(asked) == 1
