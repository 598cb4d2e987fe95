"""Parallel password guesses on PostgreSQL: the 5-failure lockout holds exactly, whether the
throttle counters live in the database or in Redis (found by review: a read-only check let a
burst of 16 parallel guesses all be checked)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from issuer.db import upgrade_database
from issuer.staff_accounts import create_staff
from tests.db_fixtures import fresh_postgres_schema
from tests.redis_fixtures import RedisServer
from tests.web.conftest import AppFactory
from tests.web.staff.conftest import PASSWORD, csrf_token
from web.database import app_database

pytestmark = [pytest.mark.integration, pytest.mark.postgres]
GUESSES = 16


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from fresh_postgres_schema()


@pytest.mark.parametrize("store", ["database", "redis"])
def test_a_burst_of_parallel_guesses_gets_five_tries(
    make_app: AppFactory, postgres_url: str, redis_server: RedisServer, store: str,
) -> None:
    upgrade_database(postgres_url)
    extra = ({"REDIS_URL": redis_server.url, "CARDSIM_REDIS_PREFIX": "t:"}
             if store == "redis" else {})
    app = make_app(DATABASE_URL=postgres_url, **extra)
    try:
        with app_database(app).sessions.begin() as s:
            create_staff(s, username="alice", password=PASSWORD, role="reviewer",
                         now=app.config["CARDSIM_CLOCK"]())
        clients = [app.test_client() for _ in range(GUESSES)]
        tokens = [csrf_token(client) for client in clients]
        barrier = threading.Barrier(GUESSES)
        codes = [0] * GUESSES

        def guess(i: int) -> None:
            barrier.wait()
            codes[i] = clients[i].post("/staff/login", data={
                "username": "alice", "password": f"wrong guess {i}",
                "csrf_token": tokens[i]}).status_code

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(GUESSES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Exactly five guesses were checked; every other one was refused as locked, and so is
        # the right password afterwards.
        assert sorted(codes) == [401] * 5 + [429] * (GUESSES - 5), codes
        right = clients[0].post("/staff/login", data={
            "username": "alice", "password": PASSWORD, "csrf_token": tokens[0]})
        assert right.status_code == 429
    finally:
        app_database(app).engine.dispose()
