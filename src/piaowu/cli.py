"""The ``piaowu`` command: migrate, create organizers, staff and API tokens, seed the demo, serve.

Every command reads the same settings as the server (``PIAOWU_*`` environment variables, see config.py) and
goes through the real services; a domain error is printed as one clear line and exits with status 1.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from piaowu.config import Settings, get_settings
from piaowu.core.errors import DomainError, NotFound, ValidationFailed
from piaowu.core.money import format_money
from piaowu.db.uow import UnitOfWork
from piaowu.runtime import Runtime, build_runtime

app = typer.Typer(
    name="piaowu",
    help="Piaowu (票务): open-source ticketing. Settings come from PIAOWU_* environment variables.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

T = TypeVar("T")


def _settings() -> Settings:
    return get_settings()


def _run(work: Callable[[Runtime], Awaitable[T]]) -> T:
    """Runs one piece of async work against a fresh runtime; domain errors become a message and exit 1."""

    async def main() -> T:
        rt = build_runtime(_settings())
        try:
            return await work(rt)
        finally:
            await rt.db.dispose()

    try:
        return asyncio.run(main())
    except ValidationFailed as exc:
        err.print(f"[red]error:[/red] {exc}")
        for e in exc.errors:
            err.print(f"  {e.get('field', '')}: {e.get('message', '')}")
        raise typer.Exit(1) from None
    except DomainError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


@app.command()
def init() -> None:
    """Create or upgrade the database schema (Alembic migrations) of the configured database."""
    from piaowu.db.migrate import upgrade

    settings = _settings()
    url = settings.resolved_database_url()
    settings.resolved_secret_key()  # created once here, not raced by several server workers later
    upgrade(url)
    console.print(f"[green]database is up to date:[/green] {_safe(url)}")


@app.command("create-organizer")
def create_organizer(
    slug: Annotated[str, typer.Argument(help="Short unique name: lower-case letters, digits, dashes.")],
    name: Annotated[str, typer.Argument(help="Display name, e.g. 演示剧院.")],
    timezone: Annotated[str, typer.Option(help="IANA time zone for showing times.")] = "Asia/Shanghai",
    currency: Annotated[str, typer.Option(help="ISO 4217 currency.")] = "CNY",
    default_locale: Annotated[
        str, typer.Option(help="The language the catalog is written in first: zh-CN or en (changeable later).")
    ] = "zh-CN",
) -> None:
    """Create an organizer (a tenant) with its own ticket-signing key."""
    from piaowu.organizers import service as organizers

    async def work(rt: Runtime) -> organizers.OrganizerInfo:
        async with rt.uow() as uow:
            org = await organizers.create_organizer(
                uow,
                slug=slug,
                name=name,
                app_secret=rt.secret_key,
                timezone=timezone,
                currency=currency,
                default_locale=default_locale,
            )
            await uow.commit()
        return org

    org = _run(work)
    console.print(f"[green]created organizer[/green] {org.slug} ({org.id})")
    console.print(f"ticket-signing public key (Ed25519): {org.public_key}")


@app.command("create-admin")
def create_admin(
    organizer: Annotated[str, typer.Argument(help="The organizer's slug.")],
    email: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Argument()],
    password: Annotated[
        str, typer.Option(prompt=True, confirmation_prompt=True, hide_input=True, help="At least 8 characters.")
    ],
    role: Annotated[str, typer.Option(help="owner, admin, sales, service, gate or finance.")] = "owner",
) -> None:
    """Create a staff login for an organizer (by default its owner)."""
    from piaowu.accounts import service as accounts

    async def work(rt: Runtime) -> accounts.StaffInfo:
        async with rt.uow() as uow:
            user = await accounts.create_user(
                uow,
                None,
                rt.passwords,
                organizer_id=await _organizer_id(uow, organizer),
                email=email,
                name=name,
                password=password,
                role=role,
            )
            await uow.commit()
        return user

    user = _run(work)
    console.print(f"[green]created {user.role}[/green] {user.email} for organizer {organizer}")


@app.command("create-token")
def create_token(
    organizer: Annotated[str, typer.Argument(help="The organizer's slug.")],
    name: Annotated[str, typer.Option(help="What the token is for, e.g. the integration's name.")] = "cli",
    role: Annotated[str, typer.Option(help="The role the token acts as.")] = "owner",
) -> None:
    """Create an API token. It is printed once; only its digest is stored."""
    from piaowu.accounts import service as accounts

    async def work(rt: Runtime) -> str:
        async with rt.uow() as uow:
            org_id = await _organizer_id(uow, organizer)
            token, _ = await accounts.create_token(uow, None, organizer_id=org_id, name=name, role=role)
            await uow.commit()
        return token

    token = _run(work)
    err.print(f"[green]created API token[/green] '{name}' ({role}) for {organizer}; it is shown only now:")
    print(token)  # alone on stdout, so that TOKEN=$(piaowu create-token demo) works


@app.command()
def demo() -> None:
    """Seed the demo organizer, staff logins, a concert and an attraction. Does nothing if "demo" exists."""
    from piaowu.demo import DEMO_LOGINS, DEMO_SLUG, seed_demo

    result = _run(seed_demo)
    if result.created:
        console.print(f"[green]created the demo organizer[/green] '{DEMO_SLUG}' with a concert and an attraction")
    else:
        console.print(f"the demo organizer '{DEMO_SLUG}' already exists; nothing changed")
    table = Table(title="demo logins (back office: /manage)")
    table.add_column("role")
    table.add_column("e-mail")
    table.add_column("password")
    table.add_column("may")
    for login in DEMO_LOGINS:
        table.add_row(login.role, login.email, login.password, login.what)
    console.print(table)
    if result.api_token:
        console.print("demo API token (owner; shown only now):")
        console.print(result.api_token, soft_wrap=True, highlight=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="PIAOWU_HOST", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PIAOWU_PORT", help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(envvar="PIAOWU_WORKERS", min=1, help="Processes; 2 recommended on PostgreSQL.")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the HTTP server (uvicorn with uvloop and httptools): shop, back office, gate and the API. Several
    workers share one listening socket and take turns at accepting (piaowu.serving)."""
    from piaowu import serving
    from piaowu.config import public_url_problem

    # The workers read their settings from the environment: --host/--port become the default public URL there
    # (payment callbacks and buyers' returns from the gateway come back to it) unless PIAOWU_PUBLIC_URL is set.
    os.environ["PIAOWU_HOST"], os.environ["PIAOWU_PORT"] = host, str(port)
    get_settings.cache_clear()
    settings = _settings()
    if settings.public_url_configured and (problem := public_url_problem(settings.public_url, host, port)):
        err.print(f"[yellow]warning:[/yellow] {problem}")
    err.print(f"public URL (payment callbacks, returns from the gateway): {settings.public_url}")
    settings.resolved_secret_key()  # every worker must read the same key: create it before they start
    if workers > 1 and settings.resolved_database_url().startswith("sqlite"):
        err.print("[yellow]note:[/yellow] SQLite serializes writes; several workers help little (use PostgreSQL)")
    status = serving.serve("piaowu.app:create_app", host=host, port=port, workers=workers, log_level=log_level)
    if status:
        raise typer.Exit(status)


