"""Issuance throughput through the JSON API, against a bare Flask + SQLAlchemy insert path.

Run: .venv/bin/python -m benchmarks.bench_issuance [--applications 20] [--no-postgres]

For SQLite (a file) and PostgreSQL (a fresh schema at $CARDSIM_TEST_POSTGRES_URL), in the same
run: (1) N applicants walk the whole JSON API flow in-process (WSGI, no network) from
creation to an activated card with a real tee_sim phone; liveness is pre-recorded (a passed
verdict stored through the issuer, as real sessions take seconds of camera time); (2) the
baseline: a bare Flask route inserting one row with SQLAlchemy, one transaction per request.
Prints applications/s, bare inserts/s, their ratio, and p50/p95 server latency per API step.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Flask, jsonify
from flask.testing import FlaskClient
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, text
from sqlalchemy.orm import sessionmaker
from werkzeug.test import TestResponse

from issuer.db import make_engine, upgrade_database
from issuer.onboarding import begin_liveness_session, record_liveness_result
from tee_sim import DeviceStore, wallet
from web.app import create_app
from web.database import app_database
from web.probe.api import fresh_identity

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
Timings = dict[str, list[float]]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


class TimedClient:
    """Test-client calls timed per step (server latency: the WSGI call, no network)."""

    def __init__(self, client: FlaskClient, timings: Timings) -> None:
        self.client, self.timings = client, timings

    def call(self, step: str, method: str, path: str, *, token: str | None = None,
             body: Any = None, headers: dict[str, str] | None = None) -> Any:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        start = time.perf_counter()
        response: TestResponse = self.client.open(path, method=method, json=body,
                                                  headers=all_headers)
        self.timings[step].append(time.perf_counter() - start)
        if response.status_code >= 300:
            raise RuntimeError(f"{step}: HTTP {response.status_code} {response.get_data()!r}")
        return response.get_json()


def record_liveness(app: Flask, application_id: str) -> None:
    """The pre-recorded liveness verdict, stored through the issuer's own functions."""
    now = app.config["CARDSIM_CLOCK"]()
    with app_database(app).sessions() as session, session.begin():
        begin_liveness_session(session, application_id=application_id, state={}, now=now)
        record_liveness_result(session, application_id=application_id, passed=True, score=1.0,
                               details={"source": "benchmark: pre-recorded"}, keyframes=[],
                               now=now)


