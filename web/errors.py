"""Every exception becomes a response here, in one place.

API and XHR clients get JSON `{"error": {"code", "message"[, "fields"]}}`; browsers get a
friendly page, or — when the view declared its form with `render_form_errors_with` — the
same form again with a message next to each bad field. Nothing leaks a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException

from issuer.devicetrust.errors import DeviceTrustError
from issuer.errors import (
    AccessDenied,
    Conflict,
    IllegalTransition,
    IssuerError,
    NotFound,
    ValidationFailed,
)
from issuer.permissions import PermissionDenied
from issuer.rate_limits import RateLimited
from liveness import FrameRejected, InvalidSession, LivenessError
from tee_sim import DeviceNotFound, StateIntegrityError, TeeError

FormRenderer = Callable[[dict[str, str], str], Any]


class WebError(Exception):
    """An error raised by the web layer itself, with its HTTP status and code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def wants_json() -> bool:
    """True for the JSON API, the phone panel and script (XHR/fetch) requests."""
    if request.path.startswith(("/api/", "/device/")):
        return True
    if request.headers.get("X-Requested-With") == "fetch" or request.is_json:
        return True
    if request.mimetype.startswith("image/") or request.mimetype == "application/octet-stream":
        return True  # raw bytes (liveness frames) come from script
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(
    status: int, code: str, message: str, *, fields: dict[str, str] | None = None
) -> Response:
    """Build the JSON or HTML error response for the current request."""
    if wants_json():
        body: dict[str, Any] = {"code": code, "message": message}
        if fields:
            body["fields"] = fields
        response = jsonify({"error": body})
    else:
        response = current_app.make_response(
            render_template("errors/error.html", status=status, code=code, message=message)
        )
    response.status_code = status
    return response


def render_form_errors_with(renderer: FormRenderer) -> None:
    """Declare how this request's HTML form is shown again with field errors."""
    g._form_renderer = renderer


def issuer_error_status(exc: IssuerError) -> tuple[int, str]:
    """The HTTP status and error code for a domain error, for every blueprint."""
    if isinstance(exc, RateLimited):
        return 429, "rate_limited"
    if isinstance(exc, PermissionDenied):
        return 403, "forbidden"
    if isinstance(exc, ValidationFailed):
        return 422, "validation_failed"
    if isinstance(exc, NotFound):
        return 404, "not_found"
    if isinstance(exc, IllegalTransition):
        return 409, "wrong_step"
    if isinstance(exc, Conflict):
        return 409, "conflict"
    if isinstance(exc, AccessDenied):
        return 403, "access_denied"
    return 400, "rejected"


def _handle_issuer_error(exc: IssuerError) -> Any:
    status, code = issuer_error_status(exc)
    fields = exc.field_errors if isinstance(exc, ValidationFailed) else None
    renderer: FormRenderer | None = g.get("_form_renderer")
    if fields is not None and renderer is not None and not wants_json():
        body = renderer(fields, exc.message)
        response = current_app.make_response(body)
        response.status_code = status
        return response
    message = exc.message
    if fields and not wants_json():
        message = "Please correct: " + "; ".join(fields.values())
    response = error_response(status, code, message, fields=fields)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _handle_device_trust_error(exc: DeviceTrustError) -> Response:
    return error_response(422, exc.reason, exc.message)


def _handle_liveness_error(exc: LivenessError) -> Response:
    if isinstance(exc, FrameRejected):
        code = exc.code if exc.code.startswith("frame") else f"frame_{exc.code}"
        return error_response(422, code, exc.message)
    if isinstance(exc, InvalidSession):
        return error_response(409, "liveness_session_invalid",
                              "This camera check is over; start a new one.")
    return error_response(422, exc.code, exc.message)


def _handle_tee_error(exc: TeeError) -> Response:
    if isinstance(exc, DeviceNotFound):
        return error_response(404, "device_not_found", "There is no phone with this id.")
    if isinstance(exc, StateIntegrityError):
        return error_response(409, "device_tampered",
                              "The phone's secure storage failed its integrity check.")
    return error_response(422, f"device_{exc.status.name.lower()}", str(exc))


def _handle_web_error(exc: WebError) -> Response:
    return error_response(exc.status, exc.code, exc.message)


def _handle_redis_error(exc: RedisError) -> Response:
    # Unreachable, timed out, out of memory, read-only replica...: the request could not
    # read or write its short-lived state. The database transaction is rolled back.
    current_app.logger.error("session store (Redis) error on %s %s: %s: %s", request.method,
                             request.path, type(exc).__name__, exc)
    response = error_response(503, "session_store_unavailable",
                              "The session store is unavailable; please try again shortly.")
    response.headers["Retry-After"] = "5"
    return response


def _handle_csrf_error(exc: CSRFError) -> Response:
    return error_response(
        400, "csrf_failed",
        "This page has expired or the request was not sent from it; reload and try again.",
    )


def _handle_http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = (exc.name or "error").lower().replace(" ", "_")
    message = {
        400: "The request could not be understood (malformed body or parameters).",
        404: "There is nothing at this address.",
        405: "This address does not accept that method.",
        413: "The request body is too large.",
        415: "The request body has an unsupported content type.",
    }.get(status, exc.description or exc.name)
    return error_response(status, code, message)


def _handle_unexpected(exc: Exception) -> Response:
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "Something went wrong on our side.")


def register_error_handlers(app: Flask) -> None:
    """Install every exception-to-response mapping on `app`."""
    app.register_error_handler(IssuerError, _handle_issuer_error)
    app.register_error_handler(DeviceTrustError, _handle_device_trust_error)
    app.register_error_handler(LivenessError, _handle_liveness_error)
    app.register_error_handler(TeeError, _handle_tee_error)
    app.register_error_handler(WebError, _handle_web_error)
    app.register_error_handler(RedisError, _handle_redis_error)
    app.register_error_handler(CSRFError, _handle_csrf_error)
    app.register_error_handler(HTTPException, _handle_http_error)
    app.register_error_handler(Exception, _handle_unexpected)
