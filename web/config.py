"""Configuration of the web app from environment variables, with documented defaults.

- `DATABASE_URL` (default `sqlite:///instance/cardsim.db`): SQLite or `postgresql+psycopg://`.
- `CARDSIM_KEY_FILE` (default `instance/issuer-keys.json`): issuer keys, created on first run.
- `CARDSIM_DEVICE_DIR` (default `instance/devices`): emulated phones and the manufacturer PKI.
- `CARDSIM_LIVENESS_CHALLENGES` (default unset = random): fixed order, e.g.
  `blink,turn_left,open_mouth`.
- `CARDSIM_APPLICATION_TTL_HOURS` (default `72`): an unfinished application expires after this.
- `CARDSIM_SECURE_COOKIES` (default `0`): `1` behind HTTPS, so cookies get the Secure flag.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///instance/cardsim.db"
DEFAULT_KEY_FILE = "instance/issuer-keys.json"
DEFAULT_DEVICE_DIR = "instance/devices"
DEFAULT_APPLICATION_TTL_HOURS = 72.0
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
    return {
        "DATABASE_URL": env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL,
        "CARDSIM_KEY_FILE": Path(env.get("CARDSIM_KEY_FILE", "").strip() or DEFAULT_KEY_FILE),
        "CARDSIM_DEVICE_DIR": Path(
            env.get("CARDSIM_DEVICE_DIR", "").strip() or DEFAULT_DEVICE_DIR
        ),
        "CARDSIM_LIVENESS_CHALLENGES": challenges,
        "CARDSIM_APPLICATION_TTL_HOURS": ttl,
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
