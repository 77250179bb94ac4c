"""No import on a hot path fails at run time. A module imported inside a function is looked up in ``sys.modules``
once it is loaded; one that is not installed is searched for on ``sys.path`` again on every call. httpcore asks
``sniffio`` which event loop runs on every pooled request: without sniffio installed (recent anyio releases no
longer bring it) each outbox delivery paid a failed import, 9 % of the sandbox gateway's CPU in a paid flash sale
(py-spy, docs/benchmarks.md "paidride")."""

from __future__ import annotations

import asyncio

import httpx

from tests.import_searches import watched

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nsuccess"


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers ``success`` to each request on the connection (their bodies are a byte, sent with the head)."""
    try:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(ANSWER)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def test_a_pooled_http_request_searches_for_no_module():
    server = await asyncio.start_server(_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(timeout=5) as client:  # the outbox's client (workers.outbox_dispatch)
            url = f"http://127.0.0.1:{port}/notify"
            assert (await client.post(url, content=b"x")).text == "success"  # loads what a request loads
            with watched() as searches:
                for _ in range(3):
                    assert (await client.post(url, content=b"x")).text == "success"
            assert searches.names == [], f"imported at run time, and not installed: {sorted(set(searches.names))}"
    finally:
        server.close()
        await server.wait_closed()
