"""The API reference an integrator reads: Swagger UI from our own files (no CDN), and an OpenAPI document that
says how to authenticate and what each operation needs — from the same access table the server enforces."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from piaowu import vendor
from piaowu.accounts import access
from piaowu.api.openapi_doc import SCHEME
from piaowu.app import create_app
from piaowu.runtime import Runtime
from tests.conftest import require_or_skip

METHODS = {"get", "post", "put", "patch", "delete"}


async def test_every_staff_operation_names_the_token_scheme_and_its_permission(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    assert spec["components"]["securitySchemes"][SCHEME] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "pw_…",
        "description": spec["components"]["securitySchemes"][SCHEME]["description"],
    }
    problems: list[str] = []
    counted = {"staff": 0, "open": 0}
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            rule = access.rule_for(method.upper(), "/api" + path)
            assert rule is not None, f"{where} has no access rule"
            if any(p["in"] == "header" and p["name"].lower() == "authorization" for p in op.get("parameters", [])):
                problems.append(f"{where}: an 'authorization' header parameter (OpenAPI: use the security scheme)")
            if rule.needs_staff:
                counted["staff"] += 1
                if op.get("security") != [{SCHEME: []}]:
                    problems.append(f"{where}: needs {rule.describe()} but has security {op.get('security')!r}")
                if rule.kind is access.Kind.PERMISSION and rule.describe() not in op.get("description", ""):
                    problems.append(f"{where}: the description does not name {rule.describe()}")
            else:
                counted["open"] += 1
                if "security" in op:
                    problems.append(f"{where}: public, but asks for a token")
    assert not problems, "\n".join(problems)
    assert counted["staff"] > 50 and counted["open"] > 5, counted  # the walk saw the API, not an empty document


async def test_the_docs_page_loads_swagger_ui_from_this_server(runtime: Runtime, client: httpx.AsyncClient) -> None:
    require_or_skip(
        vendor.available(runtime.settings.browser_packages_dir, "swagger-ui"),
        "the npm package swagger-ui-dist (npm ci --ignore-scripts)",
    )
    page = await client.get("/api/v1/docs")
    assert page.status_code == 200
    assert 'src="/static/vendor/swagger-ui/swagger-ui-bundle.js"' in page.text
    assert 'data-openapi="/api/v1/openapi.json"' in page.text and "<script>" not in page.text  # no inline code
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "cdn.jsdelivr.net" not in csp and "http" not in csp, csp
    for asset in ("/static/vendor/swagger-ui/swagger-ui-bundle.js", "/static/vendor/swagger-ui/swagger-ui.css"):
        r = await client.get(asset)
        assert r.status_code == 200 and len(r.content) > 10_000, asset
    # Only the named packages' folders are served, never the rest of node_modules.
    for outside in (
        "/static/vendor/swagger-ui/%2e%2e/%2e%2e/package.json",
        "/static/vendor/swagger-ui-dist/package.json",
    ):
        assert (await client.get(outside)).status_code == 404, outside


async def test_without_the_package_the_docs_page_says_what_to_run(runtime: Runtime, tmp_path: Path) -> None:
    runtime.settings.browser_packages_dir = tmp_path / "not-installed"  # a server set up without npm
    transport = httpx.ASGITransport(app=create_app(runtime=runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        page = await c.get("/api/v1/docs")
        assert page.status_code == 503
        assert "npm ci" in page.text and 'href="/api/v1/openapi.json"' in page.text
        assert (await c.get("/api/v1/openapi.json")).status_code == 200
        assert (await c.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")).status_code == 404


@pytest.mark.parametrize("name", sorted(vendor.PACKAGES))
def test_every_served_package_is_in_package_json(name: str) -> None:
    import json

    manifest = json.loads((Path(__file__).resolve().parents[2] / "package.json").read_text())
    package = vendor.PACKAGES[name][0].split("/")[0]
    assert package in manifest["dependencies"], f"{package} is served but not a dependency in package.json"
