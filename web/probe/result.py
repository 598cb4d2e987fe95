"""What one attack scenario found, and the report of a whole run (table and JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProbeResult:
    """One attack: `detected` is True when the server refused it; `server_reason` says how."""

    name: str
    detected: bool
    server_reason: str


class ProbeAborted(Exception):
    """The probe cannot judge the server (unreachable, or the honest control flow failed)."""


class ProbeSkipped(ProbeAborted):
    """A scenario needs an input the run was not given (staff accounts, the device dir)."""


def table(results: Sequence[ProbeResult]) -> str:
    """A fixed-width text table, one attack per line."""
    width = max([len("attack"), *(len(r.name) for r in results)])
    lines = [f"{'attack':<{width}}  {'result':<12}  server reason",
             f"{'-' * width}  {'-' * 12}  {'-' * 13}"]
    for r in results:
        verdict = "detected" if r.detected else "NOT DETECTED"
        lines.append(f"{r.name:<{width}}  {verdict:<12}  {_one_line(r.server_reason)}")
    missed = sum(not r.detected for r in results)
    lines.append(f"{len(results)} attacks, {len(results) - missed} detected, {missed} not "
                 "detected")
    return "\n".join(lines)


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


Named = Sequence[tuple[str, str]]


def report_document(results: Sequence[ProbeResult], *, base_url: str, skipped: Named = (),
                    errors: Named = ()) -> dict[str, object]:
    """The JSON report: the target, the totals, every result, skips and scenario errors."""
    return {
        "base_url": base_url,
        "attacks": len(results),
        "detected": sum(r.detected for r in results),
        "not_detected": [r.name for r in results if not r.detected],
        "results": [asdict(r) for r in results],
        "skipped": [{"scenario": n, "why": w} for n, w in skipped],
        "could_not_run": [{"scenario": n, "why": w} for n, w in errors],
    }


def write_report(path: Path, results: Sequence[ProbeResult], *, base_url: str,
                 skipped: Named = (), errors: Named = ()) -> None:
    """Write the JSON report to `path`."""
    document = report_document(results, base_url=base_url, skipped=skipped, errors=errors)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8")
