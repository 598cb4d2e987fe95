"""Who the applicant is: the signed session cookie (browser) or a bearer token (JSON API).

The cookie holds only the application id and its access token; the issuer checks the token
against its stored hash on every request, so one applicant cannot act on another's
application.
"""

from __future__ import annotations

from flask import request, session

from issuer.applications import ApplicationView
from issuer.errors import AccessDenied
from issuer.onboarding import authenticate_applicant
from web.clock import now
from web.database import db_session
from web.errors import WebError

_ID_KEY = "application_id"
_TOKEN_KEY = "access_token"  # noqa: S105 (the session key name, not a secret)


def remember_application(*, application_id: str, token: str) -> None:
    """Bind the browser session to an application."""
    session.clear()
    session[_ID_KEY] = application_id
    session[_TOKEN_KEY] = token
    session.permanent = True


def forget_application() -> None:
    """Drop the application from the browser session."""
    session.pop(_ID_KEY, None)
    session.pop(_TOKEN_KEY, None)


def cookie_application_or_none() -> ApplicationView | None:
    """The browser's application, or None when there is none (or its token no longer works)."""
    application_id = session.get(_ID_KEY)
    token = session.get(_TOKEN_KEY)
    if not isinstance(application_id, str) or not isinstance(token, str):
        return None
    try:
        return authenticate_applicant(db_session(), application_id=application_id, token=token,
                                      now=now())
    except AccessDenied:
        forget_application()
        return None


def cookie_application() -> ApplicationView:
    """The browser's application; 401 when the browser has none."""
    application = cookie_application_or_none()
    if application is None:
        raise WebError(401, "no_application",
                       "You have no application in progress in this browser; start one first.")
    return application


def bearer_application(application_id: str) -> ApplicationView:
    """The API caller's application: `Authorization: Bearer <token>` must match this id."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise WebError(401, "unauthenticated",
                       "Send the application's access token as 'Authorization: Bearer <token>'.")
    return authenticate_applicant(db_session(), application_id=application_id,
                                  token=token.strip(), now=now())
