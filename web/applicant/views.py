"""Applicant page routes: thin; every step's logic lives in `web.flow`."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask import (
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from issuer.applications import ApplicationView, state_before
from issuer.device_binding import MAX_BINDING_ATTEMPTS
from issuer.onboarding import MAX_LIVENESS_SESSIONS, abandon_application, start_application
from issuer.states import EXPIRABLE_STATES, ApplicationState
from web.applicant import applicant_bp
from web.applicant.stepper import step_for, stepper
from web.applicant_auth import (
    cookie_application,
    cookie_application_or_none,
    forget_application,
    remember_application,
)
from web.clock import now
from web.database import db_session, mark_for_commit_despite_error
from web.device.pin_check import verify_cardholder_pin
from web.device.profiles import PROFILES
from web.errors import WebError, render_form_errors_with
from web.flow import (
    agreement_step,
    binding_step,
    card_step,
    decision_step,
    identity_step,
    interview_step,
    liveness_step,
)
from web.flow.binding_step import b64, b64decode_field
from web.flow.interview_step import INTERVIEW_TOKEN_TTL
from web.json_body import json_object, read_frame_body
from web.rate_limits import client_group, enforce_rate_limit

STEP_ENDPOINTS = {
    "identity": "applicant.identity",
    "liveness": "applicant.liveness",
    "interview": "applicant.interview",
    "device": "applicant.device",
    "agreement": "applicant.agreement",
    "decision": "applicant.decision",
    "card": "applicant.card",
}


def _page(step: str, template: str, application: ApplicationView, *,
          stopped_at: str | None = None, **context: Any) -> str:
    return render_template(template, steps=stepper(step, stopped_at=stopped_at),
                           application=application, cancel_offered=_unfinished(application),
                           **context)


def _stopped_at(application: ApplicationView) -> str | None:
    """The first step a declined, cancelled or expired application never completed."""
    if application.state not in (ApplicationState.DECLINED, ApplicationState.ABANDONED,
                                 ApplicationState.EXPIRED):
        return None
    before = state_before(db_session(), application_id=application.id, state=application.state)
    return step_for(before) if before is not None else None


def _unfinished(application: ApplicationView) -> bool:
    """Not decided yet: the applicant may still cancel (walk away from) it."""
    return application.state in EXPIRABLE_STATES


class _Elsewhere(Exception):
    """The browser's application belongs on another page (or there is none)."""

    def __init__(self, response: BaseResponse) -> None:
        super().__init__("redirect")
        self.response = response


def _on_step(step: str) -> tuple[ApplicationView, BaseResponse | None]:
    """The browser's application, and a redirect if it belongs on another page."""
    application = cookie_application_or_none()
    if application is None:
        raise _Elsewhere(redirect(url_for("applicant.index")))
    expected = step_for(application.state)
    if expected != step:
        return application, redirect(url_for(STEP_ENDPOINTS[expected]))
    return application, None


@applicant_bp.errorhandler(_Elsewhere)
def _redirect_elsewhere(exc: _Elsewhere) -> BaseResponse:
    return exc.response


def _sentence(message: str) -> str:
    """A domain message ("please answer this question") as a sentence on a page."""
    text = message.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text[-1] in ".!?" else ".")


def _next_url(application: ApplicationView) -> str:
    return url_for(STEP_ENDPOINTS[step_for(application.state)])


def _start_page(*, consent_error: str | None = None, start_error: str | None = None) -> str:
    application = cookie_application_or_none()
    return render_template(
        "applicant/index.html", steps=stepper("start"),
        resume_url=url_for("applicant.resume") if application is not None else None,
        unfinished=application is not None and _unfinished(application),
        ttl_hours=current_app.config["CARDSIM_APPLICATION_TTL_HOURS"],
        consent_error=consent_error, start_error=start_error,
    )


@applicant_bp.get("/")
def index() -> str:
    return _start_page()


