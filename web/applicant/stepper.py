"""The progress stepper: which step each application state belongs to."""

from __future__ import annotations

from dataclasses import dataclass

from issuer.states import ApplicationState as S

STEPS: tuple[tuple[str, str], ...] = (
    ("start", "Start"),
    ("identity", "Identity"),
    ("liveness", "Camera check"),
    ("interview", "Questions"),
    ("device", "Bind phone"),
    ("agreement", "Sign"),
    ("decision", "Decision"),
    ("card", "Card"),
)

STEP_OF_STATE: dict[S, str] = {
    S.STARTED: "identity",
    S.IDENTITY_SUBMITTED: "liveness",
    S.LIVENESS_PASSED: "interview",
    S.INTERVIEW_DONE: "device",
    S.DEVICE_BOUND: "agreement",
    S.AGREEMENT_SIGNED: "decision",
    S.APPROVED: "decision",
    S.DECLINED: "decision",
    S.MANUAL_REVIEW: "decision",
    S.EXPIRED: "decision",
    S.ABANDONED: "decision",
    S.ISSUED: "card",
    S.ACTIVATED: "card",
}


@dataclass(frozen=True)
class StepItem:
    """One entry of the stepper: label and done/current/todo."""

    key: str
    label: str
    status: str


def stepper(current: str, *, stopped_at: str | None = None) -> list[StepItem]:
    """The stepper with `current` highlighted and earlier steps done, except that the steps
    from `stopped_at` on were never completed (an application declined, cancelled or expired
    before them): those are `skipped`."""
    keys = [k for k, _ in STEPS]
    index = keys.index(current)
    stop = keys.index(stopped_at) if stopped_at is not None else index

    def status(i: int) -> str:
        if i == index:
            return "current"
        if i > index:
            return "todo"
        return "skipped" if i >= stop else "done"

    return [StepItem(key=k, label=label, status=status(i)) for i, (k, label) in enumerate(STEPS)]


def step_for(state: S) -> str:
    """The page an application in `state` belongs on."""
    return STEP_OF_STATE[state]
