"""Who the staff member is (server-side session behind an HttpOnly, SameSite=Strict cookie),
the permission check on every route, and the login / logout pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import (
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from issuer.errors import AccessDenied, AccountLocked
from issuer.permissions import Permission, require_permission
from issuer.staff_sessions import (
    StaffPrincipal,
    end_staff_session,
    login_staff,
    resume_staff_session,
)
from web.clock import now
from web.database import db_session, mark_for_commit_despite_error
from web.rate_limits import client_address
from web.staff import staff_bp
from web.stores import staff_session_store, throttle_store

COOKIE_NAME = "cardsim_staff"
COOKIE_PATH = "/staff"

P = ParamSpec("P")
R = TypeVar("R")


class NotLoggedIn(Exception):
    """The request has no live staff session."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _token() -> str:
    return request.cookies.get(COOKIE_NAME, "")


def current_staff() -> StaffPrincipal:
    """The staff member of this request (session checked once per request)."""
    principal: StaffPrincipal | None = g.get("staff")
    if principal is not None:
        return principal
    token = _token()
    if not token:
        raise NotLoggedIn("Please log in.")
    try:
        principal = resume_staff_session(db_session(), token=token, now=now(),
                                         session_store=staff_session_store())
    except AccessDenied as exc:
        mark_for_commit_despite_error()  # the session row is marked ended
        raise NotLoggedIn(exc.message) from None
    g.staff = principal
    return principal


def requires(permission: Permission) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Route decorator: a live staff session whose role grants `permission`, else 401/403."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            principal = current_staff()
            require_permission(role=principal.role, permission=permission)
            return view(*args, **kwargs)

        wrapper.required_permission = permission  # type: ignore[attr-defined]
        return wrapper

    return decorate


def requires_login(view: Callable[P, R]) -> Callable[P, R]:
    """Route decorator: any live staff session."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        current_staff()
        return view(*args, **kwargs)

    wrapper.required_permission = None  # type: ignore[attr-defined]
    return wrapper


@staff_bp.context_processor
def _inject_staff() -> dict[str, Any]:
    return {"staff": g.get("staff")}


def _set_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE_NAME, token, path=COOKIE_PATH, httponly=True, samesite="Strict",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )


def _login_page(*, error: str | None, username: str, status: int) -> Response:
    response = make_response(render_template("staff/login.html", error=error,
                                             username=username), status)
    return response


@staff_bp.get("/login")
def login_form() -> Response:
    """The login page."""
    return _login_page(error=None, username="", status=200)


@staff_bp.post("/login")
def login() -> Response:
    """Check the credentials; on success set the session cookie and go to the queue."""
    username = request.form.get("username", "").strip().lower()[:64]
    password = request.form.get("password", "")[:1024]
    if not username or not password:
        return _login_page(error="Enter your username and password.", username=username,
                           status=400)
    try:
        result = login_staff(db_session(), username=username, password=password,
                             client_ip=client_address(), now=now(),
                             throttle_store=throttle_store(),
                             session_store=staff_session_store())
    except AccountLocked as exc:
        mark_for_commit_despite_error()
        return _login_page(error=exc.message, username=username, status=429)
    except AccessDenied:
        mark_for_commit_despite_error()  # failures must be counted
        return _login_page(error="Unknown username or wrong password.", username=username,
                           status=401)
    g.staff = result.principal
    target = url_for("staff.queue") if result.principal.can(Permission.REVIEW_READ) else (
        url_for("staff.staff_list"))
    response = redirect(target, code=303)
    _set_cookie(response, result.token)
    return response


@staff_bp.post("/logout")
@requires_login
def logout() -> Response:
    """End the session server-side and drop the cookie."""
    end_staff_session(db_session(), token=_token(), now=now(),
                      session_store=staff_session_store())
    flash("You are logged out.", "success")
    response = redirect(url_for("staff.login_form"), code=303)
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH)
    return response
