"""The OpenAPI document says what PATCH bodies accept (issue 5): a field of a ``PatchModel`` may be left out, but
only the fields in its ``NULLABLE`` may be ``null`` — and the API answers exactly that for every such field."""

from __future__ import annotations

from typing import Any

import httpx

from piaowu.fields import PatchModel
from piaowu.models import load_all_models
from piaowu.runtime import Runtime
from tests.conftest import Tenant
from tests.factories import staff_member
from tests.tenant_world import build_world

load_all_models()


def _patch_models() -> dict[str, type[PatchModel]]:
    found: dict[str, type[PatchModel]] = {}
    todo = list(PatchModel.__subclasses__())
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo += cls.__subclasses__()
    return found


def _accepts_null(prop: dict[str, Any], components: dict[str, Any]) -> bool:
    if "$ref" in prop:
        return _accepts_null(components[prop["$ref"].rsplit("/", 1)[-1]], components)
    kind = prop.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind) or prop.get("nullable") is True:
        return True
    return any(_accepts_null(option, components) for option in prop.get("anyOf", []) + prop.get("oneOf", []))


def _patch_bodies(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, schema name) of every PATCH operation's JSON body."""
    out = []
    for path, item in spec["paths"].items():
        op = item.get("patch")
        if op is None:
            continue
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        out.append((path, schema["$ref"].rsplit("/", 1)[-1]))
    return out


def _nullable_fields(cls: type[PatchModel]) -> set[str]:
    return {(f.alias or name) for name, f in cls.model_fields.items() if name in cls.NULLABLE}


async def test_every_patch_body_marks_exactly_its_nullable_fields_as_nullable(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    components = spec["components"]["schemas"]
    models = _patch_models()
    bodies = _patch_bodies(spec)
    assert len(bodies) >= 5  # events, sessions, ticket types, staff, the organizer's settings
    problems = []
    for path, name in bodies:
        cls = models.get(name)
        if cls is None:
            problems.append(f"PATCH {path}: its body {name} is not a PatchModel")
            continue
        schema = components[name]
        assert not schema.get("required"), f"{name}: a PATCH body requires nothing"
        assert set(schema["properties"]) == {(f.alias or n) for n, f in cls.model_fields.items()}
        for field, prop in schema["properties"].items():
            says = _accepts_null(prop, components)
            does = field in _nullable_fields(cls)
            if says != does:
                problems.append(f"{name}.{field}: the document says nullable={says}, the API nullable={does}")
            if not does and "default" in prop and prop["default"] is None:
                problems.append(f"{name}.{field}: a default of null on a field that refuses null")
    assert not problems, "\n".join(problems)
    # Some fields really are nullable (clearing them): the walk would notice if none were.
    assert any(_nullable_fields(models[name]) for _, name in bodies)


async def test_the_api_answers_null_as_the_document_says(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """Each PATCH field sent alone as null: 422 naming the field where the document says not nullable, else 200."""
    w = await build_world(runtime, client, tenant)
    member = await staff_member(runtime, tenant.organizer_id, "gate", "nullable@example.com")
    ids = {
        "event_id": w.event_id,
        "session_id": w.session_id,
        "ticket_type_id": w.ticket_type_id,
        "staff_id": member.id,
        "venue_id": w.venue_id,
        "event_ticket_type_id": w.event_ticket_type_id,
        "layout_id": w.layout_id,
    }
    spec = (await client.get("/api/v1/openapi.json")).json()
    components = spec["components"]["schemas"]
    problems = []
    calls = 0
    for path, name in _patch_bodies(spec):
        url = "/api" + path.format(**ids)
        for field, prop in components[name]["properties"].items():
            r = await client.patch(url, json={field: None}, headers=tenant.auth)
            calls += 1
            if _accepts_null(prop, components):
                ok = r.status_code == 200
            else:
                ok = r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == [field]
            if not ok:
                problems.append(f"PATCH {path} {{{field!r}: null}}: {r.status_code} {r.text[:160]}")
    assert calls >= 20
    assert not problems, "\n".join(problems)
