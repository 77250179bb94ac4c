"""A lean lane for the sale's hottest API requests: placing an order (``POST /api/v1/orders`` and the shop's
``POST /api/v1/shop/{slug}/orders``), and the rest of a paid order — starting its online payment
(``POST /api/v1/orders/{id}/payments``), the gateway's notification (``POST /api/v1/payments/notify/{provider}``)
and the buyer's held status request (``GET /api/v1/orders/{id}/status?wait=…``); and what a buyer's page polls
during a sale (``GET /api/v1/shop/{slug}/sessions/{id}/availability``) and a seat picker asks while it is open
(``GET /api/v1/shop/{slug}/sessions/{id}/seat-availability?since=…``).

Under a flash sale these requests are most of the server's work, and py-spy showed a third of each one spent
around the use case rather than in it: the page middleware (session cookies, locale negotiation for pages),
matching the path against every route of the API, and FastAPI solving the same dependencies again per request.
``LeanLane`` sits just inside ``SecurityHeaders`` (so every answer keeps its headers) and sends a request that
matches a ``LeanRoute`` straight to a pre-resolved handler, which calls the *same* functions as the FastAPI
route, in the same order:

1. ``RequestGuard`` (bounded body, no NUL characters), unchanged;
2. the body parsed and validated with the route's own model, and the route's headers checked — no side
   effect yet, so anything unusual (another content type, a body the model refuses, an over-long
   ``Idempotency-Key``) falls back to the full FastAPI stack, which gives its usual answer (422 with the
   same problem+json, 401, …) — one implementation of every refusal;
3. ``enforce_route`` (the access rule of ``accounts/access.py``, the token → actor), then the route's own
   steps (a rate limit, the organizer of a shop) and its endpoint function itself;
4. errors through the API's own exception handlers (problem+json with stable codes), in the request's
   language (``ReadingLocale``'s negotiation).

The FastAPI route stays registered: it documents the operation in the OpenAPI schema and serves every request
the lane passes on. Tests run the contract of these routes against both (tests/api/test_lean_lane.py).
"""

from __future__ import annotations

import email.message
import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from piaowu.api.deps import enforce_route
from piaowu.api.errors import unexpected_problem
from piaowu.api.guards import RequestGuard, replay_body
from piaowu.appscope import runtime_of
from piaowu.core.reading_locale import reading
from piaowu.i18n import api_locale
from piaowu.routes import all_routes


@dataclass
class LeanCall:
    """One request on the lane: what the FastAPI route's parameters would have been."""

    request: Request
    rt: Any  # piaowu.runtime.Runtime (not imported: the runtime imports the API's dependencies)
    data: Any  # the validated body (``None`` for a route that reads its body itself)
    headers: dict[str, str | None]  # the route's declared headers, checked
    path_params: dict[str, str]
    query: Any = None  # the validated query parameters (``LeanRoute.query``)


class Fallback(Exception):  # noqa: N818 - a signal, not an error: "let the full stack answer this one"
    """The request is not one the lane serves as is: the full FastAPI stack answers it."""


@dataclass(frozen=True)
class LeanRoute:
    """A route served on the lane. ``path`` is its full template (as in ``accounts.access.ROUTES``); ``endpoint``
    the FastAPI endpoint it stands for (its route object carries the access rule); ``body`` the JSON request
    model, or ``None`` when the endpoint takes no body model (a GET, or a route that reads its raw body itself,
    as a payment notification does); ``headers``: header name → longest accepted value (as the endpoint's
    ``Header(max_length=…)``); ``query``: a model of the endpoint's query parameters, with the same types and
    bounds as its ``Query(…)`` declarations (other parameters are ignored, as FastAPI ignores them); ``run``
    does what the route's own dependencies and endpoint do once the access rule has passed."""

    method: str
    path: str
    endpoint: Callable[..., Awaitable[Any]]
    body: type[BaseModel] | None
    run: Callable[[LeanCall], Awaitable[Response]]
    headers: dict[str, int] = field(default_factory=dict)
    query: type[BaseModel] | None = None


def json_content(content_type: str | None) -> bool:
    """The body is JSON by its ``Content-Type`` — FastAPI's own test (``application/json`` or ``…+json``)."""
    if not content_type:
        return False
    return _json_content_type(content_type)


