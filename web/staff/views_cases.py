"""Queue, case page, evidence images, review actions and compliance exports."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, url_for
from werkzeug.wrappers import Response

from issuer.permissions import Permission
from issuer.review import (
    CARD_REASONS,
    REVIEW_REASONS,
    RedoStep,
    ReviewVerb,
    confirm_override,
    decide_case,
    override_refusal,
    propose_override,
    reject_override,
    release_case,
    request_redo,
    take_case,
)
from issuer.review_case import keyframe_image, load_case
from issuer.review_export import export_case, export_json
from issuer.review_queue import QueueFilter, list_queue, normalise_search, queue_counts
from web.clock import now
from web.database import db_session
from web.staff import staff_bp
from web.staff.auth import current_staff, requires
from web.staff.export_style import export_style
from web.staff.forms import field, query_date, query_page, query_text

PAGE_SIZE = 50


@staff_bp.get("/")
@requires(Permission.REVIEW_READ)
def queue() -> str:
    """The review queue with filters and search."""
    filters = QueueFilter(
        state=query_text("state", limit=32), reason=query_text("reason", limit=64),
        device_profile=query_text("device", limit=80), date_from=query_date("from"),
        date_to=query_date("to"), search=normalise_search(query_text("q", limit=64)),
    )
    page = query_page()
    result = list_queue(db_session(), viewer=current_staff(), filters=filters,
                        limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("staff/queue.html", result=result, filters=filters, page=page,
                           page_size=PAGE_SIZE,
                           counts=queue_counts(db_session(), viewer=current_staff()))


@staff_bp.get("/cases/<application_id>")
@requires(Permission.REVIEW_READ)
def case(application_id: str) -> str:
    """Everything about one case, with the actions the viewer may take."""
    view = load_case(db_session(), application_id=application_id, viewer=current_staff(),
                     now=now())
    return render_template("staff/case.html", case=view, reasons=REVIEW_REASONS,
                           card_reasons=CARD_REASONS, verbs=ReviewVerb,
                           redo_steps=list(RedoStep),
                           override_refusal=override_refusal(
                               db_session(), application_id=view.application.id,
                               offered_credit_limit=view.application.offered_credit_limit))


@staff_bp.get("/keyframes/<int:keyframe_id>")
@requires(Permission.REVIEW_READ)
def keyframe(keyframe_id: int) -> Response:
    """One liveness evidence image."""
    image, media_type = keyframe_image(db_session(), keyframe_id=keyframe_id,
                                       viewer=current_staff())
    response = make_response(image)
    response.headers["Content-Type"] = media_type
    response.headers["Cache-Control"] = "no-store"
    return response


def _back(application_id: str, message: str) -> Response:
    flash(message, "success")
    return redirect(url_for("staff.case", application_id=application_id), code=303)


@staff_bp.post("/cases/<application_id>/take")
@requires(Permission.REVIEW_DECIDE)
def take(application_id: str) -> Response:
    """Assign the case to me."""
    take_case(db_session(), application_id=application_id, actor=current_staff(), now=now())
    return _back(application_id, "You hold this case now.")


@staff_bp.post("/cases/<application_id>/release")
@requires(Permission.REVIEW_DECIDE)
def release(application_id: str) -> Response:
    """Give the case back to the queue."""
    release_case(db_session(), application_id=application_id, actor=current_staff(),
                 now=now())
    return _back(application_id, "Case released.")


@staff_bp.post("/cases/<application_id>/decide")
@requires(Permission.REVIEW_DECIDE)
def decide(application_id: str) -> Response:
    """Approve or decline a held case in manual review."""
    verb = field("verb")
    decide_case(db_session(), application_id=application_id, actor=current_staff(),
                verb=verb, reason=field("reason"), comment=field("comment"), now=now())
    return _back(application_id, "Approved." if verb == "approve" else "Declined.")


@staff_bp.post("/cases/<application_id>/redo")
@requires(Permission.REVIEW_DECIDE)
def redo(application_id: str) -> Response:
    """Send the applicant back to redo a step."""
    step = field("step")
    request_redo(db_session(), application_id=application_id, actor=current_staff(),
                 step=step, reason=field("reason"), comment=field("comment"), now=now())
    return _back(application_id, f"The applicant will redo: {step}.")


@staff_bp.post("/cases/<application_id>/override")
@requires(Permission.REVIEW_DECIDE)
def override(application_id: str) -> Response:
    """Propose approving an automatically declined case (needs a second supervisor)."""
    propose_override(db_session(), application_id=application_id, actor=current_staff(),
                     reason=field("reason"), comment=field("comment"), now=now())
    return _back(application_id, "Override proposed; a different supervisor must confirm it.")


@staff_bp.post("/cases/<application_id>/overrides/<int:override_id>/confirm")
@requires(Permission.REVIEW_OVERRIDE)
def override_confirm(application_id: str, override_id: int) -> Response:
    """Second pair of eyes: confirm the override."""
    result = confirm_override(db_session(), application_id=application_id,
                              override_id=override_id, actor=current_staff(),
                              comment=field("comment"), now=now())
    return _back(result.application_id, "Override confirmed: the application is approved.")


@staff_bp.post("/cases/<application_id>/overrides/<int:override_id>/reject")
@requires(Permission.REVIEW_OVERRIDE)
def override_reject(application_id: str, override_id: int) -> Response:
    """Second pair of eyes: reject the override; the decline stands."""
    result = reject_override(db_session(), application_id=application_id,
                             override_id=override_id, actor=current_staff(),
                             comment=field("comment"), now=now())
    return _back(result.application_id, "Override rejected; the decline stands.")


@staff_bp.get("/cases/<application_id>/export.json")
@requires(Permission.REVIEW_READ)
def export_bundle(application_id: str) -> Response:
    """The case as a self-contained JSON bundle (download)."""
    bundle = export_case(db_session(), application_id=application_id, viewer=current_staff(),
                         now=now())
    response = make_response(export_json(bundle))
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="case-{application_id}.json"')
    return response


@staff_bp.get("/cases/<application_id>/export.html")
@requires(Permission.REVIEW_READ)
def export_page(application_id: str) -> Response:
    """The case as a printable page (no scripts, no actions)."""
    bundle = export_case(db_session(), application_id=application_id, viewer=current_staff(),
                         now=now())
    view = load_case(db_session(), application_id=application_id, viewer=current_staff(),
                     now=now())
    style = export_style()
    response = make_response(render_template("staff/export.html", case=view, bundle=bundle,
                                             style=style))
    response.headers["Content-Security-Policy"] = style.header_policy
    return response
