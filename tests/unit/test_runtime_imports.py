"""The outbox's HTTP deliveries (``workers.outbox_dispatch.post``: the sandbox gateway's notifications) keep their
connections alive and import nothing at run time.

In a paid flash sale dozens of notifications are in flight at once: httpx's pool (20 connections kept) opened and
closed one per delivery past those, and asked ``sniffio`` on every request — not installed, a failed import, a
search of ``sys.path`` each time (9 % of the gateway's CPU under py-spy; docs/benchmarks.md "paidride"). A module
imported inside a function is looked up in ``sys.modules`` once loaded; one that is not installed is searched
for again on every call, which ``watched`` sees."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from piaowu.workers import outbox_dispatch
from tests.import_searches import watched

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nsuccess"


class _Merchant:
    """A server that answers ``success`` to every request and counts the connections it was given."""

    def __init__(self) -> None:
        self.connections = 0

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = [line for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")]
                await reader.readexactly(int(length[0].split(b":")[1]) if length else 0)
                await asyncio.sleep(0.01)  # deliveries overlap, as in a sale
                writer.write(ANSWER)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def test_deliveries_keep_their_connections_and_search_for_no_module():
    merchant = _Merchant()
    server = await asyncio.start_server(merchant.answer, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/notify"
    rt = SimpleNamespace(extras={}, on_close=[])  # what ``post`` uses of a runtime

    async def wave() -> None:
        answers = await asyncio.gather(*(outbox_dispatch.post(rt, url, b"{}", {}) for _ in range(40)))
        assert answers == [(200, "success")] * 40

    try:
        await wave()  # opens what 40 deliveries at once need, loads what a delivery loads
        opened = merchant.connections
        assert opened <= outbox_dispatch.IN_FLIGHT
        with watched() as searches:
            await wave()
            await wave()
        assert searches.names == [], f"imported at run time, and not installed: {sorted(set(searches.names))}"
        assert merchant.connections == opened, "a wave like the first opens no connection: they were kept"
    finally:
        for close in rt.on_close:
            await close()
        server.close()
        await server.wait_closed()
