"""Configuration of the web app from environment variables, with documented defaults.

- `DATABASE_URL` (default `sqlite:///instance/cardsim.db`): SQLite or `postgresql+psycopg://`.
- `CARDSIM_KEY_FILE` (default `instance/issuer-keys.json`): issuer keys, created on first run.
- `CARDSIM_DEVICE_DIR` (default `instance/devices`): emulated phones and the manufacturer PKI.
- `CARDSIM_LIVENESS_CHALLENGES` (default unset = random): fixed order, e.g.
  `blink,turn_left,open_mouth`.
- `CARDSIM_APPLICATION_TTL_HOURS` (default `72`): an unfinished application expires after this.
- `CARDSIM_SECURE_COOKIES` (default `0`): `1` behind HTTPS, so cookies get the Secure flag.
- `REDIS_URL` (default unset): `redis://[:password@]host:port/db`, `rediss://...` or
  `unix:///path/redis.sock`. When set, in-progress liveness sessions, login throttles, request
  rate counters and staff console sessions live in Redis instead of the database (see
  docs/deployment.md); applications, results, events and the audit log stay in the database.
- `CARDSIM_REDIS_PREFIX` (default `cardsim:`): prefix of every Redis key, so several
  installations can share one Redis.
- `CARDSIM_RATE_LIMITS` (default `applications=60/h,phones=60/h,frames=25/s`): overrides of the
  request rate limits, one at a time (`<name>=<count>/<unit>`, units s, m, h, optionally with a
  multiple such as `25/10s`; `<name>=off` turns one off). `applications`: applications started
  from one client address (page or API); `phones`: emulated phones created from one client
  address; `frames`: liveness frames posted for one application. Over a limit: 429 with
  `Retry-After`.
- `CARDSIM_TRUSTED_PROXIES` (default `0`): how many reverse proxies stand in front of the app;
  their `X-Forwarded-For` / `X-Forwarded-Proto` / `X-Forwarded-Host` are then believed, so the
  client address (rate limits, login throttling) is the one the outermost proxy saw.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from issuer.rate_limits import RateLimit

DEFAULT_DATABASE_URL = "sqlite:///instance/cardsim.db"
DEFAULT_KEY_FILE = "instance/issuer-keys.json"
DEFAULT_DEVICE_DIR = "instance/devices"
DEFAULT_APPLICATION_TTL_HOURS = 72.0
DEFAULT_REDIS_PREFIX = "cardsim:"
REDIS_SCHEMES = ("redis", "rediss", "unix")
# A 640x480 JPEG frame is ~40 KB; the liveness package refuses images above 5 MB itself.
MAX_REQUEST_BYTES = 6 * 1024 * 1024


class ConfigError(ValueError):
    """An environment variable has a value the app cannot use."""


def config_from_env(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """Read the app configuration from `environ` (default: the process environment)."""
    env = os.environ if environ is None else environ
    ttl_text = env.get("CARDSIM_APPLICATION_TTL_HOURS", "").strip()
    try:
        ttl = float(ttl_text) if ttl_text else DEFAULT_APPLICATION_TTL_HOURS
    except ValueError:
        raise ConfigError("CARDSIM_APPLICATION_TTL_HOURS must be a number of hours") from None
    if not 0 < ttl <= 24 * 365:
        raise ConfigError("CARDSIM_APPLICATION_TTL_HOURS must be between 0 and 8760")
    challenges_text = env.get("CARDSIM_LIVENESS_CHALLENGES", "").strip()
    challenges = tuple(c.strip() for c in challenges_text.split(",") if c.strip()) or None
    secure = env.get("CARDSIM_SECURE_COOKIES", "0").strip() in ("1", "true", "yes")
    redis_url = check_redis_url(env.get("REDIS_URL", ""))
    prefix = env.get("CARDSIM_REDIS_PREFIX", "").strip() or DEFAULT_REDIS_PREFIX
    if len(prefix) > 64:
        raise ConfigError("CARDSIM_REDIS_PREFIX must be at most 64 characters")
    proxies_text = env.get("CARDSIM_TRUSTED_PROXIES", "").strip() or "0"
    if not proxies_text.isdigit() or int(proxies_text) > 10:
        raise ConfigError("CARDSIM_TRUSTED_PROXIES must be a whole number from 0 to 10")
    return {
        "DATABASE_URL": env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL,
        "CARDSIM_KEY_FILE": Path(env.get("CARDSIM_KEY_FILE", "").strip() or DEFAULT_KEY_FILE),
        "CARDSIM_DEVICE_DIR": Path(
            env.get("CARDSIM_DEVICE_DIR", "").strip() or DEFAULT_DEVICE_DIR
        ),
        "CARDSIM_LIVENESS_CHALLENGES": challenges,
        "CARDSIM_APPLICATION_TTL_HOURS": ttl,
        "REDIS_URL": redis_url,
        "CARDSIM_REDIS_PREFIX": prefix,
        "CARDSIM_RATE_LIMITS": parse_rate_limits(env.get("CARDSIM_RATE_LIMITS")),
        "CARDSIM_TRUSTED_PROXIES": int(proxies_text),
        "MAX_CONTENT_LENGTH": MAX_REQUEST_BYTES,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_NAME": "cardsim_applicant",
        # Tokens are bound to the signed session; a page left open for a while stays usable.
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_SSL_STRICT": secure,
        "JSON_SORT_KEYS": False,
    }


DEFAULT_RATE_LIMITS: dict[str, RateLimit] = {
    "applications": RateLimit("applications", 60, timedelta(hours=1),
                              "applications from this address"),
    "phones": RateLimit("phones", 60, timedelta(hours=1), "phones created from this address"),
    "frames": RateLimit("frames", 25, timedelta(seconds=1), "camera frames"),
}
_UNITS = {"s": 1, "m": 60, "h": 3600}
_ITEM = re.compile(r"([a-z_]+)=(?:(off)|([0-9]{1,9})/([0-9]{0,6})([smh]))")


def parse_rate_limits(text: str | None) -> dict[str, RateLimit | None]:
    """The limits in force: the defaults with `text`'s overrides; `ConfigError` if malformed."""
    limits: dict[str, RateLimit | None] = dict(DEFAULT_RATE_LIMITS)
    for raw in (text or "").split(","):
        item = raw.strip().lower()
        if not item:
            continue
        match = _ITEM.fullmatch(item)
        if match is None or match.group(1) not in DEFAULT_RATE_LIMITS:
            names = ", ".join(DEFAULT_RATE_LIMITS)
            raise ConfigError(f"CARDSIM_RATE_LIMITS: {raw.strip()!r} is not <name>=<count>/<unit> "
                              f"or <name>=off (names: {names}; units: s, m, h)")
        name, off, count, multiple, unit = match.groups()
        if off:
            limits[name] = None
            continue
        window = timedelta(seconds=int(multiple or "1") * _UNITS[unit])
        if int(count) < 1 or window.total_seconds() < 1:
            raise ConfigError(f"CARDSIM_RATE_LIMITS: {raw.strip()!r} must allow at least one "
                              "request per window of at least one second")
        limits[name] = RateLimit(name, int(count), window, DEFAULT_RATE_LIMITS[name].what)
    return limits


def check_redis_url(raw: str | None) -> str | None:
    """`REDIS_URL` stripped, or None when empty; `ConfigError` for a URL Redis cannot use."""
    url = (raw or "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in REDIS_SCHEMES:
        raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix:// "
                          f"(got {parts.scheme + '://' if parts.scheme else 'no scheme'})")
    if parts.scheme == "unix":
        if not parts.path:
            raise ConfigError("REDIS_URL unix:// needs a socket path, e.g. unix:///run/redis.sock")
        return url
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("REDIS_URL has an invalid port") from None
    if not parts.hostname or (port is not None and not 0 < port < 65536):
        raise ConfigError("REDIS_URL needs a host, e.g. redis://127.0.0.1:6379/0")
    database = parts.path.lstrip("/")
    if database and not database.isdigit():
        raise ConfigError("REDIS_URL database must be a number, e.g. redis://host:6379/0")
    return url
