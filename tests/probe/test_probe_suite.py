"""The full probe against a freshly started server: every attack must be detected."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.probe.servers import RunningServer, cardsim, instance_env, start_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STAFF = {"reviewer": "probe-reviewer", "supervisor": "probe-supervisor",
         "auditor": "probe-auditor"}
# The list, as words that must appear in the report's attack names.
REQUIRED = [
    "replayed from another application", "challenge reused", "never issued", "self-made root",
    "leaf certificate used as an intermediate", "software phone", "rooted phone",
    "unlocked phone", "outdated phone", "revoked phone", "keys swapped",
    "signature over other text", "replayed nonce", "tampered record", "replayed to the",
    "payload altered in transit", "out of order", "IDOR", "without CSRF",
    "without permission", "brute-force", "printed photo", "jitter", "another order",
    "looping", "flood of new applications",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    instance = tmp_path_factory.mktemp("probe-instance")
    running = start_server(instance_env(instance), instance / "server.log")
    try:
        with ThreadPoolExecutor() as pool:
            created = list(pool.map(lambda item: cardsim(
                running.env, "create-staff", item[1], "--role", item[0], "--password",
                f"{item[1]}-password-1"), STAFF.items()))
        assert all(c.returncode == 0 for c in created), [c.stderr for c in created]
        yield running
    finally:
        running.stop()


def test_every_attack_is_detected(server: RunningServer, tmp_path: Path) -> None:
    report_path = tmp_path / "probe.json"
    staff_args = [arg for user in STAFF.values() for arg in (
        "--staff-user", user, "--staff-password", f"{user}-password-1")]
    run = cardsim(server.env, "probe", "--base-url", server.url, "--json", str(report_path),
                  "--device-dir", server.env["CARDSIM_DEVICE_DIR"], *staff_args)
    print(run.stdout, run.stderr, sep="\n")  # shown by pytest when the test fails
    assert report_path.exists(), f"probe exited {run.returncode} without a report: " \
                                 f"{run.stderr[-3000:]}"
    report = json.loads(report_path.read_text())
    # Every attack that failed, by name, with what the probe observed.
    failures = [f"{'no server reason:' if r['detected'] else 'NOT DETECTED'} {r['name']}: "
                f"{r['server_reason']}" for r in report["results"]
                if not r["detected"] or not r["server_reason"]]
    failures += [f"could not run {e['scenario']}: {e['why']}" for e in report["could_not_run"]]
    failures += [f"skipped {e['scenario']}: {e['why']}" for e in report["skipped"]]
    assert failures == [], "\n".join(failures)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    names = [r["name"] for r in report["results"]]
    missing = [words for words in REQUIRED if not any(words in name for name in names)]
    assert missing == [], names
    assert f"{len(names)} attacks, {len(names)} detected, 0 not detected" in run.stdout