@applicant_bp.post("/start")
def start() -> Any:
    enforce_rate_limit("applications", client_group())
    if cookie_application_or_none() is not None:
        # Starting again would silently drop the application this browser holds.
        return _start_page(start_error="This browser already holds an application: continue "
                                       "it, or cancel it before you start a new one."), 409
    if request.form.get("consent") != "yes":
        return _start_page(consent_error="Please agree to the processing of your personal "
                                         "data to continue."), 422
    ttl = timedelta(hours=float(current_app.config["CARDSIM_APPLICATION_TTL_HOURS"]))
    started = start_application(db_session(), now=now(), ttl=ttl)
    remember_application(application_id=started.application.id, token=started.access_token)
    return redirect(url_for("applicant.identity"))


@applicant_bp.get("/favicon.ico")
def favicon() -> Response:
    """Where browsers look for an icon on pages that name none (the staff console, JSON)."""
    return current_app.send_static_file("favicon.ico")


@applicant_bp.get("/application")
def resume() -> BaseResponse:
    application = cookie_application_or_none()
    if application is None:
        return redirect(url_for("applicant.index"))
    return redirect(_next_url(application))


@applicant_bp.post("/application/leave")
def leave() -> BaseResponse:
    """Cancel an undecided application (withdrawn: `abandoned`) and forget it in this browser;
    a decided one is only forgotten here."""
    application = cookie_application_or_none()
    forget_application()
    if application is not None and _unfinished(application):
        abandon_application(db_session(), application_id=application.id, now=now())
        flash("Your application is cancelled. You can start a new one below.", "info")
    elif application is not None:
        flash("Your application is closed in this browser.", "info")
    return redirect(url_for("applicant.index"))


# --- identity -------------------------------------------------------------------------------

@applicant_bp.route("/application/identity", methods=["GET", "POST"])
def identity() -> Any:
    application, elsewhere = _on_step("identity")
    if elsewhere is not None:
        return elsewhere
    if request.method == "GET":
        return _page("identity", "applicant/identity.html", application, values={}, errors={},
                     error_message=None)
    values = {k: request.form.get(k, "") for k in identity_step.IDENTITY_FIELDS}

    def again(errors: dict[str, str], _message: str) -> str:
        return _page("identity", "applicant/identity.html", application, values=values,
                     errors=errors, error_message="Please correct the highlighted fields.")

    render_form_errors_with(again)
    identity_step.submit_identity_form(application_id=application.id, values=values)
    return redirect(url_for("applicant.liveness"))


# --- liveness -------------------------------------------------------------------------------

@applicant_bp.get("/application/liveness")
def liveness() -> Any:
    application, elsewhere = _on_step("liveness")
    if elsewhere is not None:
        return elsewhere
    challenges = current_app.config.get("CARDSIM_LIVENESS_CHALLENGES")
    return _page("liveness", "applicant/liveness.html", application,
                 attempts_left=MAX_LIVENESS_SESSIONS - application.liveness_sessions,
                 max_attempts=MAX_LIVENESS_SESSIONS,
                 challenges_total=len(challenges) if challenges else 3)


def _liveness_reply(status: liveness_step.LivenessStatus) -> Response:
    body = status.to_dict()
    if status.finished:
        state = ApplicationState(status.application_state)
        body["next_url"] = url_for(STEP_ENDPOINTS[step_for(state)])
    return jsonify(body)


@applicant_bp.post("/application/liveness/session")
def liveness_start() -> Response:
    application = cookie_application()
    status = liveness_step.start_liveness(application_id=application.id,
                                          sessions_used=application.liveness_sessions)
    return jsonify(status.to_dict())


@applicant_bp.post("/application/liveness/frame")
def liveness_frame() -> Response:
    application = cookie_application()
    enforce_rate_limit("frames", application.id)
    jpeg = read_frame_body()
    status = liveness_step.submit_frame(
        application_id=application.id, sessions_used=application.liveness_sessions,
        jpeg=jpeg, client_timestamp_ms=request.headers.get("X-Client-Timestamp"),
    )
    return _liveness_reply(status)


# --- interview ------------------------------------------------------------------------------

STALE_INTERVIEW_MESSAGES = {
    "interview_token_expired": f"These questions were open for more than "
                               f"{INTERVIEW_TOKEN_TTL.seconds // 60} minutes, so your answers "
                               f"were not saved. Please answer the questions again.",
    "interview_token_stale": "The interview was started again, so your answers were not saved. "
                             "Please answer these questions.",
}


