"""Everything a reviewer sees about one case, gathered read-only into frozen dataclasses.

Applicant-supplied text is passed through as data (templates escape it); card numbers are
masked here and never leave this module in full.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.applications import ApplicationView, view_of
from issuer.clock import require_aware
from issuer.errors import NotFound
from issuer.models import (
    Application,
    ApplicationEvent,
    Card,
    CardEvent,
    Decision,
    DeviceBinding,
    InterviewRecord,
    LivenessKeyframe,
    LivenessResult,
    ReviewAction,
    SignedAgreement,
    StaffUser,
)
from issuer.onboarding import ApplicantView, applicant_view
from issuer.permissions import Permission, require_permission
from issuer.review import OverrideView, assignee_of, overrides_of
from issuer.staff_plots import ChallengeWindow, TraceSeries, render_trace_svg
from issuer.staff_sessions import StaffPrincipal

# Signals plotted for every liveness session: (key in the evidence, label, threshold key).
PLOTTED_SIGNALS: tuple[tuple[str, str], ...] = (
    ("ear", "eye aspect ratio"),
    ("yaw", "yaw (degrees)"),
    ("mouth", "mouth opening ratio"),
    ("pitch", "pitch (degrees)"),
)
# Alternative names under which the liveness evidence may carry the same signal.
_SIGNAL_ALIASES: dict[str, tuple[str, ...]] = {
    "ear": ("ear", "eye_aspect_ratio"),
    "yaw": ("yaw", "yaw_deg"),
    "mouth": ("mouth", "mar", "mouth_ratio", "mouth_aspect_ratio"),
    "pitch": ("pitch", "pitch_deg"),
}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    from_state: str | None
    to_state: str | None
    actor: str
    details: dict[str, Any]


@dataclass(frozen=True)
class ChallengeTiming:
    name: str
    start: float | None
    end: float | None
    duration: float | None
    passed: bool | None
    detail: str


@dataclass(frozen=True)
class LivenessEvidence:
    id: int
    passed: bool
    score: float
    created_at: datetime
    keyframe_ids: tuple[int, ...]
    keyframe_labels: tuple[str, ...]
    challenges: tuple[ChallengeTiming, ...]
    failure_reasons: tuple[str, ...]
    plots: tuple[str, ...]  # inline SVG markup, built escaped by issuer.staff_plots
    details: dict[str, Any]


@dataclass(frozen=True)
class InterviewAnswer:
    question: str
    answer: str
    seconds: float | None
    flags: tuple[str, ...]


@dataclass(frozen=True)
class InterviewInfo:
    script_version: str
    answers: tuple[InterviewAnswer, ...]
    flags: tuple[str, ...]
    raw: dict[str, Any]


@dataclass(frozen=True)
class BindingInfo:
    id: int
    accepted: bool
    reason: str | None
    message: str | None
    security_level: str | None
    verified_boot_state: str | None
    os_patch_level: int | None
    device_certificate_serial: str | None
    chain: tuple[dict[str, str], ...]
    checks: tuple[tuple[str, str, bool | None, str], ...]  # key, check, passed, what was seen
    created_at: datetime


@dataclass(frozen=True)
class AgreementInfo:
    text: str
    credit_limit: int
    signed_at: datetime | None
    signature_verdict: str
    refusals: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class DecisionInfo:
    outcome: str
    reasons: tuple[str, ...]
    credit_limit: int
    decided_by: str
    decided_at: datetime


@dataclass(frozen=True)
class CardInfo:
    id: int
    masked_pan: str
    masked_dpan: str
    expiry: str
    status: str
    credit_limit: int
    created_at: datetime
    lifecycle: tuple[tuple[datetime, str | None, str, str, str], ...]


@dataclass(frozen=True)
class ReviewEntry:
    at: datetime
    staff: str
    action: str
    note: str


@dataclass(frozen=True)
class CaseView:
    """A case as the console shows it."""

    application: ApplicationView
    identity: ApplicantView | None
    timeline: tuple[TimelineEntry, ...]
    liveness: tuple[LivenessEvidence, ...]
    interview: InterviewInfo | None
    bindings: tuple[BindingInfo, ...]
    agreement: AgreementInfo | None
    decisions: tuple[DecisionInfo, ...]
    card: CardInfo | None
    reviews: tuple[ReviewEntry, ...]
    overrides: tuple[OverrideView, ...]
    assignee: str | None
    assignee_id: int | None


def displayable_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD.

    A JSON string can carry one (`"\\ud800"`) and a JSON column stores it as written, but no
    page or export can encode it as UTF-8: shown as is, it would make the whole case fail.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def displayable(value: Any) -> Any:
    """Stored JSON (details, transcripts, chain summaries) with every string, keys included,
    made `displayable_text`."""
    if isinstance(value, str):
        return displayable_text(value)
    if isinstance(value, dict):
        return {displayable(key): displayable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [displayable(item) for item in value]
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _first(mapping: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in mapping:
            return mapping[key]
    return None


def _challenges(details: dict[str, Any], t0: float) -> tuple[ChallengeTiming, ...]:
    raw = details.get("challenges") or details.get("challenge_results") or []
    timings: list[ChallengeTiming] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, str):
            timings.append(ChallengeTiming(item, None, None, None, None, ""))
            continue
        if not isinstance(item, dict):
            continue
        name = str(_first(item, "challenge", "name", "kind") or "?")
        start = _number(_first(item, "start", "started_at", "window_start"))
        end = _number(_first(item, "end", "ended_at", "completed_at", "window_end", "deadline"))
        start = None if start is None else start - t0
        end = None if end is None else end - t0
        duration = _number(_first(item, "duration", "seconds", "elapsed"))
        if duration is None and start is not None and end is not None:
            duration = end - start
        passed_raw = _first(item, "passed", "completed", "ok")
        passed = passed_raw if isinstance(passed_raw, bool) else None
        detail = str(_first(item, "reason", "failure", "message") or "")
        timings.append(ChallengeTiming(name, start, end, duration, passed, detail))
    return tuple(timings)


def _as_float(value: Any) -> float:
    number = _number(value)
    return math.nan if number is None else number


def _trace_columns(details: dict[str, Any]) -> dict[str, list[float]]:
    """Per-signal columns from `trace`/`traces`/`signals`: columns or a list of samples."""
    raw = _first(details, "trace", "traces", "signals", "samples")
    columns: dict[str, list[float]] = {}
    if isinstance(raw, dict):
        columns = {str(key): [_as_float(v) for v in values]
                   for key, values in raw.items() if isinstance(values, list)}
    elif isinstance(raw, list):
        samples = [sample for sample in raw if isinstance(sample, dict)]
        keys = {str(key) for sample in samples for key in sample}
        columns = {key: [_as_float(sample.get(key)) for sample in samples] for key in keys}
    left, right = columns.get("ear_left"), columns.get("ear_right")
    if "ear" not in columns and left and right and len(left) == len(right):
        # One eye may be hidden when the head turns: average what is there.
        columns["ear"] = [
            (a + b) / 2 if math.isfinite(a) and math.isfinite(b)
            else (a if math.isfinite(a) else b)
            for a, b in zip(left, right, strict=True)
        ]
    return columns


def _plots(details: dict[str, Any], challenges: tuple[ChallengeTiming, ...],
           t0: float) -> tuple[str, ...]:
    columns = _trace_columns(details)
    times_raw: list[float] | None = _first(columns, "t", "time", "timestamp", "ts")
    if not times_raw:
        return ()
    times = tuple(t - t0 for t in times_raw)
    thresholds_raw = details.get("thresholds")
    thresholds: dict[str, Any] = thresholds_raw if isinstance(thresholds_raw, dict) else {}
    windows = tuple(
        ChallengeWindow(label=c.name, start=c.start, end=c.end, passed=c.passed)
        for c in challenges if c.start is not None and c.end is not None
    )
    plots: list[str] = []
    for key, label in PLOTTED_SIGNALS:
        values: list[float] | None = _first(columns, *_SIGNAL_ALIASES[key])
        if not values or len(values) != len(times):
            continue
        threshold = _number(_first(thresholds, *_SIGNAL_ALIASES[key]))
        plots.append(render_trace_svg(
            series=TraceSeries(name=label, times=times, values=tuple(values),
                               threshold=threshold),
            windows=windows))
    return tuple(plots)


def _start_time(details: dict[str, Any]) -> float:
    start = _number(_first(details, "started_at", "start", "t0"))
    if start is not None:
        return start
    columns = _trace_columns(details)
    column: list[float] = _first(columns, "t", "time", "timestamp", "ts") or []
    times = [t for t in column if math.isfinite(t)]
    return min(times) if times else 0.0


@dataclass(frozen=True)
class EvidenceSummary:
    """What the case page shows of one session's stored liveness details."""

    challenges: tuple[ChallengeTiming, ...]
    failure_reasons: tuple[str, ...]
    keyframe_labels: tuple[str, ...]
    plots: tuple[str, ...]


