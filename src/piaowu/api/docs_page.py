"""The API reference (``/api/v1/docs``): Swagger UI over this API's OpenAPI document, from our own server.

FastAPI's built-in page loads Swagger UI from a CDN (cdn.jsdelivr.net) and starts it with an inline script: on
a machine without that CDN — a closed network, or mainland China, where it is often unreachable — the page
stayed blank, and the CSP had to allow both. Here the files come from the ``swagger-ui-dist`` npm package
(piaowu.vendor) and the start-up from /static/api-docs.js, so the page's policy allows this site only.
"""

from __future__ import annotations

import logging
from html import escape

from fastapi import Request
from fastapi.responses import HTMLResponse

from piaowu import vendor
from piaowu.appscope import runtime_of

log = logging.getLogger("piaowu")

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Piaowu API</title>
<link rel="icon" href="{static}/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="{static}{css}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{static}{bundle}"></script>
<script src="{static}/static/api-docs.js" data-openapi="{openapi}"></script>
</body>
</html>
"""

MISSING = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Piaowu API</title></head>
<body>
<h1>Piaowu API</h1>
<p>The interactive reference needs the browser package <code>swagger-ui-dist</code>, which is not installed on
this server: run <code>./scripts/start</code> (or <code>npm ci --ignore-scripts</code> in the checkout).</p>
<p>The API's OpenAPI document is at <a href="{openapi}">{openapi}</a>; <code>docs/api.md</code> explains
authentication, errors, idempotency and pagination.</p>
</body>
</html>
"""


async def api_docs(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")  # "/api" (plus a proxy's prefix): this application's mount
    static = root.removesuffix("/api")
    openapi = escape(f"{root}/v1/openapi.json")
    packages = runtime_of(request.scope).settings.browser_packages_dir
    if not vendor.available(packages, "swagger-ui"):
        log.warning("the API reference is missing swagger-ui-dist under %s (run npm ci)", packages)
        return HTMLResponse(MISSING.format(openapi=openapi), status_code=503, headers={"Retry-After": "3600"})
    page = PAGE.format(
        static=escape(static),
        css=vendor.url("swagger-ui", "swagger-ui.css"),
        bundle=vendor.url("swagger-ui", "swagger-ui-bundle.js"),
        openapi=openapi,
    )
    return HTMLResponse(page)
