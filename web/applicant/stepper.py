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


def stepper(current: str) -> list[StepItem]:
    """The stepper with `current` highlighted and earlier steps done."""
    keys = [k for k, _ in STEPS]
    index = keys.index(current)
    return [StepItem(key=k, label=label,
                     status="done" if i < index else "current" if i == index else "todo")
            for i, (k, label) in enumerate(STEPS)]


def step_for(state: S) -> str:
    """The page an application in `state` belongs on."""
    return STEP_OF_STATE[state]