def summarise_liveness_details(details: dict[str, Any]) -> EvidenceSummary:
    """Timings (seconds from the session start), reasons and SVG plots from the details the
    liveness package reported. Tolerates any JSON: missing or odd fields are left out."""
    t0 = _start_time(details)
    challenges = _challenges(details, t0)
    reasons_raw = details.get("failure_reasons") or []
    reasons = tuple(
        str(r.get("message") or r.get("code")) if isinstance(r, dict) else str(r)
        for r in (reasons_raw if isinstance(reasons_raw, list) else [reasons_raw])
    )
    labels_raw = details.get("keyframe_labels")
    labels = tuple(str(label) for label in labels_raw) if isinstance(labels_raw, list) else ()
    return EvidenceSummary(challenges=challenges, failure_reasons=reasons,
                           keyframe_labels=labels, plots=_plots(details, challenges, t0))


def liveness_evidence(session: Session, result: LivenessResult) -> LivenessEvidence:
    """Timings, failure reasons and trace plots of one stored liveness session."""
    details: dict[str, Any] = displayable(dict(result.details or {}))
    summary = summarise_liveness_details(details)
    keyframe_ids = tuple(session.scalars(
        select(LivenessKeyframe.id).where(LivenessKeyframe.liveness_result_id == result.id)
        .order_by(LivenessKeyframe.position)))
    return LivenessEvidence(
        id=result.id, passed=result.passed, score=result.score, created_at=result.created_at,
        keyframe_ids=keyframe_ids, keyframe_labels=summary.keyframe_labels,
        challenges=summary.challenges, failure_reasons=summary.failure_reasons,
        plots=summary.plots, details=details,
    )