class ReadingClock:
    """Real time, plus the reading time the simulated applicants spent on their interviews
    (the server flags an interview answered faster than a person reads; nobody waits here)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def one_application(app: Flask, api: TimedClient) -> None:
    """Creation to an activated card through /api/v1 and the phone panel."""
    created = api.call("create", "POST", "/api/v1/applications", body={"consent": True})
    token, base = created["access_token"], f"/api/v1/applications/{created['id']}"
    api.call("identity", "POST", f"{base}/identity", token=token, body=fresh_identity())
    record_liveness(app, created["id"])
    served = api.call("interview questions", "GET", f"{base}/interview", token=token)
    answers = [{"question_id": q["id"], "value": _answer(q)} for q in served["questions"]]
    app.config["CARDSIM_CLOCK"].offset += timedelta(seconds=1.3 * len(answers))
    api.call("interview answers", "POST", f"{base}/interview", token=token,
             body={"token": served["token"], "answers": answers})
    phone = api.call("phone (panel)", "POST", "/device/phones", body={"profile": "genuine"})
    device = DeviceStore(Path(app.config["CARDSIM_DEVICE_DIR"])).open(phone["device_id"])
    challenge = unb64(api.call("binding challenge", "POST", f"{base}/device-binding/challenge",
                               token=token)["challenge"])
    keys = wallet.bind(device, challenge=challenge)
    chains = {name: [b64(der) for der in key["chain"]]  # type: ignore[attr-defined]
              for name, key in keys.items()}
    api.call("device binding", "POST", f"{base}/device-binding", token=token,
             body={"challenge": b64(challenge), "chains": chains})
    offer = api.call("agreement offer", "GET", f"{base}/agreement", token=token)
    signed = wallet.confirm(device, prompt=offer["prompt"], nonce=unb64(offer["nonce"]))
    api.call("agreement signature", "POST", f"{base}/agreement", token=token,
             body={"message": b64(signed.message), "signature": b64(signed.signature)})
    api.call("decision", "POST", f"{base}/decision", token=token)
    api.call("card issue", "POST", f"{base}/card", token=token,
             headers={"Idempotency-Key": secrets.token_hex(8)})
    hello = unb64(api.call("provisioning hello", "POST", f"{base}/card/provisioning",
                           token=token)["hello"])
    wallet.open_channel(device, hello=hello)
    record = unb64(api.call("provisioning payload", "POST", f"{base}/card/provisioning/payload",
                            token=token, body={"se_challenge": b64(wallet.se_challenge(device))}
                            )["record"])
    delivered = wallet.receive_provisioning(device, record=record)
    api.call("provisioning result", "POST", f"{base}/card/provisioning/result", token=token,
             body={"record": b64(delivered["response"])})  # type: ignore[arg-type]
    wallet.set_pin(device, pin="2468")
    api.call("activate", "POST", f"{base}/card/activate", token=token)


def _answer(question: dict[str, Any]) -> str:
    honest = {"confirm_name": "yes", "confirm_birth_date": "yes", "voluntary": "yes",
              "paid_or_asked": "no", "interest_rate": "18.25%", "annual_fee": "CNY 200",
              "employer": "Acme Trading"}
    return honest[question["id"]]


def bare_insert_rate(url: str, seconds: float) -> float:
    """Requests/s of a bare Flask route inserting one row with SQLAlchemy (own transaction)."""
    engine = make_engine(url) if url.startswith("sqlite") else create_engine(url)
    metadata = MetaData()
    rows = Table("bench_rows", metadata, Column("id", Integer, primary_key=True),
                 Column("payload", String(64)))
    metadata.create_all(engine)
    factory = sessionmaker(engine)
    app = Flask("bare")

    @app.post("/rows")
    def add_row() -> Any:
        with factory() as session, session.begin():
            session.execute(insert(rows).values(payload=secrets.token_hex(16)))
        return jsonify({"ok": True}), 201

    client = app.test_client()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        assert client.post("/rows").status_code == 201
        count += 1
    engine.dispose()
    return count / elapsed


@contextmanager
def postgres_schema(admin_url: str) -> Iterator[str]:
    """A fresh schema, dropped afterwards; yields a URL whose search_path is that schema."""
    schema = "bench_" + secrets.token_hex(4)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in admin_url else "?"
        yield f"{admin_url}{separator}options={quote(f'-csearch_path={schema}', safe='')}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def measure(label: str, url: str, instance: Path, applications: int) -> None:
    """Run and print one database's figures."""
    upgrade_database(url)
    app = create_app({"DATABASE_URL": url, "CARDSIM_KEY_FILE": instance / "keys.json",
                      "CARDSIM_DEVICE_DIR": instance / "devices", "TESTING": True,
                      "CARDSIM_CLOCK": ReadingClock()})
    timings: Timings = defaultdict(list)
    with app.test_client() as client:
        api = TimedClient(client, timings)
        one_application(app, api)  # warm-up (mediapipe-free, but imports and caches)
        timings.clear()
        start = time.perf_counter()
        for _ in range(applications):
            one_application(app, api)
        elapsed = time.perf_counter() - start
    app_rate = applications / elapsed
    server_time = sum(sum(v) for v in timings.values()) / applications
    bare = bare_insert_rate(url, seconds=3.0)
    print(f"\n== {label}: {applications} applications in {elapsed:.1f} s")
    print(f"issuance end to end       {app_rate:8.2f} applications/s "
          f"({1000 / app_rate:.0f} ms each, {server_time * 1000:.0f} ms of it in the server)")
    print(f"baseline bare insert      {bare:8.1f} requests/s ({1000 / bare:.2f} ms each)")
    print(f"ratio                     one application costs {bare / app_rate:.0f} bare inserts"
          f" (server part alone: {server_time * bare:.0f})")
    print(f"{'step':<24} {'p50 ms':>8} {'p95 ms':>8}")
    for step, values in timings.items():
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        print(f"{step:<24} {statistics.median(values) * 1000:8.2f} {p95 * 1000:8.2f}")


def main(argv: list[str] | None = None) -> None:
    """Measure on SQLite and (unless --no-postgres) PostgreSQL."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applications", type=int, default=20)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        measure("SQLite", f"sqlite:///{instance / 'bench.db'}", instance / "sqlite",
                args.applications)
        if not args.no_postgres:
            admin = os.environ.get("CARDSIM_TEST_POSTGRES_URL", "").strip() or DEFAULT_POSTGRES
            with postgres_schema(admin) as url:
                measure("PostgreSQL", url, instance / "postgres", args.applications)


if __name__ == "__main__":
    main()
