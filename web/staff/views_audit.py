"""The audit log for auditors: filters and the "verify chain" button."""

from __future__ import annotations

from flask import render_template

from issuer.db import READ_ONLY
from issuer.permissions import Permission
from issuer.review_audit import AuditFilter, list_audit, verify_chain
from web.database import commit_so_far, db_session
from web.staff import staff_bp
from web.staff.auth import current_staff, requires
from web.staff.forms import query_date, query_page, query_text

PAGE_SIZE = 100


def _filters() -> AuditFilter:
    return AuditFilter(actor=query_text("actor"), action=query_text("action"),
                       subject=query_text("subject", limit=200), date_from=query_date("from"),
                       date_to=query_date("to"))


def _page(verification: object = None) -> str:
    filters = _filters()
    page = query_page()
    result = list_audit(db_session(), viewer=current_staff(), filters=filters,
                        limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("staff/audit.html", result=result, filters=filters, page=page,
                           page_size=PAGE_SIZE, verification=verification)


@staff_bp.get("/audit")
@requires(Permission.AUDIT_READ)
def audit_log() -> str:
    """Audit entries, newest first, filtered."""
    return _page()


@staff_bp.post("/audit/verify")
@requires(Permission.AUDIT_READ)
def audit_verify() -> str:
    """Recompute the whole chain and report the first broken entry.

    The walk only reads: what the request wrote so far (the staff session's touch) is
    committed, and the rest runs in a read-only transaction (on SQLite a deferred BEGIN, a WAL
    snapshot) so the app's writers are not held behind the database write lock for the whole
    chain (~0.8 s per 50k entries).
    """
    commit_so_far()
    session = db_session()
    session.connection(execution_options=READ_ONLY)
    return _page(verify_chain(session, viewer=current_staff()))