def _interview(record: InterviewRecord) -> InterviewInfo:
    answers: list[InterviewAnswer] = []
    raw: dict[str, Any] = displayable(dict(record.answers or {}))
    transcript = raw.get("transcript")
    items: list[Any] = (transcript if isinstance(transcript, list)
                        else [{"question": k, "answer": v} for k, v in raw.items()])
    for item in items:
        if not isinstance(item, dict):
            answers.append(InterviewAnswer(question="", answer=str(item), seconds=None, flags=()))
            continue
        question = _first(item, "question", "prompt", "text", "id", "question_id") or ""
        answer = _first(item, "answer", "response", "choice", "value")
        seconds = _number(_first(item, "seconds", "response_seconds", "elapsed"))
        millis = _number(item.get("response_ms"))
        if seconds is None and millis is not None:
            seconds = millis / 1000.0
        flags_raw = item.get("flags")
        flags: list[Any] = flags_raw if isinstance(flags_raw, list) else []
        answers.append(InterviewAnswer(question=str(question),
                                       answer="" if answer is None else str(answer),
                                       seconds=seconds, flags=tuple(str(f) for f in flags)))
    return InterviewInfo(script_version=record.script_version, answers=tuple(answers),
                         flags=tuple(displayable(list(record.flags or ()))), raw=raw)


def _check(key: str, raw: Any) -> tuple[str, str, bool | None, str] | None:
    """A stored devicetrust `Check` (name, passed, detail) as a table row."""
    if not isinstance(raw, list | tuple) or not raw:
        return None
    passed = raw[1] if len(raw) > 1 and isinstance(raw[1], bool) else None
    detail = " ".join(str(part) for part in raw[2 if passed is not None else 1:])
    return (key, str(raw[0]), passed, detail)


def _binding(row: DeviceBinding) -> BindingInfo:
    summary: dict[str, Any] = displayable(dict(row.chain_summary or {}))
    chain: list[dict[str, str]] = []
    checks: list[tuple[str, str, bool | None, str]] = []
    keyed = {k: v for k, v in summary.items() if isinstance(v, dict)}
    for key_name, key_summary in keyed.items():
        for entry in key_summary.get("chain", []) or []:
            if isinstance(entry, dict):
                chain.append({"key": key_name, **{str(k): str(v) for k, v in entry.items()}})
        checks.extend(c for c in (_check(key_name, raw) for raw in
                                  key_summary.get("checks", []) or []) if c is not None)
    checks.extend(c for c in (_check("binding", raw) for raw in summary.get("checks", []) or [])
                  if c is not None)
    return BindingInfo(
        id=row.id, accepted=row.accepted, reason=row.reason, message=row.message,
        security_level=row.security_level, verified_boot_state=row.verified_boot_state,
        os_patch_level=row.os_patch_level,
        device_certificate_serial=row.device_certificate_serial, chain=tuple(chain),
        checks=tuple(checks), created_at=row.created_at,
    )


