"""Rules for text, times, searches and URLs that clients hand us. Pure: plain values in, plain values out.

Every request schema (API and pages alike) uses these through ``piaowu.fields``; nothing else decides what a
name may contain, which moments a date may name, how a search term is matched or where a redirect may lead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from piaowu.core.errors import ValidationFailed

# ---- text --------------------------------------------------------------------------------------------------

# Characters that change how text is displayed rather than what it says: the bidirectional embeddings,
# overrides and isolates (a name "‮gpj.exe" shows as "exe.jpg"), and the Arabic letter mark.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c")
LINE_BREAKS = frozenset("\n\r\t")

NAME_MESSAGE = "Remove control characters and text-direction marks."


def forbidden_characters(value: str, *, multiline: bool = False) -> list[str]:
    """The characters of ``value`` no name or text may hold: C0 and C1 controls (tab and line breaks are
    allowed in multi-line text such as descriptions), DEL, and bidirectional overrides/isolates."""
    bad = []
    for ch in value:
        if multiline and ch in LINE_BREAKS:
            continue
        if ch in BIDI_CONTROLS or unicodedata.category(ch) == "Cc":
            bad.append(ch)
    return bad


def clean_name(value: str) -> str:
    """A one-line name as people type it, trimmed. Raises ValueError (``NAME_MESSAGE``) when it holds a control
    or text-direction character: refused, not silently dropped, so what is stored is what the client sent."""
    if forbidden_characters(value):
        raise ValueError(NAME_MESSAGE)
    return value.strip()


BLANK_MESSAGE = "Enter a name."


def clean_required_name(value: str) -> str:
    """``clean_name``, and not blank once trimmed (``"   "`` is no name)."""
    name = clean_name(value)
    if not name:
        raise ValueError(BLANK_MESSAGE)
    return name


NAME_LENGTH = 200  # the names' columns (staff, tokens, organizers) hold this many characters


def checked_name(field: str, value: str) -> str:
    """``clean_name`` for services that take names from outside a schema (the CLI, page forms): a bad name
    raises ``ValidationFailed`` on ``field``; an empty or over-long one too."""
    try:
        name = clean_name(value)
    except ValueError as exc:
        raise ValidationFailed([{"field": field, "code": "invalid_characters", "message": str(exc)}]) from None
    if not name or len(name) > NAME_LENGTH:
        message = "Enter a name of 1 to 200 characters."
        raise ValidationFailed([{"field": field, "code": "invalid_length", "message": message}])
    return name


TIMEZONE_MESSAGE = "Enter a time zone such as Asia/Shanghai."


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def clean_timezone(value: str) -> str:
    """An IANA time zone name (``Asia/Shanghai``) or "" (where a field allows none). Checked against zoneinfo's
    list of zones rather than by loading one, so a path-like value never reaches the file system."""
    value = value.strip()
    if value and value not in _zones():
        raise ValueError(TIMEZONE_MESSAGE)
    return value


def clean_required_timezone(value: str) -> str:
    """``clean_timezone`` where a zone is required (an organizer's)."""
    zone = clean_timezone(value)
    if not zone:
        raise ValueError(TIMEZONE_MESSAGE)
    return zone


def checked_timezone(field: str, value: str) -> str:
    """``clean_timezone`` for services that take a zone from outside a schema (the CLI): a zone is required."""
    try:
        return clean_required_timezone(value)
    except ValueError as exc:
        raise ValidationFailed([{"field": field, "code": "invalid", "message": str(exc)}]) from None


def clean_text(value: str) -> str:
    """Multi-line text (descriptions, reasons): line breaks and tabs kept, other controls refused."""
    if forbidden_characters(value, multiline=True):
        raise ValueError(NAME_MESSAGE)
    return value


def fit(value: str, length: int) -> str:
    """``value`` cut to at most ``length`` characters, for labels derived from longer names."""
    return value if len(value) <= length else value[: max(0, length - 1)].rstrip() + "…"


# ---- search -------------------------------------------------------------------------------------------------

LIKE_ESCAPE = "\\"


def escape_like(term: str) -> str:
    """``term`` for a LIKE pattern with ``escape=LIKE_ESCAPE``: ``%``, ``_`` and the escape itself match
    themselves, so a search is always for the literal text typed."""
    return term.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


# ---- time ---------------------------------------------------------------------------------------------------

# Every moment the API accepts lies in this range (documented in docs/api.md). Inside it, converting to any time
# zone and adding the offsets the rules use (admission windows, hold times) cannot leave Python's year 1–9999,
# and both databases store it exactly.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC)
TIME_RANGE_MESSAGE = "Enter a date between 1970 and 2199."


def in_time_range(value: datetime) -> datetime:
    """``value`` (aware) if it lies within ``EARLIEST``…``LATEST``; else ValueError (``TIME_RANGE_MESSAGE``).
    Compared without converting, so even year 1 or 9999 with an extreme offset cannot overflow here."""
    if value.tzinfo is None:
        raise ValueError(TIME_RANGE_MESSAGE)
    try:
        ok = EARLIEST <= value <= LATEST
    except OverflowError:  # an offset that would cross year 1 or 9999 while comparing
        ok = False
    if not ok:
        raise ValueError(TIME_RANGE_MESSAGE)
    return value


# ---- URLs ---------------------------------------------------------------------------------------------------

_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f\\]")


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, lower-cased; None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    default = 443 if parts.scheme.lower() == "https" else 80
    netloc = parts.hostname.lower() + (f":{port}" if port and port != default else "")
    return f"{parts.scheme.lower()}://{netloc}"


