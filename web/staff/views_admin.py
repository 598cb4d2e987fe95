"""Staff account management (admin role)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from issuer.permissions import Permission, Role
from issuer.staff_admin import add_staff, deactivate_staff, list_staff
from web.clock import now
from web.database import db_session
from web.staff import staff_bp
from web.staff.auth import current_staff, requires
from web.staff.forms import field
from web.stores import staff_session_store


@staff_bp.get("/accounts")
@requires(Permission.STAFF_MANAGE)
def staff_list() -> str:
    """Every staff account and the form to add one."""
    return render_template("staff/accounts.html", accounts=list_staff(
        db_session(), viewer=current_staff()), roles=[r.value for r in Role])


@staff_bp.post("/accounts")
@requires(Permission.STAFF_MANAGE)
def staff_create() -> Response:
    """Create a staff account."""
    view = add_staff(db_session(), actor=current_staff(), username=field("username"),
                     password=request.form.get("password", "")[:1024], role=field("role"),
                     now=now())
    flash(f"Created {view.username} ({view.role.value}).", "success")
    return redirect(url_for("staff.staff_list"), code=303)


@staff_bp.post("/accounts/<int:staff_user_id>/deactivate")
@requires(Permission.STAFF_MANAGE)
def staff_deactivate(staff_user_id: int) -> Response:
    """Disable an account; its sessions end at once."""
    view = deactivate_staff(db_session(), actor=current_staff(), staff_user_id=staff_user_id,
                            now=now(), session_store=staff_session_store())
    flash(f"Deactivated {view.username}.", "success")
    return redirect(url_for("staff.staff_list"), code=303)
