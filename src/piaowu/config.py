"""Settings from the environment (prefix ``PIAOWU_``). Secrets are generated on first run and kept under ``var/``."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_var_dir() -> Path:
    return Path.cwd() / "var"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIAOWU_", extra="ignore")

    var_dir: Path = Field(default_factory=_default_var_dir)
    database_url: str = ""  # empty → sqlite+aiosqlite:///<var_dir>/piaowu.db
    redis_url: str = ""  # empty → rate limits count per process (see docs/operations.md)
    secret_key: str = ""  # empty → generated into var/secret_key
    public_url: str = "http://127.0.0.1:8000"  # where the sandbox gateway posts its callbacks
    # Origins (``https://shop.example.com``) besides ``public_url``'s to which a payment may send the buyer back
    # (``return_url``); JSON list in the environment: PIAOWU_ALLOWED_RETURN_ORIGINS='["https://a.example"]'.
    allowed_return_origins: list[str] = []
    timezone: str = "Asia/Shanghai"
    currency: str = "CNY"
    default_locale: str = "zh_CN"
    hold_minutes: int = 15
    sweep_interval_seconds: float = 5.0
    run_background_jobs: bool = True
    lock_timeout_seconds: float = 5.0
    db_pool_size: int = 16
    # argon2 costs: defaults are the library's (~220 ms/hash here); tests set them low.
    argon2_time_cost: int = 3
    argon2_memory_cost: int = 65536
    argon2_parallelism: int = 4
    sandbox_callback_delay_seconds: float = 0.0
    cookie_secure: bool = False
    # orders the public shop API accepts per client address per minute; 0 = no limit
    shop_orders_per_minute: int = 30

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


@lru_cache
def get_settings() -> Settings:
    return Settings()
