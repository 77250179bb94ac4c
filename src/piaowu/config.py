"""Settings from the environment (prefix ``PIAOWU_``). Secrets are generated on first run and kept under ``var/``."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, PrivateAttr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_var_dir() -> Path:
    return Path.cwd() / "var"


def _default_browser_packages_dir() -> Path:
    # The checkout's node_modules/ (package.json beside pyproject.toml), where scripts/start and scripts/test
    # install the pages' third-party browser code.
    return Path(__file__).resolve().parents[2] / "node_modules"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIAOWU_", extra="ignore")

    var_dir: Path = Field(default_factory=_default_var_dir)
    # The browser packages of package.json, installed by `npm ci` (web/vendor.py serves the files pages use).
    browser_packages_dir: Path = Field(default_factory=_default_browser_packages_dir)
    database_url: str = ""  # empty → sqlite+aiosqlite:///<var_dir>/piaowu.db
    redis_url: str = ""  # empty → rate limits count per process (see docs/operations.md)
    secret_key: str = ""  # empty → generated into var/secret_key
    # Where this server is reached: payment callbacks and the buyer's return from the gateway come back here.
    # Empty → http://<host>:<port> of `piaowu serve` (filled in below); set it behind a proxy.
    public_url: str = ""
    host: str = "127.0.0.1"  # `piaowu serve` defaults (PIAOWU_HOST / PIAOWU_PORT); --host/--port set them
    port: int = 8000
    # Origins (``https://shop.example.com``) besides ``public_url``'s to which a payment may send the buyer back
    # (``return_url``); JSON list in the environment: PIAOWU_ALLOWED_RETURN_ORIGINS='["https://a.example"]'.
    allowed_return_origins: list[str] = []
    # Payment reconciliation (orders/reconciliation.py): how often each process runs it, how far back it looks
    # at closed orders' payments, and how long a fresh payment is left to its own notification first.
    reconcile_interval_seconds: float = 300.0
    reconcile_days: int = 7
    reconcile_grace_seconds: float = 120.0
    timezone: str = "Asia/Shanghai"
    currency: str = "CNY"
    default_locale: str = "zh_CN"
    hold_minutes: int = 15
    sweep_interval_seconds: float = 5.0
    run_background_jobs: bool = True
    lock_timeout_seconds: float = 5.0
    # PostgreSQL connections one server process keeps (opened as needed, then kept: no overflow). Few on purpose:
    # statements beyond the database's cores only wait inside it, and waiters on a hot row cost it CPU; sized for
    # 2 workers against a 2-core database (docs/architecture.md, "Database connections").
    db_pool_size: int = 4
    # argon2 costs: defaults are the library's (~220 ms/hash here); tests set them low.
    argon2_time_cost: int = 3
    argon2_memory_cost: int = 65536
    argon2_parallelism: int = 4
    sandbox_callback_delay_seconds: float = 0.0
    # Where the sandbox gateway runs when it runs in its own process (`piaowu gateway`), as a real gateway does:
    # buyers are sent there to pay, and that process — not this server — delivers its notifications. Empty: the
    # gateway's pages are served and its notifications delivered by this server (tests, the demo).
    sandbox_gateway_url: str = ""
    cookie_secure: bool = False
    # orders the public shop API accepts per client address per minute; 0 = no limit
    shop_orders_per_minute: int = 30
    # how long one process serves a session's availability and shop page from memory (core/microcache.py):
    # what buyers see is at most this old (plus one database read); 0 = no cache
    shop_cache_seconds: float = 0.5

    _public_url_configured: bool = PrivateAttr(default=False)

    @model_validator(mode="after")
    def _default_public_url(self) -> Settings:
        self._public_url_configured = bool(self.public_url.strip())
        self.public_url = (self.public_url.strip() or default_public_url(self.host, self.port)).rstrip("/")
        return self

    @property
    def public_url_configured(self) -> bool:
        """True when PIAOWU_PUBLIC_URL was set (it then wins over the address a request came in on)."""
        return self._public_url_configured

    def allowed_origins(self) -> list[str]:
        """Where a client-supplied URL (a payment's ``return_url``) may lead: this server, and the listed origins."""
        return [self.public_url, *self.allowed_return_origins]

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{self.var_dir / 'piaowu.db'}"

    def resolved_secret_key(self) -> str:
        """The app secret (cookie signing, sandbox gateway HMAC, key encryption). Generated once, then kept."""
        if self.secret_key:
            return self.secret_key
        self.var_dir.mkdir(parents=True, exist_ok=True)
        path = self.var_dir / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        self.secret_key = path.read_text().strip()
        return self.secret_key


def default_public_url(host: str, port: int) -> str:
    """The URL a server listening on ``host:port`` is reached at from this machine (0.0.0.0 → 127.0.0.1)."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    if ":" in shown:  # an IPv6 literal
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()


_LOOPBACK = ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::")


def public_url_problem(public_url: str, host: str, port: int) -> str | None:
    """What is visibly wrong with a configured public URL for a server on ``host:port``, or None. Pure.

    Only the certain case is caught here: a URL on this machine (loopback) with another port, or one that is not
    an http(s) URL at all. A URL naming another host may be a proxy in front of us; the server probes that one
    once it is up (piaowu/app.py)."""
    from urllib.parse import urlsplit

    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"PIAOWU_PUBLIC_URL {public_url!r} is not an http(s) URL"
    try:
        url_port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return f"PIAOWU_PUBLIC_URL {public_url!r} has an invalid port"
    if parts.hostname in _LOOPBACK and url_port != port:
        return (
            f"PIAOWU_PUBLIC_URL {public_url} points at port {url_port} of this machine, but this server listens "
            f"on port {port}: payment callbacks and buyers returning from the gateway would miss it"
        )
    return None