def _agreement(row: SignedAgreement) -> AgreementInfo:
    refusals: list[Any] = displayable(list(row.refusals or ()))
    if row.signed_at is not None and row.signature:
        verdict = "valid: verified against the attested signing key when signed"
    elif refusals:
        verdict = "not signed: last attempt refused (" + str(refusals[-1].get("reason")) + ")"
    else:
        verdict = "not signed yet"
    return AgreementInfo(text=row.text, credit_limit=row.credit_limit, signed_at=row.signed_at,
                         signature_verdict=verdict, refusals=tuple(refusals))


def _card(session: Session, card: Card) -> CardInfo:
    events = session.scalars(select(CardEvent).where(CardEvent.card_id == card.id)
                             .order_by(CardEvent.id))
    return CardInfo(
        id=card.id, masked_pan=f"{card.pan_first6}******{card.pan_last4}",
        masked_dpan=f"************{card.dpan_last4}", expiry=card.expiry, status=card.status,
        credit_limit=card.credit_limit, created_at=card.created_at,
        lifecycle=tuple((e.at, e.from_status, e.to_status, e.actor, e.reason) for e in events),
    )


def load_case(
    session: Session, *, application_id: str, viewer: StaffPrincipal, now: datetime
) -> CaseView:
    """Gather the whole case; needs `review:read`."""
    require_aware(now)
    require_permission(role=viewer.role, permission=Permission.REVIEW_READ)
    application = session.get(Application, application_id)
    if application is None:
        raise NotFound("No such application.")
    person = application.applicant
    identity = None if person is None else applicant_view(person)
    app_id = application.id
    events = session.scalars(select(ApplicationEvent).where(
        ApplicationEvent.application_id == app_id).order_by(ApplicationEvent.id))
    results = session.scalars(select(LivenessResult).where(
        LivenessResult.application_id == app_id).order_by(LivenessResult.id))
    interview = session.scalar(select(InterviewRecord).where(
        InterviewRecord.application_id == app_id))
    bindings = session.scalars(select(DeviceBinding).where(
        DeviceBinding.application_id == app_id).order_by(DeviceBinding.id))
    agreement = session.scalar(select(SignedAgreement).where(
        SignedAgreement.application_id == app_id))
    decisions = session.scalars(select(Decision).where(
        Decision.application_id == app_id).order_by(Decision.id))
    card = session.scalar(select(Card).where(Card.application_id == app_id))
    reviews = session.execute(
        select(ReviewAction, StaffUser.username).join(
            StaffUser, StaffUser.id == ReviewAction.staff_user_id)
        .where(ReviewAction.application_id == app_id).order_by(ReviewAction.id))
    holder = assignee_of(session, application_id=app_id)
    holder_user = None if holder is None else session.get(StaffUser, holder.staff_user_id)
    return CaseView(
        application=view_of(application),
        identity=identity,
        timeline=tuple(TimelineEntry(e.at, e.kind, e.from_state, e.to_state, e.actor,
                                     displayable(dict(e.details or {}))) for e in events),
        liveness=tuple(liveness_evidence(session, r) for r in results),
        interview=None if interview is None else _interview(interview),
        bindings=tuple(_binding(b) for b in bindings),
        agreement=None if agreement is None else _agreement(agreement),
        decisions=tuple(DecisionInfo(d.outcome, tuple(d.reasons), d.credit_limit, d.decided_by,
                                     d.decided_at) for d in decisions),
        card=None if card is None else _card(session, card),
        reviews=tuple(ReviewEntry(r.at, name, r.action, r.note) for r, name in reviews),
        overrides=overrides_of(session, application_id=app_id),
        assignee=None if holder_user is None else holder_user.username,
        assignee_id=None if holder is None else holder.staff_user_id,
    )


def keyframe_image(
    session: Session, *, keyframe_id: int, viewer: StaffPrincipal
) -> tuple[bytes, str]:
    """The bytes and media type of one evidence keyframe; needs `review:read`."""
    require_permission(role=viewer.role, permission=Permission.REVIEW_READ)
    frame = session.get(LivenessKeyframe, keyframe_id)
    if frame is None:
        raise NotFound("No such keyframe.")
    media_type = "image/png" if frame.image.startswith(b"\x89PNG") else "image/jpeg"
    return frame.image, media_type
