"""One database session and one transaction per request: commit on success, else roll back.

Views and services get the session with `db_session()`; they never commit. A response with
status < 400 commits; any error response (every exception is mapped to one by
`web.errors`) rolls back, so a failed request leaves no half-written state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, g
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from issuer.db import make_engine, make_session_factory
from web.errors import error_response

_EXTENSION = "cardsim_db"


@dataclass(frozen=True)
class Database:
    """The engine and session factory of one app."""

    engine: Engine
    sessions: sessionmaker[Session]


def init_database(app: Flask) -> Database:
    """Create the engine for `app.config["DATABASE_URL"]` and hook the per-request session."""
    engine = make_engine(str(app.config["DATABASE_URL"]))
    database = Database(engine=engine, sessions=make_session_factory(engine))
    app.extensions[_EXTENSION] = database
    app.after_request(_finish_transaction)
    app.teardown_request(_close_session)
    return database


def app_database(app: Flask | None = None) -> Database:
    """The `Database` bound to `app` (default: the current app)."""
    target = app if app is not None else current_app
    database: Database = target.extensions[_EXTENSION]
    return database


def db_session() -> Session:
    """The current request's session, opened on first use."""
    session: Session | None = g.get("_db_session")
    if session is None:
        session = app_database().sessions()
        g._db_session = session
    return session


def commit_so_far() -> None:
    """Commit what the request did so far; the rest of it runs in a new transaction, which
    must re-check what it relies on.

    For work that must not run under the request's locks (SQLite transactions here hold the
    database write lock, BEGIN IMMEDIATE; PostgreSQL ones the application's row lock), such as
    the face analysis of a frame, and for writes that must stay even if the request then
    fails, such as a rate-limit count.
    """
    session: Session | None = g.get("_db_session")
    if session is not None:
        session.commit()


def mark_for_commit_despite_error() -> None:
    """Keep this request's writes although the response is an error.

    For refusals that must be recorded (a refused device binding, a failed liveness
    attempt): the domain stored the verdict, then raised to tell the client.
    """
    g._db_commit_on_error = True


def run_after_commit(action: Callable[[], None]) -> None:
    """Run `action` once this request's transaction has committed (never if it rolls back).

    For clean-up outside the database (deleting a state from Redis) that must not happen
    unless the database change it follows is durable. A failing action is logged, not raised:
    it may only leave behind data nothing refers to any more.
    """
    actions: list[Callable[[], None]] = g.setdefault("_db_after_commit", [])
    actions.append(action)


def _run_after_commit_actions() -> None:
    for action in g.pop("_db_after_commit", []):
        try:
            action()
        except Exception:
            current_app.logger.exception("clean-up after commit failed")


def _finish_transaction(response: Response) -> Response:
    session: Session | None = g.get("_db_session")
    if session is None:
        return response
    if response.status_code < 400 or g.get("_db_commit_on_error", False):
        try:
            session.commit()
        except SQLAlchemyError:
            session.rollback()
            g.pop("_db_after_commit", None)
            current_app.logger.exception("commit failed")
            return error_response(
                409, "commit_failed", "The change could not be saved; please try again."
            )
        _run_after_commit_actions()
    else:
        session.rollback()
        g.pop("_db_after_commit", None)
    return response


def _close_session(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("_db_session", None)
    if session is not None:
        session.rollback()
        session.close()
