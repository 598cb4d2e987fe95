"""Real `cardsim serve` subprocesses for the probe, scale and benchmark runs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.processes import free_port, stop_process, wait_until_answers

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90.0



def instance_env(instance: Path, *, database_url: str | None = None) -> dict[str, str]:
    """Environment of a server instance: database, key file and device dir under `instance`."""
    return {
        **os.environ,
        "DATABASE_URL": database_url or f"sqlite:///{instance / 'cardsim.db'}",
        "CARDSIM_KEY_FILE": str(instance / "issuer-keys.json"),
        "CARDSIM_DEVICE_DIR": str(instance / "devices"),
    }


@dataclass
class RunningServer:
    """A started server: its URL, process, environment and log file."""

    url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path

    def stop(self) -> None:
        """Terminate the process (kill after 10 s)."""
        stop_process(self.process)


def cardsim(env: dict[str, str], *args: str, timeout: float = 600
            ) -> subprocess.CompletedProcess[str]:
    """Run `cardsim <args>` (as `python -m web.cli`) to completion."""
    return subprocess.run([sys.executable, "-m", "web.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def start_server(env: dict[str, str], log: Path, *, workers: int = 1,
                 extra_args: Sequence[str] = ()) -> RunningServer:
    """`cardsim serve [extra_args]` on a free port; waits until `/api/v1/openapi.json`
    answers."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve", "--host", "127.0.0.1", "--port",
             str(port), "--workers", str(workers), *extra_args],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = RunningServer(url=f"http://127.0.0.1:{port}", process=process, env=env, log=log)
    try:
        wait_until_answers(server.url + "/api/v1/openapi.json", process, log,
                           timeout=START_TIMEOUT_S)
    except RuntimeError:
        server.stop()
        raise
    return server