@app.command()
def gateway(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8001,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the sandbox payment gateway in its own process, as a real gateway runs outside the shop: point the
    server at it with PIAOWU_SANDBOX_GATEWAY_URL=http://HOST:PORT. It delivers its own notifications."""
    import uvicorn

    settings = _settings()
    settings.resolved_secret_key()
    err.print(f"sandbox gateway on http://{host}:{port}; notifications go to {settings.public_url}")
    uvicorn.run(
        "piaowu.app:create_gateway_app",
        factory=True,
        host=host,
        port=port,
        workers=1,
        loop="uvloop",
        http="httptools",
        log_level=log_level,
    )


payments_app = typer.Typer(help="Payments: reconciliation with the providers.", no_args_is_help=True)
app.add_typer(payments_app, name="payments")


def _since(value: str | None, default_days: int) -> datetime:
    """``--since``: a date (2026-06-01, local to PIAOWU_TIMEZONE) or a number of days back (7 or 7d)."""
    tz = ZoneInfo(_settings().timezone)
    now = datetime.now(tz)
    text = (value or f"{default_days}d").strip().lower()
    try:
        if text.rstrip("d").isdigit():
            return now - timedelta(days=int(text.rstrip("d")))
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=tz)
    except ValueError:
        raise ValidationFailed(
            [{"field": "since", "code": "invalid", "message": "Give a date (YYYY-MM-DD) or a number of days."}]
        ) from None


@payments_app.command("reconcile")
def payments_reconcile(
    since: Annotated[
        str | None,
        typer.Option(
            help="How far back to look at closed orders' payments: a date or days (default PIAOWU_RECONCILE_DAYS)."
        ),
    ] = None,
) -> None:
    """Ask the providers about every payment not in a final state (and recent abandoned ones), apply what they
    say through the notification path, and show the mismatches and the daily summary since --since."""
    from piaowu.payments import reconciliation as recon
    from piaowu.workers.reconcile import ReconcileRun, reconcile_payments

    async def work(rt: Runtime) -> tuple[ReconcileRun, list[recon.ReconciliationRow], list[recon.DaySummary]]:
        start = _since(since, rt.settings.reconcile_days)
        run = await reconcile_payments(rt, since=start)
        async with rt.uow(readonly=True) as uow:
            rows = await recon.all_findings(uow, since=start.date())
            days = await recon.daily_summary(uow, None, since=start.date())
        return run, rows, days

    run, rows, days = _run(work)
    console.print(
        f"checked {run.checked} payment(s): " + ", ".join(f"{k} {v}" for k, v in sorted(run.outcomes.items()) if v)
        if run.outcomes
        else "nothing to check"
    )
    # One line per mismatch (no table: it must stay whole in a narrow terminal and easy to grep in a cron mail).
    console.print(f"mismatches (fixed or open): {len(rows)}", highlight=False)
    for r in rows:
        console.print(
            f"  {r.day}  order {r.order_code}  payment {r.payment_id}  {format_money(r.amount_minor, r.currency)}"
            f"  ours={r.payment_status}/{r.order_status} provider={r.provider_status}"
            f"  {r.mismatch} -> {r.action}  [{r.outcome}]" + (f"  ({r.detail})" if r.detail else ""),
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
    summary = Table(title="daily summary")
    for col in ("day", "currency", "matched", "fixed", "open"):
        summary.add_column(col)
    for d in days:
        summary.add_row(
            str(d.day), d.currency,
            f"{d.matched} / {format_money(d.matched_minor, d.currency)}",
            f"{d.fixed} / {format_money(d.fixed_minor, d.currency)}",
            f"{d.open} / {format_money(d.open_minor, d.currency)}",
        )  # fmt: skip
    if days:
        console.print(summary)
    if any(r.outcome == "open" for r in rows):
        raise typer.Exit(2)  # open items: a script (cron, monitoring) can alert on the status


async def _organizer_id(uow: UnitOfWork, slug: str) -> str:
    from piaowu.organizers import service as organizers

    try:
        return (await organizers.get_by_slug(uow, slug)).id
    except NotFound:
        raise NotFound(f"No organizer with the slug '{slug}' (see `piaowu create-organizer`).") from None


def _safe(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    app()
