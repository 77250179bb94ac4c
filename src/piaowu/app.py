"""The ASGI application: JSON API under /api, pages at /, background jobs in the lifespan."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlencode

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount

from piaowu import vendor
from piaowu.accounts import sessions as staff_sessions
from piaowu.api import create_api
from piaowu.api.guards import RequestGuard
from piaowu.api.lean import LeanLane
from piaowu.api.v1 import LEAN_ROUTES
from piaowu.appscope import BindAppState, runtime_of
from piaowu.config import Settings, get_settings
from piaowu.core.errors import DomainError, LockTimeout, PermissionDenied
from piaowu.db.engine import is_busy
from piaowu.headers import SecurityHeaders
from piaowu.http_head import HeadAsGet
from piaowu.locale_middleware import ReadingLocale
from piaowu.routes import RuleIndex, rule_index
from piaowu.runtime import Runtime, build_runtime
from piaowu.web import create_web_router
from piaowu.web.deps import LoginRequired, enforce_page
from piaowu.web.manage.common import forbidden_page
from piaowu.web.shop import SharedSessionPages
from piaowu.web.templating import STATIC_DIR, render
from piaowu.workers.jobs import default_jobs, outbox_job
from piaowu.workers.runner import Worker

log = logging.getLogger("piaowu")


def create_gateway_app() -> FastAPI:
    """The sandbox gateway in a process of its own (``piaowu gateway``), standing in for an external gateway:
    buyers pay on its pages and it delivers its notifications to the server over HTTP. It shares the database
    (its trades live in their own table) and runs no job but the delivery of its own notifications."""
    return create_app(role="gateway")


def create_app(settings: Settings | None = None, runtime: Runtime | None = None, *, role: str = "server") -> FastAPI:
    settings = settings or (runtime.settings if runtime else get_settings())
    rt = runtime or build_runtime(settings)
    rt.extras["role"] = role

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        periodic = default_jobs(with_outbox=False) if role == "server" else []
        worker = Worker(rt, periodic, settings.sweep_interval_seconds, outbox=outbox_job())
        rt.extras["worker"] = worker
        probe: asyncio.Task[None] | None = None
        if settings.run_background_jobs:
            worker.start()
            probe = asyncio.create_task(warn_if_public_url_elsewhere(rt), name="piaowu-public-url-check")
        try:
            yield
        finally:
            if probe is not None:
                probe.cancel()
            await worker.stop()
            if runtime is None:  # we built it, we close it
                await rt.aclose()
            else:
                await rt.wakeups.aclose()  # held requests answer now; the listening connection closes

    # Every page's access rule (accounts/access.py) is checked before the page's own code runs.
    app = FastAPI(
        title="Piaowu",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(enforce_page)],
    )
    app.state.runtime = rt
    api, pages, shared_rules = shared_apps()
    app.mount("/api", api)
    for path, files in vendor.static_apps(settings.browser_packages_dir).items():  # before /static, which takes all
        app.mount(path, files)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        # "server" lets a process tell whether a URL reaches this installation (the public URL check).
        return {"status": "ok", "server": server_id(rt)}

    app.mount("", pages)  # last: every other path is a page (or the pages' "not found")
    # Innermost: a plain session page already rendered for its shop, session and language comes from the cache.
    app.add_middleware(SharedSessionPages)
    # Bounded bodies and no NUL characters for pages and API alike (see api/guards.py).
    app.add_middleware(RequestGuard)
    # Catalog names and descriptions in the reader's language, wherever they are printed (core.reading_locale).
    app.add_middleware(ReadingLocale)
    app.add_middleware(
        SessionMiddleware,
        secret_key=rt.secret_key,
        session_cookie="piaowu_session",
        same_site="lax",
        https_only=settings.cookie_secure,
        max_age=int(staff_sessions.LIFETIME.total_seconds()),  # a staff session lives no longer than its row
    )
    # Placing an order skips the page middleware above and FastAPI's routing (api/lean.py); inside the headers.
    app.add_middleware(LeanLane, api=api, mount="/api", routes=LEAN_ROUTES)
    # Outermost, so that every answer (guard refusals, redirects, static files, errors) carries them.
    app.add_middleware(SecurityHeaders, form_targets=settings.allowed_return_origins, hsts=settings.cookie_secure)
    # Every layer inside sees a HEAD as the GET it stands for (access rules, the lean lane, the page cache).
    app.add_middleware(HeadAsGet)
    # Around everything: the shared API and pages find this application's runtime and route index (appscope).
    app.add_middleware(BindAppState, state=app.state)
    add_page_handlers(app)  # errors outside the pages' own application (static files, /healthz)

    # Every route now exists: index their access rules (accounts/access.py) for the enforcement to read; the
    # shared applications' part is indexed once per process.
    own = [r for r in app.routes if not (isinstance(r, Mount) and r.app in (api, pages))]
    app.state.route_rules = {**shared_rules, **rule_index(own)}
    return app


@functools.cache
def shared_apps() -> tuple[FastAPI, FastAPI, RuleIndex]:
    """The API and the pages, built once per process: FastAPI resolves every route's dependencies when an
    application first walks its routes, a third of a second that each ``create_app`` (each test) would pay
    again. They hold nothing of one installation: each request finds its runtime in the scope (appscope)."""
    pages = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, dependencies=[Depends(enforce_page)])
    pages.include_router(create_web_router())
    add_page_handlers(pages)
    api = create_api()
    # Indexing their access rules resolves every route, once, here; the routes of both never change.
    return api, pages, rule_index([Mount("/api", api), Mount("", pages)])


def add_page_handlers(app: FastAPI) -> None:
    """How a page answers what went wrong: the sign-in page, an error page, never a bare 500."""

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

    @app.exception_handler(PermissionDenied)
    async def _forbidden(request: Request, exc: PermissionDenied) -> HTMLResponse:
        # A signed-in staff member keeps the back office's navigation (the pages their role may use).
        actor = getattr(request.state, "actor", None)
        if actor is not None:
            return await forbidden_page(request, runtime_of(request.scope), actor, exc)
        return render(request, "error.html", {"error": exc, "status": exc.status}, status_code=exc.status)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # A database that is busy (a lock not granted in time, no free connection) is a page saying "try again
        # in a moment" with Retry-After, as on the API; anything else is our failure, logged, and still a page.
        if is_busy(exc):
            resp = render(request, "error.html", {"error": LockTimeout(), "status": 503}, status_code=503)
            resp.headers["Retry-After"] = "1"
            return resp
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render(request, "error.html", {"error": None, "status": 500}, status_code=500)


def server_id(rt: Runtime) -> str:
    """The same for every process of one installation (derived from its secret), and reveals nothing of it."""
    return hmac.new(rt.secret_key.encode(), b"piaowu-server-id", hashlib.sha256).hexdigest()[:16]


async def public_url_problem_online(rt: Runtime, client: httpx.AsyncClient) -> str | None:
    """Ask ``{public_url}/healthz`` whether it reaches this installation. → what is wrong, or None."""
    url = rt.settings.public_url
    try:
        resp = await client.get(f"{url}/healthz", timeout=5)
        found = resp.json().get("server") if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return f"the public URL {url} does not answer ({type(exc).__name__}: {exc})"
    if found != server_id(rt):
        return f"the public URL {url} reaches another server (HTTP {resp.status_code}), not this one"
    return None


async def warn_if_public_url_elsewhere(rt: Runtime, delay_s: float = 1.0, attempts: int = 3) -> None:
    """Once the server is up: warn (log) when its public URL does not lead back to it — payment callbacks and
    buyers returning from the gateway would go astray. A few tries: the listener may not be open yet."""
    problem = None
    async with httpx.AsyncClient() as client:
        for _ in range(attempts):
            await asyncio.sleep(delay_s)
            problem = await public_url_problem_online(rt, client)
            if problem is None:
                return
    log.warning("%s. Set PIAOWU_PUBLIC_URL to the address this server is reached at.", problem)
