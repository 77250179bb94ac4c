"""Every route the application serves, with its full path, and the access rule each one gets.

``create_app`` builds the index once the routes are all registered; the enforcement (``api.deps``,
``web.deps``) finds the rule of the matched route in it, and the permission matrix test walks the same list.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute, Mount

from piaowu.accounts import access

log = logging.getLogger("piaowu.access")

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@dataclass(frozen=True, slots=True)
class RouteInfo:
    method: str
    path: str  # full path template, as in ``access.ROUTES``
    route: BaseRoute  # the route object the router puts in ``scope["route"]``
    name: str


def _contexts(routes: Sequence[BaseRoute]) -> Iterator[tuple[BaseRoute, str, set[str], str]]:
    """(route object, path relative to ``routes``' owner, methods, name). FastAPI ≥ 0.16x keeps included
    routers nested and resolves their prefixes here; older versions flatten them into plain routes."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI: included routes are already flat
        for r in routes:
            yield (
                r,
                getattr(r, "path_format", getattr(r, "path", "")),
                set(getattr(r, "methods", None) or ()),
                getattr(r, "name", ""),
            )
        return
    for rc in iter_route_contexts(routes):
        yield rc.original_route, rc.path_format or "", set(rc.methods or ()), rc.name or ""


def all_routes(routes: Sequence[BaseRoute], prefix: str = "") -> list[RouteInfo]:
    """Every (method, full path) served, sub-applications (the API at /api) included; static files left out."""
    out: list[RouteInfo] = []
    for route, path, methods, name in _contexts(routes):
        if isinstance(route, Mount):
            sub = getattr(route.app, "routes", None)
            if sub is not None:  # a mounted application (the API), not static files
                out.extend(all_routes(sub, prefix + route.path))
            continue
        out.extend(RouteInfo(m, prefix + path, route, name) for m in sorted(methods - IGNORED_METHODS))
    return out


RuleIndex = dict[tuple[str, int], tuple[str, "access.Rule | None"]]


def rule_index(routes: Sequence[BaseRoute]) -> RuleIndex:
    """(method, id of the route object) → (full path, its rule or None). Routes without an entry are logged:
    they are refused until they get one."""
    index: RuleIndex = {}
    for info in all_routes(routes):
        rule = access.rule_for(info.method, info.path)
        if rule is None:
            log.error("route without an access rule, refused: %s %s", info.method, info.path)
        key = (info.method, id(info.route))
        if key in index and index[key] != (info.path, rule):
            raise RuntimeError(f"{info.method} {info.path}: one route object serves two paths with other rules")
        index[key] = (info.path, rule)
    return index


def rule_of(index: RuleIndex, scope: dict[str, Any]) -> tuple[str, access.Rule | None]:
    """The matched route's (full path, rule). Unknown → ("", None): refused."""
    method = "GET" if scope.get("method") == "HEAD" else str(scope.get("method", ""))
    route = scope.get("route")
    return index.get((method, id(route)), ("", None)) if route is not None else ("", None)


def undeclared(routes: Sequence[BaseRoute]) -> list[str]:
    """The lines to add to ``accounts.access.ROUTES`` for the routes that have no entry (empty: all declared)."""
    return [
        access.entry_line(i.method, i.path) for i in all_routes(routes) if access.rule_for(i.method, i.path) is None
    ]