@applicant_bp.route("/application/interview", methods=["GET", "POST"])
def interview() -> Any:
    application, elsewhere = _on_step("interview")
    if elsewhere is not None:
        return elsewhere
    served = interview_step.serve_interview(application_id=application.id)
    if request.method == "GET":
        return _page("interview", "applicant/interview.html", application,
                     questions=served.questions, interview_token=served.token, values={},
                     errors={}, error_message=None)
    form = request.form.to_dict()
    answers = interview_step.answers_from_form(form, served.questions)
    values = {a.question_id: a.value for a in answers}

    def again(errors: dict[str, str], _message: str) -> str:
        return _page("interview", "applicant/interview.html", application,
                     questions=served.questions, interview_token=form.get("interview_token", ""),
                     values=values, errors={k: _sentence(v) for k, v in errors.items()},
                     error_message="Please answer every question.")

    render_form_errors_with(again)
    try:
        interview_step.submit_interview(application_id=application.id,
                                        token=form.get("interview_token", ""), answers=answers)
    except WebError as exc:
        if exc.code not in STALE_INTERVIEW_MESSAGES:
            raise
        # The page's questions can no longer be answered (left open too long, or the
        # interview was started again): show the current ones, not an error page.
        page = _page("interview", "applicant/interview.html", application,
                     questions=served.questions, interview_token=served.token, values={},
                     errors={}, error_message=STALE_INTERVIEW_MESSAGES[exc.code])
        return page, exc.status
    return redirect(url_for("applicant.device"))


# --- device binding -------------------------------------------------------------------------

@applicant_bp.get("/application/device")
def device() -> Any:
    application, elsewhere = _on_step("device")
    if elsewhere is not None:
        return elsewhere
    return _page("device", "applicant/device.html", application,
                 attempts_left=binding_step.attempts_left(application.binding_attempts),
                 max_attempts=MAX_BINDING_ATTEMPTS, device_profiles=PROFILES)


@applicant_bp.post("/application/device/challenge")
def device_challenge() -> Response:
    application = cookie_application()
    challenge = binding_step.issue_challenge(application_id=application.id)
    return jsonify({"challenge": b64(challenge)})


@applicant_bp.post("/application/device/binding")
def device_binding() -> Any:
    application = cookie_application()
    body = json_object()
    chains = body.get("chains")
    challenge = b64decode_field(body.get("challenge"), "challenge", max_bytes=128)
    outcome = binding_step.submit_chains(application_id=application.id, challenge=challenge,
                                         chains=binding_step.parse_chains(chains))
    return _binding_reply(outcome)


def _binding_reply(outcome: Any) -> Any:
    view = outcome.application
    if outcome.accepted:
        return jsonify({"accepted": True, "next_url": _next_url(view)})
    mark_for_commit_despite_error()
    body: dict[str, Any] = {
        "error": {"code": outcome.reason, "message": outcome.message},
        "accepted": False,
        "attempts_left": binding_step.attempts_left(view.binding_attempts),
    }
    if view.state != ApplicationState.INTERVIEW_DONE:
        body["next_url"] = _next_url(view)
    return jsonify(body), 422


# --- agreement ------------------------------------------------------------------------------

@applicant_bp.get("/application/agreement")
def agreement() -> Any:
    application, elsewhere = _on_step("agreement")
    if elsewhere is not None:
        return elsewhere
    return _page("agreement", "applicant/agreement.html", application,
                 preview="Press \u201cShow on my phone\u201d to receive the agreement.",
                 device_profiles=PROFILES)


@applicant_bp.post("/application/agreement/prompt")
def agreement_prompt() -> Response:
    application = cookie_application()
    offer = agreement_step.offer_agreement(application_id=application.id)
    return jsonify({"prompt": offer.text, "nonce": b64(offer.nonce),
                    "credit_limit": offer.credit_limit})


