"""API token format ``pw_<prefix>_<secret>``. Pure helpers: generate, split, hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def generate() -> tuple[str, str, str]:
    """→ (token shown once, prefix for lookup, SHA-256 hex to store)."""
    prefix = secrets.token_hex(6)
    token = f"pw_{prefix}_{secrets.token_urlsafe(32)}"
    return token, prefix, digest(token)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def prefix_of(token: str) -> str | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "pw" or not parts[1] or not parts[2]:
        return None
    return parts[1]


def matches(token: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(token), stored_digest)
