"""Step 4: the scripted interview.

Questions come from the versioned script; a signed token carries the time they were served
(no server-side state), so the server can compare its own elapsed time with the response times
the client reports. The token also carries the interview round (staff may send an application
back to redo the interview) and is accepted for `INTERVIEW_TOKEN_TTL` after serving: answers to
an earlier round's questions are refused with 409 `interview_token_stale`, answers sent too late
with 422 `interview_token_expired`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from issuer.applications import ApplicationView, require_state
from issuer.errors import ValidationFailed
from issuer.interview import (
    Answer,
    InterviewScript,
    Question,
    evaluate_answers,
    interview_round,
    load_script,
    render_questions,
)
from issuer.models import Application
from issuer.onboarding import get_applicant, record_interview
from issuer.states import ApplicationState
from issuer.terms import terms_for_interview
from web.clock import now
from web.database import db_session
from web.errors import WebError

_SALT = "cardsim-interview-v1"
# How long served questions can be answered: the script takes a few minutes, and an applicant
# who left the page for longer gets fresh questions (and a fresh elapsed-time measurement).
INTERVIEW_TOKEN_TTL = timedelta(minutes=30)


@dataclass(frozen=True)
class ServedInterview:
    """Questions for one applicant and the token to send back with the answers."""

    script_version: str
    questions: tuple[Question, ...]
    token: str


def _now_ms() -> int:
    return int(now().timestamp() * 1000)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _facts(application_id: str) -> dict[str, str]:
    person = get_applicant(db_session(), application_id=application_id)
    return {"name": person.full_name, "birth_date": person.birth_date,
            "employer": person.employer}


def _script() -> InterviewScript:
    return load_script(str(current_app.config.get("CARDSIM_INTERVIEW_SCRIPT", "v1")))


def serve_interview(*, application_id: str) -> ServedInterview:
    """Render the questions and issue a token stamped with the serving time."""
    script = _script()
    questions = render_questions(script, facts=_facts(application_id),
                                 terms=terms_for_interview())
    token = _serializer().dumps({
        "a": application_id, "v": script.version, "t": _now_ms(),
        "r": interview_round(db_session(), application_id=application_id)})
    return ServedInterview(script_version=script.version, questions=questions, token=token)


def _served_at_ms(token: str, application_id: str, version: str) -> int:
    try:
        data = _serializer().loads(token)
    except BadSignature:
        raise ValidationFailed({"interview_token": "invalid token; reload the questions"}) from None
    if (not isinstance(data, dict) or data.get("a") != application_id
            or data.get("v") != version or not isinstance(data.get("t"), int)
            or not isinstance(data.get("r"), int)):
        raise ValidationFailed({"interview_token": "this token belongs to another interview"})
    if data["r"] != interview_round(db_session(), application_id=application_id):
        raise WebError(409, "interview_token_stale",
                       "These questions belong to an earlier interview round (the interview "
                       "was started again); fetch the questions again and answer those.")
    served: int = data["t"]
    ttl_ms = int(INTERVIEW_TOKEN_TTL.total_seconds() * 1000)
    if _now_ms() - served > ttl_ms:
        minutes = ttl_ms // 60_000
        raise WebError(422, "interview_token_expired",
                       f"These questions were served more than {minutes} minutes ago and can "
                       "no longer be answered; fetch the questions again and answer those.")
    return served


def submit_interview(
    *, application_id: str, token: str, answers: Sequence[Answer]
) -> tuple[ApplicationView, tuple[str, ...]]:
    """Evaluate and store the answers; returns the new application view and the flags."""
    script = _script()
    application = db_session().get(Application, application_id)
    if application is not None:  # answers to a finished interview: the wrong step, not a
        require_state(application, ApplicationState.LIVENESS_PASSED)  # stale token
    served = _served_at_ms(token, application_id, script.version)
    elapsed = max(0, _now_ms() - served)
    outcome = evaluate_answers(script, facts=_facts(application_id),
                               terms=terms_for_interview(), answers=answers, elapsed_ms=elapsed)
    view = record_interview(
        db_session(), application_id=application_id,
        answers={"transcript": outcome.transcript_dicts(), "elapsed_ms": elapsed},
        flags=list(outcome.flags), script_version=outcome.script_version, now=now(),
    )
    return view, outcome.flags


def parse_response_ms(raw: object) -> int | None:
    """A client-reported response time: a non-negative integer of milliseconds, or None."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ValidationFailed({"response_ms": "must be a whole number of milliseconds"})
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.isdigit() and len(raw) <= 9:
        return int(raw)
    raise ValidationFailed({"response_ms": "must be a whole number of milliseconds"})


def answers_from_form(form: Mapping[str, str], questions: Sequence[Question]) -> list[Answer]:
    """Answers posted by the HTML form (`answer_<id>`, `rt_<id>`)."""
    answers = []
    for q in questions:
        value = form.get(f"answer_{q.id}")
        if value is None:
            continue
        rt = form.get(f"rt_{q.id}")
        try:
            ms = parse_response_ms(rt)
        except ValidationFailed:
            ms = None
        answers.append(Answer(question_id=q.id, value=value, response_ms=ms))
    return answers