@applicant_bp.post("/application/agreement/signature")
def agreement_signature() -> Any:
    application = cookie_application()
    body = json_object()
    outcome = agreement_step.submit_signature(
        application_id=application.id,
        message=b64decode_field(body.get("message"), "message", max_bytes=8192),
        signature=b64decode_field(body.get("signature"), "signature", max_bytes=128),
    )
    if not outcome.accepted:
        mark_for_commit_despite_error()
        return jsonify({"error": {"code": outcome.reason, "message": outcome.message}}), 422
    # The signature completes the application: decide in the same transaction, so the page
    # the script opens next only shows the outcome.
    decision_step.ensure_decision(cookie_application())
    return jsonify({"accepted": True, "next_url": url_for("applicant.decision")})


# --- decision and card ----------------------------------------------------------------------

@applicant_bp.post("/application/decision")
def decide_now() -> BaseResponse:
    application, elsewhere = _on_step("decision")
    if elsewhere is not None:
        return elsewhere
    decision_step.ensure_decision(application)
    return redirect(url_for("applicant.decision"), code=303)


@applicant_bp.get("/application/decision")
def decision() -> Any:
    """Show the decision. A GET decides nothing (a prefetch must not make a credit decision):
    a signed application not yet decided shows a button that POSTs here."""
    application, elsewhere = _on_step("decision")
    if elsewhere is not None:
        return elsewhere
    summary = decision_step.current_decision(application)
    reasons: tuple[str, ...] = ()
    if application.state in (ApplicationState.EXPIRED, ApplicationState.ABANDONED):
        outcome, limit = application.state.value, 0
    elif application.state == ApplicationState.AGREEMENT_SIGNED:
        outcome, limit = "pending", 0
    elif summary is None:
        outcome, limit = "manual_review", 0
    else:
        outcome, limit, reasons = summary.outcome, summary.credit_limit, summary.reasons
    return _page("decision", "applicant/decision.html", application,
                 stopped_at=_stopped_at(application), outcome=outcome,
                 credit_limit=limit, reasons=reasons, idempotency_key=secrets.token_urlsafe(24),
                 ttl_hours=current_app.config["CARDSIM_APPLICATION_TTL_HOURS"])


@applicant_bp.post("/application/card/issue")
def card_issue() -> BaseResponse:
    application = cookie_application()
    key = request.form.get("idempotency_key", "")
    card_step.issue(application_id=application.id, idempotency_key=key)
    return redirect(url_for("applicant.card"))


@applicant_bp.get("/application/card")
def card() -> Any:
    application, elsewhere = _on_step("card")
    if elsewhere is not None:
        return elsewhere
    page = card_step.card_page(application_id=application.id)
    return _page("card", "applicant/card.html", application, card=page,
                 device_profiles=PROFILES)


@applicant_bp.post("/application/card/provisioning/hello")
def provisioning_hello() -> Response:
    application = cookie_application()
    return jsonify({"hello": b64(card_step.provisioning_hello(application_id=application.id))})


@applicant_bp.post("/application/card/provisioning/payload")
def provisioning_payload() -> Response:
    application = cookie_application()
    body = json_object()
    challenge = b64decode_field(body.get("se_challenge"), "se_challenge", max_bytes=64)
    record = card_step.provisioning_payload(application_id=application.id,
                                            se_challenge=challenge)
    return jsonify({"record": b64(record)})


@applicant_bp.post("/application/card/provisioning/result")
def provisioning_result() -> Any:
    application = cookie_application()
    body = json_object()
    record = b64decode_field(body.get("record"), "record", max_bytes=1024)
    result = card_step.provisioning_result(application_id=application.id, record=record)
    if not result.personalized:
        mark_for_commit_despite_error()
        return jsonify({"error": {"code": result.reason or "provisioning_failed",
                                  "message": "The phone's secure element refused the card."}}), 422
    return jsonify({"provisioned": True})


@applicant_bp.post("/application/card/activate")
def card_activate() -> Response:
    application = cookie_application()
    view = card_step.activate(application_id=application.id)
    return jsonify({"status": view.status.value})


@applicant_bp.post("/application/card/reveal")
def card_reveal() -> Response:
    application = cookie_application()
    body = json_object()
    verify_cardholder_pin(application_id=application.id, device_id=body.get("device_id"),
                          pin=body.get("pin"))
    details = card_step.reveal(application_id=application.id)
    return jsonify({"pan": details.pan, "cvv2": details.cvv2, "expiry": details.expiry,
                    "reveal_seconds": 30})
