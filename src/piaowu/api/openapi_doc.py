"""The OpenAPI document as an integrator needs it: how to authenticate, and what each operation needs.

FastAPI saw the token only as a header parameter named ``authorization`` on every operation, which OpenAPI
forbids (Swagger UI ignores it: "Try it out" could not authenticate) and which said nothing of the permission a
route needs. Here the bearer token is a security scheme, and every operation that needs staff names it and the
permission from the one access table (accounts/access.py), so the document and the enforcement cannot differ.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from piaowu.accounts import access

SCHEME = "apiToken"
TOKEN = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "pw_…",
    "description": "An API token (`pw_…`), created in the back office (*API tokens*) or with `piaowu create-token`; "
    "it acts for its organizer with its role's permissions.",
}


def with_access(schema: dict[str, Any], mount: str) -> dict[str, Any]:
    """``schema`` with the token's security scheme, each staff operation's ``security`` and access note, and
    without the ``authorization`` header parameters. ``mount``: where the API is mounted (``/api``)."""
    schema.setdefault("components", {}).setdefault("securitySchemes", {})[SCHEME] = TOKEN
    for path, operations in schema.get("paths", {}).items():
        for method, op in operations.items():
            params = [p for p in op.get("parameters", []) if not (p["in"] == "header" and p["name"] == "authorization")]
            if params:
                op["parameters"] = params
            else:
                op.pop("parameters", None)
            rule = access.rule_for(method.upper(), mount + path)
            if rule is None or not rule.needs_staff:
                continue  # public (the shop, notifications): no token
            op["security"] = [{SCHEME: []}]
            needed = "any API token" if rule.kind is access.Kind.STAFF else f"a token whose role has {rule.describe()}"
            note = f"**Access:** {needed}."
            op["description"] = f"{op['description']}\n\n{note}" if op.get("description") else note
    return schema


def install(api: FastAPI, mount: str) -> None:
    """Makes ``api.openapi()`` return the document above (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            schema = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
            api.openapi_schema = with_access(schema, mount)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
