"""Configuration from the environment and the stepper, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from issuer.states import ApplicationState
from web.applicant.stepper import STEP_OF_STATE, stepper
from web.config import DEFAULT_DATABASE_URL, ConfigError, config_from_env
from web.security_headers import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.unit


def test_defaults_are_documented_values() -> None:
    config = config_from_env({})
    assert config["DATABASE_URL"] == DEFAULT_DATABASE_URL == "sqlite:///instance/cardsim.db"
    assert config["CARDSIM_KEY_FILE"] == Path("instance/issuer-keys.json")
    assert config["CARDSIM_DEVICE_DIR"] == Path("instance/devices")
    assert config["CARDSIM_LIVENESS_CHALLENGES"] is None
    assert config["CARDSIM_APPLICATION_TTL_HOURS"] == 72.0
    assert config["SESSION_COOKIE_HTTPONLY"] is True and config["SESSION_COOKIE_SECURE"] is False


def test_environment_overrides() -> None:
    config = config_from_env({
        "DATABASE_URL": "postgresql+psycopg://x@h/db", "CARDSIM_KEY_FILE": "/k.json",
        "CARDSIM_DEVICE_DIR": "/d", "CARDSIM_LIVENESS_CHALLENGES": " blink, nod ,",
        "CARDSIM_APPLICATION_TTL_HOURS": "0.5", "CARDSIM_SECURE_COOKIES": "1",
    })
    assert config["DATABASE_URL"] == "postgresql+psycopg://x@h/db"
    assert config["CARDSIM_LIVENESS_CHALLENGES"] == ("blink", "nod")
    assert config["CARDSIM_APPLICATION_TTL_HOURS"] == 0.5
    assert config["SESSION_COOKIE_SECURE"] is True


def test_redis_is_off_by_default_and_validated_when_set() -> None:
    assert config_from_env({})["REDIS_URL"] is None
    assert config_from_env({})["CARDSIM_REDIS_PREFIX"] == "cardsim:"
    config = config_from_env({"REDIS_URL": " redis://:pw@10.0.0.5:6380/2 ",
                              "CARDSIM_REDIS_PREFIX": "bank1:"})
    assert config["REDIS_URL"] == "redis://:pw@10.0.0.5:6380/2"
    assert config["CARDSIM_REDIS_PREFIX"] == "bank1:"
    for url in ("rediss://cache.internal:6380", "unix:///run/redis/redis.sock"):
        assert config_from_env({"REDIS_URL": url})["REDIS_URL"] == url


@pytest.mark.parametrize(("url", "message"), [
    ("localhost:6379", "must start with redis://"),
    ("http://127.0.0.1:6379", "must start with redis://"),
    ("redis://", "needs a host"),
    ("redis://h:port", "invalid port"),
    ("redis://h:6379/zero", "database must be a number"),
    ("unix://", "socket path"),
])
def test_bad_redis_url_is_a_clear_error(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_env({"REDIS_URL": url})


@pytest.mark.parametrize("ttl", ["soon", "0", "-3", "1e9", "nan"])
def test_bad_ttl_is_a_clear_error(ttl: str) -> None:
    with pytest.raises(ConfigError, match="CARDSIM_APPLICATION_TTL_HOURS"):
        config_from_env({"CARDSIM_APPLICATION_TTL_HOURS": ttl})


def test_every_state_has_a_page_and_the_stepper_marks_progress() -> None:
    assert set(STEP_OF_STATE) == set(ApplicationState)
    items = stepper("device")
    assert [i.status for i in items] == ["done"] * 4 + ["current"] + ["todo"] * 3


def test_csp_forbids_inline_code_and_framing() -> None:
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "style-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY


def test_rate_limits_and_trusted_proxies_defaults_and_overrides() -> None:
    defaults = config_from_env({})
    limits = defaults["CARDSIM_RATE_LIMITS"]
    assert isinstance(limits, dict)
    assert {name: (limit.limit, limit.window.total_seconds())
            for name, limit in limits.items()} == {
        "applications": (60, 3600.0), "phones": (60, 3600.0), "frames": (25, 1.0)}
    assert defaults["CARDSIM_TRUSTED_PROXIES"] == 0
    config = config_from_env({"CARDSIM_RATE_LIMITS": "applications=5/10m",
                              "CARDSIM_TRUSTED_PROXIES": "2"})
    overridden = config["CARDSIM_RATE_LIMITS"]
    assert isinstance(overridden, dict)
    assert overridden["applications"].limit == 5
    assert overridden["applications"].window.total_seconds() == 600
    assert config["CARDSIM_TRUSTED_PROXIES"] == 2


@pytest.mark.parametrize("proxies", ["yes", "-1", "11", "1.5"])
def test_bad_trusted_proxies_is_a_clear_error(proxies: str) -> None:
    with pytest.raises(ConfigError, match="CARDSIM_TRUSTED_PROXIES"):
        config_from_env({"CARDSIM_TRUSTED_PROXIES": proxies})
