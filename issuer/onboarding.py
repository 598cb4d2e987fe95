"""The applicant's flow up to the interview: start, authenticate, identity, liveness, interview.

Device binding, the agreement and the decision live in `issuer.device_binding`,
`issuer.agreement` and `issuer.decisions`; cards in `issuer.cards`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer.applications import (
    ApplicationView,
    application_ttl_from_env,
    lock_application,
    record_event,
    require_state,
    transition,
    view_of,
)
from issuer.clock import RandomBytes, require_aware, system_random
from issuer.decision import credit_limit_for, prescreen_declines
from issuer.ephemeral import LivenessStateStore, SqlLivenessStateStore, pointer_key
from issuer.errors import AccessDenied, Conflict, NotFound, ValidationFailed
from issuer.idempotency import check_idempotency_key
from issuer.identity import beijing_date, validate_identity
from issuer.keys import IssuerKeys
from issuer.models import (
    Applicant,
    Application,
    Decision,
    InterviewRecord,
    LivenessKeyframe,
    LivenessResult,
)
from issuer.personal_data import seal_identity
from issuer.states import ApplicationState
from issuer.vault import decrypt_number, encrypt_number

MAX_LIVENESS_SESSIONS = 3
MAX_KEYFRAMES = 12
MAX_KEYFRAME_BYTES = 2_000_000


# How long the answer to a start with an Idempotency-Key can be given again, at most: the
# access token is kept (encrypted under the KEK) only this long, and only until its first use.
CREATION_REPLAY_WINDOW = timedelta(minutes=10)
MIN_CREATION_KEY = 16  # the key stands for the client during the window: it must be unguessable
_PURGE_BATCH = 100


@dataclass(frozen=True)
class StartedApplication:
    """A new application and the applicant's access token (shown once, only its hash is kept;
    `replayed`: the answer to an earlier start with the same idempotency key, given again)."""

    application: ApplicationView
    access_token: str
    replayed: bool = False


class CreationKeyConflict(Conflict):
    """A start's idempotency key cannot be answered: `reason` is `idempotency_key_mismatch`
    (the key came with another request) or `idempotency_answer_gone` (the window is over,
    or the access token has been used since)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ApplicantView:
    """The validated identity on file."""

    full_name: str
    id_number_masked: str
    birth_date: str
    mobile_masked: str
    annual_income: int
    employer: str


def _token_hash(token: str) -> bytes:
    # The token has 256 bits of entropy, so a fast unsalted hash suffices.
    return hashlib.sha256(token.encode("utf-8")).digest()


