"""The ASGI application: JSON API under /api, pages at /, background jobs in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from piaowu.api import create_api
from piaowu.api.guards import RequestGuard
from piaowu.config import Settings, get_settings
from piaowu.core.errors import DomainError
from piaowu.headers import SecurityHeaders
from piaowu.runtime import Runtime, build_runtime
from piaowu.web import create_web_router
from piaowu.web.deps import LoginRequired
from piaowu.web.templating import STATIC_DIR, render
from piaowu.workers.jobs import default_jobs
from piaowu.workers.runner import Worker

log = logging.getLogger("piaowu")


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or (runtime.settings if runtime else get_settings())
    rt = runtime or build_runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = Worker(rt, default_jobs(), settings.sweep_interval_seconds)
        rt.extras["worker"] = worker
        if settings.run_background_jobs:
            worker.start()
        try:
            yield
        finally:
            await worker.stop()
            if runtime is None:  # we built it, we dispose it
                await rt.limiter.aclose()
                await rt.db.dispose()

    app = FastAPI(title="Piaowu", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = rt
    api = create_api()
    api.state.runtime = rt
    app.mount("/api", api)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(create_web_router())
    # Bounded bodies and no NUL characters for pages and API alike (see api/guards.py).
    app.add_middleware(RequestGuard)
    app.add_middleware(
        SessionMiddleware,
        secret_key=rt.secret_key,
        session_cookie="piaowu_session",
        same_site="lax",
        https_only=settings.cookie_secure,
        max_age=12 * 3600,
    )
    # Outermost, so that every answer (guard refusals, redirects, static files, errors) carries them.
    app.add_middleware(SecurityHeaders, form_targets=settings.allowed_return_origins, hsts=settings.cookie_secure)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/manage/login?{urlencode({'next': exc.next_url}, safe='/')}", status_code=303)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> HTMLResponse:
        # Pages catch the errors they can show inline; this is the last resort, still a clear page.
        return render(request, "error.html", {"error": exc, "status": exc.status}, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        return render(request, "error.html", {"error": None, "status": exc.status_code}, status_code=exc.status_code)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