@functools.lru_cache(maxsize=256)
def _json_content_type(content_type: str) -> bool:
    # Parsed once per distinct header value (clients send the same one on every request).
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


class LeanLane:
    """ASGI middleware: requests of a ``LeanRoute`` go to its handler; all others (and those the handler passes
    on) go to ``app``, the full stack. ``api`` is the mounted API application, ``mount`` its path."""

    def __init__(self, app: ASGIApp, *, api: Any, mount: str, routes: Sequence[LeanRoute]) -> None:
        self.app = app
        self.api = api
        self.mount = mount
        self.routes: list[tuple[Any, LeanRoute, Any]] = []  # (path regex, lean route, the FastAPI route object)
        known = {(i.method, i.path): i.route for i in all_routes(api.routes, mount)}
        for lean in routes:
            route = known.get((lean.method, lean.path))
            if route is None or getattr(route, "endpoint", None) is not lean.endpoint:
                raise RuntimeError(f"lean route {lean.method} {lean.path} does not match a route of the API")
            regex, _, _ = compile_path(lean.path)
            self.routes.append((regex, lean, route))
        # The guard reads and checks the body once, then hands it on (``replay_body``) to the lane's handler.
        self.guarded = RequestGuard(self._serve)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            for regex, lean, route in self.routes:
                if method == lean.method and (match := regex.match(path)):
                    scope = {
                        **scope,
                        "app": self.api,
                        "root_path": scope.get("root_path", "") + self.mount,
                        "route": route,
                        "endpoint": lean.endpoint,
                        "path_params": match.groupdict(),
                        "piaowu.lean": lean,
                        "piaowu.outer": scope,
                    }
                    await self.guarded(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        lean: LeanRoute = scope["piaowu.lean"]
        message = await receive()  # the guard's replay: the whole body in one message
        body = message.get("body", b"")
        request = Request(scope, replay_body(body, receive))
        try:
            call = self._call(lean, request, body)
        except Fallback:
            await self.app(scope["piaowu.outer"], replay_body(body, receive), send)
            return
        # ``ReadingLocale``'s choice for an API request: catalog texts and messages in the client's language.
        with reading(api_locale(request.query_params.get("lang"), request.headers.get("accept-language"))):
            try:
                await enforce_route(request, call.rt, request.headers.get("authorization"))
                response = await lean.run(call)
            except Exception as exc:  # noqa: BLE001 - answered as the API answers it, through its own handlers
                response = await self._problem(request, exc)
        await response(scope, receive, send)

    def _call(self, lean: LeanRoute, request: Request, body: bytes) -> LeanCall:
        """Parse and check what the route's parameters would (no side effect); ``Fallback`` when unsure."""
        headers = request.headers
        if lean.body is not None and (not body or not json_content(headers.get("content-type"))):
            raise Fallback
        declared: dict[str, str | None] = {}
        for name, longest in lean.headers.items():
            value = headers.get(name)
            if value is not None and len(value) > longest:
                raise Fallback
            declared[name] = value
        data = query = None
        try:
            if lean.body is not None:
                # FastAPI: ``json.loads`` then the model's Python validation; orjson refuses a few documents json
                # accepts (NaN, lone surrogates, integers over 64 bits): those go to the full stack.
                data = lean.body.model_validate(orjson.loads(body), from_attributes=True)
            if lean.query is not None:
                params = request.query_params
                # A repeated parameter: FastAPI's choice of value is its own business — the full stack answers.
                if len(params.multi_items()) != len(params):
                    raise Fallback
                query = lean.query.model_validate(dict(params))
        except (orjson.JSONDecodeError, ValidationError):
            raise Fallback from None
        return LeanCall(request, runtime_of(request.scope), data, declared, request.scope["path_params"], query)

    async def _problem(self, request: Request, exc: Exception) -> Response:
        """The answer the API's exception handlers give (``api.create_api``): the most specific handler of the
        exception's class, and ``unexpected_problem`` when that one declines (re-raises) or none applies."""
        handlers = self.api.exception_handlers
        for cls in type(exc).__mro__:
            handler = handlers.get(cls)
            if handler is not None and cls is not Exception:
                try:
                    answer = handler(request, exc)
                    return await answer if inspect.isawaitable(answer) else answer
                except Exception:  # noqa: BLE001 - the handler passed it on (database_problem): the last resort
                    break
        return unexpected_problem(request, exc)
