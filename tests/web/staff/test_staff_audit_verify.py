"""The console's "Verify chain" reads the chain without holding the database write lock."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url

from tests.web.staff.conftest import Console
from web.database import app_database


def test_verify_chain_lets_writers_in_while_it_walks_the_chain(console: Console) -> None:
    """While the chain walk is iterating, another connection gets BEGIN IMMEDIATE at once
    (busy timeout 0): the walk runs in a deferred read transaction, not the request's
    BEGIN IMMEDIATE, so the app's writers are not stalled for the whole verification."""
    console.manual_review_case()
    console.login("auditor")
    engine = app_database(console.app).engine
    database = make_url(str(console.app.config["DATABASE_URL"])).database
    assert database is not None
    writer = sqlite3.connect(Path(database), timeout=0, isolation_level=None)
    attempts: list[tuple[str, str | None]] = []

    def try_to_write(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        reads_the_chain = "FROM audit_entry" in statement
        if not statement.lstrip().upper().startswith("SELECT") or not reads_the_chain:
            return
        try:
            writer.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            attempts.append((statement, str(exc)))
        else:
            writer.execute("ROLLBACK")
            attempts.append((statement, None))

    event.listen(engine, "after_cursor_execute", try_to_write)
    try:
        page = console.post("auditor", "/staff/audit/verify")
    finally:
        event.remove(engine, "after_cursor_execute", try_to_write)
        writer.close()
    assert page.status_code == 200
    assert "Chain intact" in page.get_data(as_text=True)
    walks = [error for statement, error in attempts if "LIMIT" not in statement]
    assert walks, attempts  # the whole-chain select was seen while it ran
    assert [error for _statement, error in attempts] == [None] * len(attempts)


def test_verify_chain_still_needs_audit_read(console: Console) -> None:
    console.login("reviewer")
    response = console.post("reviewer", "/staff/audit/verify", Accept="application/json")
    assert response.status_code == 403
