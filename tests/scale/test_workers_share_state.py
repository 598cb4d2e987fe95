"""No per-process state: three server processes on one PostgreSQL database serve one
applicant's liveness session, each frame going to the next server in turn; once with the
short-lived state in the database, once in Redis (`REDIS_URL`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.db_fixtures import fresh_postgres_schema
from tests.probe.servers import RunningServer, instance_env, start_server
from tests.redis_fixtures import RedisServer
from web.probe.api import Applicant, Server
from web.probe.faces import render_face_clips
from web.probe.live_session import perform_honestly

pytestmark = [pytest.mark.postgres, pytest.mark.integration, pytest.mark.slow]

SERVERS = 3
FRAME_LINE = re.compile(r'"POST /api/v1/applications/[^/]+/liveness/frames HTTP/1\.1" 200')


@pytest.fixture(params=["postgres", "postgres+redis"])
def store(request: pytest.FixtureRequest) -> RedisServer | None:
    """Where the short-lived state goes: the database, or the test's own Redis."""
    if request.param == "postgres":
        return None
    server: RedisServer = request.getfixturevalue("redis_server")
    return server


@pytest.fixture
def servers(tmp_path: Path, store: RedisServer | None) -> Iterator[list[RunningServer]]:
    """Three `cardsim serve` processes sharing one database, key file and device dir."""
    for url in fresh_postgres_schema():
        env = instance_env(tmp_path, database_url=url)
        if store is not None:
            env["REDIS_URL"] = store.url
        running: list[RunningServer] = []
        try:
            # The first one migrates the schema; the others find it current.
            running.append(start_server(env, tmp_path / "server-0.log"))
            with ThreadPoolExecutor() as pool:
                starting = [pool.submit(start_server, env, tmp_path / f"server-{n}.log")
                            for n in range(1, SERVERS)]
            running.extend(f.result() for f in starting if f.exception() is None)
            for future in starting:
                future.result()  # re-raise a failed start (the started ones are stopped)
            yield running
        finally:
            for server in running:
                server.stop()


def test_each_frame_to_another_worker_still_reaches_the_verdict(
    servers: list[RunningServer], store: RedisServer | None
) -> None:
    assert len({s.process.pid for s in servers}) == SERVERS
    first = Server(servers[0].url).new_applicant()
    first.submit_identity()
    # The same application and token, reached through each server in turn.
    through = [Applicant(Server(s.url), first.application_id, first.token) for s in servers]
    end = perform_honestly(first, render_face_clips(), senders=through)
    assert end.finished and end.passed, end.reasons
    assert end.frames_sent >= 3 * SERVERS
    for applicant in through:  # every server sees the stored verdict
        assert applicant.state() == "liveness_passed"
    served = [len(FRAME_LINE.findall(s.log.read_text())) for s in servers]
    # Round robin: each process handled its third of the frames (by its own access log).
    assert sum(served) == end.frames_sent
    assert all(count >= end.frames_sent // SERVERS for count in served), served
    if store is not None:
        # Every stored frame went through the Redis compare-and-set script (start, frames,
        # the final claim), and the finished session's state was deleted.
        look = store.client()
        scripts = look.info("commandstats")
        calls = sum(int(v["calls"]) for k, v in scripts.items()
                    if k in ("cmdstat_evalsha", "cmdstat_eval"))
        assert calls >= end.frames_sent
        assert look.keys("cardsim:liveness:*") == []
