"""Run every scenario in order and collect results, skips and scenarios that could not run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from web.probe import (
    attacks_abuse,
    attacks_binding,
    attacks_card,
    attacks_flow,
    attacks_liveness,
    attacks_staff,
)
from web.probe.context import ProbeContext
from web.probe.result import ProbeAborted, ProbeResult, ProbeSkipped

Scenario = Callable[[ProbeContext], ProbeResult]
# Order matters: the card journey's steps build on each other, the staff attacks act on its
# card, brute force (which locks an account) comes late, and the application flood (after which
# the probe's address cannot start applications until the window ends) last.
ALL_SCENARIOS: tuple[Scenario, ...] = (
    *attacks_flow.SCENARIOS,
    *attacks_liveness.SCENARIOS,
    *attacks_binding.SCENARIOS,
    *attacks_card.SCENARIOS,
    *attacks_staff.SCENARIOS,
    *attacks_abuse.SCENARIOS,
)


@dataclass(frozen=True)
class ProbeReport:
    """Results of the scenarios that ran; what was skipped or could not run, and why."""

    results: tuple[ProbeResult, ...]
    skipped: tuple[tuple[str, str], ...]
    errors: tuple[tuple[str, str], ...]

    @property
    def all_detected(self) -> bool:
        """True when every attack that ran was detected."""
        return all(r.detected for r in self.results)


def run_probe(ctx: ProbeContext, *, scenarios: Sequence[Scenario] = ALL_SCENARIOS,
              progress: Callable[[str], None] | None = None) -> ProbeReport:
    """Run `scenarios` against `ctx.server` (reachable, else ProbeAborted)."""
    ctx.server.check_reachable()
    results: list[ProbeResult] = []
    skipped: list[tuple[str, str]] = []
    errors: list[tuple[str, str]] = []
    for scenario in scenarios:
        name = scenario.__name__
        try:
            result = scenario(ctx)
        except ProbeSkipped as exc:
            skipped.append((name, str(exc)))
            continue
        except ProbeAborted as exc:
            errors.append((name, str(exc)))
            continue
        except Exception as exc:  # a probe bug must not hide the other results
            errors.append((name, f"{type(exc).__name__}: {exc}"))
            continue
        results.append(result)
        if progress is not None:
            progress(f"{'detected    ' if result.detected else 'NOT DETECTED'}  {result.name}")
    return ProbeReport(tuple(results), tuple(skipped), tuple(errors))