def is_allowed_url(url: str, allowed_origins: Iterable[str]) -> bool:
    """True when ``url`` is an absolute http(s) URL on one of ``allowed_origins`` (``scheme://host[:port]``), with
    no credentials, spaces, control characters or backslashes that browsers would read differently from us."""
    if not url or _SPACE_OR_CONTROL.search(url):
        return False
    try:
        if urlsplit(url).username is not None:
            return False
    except ValueError:
        return False
    origin = origin_of(url)
    return origin is not None and origin in {o for o in (origin_of(x) for x in allowed_origins) if o}


def is_local_path(target: str) -> bool:
    """True for a path on this site (``/manage/orders?x=1``): never ``//host``, ``/\\host``, a scheme, or
    characters browsers drop or rewrite (tabs, line breaks, backslashes) that could turn it into one."""
    if not target or not target.startswith("/") or _SPACE_OR_CONTROL.search(target):
        return False
    if target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


# ---- origins ------------------------------------------------------------------------------------------------

# An organizer lists the origins of its own sites (``https://tickets.grand-theatre.cn``) to which a payment may
# send the buyer back. What is stored is exactly what ``origin_of`` makes of a return URL on that site, so the
# comparison in ``is_allowed_url`` is a plain string match.
ORIGIN_LENGTH = 200
MAX_ORIGINS = 20

ORIGIN_SCHEME_MESSAGE = "Start the origin with http:// or https://."
ORIGIN_EXTRA_MESSAGE = "Enter only the origin (scheme, host and port): no path, query or fragment."
ORIGIN_HOST_MESSAGE = "Enter a valid host name, like tickets.example.com."
ORIGIN_CREDENTIALS_MESSAGE = "An origin cannot hold a user name or password."
ORIGIN_PORT_MESSAGE = "Enter a port from 1 to 65535."
ORIGIN_LENGTH_MESSAGE = "Enter an origin of at most 200 characters."
ORIGIN_COUNT_MESSAGE = "List at most 20 origins."

_SCHEME_PREFIX = re.compile(r"^(https?)://", re.I)
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PORT = re.compile(r"^[0-9]{1,5}$")
_IPV4 = re.compile(r"^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$")


def _clean_host(host: str) -> str:
    """A lower-case host name (an internationalized one in its ``xn--`` form) or a dotted IPv4 address."""
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(ORIGIN_HOST_MESSAGE) from None
    host = host.lower()
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise ValueError(ORIGIN_HOST_MESSAGE)
    # A last label of digits makes browsers read the whole host as an IPv4 address ("1.2.3", "a.123"): only a
    # real one is accepted.
    if labels[-1].isdigit() and not _IPV4.match(host):
        raise ValueError(ORIGIN_HOST_MESSAGE)
    return host


def clean_origin(value: str) -> str:
    """``scheme://host[:port]`` as browsers serialize an origin: http or https, a lower-case host (no IPv6
    literal, no user name), the port only when it is not the scheme's default. Surrounding spaces are trimmed and
    one trailing ``/`` is dropped; anything after the host and port (a path, ``?``, ``#``) is refused, as is
    anything else. Raises ValueError with a sentence saying what to change."""
    value = value.strip()
    if len(value) > ORIGIN_LENGTH:
        raise ValueError(ORIGIN_LENGTH_MESSAGE)
    scheme = _SCHEME_PREFIX.match(value)
    if scheme is None:
        raise ValueError(ORIGIN_SCHEME_MESSAGE)
    rest = value[scheme.end() :].removesuffix("/")
    if _SPACE_OR_CONTROL.search(rest):
        raise ValueError(ORIGIN_HOST_MESSAGE)
    if any(ch in rest for ch in "/?#"):
        raise ValueError(ORIGIN_EXTRA_MESSAGE)
    if "@" in rest:
        raise ValueError(ORIGIN_CREDENTIALS_MESSAGE)
    if "[" in rest or "]" in rest:
        raise ValueError(ORIGIN_HOST_MESSAGE)
    host, colon, port_text = rest.partition(":")
    name = scheme.group(1).lower()
    port = None
    if colon:
        if not _PORT.match(port_text) or not 1 <= int(port_text) <= 65535:
            raise ValueError(ORIGIN_PORT_MESSAGE)
        port = int(port_text)
    if not host:
        raise ValueError(ORIGIN_HOST_MESSAGE)
    default = 443 if name == "https" else 80
    return f"{name}://{_clean_host(host)}" + (f":{port}" if port and port != default else "")


def clean_origins(values: Iterable[str]) -> list[str]:
    """``clean_origin`` of each, without repeats, in the order given; at most ``MAX_ORIGINS``."""
    out: list[str] = []
    for value in values:
        origin = clean_origin(value)
        if origin not in out:
            out.append(origin)
    if len(out) > MAX_ORIGINS:
        raise ValueError(ORIGIN_COUNT_MESSAGE)
    return out


def checked_origins(field: str, values: Iterable[str]) -> list[str]:
    """``clean_origins`` for services: every bad entry is named (``field.<index>``) in one ``ValidationFailed``."""
    values = list(values)
    if len(values) > MAX_ORIGINS:
        raise ValidationFailed([{"field": field, "code": "too_long", "message": ORIGIN_COUNT_MESSAGE}])
    errors = []
    for i, value in enumerate(values):
        try:
            clean_origin(value)
        except ValueError as exc:
            errors.append({"field": f"{field}.{i}", "code": "invalid_origin", "message": str(exc)})
    if errors:
        raise ValidationFailed(errors)
    return clean_origins(values)
