"""Concurrent applicants streaming liveness frames at 10 fps to gunicorn workers on PostgreSQL.

Run: .venv/bin/python -m benchmarks.bench_concurrent [--applicants 6] [--workers 3]
         [--redis-url URL]

Starts `cardsim serve --workers W` (gunicorn) on a fresh PostgreSQL schema
($CARDSIM_TEST_POSTGRES_URL), then in the same run: (1) baseline, one applicant alone;
(2) N applicants at once, each performing the prompted challenges from corpus face clips at
10 fps in real time. Prints sustained frames/s, p50/p95 frame latency, the ratio to the
baseline, and the verdict of every applicant (a session without a verdict = state lost).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.bench_issuance import DEFAULT_POSTGRES, postgres_schema
from tests.probe.servers import instance_env, start_server
from web.probe.api import Applicant, Reply, Server
from web.probe.faces import FPS, FaceClips, render_face_clips
from web.probe.live_session import perform_honestly
from web.probe.result import ProbeAborted


class TimedApplicant(Applicant):
    """An applicant that records each frame's round-trip latency."""

    latencies: list[float]
    done_at: list[float]
    lock = threading.Lock()

    def send_frame(self, jpeg: bytes, *, client_ms: int) -> Reply:
        start = time.perf_counter()
        reply = super().send_frame(jpeg, client_ms=client_ms)
        end = time.perf_counter()
        with self.lock:
            self.latencies.append(end - start)
            self.done_at.append(end)
        return reply


def run_applicant(server: Server, clips: FaceClips, latencies: list[float],
                  done_at: list[float]) -> str:
    """One applicant: identity, then liveness; returns its verdict."""
    plain = server.new_applicant()
    applicant = TimedApplicant(server, plain.application_id, plain.token)
    applicant.latencies, applicant.done_at = latencies, done_at
    applicant.submit_identity()
    try:
        end = perform_honestly(applicant, clips)
    except ProbeAborted as exc:
        return f"no verdict ({exc})"
    if not end.finished:
        return f"refused: {end.reasons}"
    state = applicant.state()  # the stored verdict, read back through any worker
    if end.passed:
        return f"passed ({state})"
    return f"failed ({state}): {end.reasons}"


def wave(server: Server, clips: FaceClips, applicants: int) -> tuple[float, list[float], list[str]]:
    """N applicants at once; returns (frames/s sustained while streaming, latencies,
    verdicts)."""
    latencies: list[float] = []
    done_at: list[float] = []
    with ThreadPoolExecutor(max_workers=applicants) as pool:
        verdicts = list(pool.map(lambda _: run_applicant(server, clips, latencies, done_at),
                                 range(applicants)))
    streaming = max(done_at) - min(done_at)
    return (len(done_at) - 1) / streaming, latencies, verdicts


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main(argv: list[str] | None = None) -> None:
    """Baseline, then the concurrent wave; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applicants", type=int, default=6)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--redis-url", default="",
                        help="also keep short-lived state in this Redis (REDIS_URL); the "
                             "benchmark's keys get their own prefix")
    args = parser.parse_args(argv)
    clips = render_face_clips()
    admin = os.environ.get("CARDSIM_TEST_POSTGRES_URL", "").strip() or DEFAULT_POSTGRES
    with tempfile.TemporaryDirectory() as tmp, postgres_schema(admin) as url:
        instance = Path(tmp)
        env = instance_env(instance, database_url=url)
        if args.redis_url:
            env |= {"REDIS_URL": args.redis_url,
                    "CARDSIM_REDIS_PREFIX": f"bench-{instance.name}:"}
        running = start_server(env, instance / "server.log", workers=args.workers)
        try:
            server = Server(running.url)
            wave(server, clips, args.workers)  # warm-up: each worker loads mediapipe once
            base_fps, base_lat, base_verdicts = wave(server, clips, 1)
            fps, lat, verdicts = wave(server, clips, args.applicants)
        finally:
            running.stop()
    offered = args.applicants * FPS
    store = " + Redis" if args.redis_url else ""
    print(f"gunicorn workers {args.workers}, PostgreSQL{store}, {os.cpu_count()} CPU(s)")
    print(f"baseline 1 applicant     {base_fps:6.1f} frames/s  "
          f"p50 {p(base_lat, 0.5):6.1f} ms  p95 {p(base_lat, 0.95):6.1f} ms  "
          f"verdict: {base_verdicts[0]}")
    print(f"{args.applicants} applicants at 10 fps   {fps:6.1f} frames/s sustained of "
          f"{offered:.0f} offered  p50 {p(lat, 0.5):6.1f} ms  p95 {p(lat, 0.95):6.1f} ms")
    print(f"ratio                    p95 latency x{p(lat, 0.95) / p(base_lat, 0.95):.2f} of "
          f"baseline, throughput {fps / offered:.0%} of offered load")
    outcome = Counter(v.split(" ")[0] for v in verdicts)
    print(f"verdicts                 {dict(outcome)}; lost sessions (no verdict): "
          f"{outcome.get('no', 0)}")
    for number, verdict in enumerate(verdicts, 1):
        print(f"  applicant {number}: {verdict}")


if __name__ == "__main__":
    main()
