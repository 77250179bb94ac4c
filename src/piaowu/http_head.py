"""HEAD answered as GET without the body, for every page and API route (RFC 9110 §9.3.2).

FastAPI's routes answer only the methods they name, so a HEAD — what uptime monitors, load balancers' health
checks and link checkers send — got 405 from every page and 404 from ``/healthz``. Here HEAD runs the GET route
(same access rules, status and headers, ``Content-Length`` of the body it would have sent) and the body is
dropped, whatever server runs the application (uvicorn drops it too; an in-process client does not).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """ASGI middleware: a HEAD request reaches the application as a GET; only the response's head is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        body_sent = False

        async def send_head_only(message: Message) -> None:
            nonlocal body_sent
            if message["type"] != "http.response.body":
                await send(message)
            elif not body_sent and not message.get("more_body", False):
                # One empty, final body message, whatever number of chunks the GET answer was made of.
                body_sent = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        # A copy: the server keeps its own scope, in which the method is still HEAD.
        await self.app({**scope, "method": "GET"}, receive, send_head_only)
