"""Web fixtures: a real app on a migrated SQLite file, with its own key file and device dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer.db import upgrade_database
from tests.db_fixtures import (  # noqa: F401  (fixtures, used by name)
    db_url,
    engine,
    migrated_url,
    session_factory,
)
from tests.redis_fixtures import redis_server  # noqa: F401  (fixture, used by name)
from web.app import create_app

AppFactory = Callable[..., Flask]


class SteppingClock:
    """A clock for the app that starts at the real time and moves only when told to."""

    def __init__(self) -> None:
        self.current = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> SteppingClock:
    """The app's clock (`CARDSIM_CLOCK`)."""
    return SteppingClock()


@pytest.fixture(scope="session")
def device_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One manufacturer PKI + device store for the session (creating the PKI is slow-ish)."""
    return tmp_path_factory.mktemp("devices")


@pytest.fixture
def make_app(tmp_path: Path, device_dir: Path, clock: SteppingClock) -> AppFactory:
    """Build an app on a fresh migrated SQLite database; keyword args override config."""

    def build(**overrides: Any) -> Flask:
        url = f"sqlite:///{tmp_path / 'cardsim.db'}"
        upgrade_database(url)
        config: dict[str, Any] = {
            "DATABASE_URL": url,
            "CARDSIM_KEY_FILE": tmp_path / "issuer-keys.json",
            "CARDSIM_DEVICE_DIR": device_dir,
            "CARDSIM_LIVENESS_CHALLENGES": ("blink", "turn_left", "open_mouth"),
            "CARDSIM_CLOCK": clock,
            "TESTING": True,
        }
        config.update(overrides)
        return create_app(config)

    return build


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    """The app with CSRF protection ON (as in production)."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    """A test client of `app`."""
    with app.test_client() as test_client:
        yield test_client
