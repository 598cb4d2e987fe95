"""Errors inside the console: staff pages for HTML, the shared JSON shape for scripts.

A failed action rolls the transaction back (error status), except where the view asked to
keep a record of the refusal.
"""

from __future__ import annotations

from flask import g, make_response, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from issuer.errors import (
    IssuerError,
    ValidationFailed,
)
from issuer.models import Application
from issuer.permissions import Permission, PermissionDenied
from web.database import db_session
from web.errors import error_response, issuer_error_status, wants_json
from web.staff import staff_bp
from web.staff.auth import NotLoggedIn

# What each permission lets a staff member do, for the "Not allowed" page.
PERMISSION_WORDS: dict[Permission, str] = {
    Permission.REVIEW_READ: "see the review queue and cases",
    Permission.REVIEW_DECIDE: "take and decide cases",
    Permission.REVIEW_OVERRIDE: "confirm or reject overrides of automatic declines",
    Permission.CARD_FREEZE: "freeze, unfreeze or close cards",
    Permission.CARD_REVEAL_PAN: "reveal full card numbers",
    Permission.AUDIT_READ: "read the audit log",
    Permission.STAFF_MANAGE: "manage staff accounts",
}


def acting_on_case(application_id: str) -> None:
    """Name the case this request acts on when its URL does not (card routes), so an error
    page links back to it."""
    g.staff_case = application_id


def _back_to_case(status: int) -> str | None:
    application_id = g.get("staff_case") or (request.view_args or {}).get("application_id")
    if not isinstance(application_id, str) or not application_id:
        return None
    if status == 404 and db_session().get(Application, application_id) is None:
        return None  # no such case: nothing to go back to
    return url_for("staff.case", application_id=application_id)


def staff_error(status: int, code: str, message: str,
                fields: dict[str, str] | None = None) -> Response:
    """The console's error response: JSON for scripts, the staff error page for browsers."""
    if wants_json():
        return error_response(status, code, message, fields=fields)
    back = _back_to_case(status)
    return make_response(render_template(
        "staff/error.html", status=status, code=code, message=message,
        fields=fields or {}, back=back), status)


@staff_bp.errorhandler(NotLoggedIn)
def _not_logged_in(exc: NotLoggedIn) -> Response:
    if wants_json():
        return error_response(401, "login_required", exc.message)
    return redirect(url_for("staff.login_form"), code=303)


@staff_bp.errorhandler(IssuerError)
def _issuer_error(exc: IssuerError) -> Response:
    status, code = issuer_error_status(exc)
    fields = exc.field_errors if isinstance(exc, ValidationFailed) else None
    message = exc.message
    if isinstance(exc, PermissionDenied) and not wants_json():
        message = (f"Your role ({exc.role}) does not allow you to "
                   f"{PERMISSION_WORDS[exc.permission]}.")
    return staff_error(status, code, message, fields)


@staff_bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> Response:
    return staff_error(400, "csrf_failed", "The form was not sent from this console page "
                       "(missing or invalid CSRF token); reload the page and try again.")
