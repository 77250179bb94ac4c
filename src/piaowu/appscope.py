"""What every request learns from the application serving it, through its ASGI scope.

The API and the pages are applications built once per process and shared by every ``create_app`` (building
their routes costs FastAPI a third of a second). So a request cannot ask the application it reached for the
runtime or the route index: the outermost layer of ``create_app`` puts its own state in the scope instead.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from starlette.datastructures import State

    from piaowu.routes import RuleIndex
    from piaowu.runtime import Runtime

SCOPE_KEY = "piaowu.app"


class BindAppState:
    """Outermost middleware: every HTTP request carries the state (runtime, route index) of this application."""

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            scope[SCOPE_KEY] = self.state
        await self.app(scope, receive, send)


def runtime_of(scope: MutableMapping[str, Any]) -> Runtime:
    return scope[SCOPE_KEY].runtime


def route_rules_of(scope: MutableMapping[str, Any]) -> RuleIndex:
    return scope[SCOPE_KEY].route_rules