def _encode_id(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class CreationKey:
    """A start's idempotency key, the digest of the request it came with, and the issuer keys
    that hash the key and encrypt the token kept to answer a retry."""

    key: str
    request_digest: bytes
    keys: IssuerKeys


def start_application(
    session: Session, *, now: datetime, ttl: timedelta | None = None,
    rng: RandomBytes = system_random, idempotency: CreationKey | None = None,
) -> StartedApplication:
    """Open a new application in state `started`, expiring after `ttl` (env default 72 h).

    With `idempotency`, a start with the same key answers with the application that key
    started and the same access token (`replayed`), within `CREATION_REPLAY_WINDOW` and until
    that token is first used; otherwise `CreationKeyConflict`, as for the same key with
    another request. Concurrent starts with one key make one application: the unique key
    hash refuses the others' rows, and they answer with the one that was committed.
    """
    now = require_aware(now)
    lifetime = application_ttl_from_env() if ttl is None else ttl
    token = _encode_id(rng(32))
    application = Application(
        id=_encode_id(rng(16)), state=ApplicationState.STARTED.value,
        access_token_hash=_token_hash(token), created_at=now, updated_at=now,
        expires_at=now + lifetime, liveness_sessions=0, binding_attempts=0,
    )
    if idempotency is None:
        session.add(application)
        session.flush()
    else:
        check_idempotency_key(idempotency.key, field="Idempotency-Key",
                              min_length=MIN_CREATION_KEY)
        key_hash = _creation_key_hash(idempotency)
        _forget_old_replays(session, now=now)
        if session.scalar(select(Application.id)
                          .where(Application.idempotency_key_hash == key_hash)) is not None:
            return _replay(session, key_hash=key_hash, creation=idempotency, now=now)
        application.idempotency_key_hash = key_hash
        application.creation_request_hash = idempotency.request_digest
        application.creation_replay = encrypt_number(kek=idempotency.keys.kek, number=token,
                                                     rng=rng)
        application.creation_replay_until = now + CREATION_REPLAY_WINDOW
        try:
            with session.begin_nested():
                session.add(application)
                session.flush()
        except IntegrityError:
            # Another start with this key committed its row first (PostgreSQL waited for it).
            return _replay(session, key_hash=key_hash, creation=idempotency, now=now)
    record_event(session, application=application, kind="started", actor="applicant", now=now,
                 details={"expires_at": application.expires_at.isoformat(),
                          "idempotency_key": idempotency is not None})
    return StartedApplication(application=view_of(application), access_token=token)


def _creation_key_hash(creation: CreationKey) -> bytes:
    # Keyed, so a copy of the database does not let anyone test guessed keys.
    return hmac.new(creation.keys.pan_hmac_key,
                    b"application idempotency key\x00" + creation.key.encode("utf-8"),
                    hashlib.sha256).digest()


def _replay(session: Session, *, key_hash: bytes, creation: CreationKey,
            now: datetime) -> StartedApplication:
    application = session.scalar(select(Application)
                                 .where(Application.idempotency_key_hash == key_hash)
                                 .with_for_update()
                                 .execution_options(populate_existing=True))
    if application is None:  # only if the row vanished between two statements
        raise Conflict("the application this idempotency key started is gone")
    if application.creation_request_hash is None or not hmac.compare_digest(
            application.creation_request_hash, creation.request_digest):
        raise CreationKeyConflict(
            "idempotency_key_mismatch",
            "this Idempotency-Key already started an application with a different request "
            "body; send the same body to get that answer again, or use a new key")
    sealed, until = application.creation_replay, application.creation_replay_until
    if sealed is None or until is None or now >= until:
        _drop_replay(application)
        minutes = int(CREATION_REPLAY_WINDOW.total_seconds() // 60)
        raise CreationKeyConflict(
            "idempotency_answer_gone",
            "this Idempotency-Key already started an application, but its answer is kept "
            f"only for {minutes} minutes and only until its access token is first used; use "
            "the access token from that answer, or start again with a new key")
    token = decrypt_number(kek=creation.keys.kek, ciphertext=sealed)
    locked = lock_application(session, application_id=application.id, now=now)
    # The access token went out again: audited like the start itself.
    record_event(session, application=locked, kind="start_answered_again", actor="applicant",
                 now=now, details={"expires_at": locked.expires_at.isoformat()})
    return StartedApplication(application=view_of(locked), access_token=token, replayed=True)


def _drop_replay(application: Application) -> None:
    if application.creation_replay is not None or application.creation_replay_until is not None:
        application.creation_replay = None
        application.creation_replay_until = None


def _forget_old_replays(session: Session, *, now: datetime) -> None:
    """Erase a batch of kept tokens whose window is over (rows another request holds locked
    are left for a later start, so this never waits)."""
    stale = session.scalars(select(Application)
                            .where(Application.creation_replay_until <= now)
                            .limit(_PURGE_BATCH).with_for_update(skip_locked=True)).all()
    for application in stale:
        _drop_replay(application)


def authenticate_applicant(
    session: Session, *, application_id: str, token: str, now: datetime
) -> ApplicationView:
    """Check the applicant's token for this application (constant time); expire if overdue.

    Unknown id and wrong token raise the same `AccessDenied`, so ids cannot be probed.
    """
    now = require_aware(now)
    application = session.get(Application, application_id) if len(application_id) <= 32 else None
    valid = application is not None and hmac.compare_digest(
        application.access_token_hash, _token_hash(token)
    )
    if not valid:
        raise AccessDenied("this application does not exist or the access token is wrong")
    locked = lock_application(session, application_id=application_id, now=now)
    # The applicant has its token: a start retried with the same key is not answered again.
    _drop_replay(locked)
    return view_of(locked)


def get_application(session: Session, *, application_id: str, now: datetime) -> ApplicationView:
    """Current view of an application (for staff and after authentication)."""
    return view_of(lock_application(session, application_id=application_id,
                                    now=require_aware(now)))


def submit_identity(
    session: Session, *, application_id: str, full_name: str, id_number: str, mobile: str,
    annual_income: int | str, employer: str, keys: IssuerKeys, now: datetime,
) -> ApplicationView:
    """Validate and store the identity form; `started` → `identity_submitted`, or on to
    `declined` at once when the form alone settles it (`issuer.decision.prescreen_declines`).

    The resident ID and mobile numbers are sealed under `keys` (see `issuer.personal_data`).
    """
    now = require_aware(now)
    application = lock_application(session, application_id=application_id, now=now)
    require_state(application, ApplicationState.STARTED)
    data = validate_identity(full_name=full_name, id_number=id_number, mobile=mobile,
                             annual_income=annual_income, employer=employer,
                             today=beijing_date(now))
    sealed = seal_identity(keys=keys, application_id=application.id, id_number=data.id_number,
                           mobile=data.mobile)
    applicant = Applicant(
        full_name=data.full_name, id_number_sealed=sealed.id_number_sealed,
        id_number_masked=sealed.id_number_masked, birth_date=data.birth_date.isoformat(),
        mobile_sealed=sealed.mobile_sealed, mobile_masked=sealed.mobile_masked,
        annual_income=data.annual_income, employer=data.employer, created_at=now,
    )
    session.add(applicant)
    session.flush()
    application.applicant_id = applicant.id
    application.offered_credit_limit = credit_limit_for(annual_income=data.annual_income,
                                                        age=data.age)
    transition(session, application=application, to=ApplicationState.IDENTITY_SUBMITTED,
               now=now, actor="applicant", kind="identity_submitted",
               details={"applicant_id": applicant.id})
    declines = prescreen_declines(annual_income=data.annual_income)
    if declines:
        session.add(Decision(application_id=application.id, outcome="declined",
                             reasons=list(declines), credit_limit=0, decided_by="system",
                             decided_at=now))
        transition(session, application=application, to=ApplicationState.DECLINED, now=now,
                   actor="system", kind="prescreen_declined", details={"reasons": list(declines)})
    return view_of(application)


def get_applicant(session: Session, *, application_id: str) -> ApplicantView:
    """The identity on file for an application, with ID and mobile masked."""
    application = session.get(Application, application_id)
    if application is None or application.applicant is None:
        raise NotFound("no identity has been submitted for this application")
    return applicant_view(application.applicant)


def applicant_view(person: Applicant) -> ApplicantView:
    """The masked view of an applicant's identity, as applicant pages and staff see it."""
    return ApplicantView(
        full_name=person.full_name,
        id_number_masked=person.id_number_masked,
        birth_date=person.birth_date,
        mobile_masked=person.mobile_masked,
        annual_income=person.annual_income, employer=person.employer,
    )


@dataclass(frozen=True)
class LivenessProgress:
    """The application's current liveness session and the stored state version it is at."""

    session: int
    key: str
    version: int
    state: dict[str, Any]


def _state_store(session: Session, store: LivenessStateStore | None) -> LivenessStateStore:
    return store if store is not None else SqlLivenessStateStore(session)


def _state_ttl(application: Application, now: datetime) -> timedelta:
    # The state is useless once the application expires; stores drop it then.
    return max(application.expires_at - now, timedelta(seconds=1))


def begin_liveness_session(
    session: Session, *, application_id: str, state: dict[str, Any], now: datetime,
    liveness_store: LivenessStateStore | None = None, rng: RandomBytes = system_random,
) -> LivenessProgress:
    """Count one more liveness attempt and store its first state. A fourth attempt, or one
    while a session is in progress (its state still stored), is a `Conflict`.

    The application row names the current session by a fresh key (`liveness_state` holds
    `{"session", "key"}`), so a state left in the store by an earlier session, or by a
    request whose transaction failed, is never taken for the current one.
    """
    now = require_aware(now)
    store = _state_store(session, liveness_store)
    application = lock_application(session, application_id=application_id, now=now)
    require_state(application, ApplicationState.IDENTITY_SUBMITTED)
    column = application.liveness_state
    if column is not None and store.load(application_id=application.id,
                                         key=pointer_key(column)) is not None:
        # Two starts at once: the second must not use up another attempt.
        raise Conflict("a liveness session is already in progress")
    if application.liveness_sessions >= MAX_LIVENESS_SESSIONS:
        raise Conflict(f"all {MAX_LIVENESS_SESSIONS} liveness attempts are used")
    application.liveness_sessions += 1
    number = application.liveness_sessions
    record_event(session, application=application, kind="liveness_session_started",
                 actor="applicant", now=now, details={"session": number}, audit=False)
    key = f"{number}-{rng(12).hex()}"
    application.liveness_state = {"session": number, "key": key}
    application.updated_at = now
    session.flush()
    version = store.save(application_id=application.id, key=key, state=state,
                         expected_version=0, ttl=_state_ttl(application, now))
    return LivenessProgress(session=number, key=key, version=version, state=state)


def current_liveness(
    session: Session, *, application_id: str, liveness_store: LivenessStateStore | None = None,
) -> LivenessProgress | None:
    """The session in progress, or None: none started, finished, or its state was lost."""
    store = _state_store(session, liveness_store)
    application = session.get(Application, application_id)
    if application is None:
        raise NotFound("no such application")
    column = application.liveness_state
    if column is None:
        return None
    key = pointer_key(column)
    snapshot = store.load(application_id=application.id, key=key)
    if snapshot is None:
        return None
    number = column.get("session")
    return LivenessProgress(
        session=number if isinstance(number, int) else application.liveness_sessions,
        key=key, version=snapshot.version, state=snapshot.state)


def advance_liveness(
    session: Session, *, application_id: str, progress: LivenessProgress,
    state: dict[str, Any], now: datetime, liveness_store: LivenessStateStore | None = None,
) -> LivenessProgress:
    """Replace the state `progress` was read as by `state` (compare-and-set).

    `Conflict` when the session is no longer current or its state moved on meanwhile (another
    frame of the same session was stored first).
    """
    now = require_aware(now)
    store = _state_store(session, liveness_store)
    application = lock_application(session, application_id=application_id, now=now)
    require_state(application, ApplicationState.IDENTITY_SUBMITTED)
    column = application.liveness_state
    if column is None or pointer_key(column) != progress.key:
        raise Conflict("this liveness session is over; start a new one")
    version = store.save(application_id=application.id, key=progress.key, state=state,
                         expected_version=progress.version, ttl=_state_ttl(application, now))
    return replace(progress, version=version, state=state)


def record_liveness_result(
    session: Session, *, application_id: str, passed: bool, score: float,
    details: dict[str, Any], keyframes: list[bytes], now: datetime,
    session_key: str | None = None,
) -> ApplicationView:
    """Store the result of the session in progress with its evidence, and end the session.

    `session_key` (when given) must name the current session: a second result for a session
    is a `Conflict`. The state store keeps the state until the caller discards it after the
    commit; it is never read again, because the application no longer points at it.

    Passed: → `liveness_passed`. Failed: the applicant may retry while sessions remain;
    after the last one the application is declined (`liveness_attempts_exhausted`).
    """
    now = require_aware(now)
    errors: dict[str, str] = {}
    if not 0.0 <= score <= 1.0:
        errors["score"] = "Liveness score must be between 0 and 1."
    if len(keyframes) > MAX_KEYFRAMES:
        errors["keyframes"] = f"At most {MAX_KEYFRAMES} keyframes are kept."
    elif any(len(frame) > MAX_KEYFRAME_BYTES for frame in keyframes):
        errors["keyframes"] = f"A keyframe may be at most {MAX_KEYFRAME_BYTES} bytes."
    if errors:
        raise ValidationFailed(errors)
    application = lock_application(session, application_id=application_id, now=now)
    require_state(application, ApplicationState.IDENTITY_SUBMITTED)
    if application.liveness_sessions == 0:
        raise Conflict("no liveness session was started")
    column = application.liveness_state
    if column is None or (session_key is not None and pointer_key(column) != session_key):
        raise Conflict("this liveness session already has its result")
    result = LivenessResult(application_id=application.id, passed=passed, score=score,
                            details=details, created_at=now)
    result.keyframes = [LivenessKeyframe(position=i, image=frame)
                        for i, frame in enumerate(keyframes)]
    session.add(result)
    application.liveness_state = None
    session.flush()
    summary = {"liveness_result_id": result.id, "passed": passed, "score": round(score, 4),
               "session": application.liveness_sessions}
    if passed:
        transition(session, application=application, to=ApplicationState.LIVENESS_PASSED,
                   now=now, actor="applicant", kind="liveness_passed", details=summary)
    elif application.liveness_sessions >= MAX_LIVENESS_SESSIONS:
        session.add(Decision(application_id=application.id, outcome="declined",
                             reasons=["liveness_attempts_exhausted"], credit_limit=0,
                             decided_by="system", decided_at=now))
        transition(session, application=application, to=ApplicationState.DECLINED, now=now,
                   actor="system", kind="liveness_attempts_exhausted", details=summary)
    else:
        record_event(session, application=application, kind="liveness_failed",
                     actor="applicant", now=now, details=summary)
    return view_of(application)


def latest_liveness(session: Session, *, application_id: str) -> LivenessResult | None:
    """The most recent liveness result of an application (for decisions and staff)."""
    return session.scalar(
        select(LivenessResult).where(LivenessResult.application_id == application_id)
        .order_by(LivenessResult.id.desc()).limit(1)
    )


def record_interview(
    session: Session, *, application_id: str, answers: dict[str, Any] | list[Any],
    flags: list[str] | tuple[str, ...], script_version: str, now: datetime,
) -> ApplicationView:
    """Store the interview transcript and flags; `liveness_passed` → `interview_done`."""
    now = require_aware(now)
    application = lock_application(session, application_id=application_id, now=now)
    require_state(application, ApplicationState.LIVENESS_PASSED)
    stored_answers = answers if isinstance(answers, dict) else {"transcript": answers}
    session.add(InterviewRecord(application_id=application.id, script_version=script_version,
                                answers=stored_answers, flags=sorted(set(flags)),
                                created_at=now))
    transition(session, application=application, to=ApplicationState.INTERVIEW_DONE, now=now,
               actor="applicant", kind="interview_done",
               details={"script_version": script_version, "flags": sorted(set(flags))})
    return view_of(application)


def abandon_application(
    session: Session, *, application_id: str, now: datetime, actor: str = "applicant"
) -> ApplicationView:
    """The applicant withdraws before a decision."""
    now = require_aware(now)
    application = lock_application(session, application_id=application_id, now=now)
    transition(session, application=application, to=ApplicationState.ABANDONED, now=now,
               actor=actor, kind="abandoned", details={})
    return view_of(application)
