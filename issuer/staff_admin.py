"""Managing staff accounts from the console (admin role)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.audit import append_audit
from issuer.ephemeral import SqlStaffSessionStore, StaffSessionStore
from issuer.errors import Conflict, NotFound
from issuer.models import StaffUser
from issuer.permissions import Permission, Role, require_permission
from issuer.staff_accounts import StaffView, create_staff
from issuer.staff_sessions import StaffPrincipal


def list_staff(session: Session, *, viewer: StaffPrincipal) -> tuple[StaffView, ...]:
    """Every staff account, by username. Needs `staff:manage`."""
    require_permission(role=viewer.role, permission=Permission.STAFF_MANAGE)
    return tuple(StaffView(id=u.id, username=u.username, role=Role(u.role), active=u.active)
                 for u in session.scalars(select(StaffUser).order_by(StaffUser.username)))


def add_staff(
    session: Session, *, actor: StaffPrincipal, username: str, password: str, role: str,
    now: datetime,
) -> StaffView:
    """Create an account (audited by `create_staff` with the actor). Needs `staff:manage`."""
    require_permission(role=actor.role, permission=Permission.STAFF_MANAGE)
    return create_staff(session, username=username, password=password, role=role, now=now,
                        actor=actor.actor)


def deactivate_staff(
    session: Session, *, actor: StaffPrincipal, staff_user_id: int, now: datetime,
    session_store: StaffSessionStore | None = None,
) -> StaffView:
    """Disable an account and end its sessions at once. Needs `staff:manage`."""
    require_permission(role=actor.role, permission=Permission.STAFF_MANAGE)
    user = session.get(StaffUser, staff_user_id)
    if user is None:
        raise NotFound("No such staff account.")
    if user.id == actor.staff_user_id:
        raise Conflict("You cannot deactivate your own account.")
    user.active = False
    store = session_store if session_store is not None else SqlStaffSessionStore(session)
    store.end_all_for_user(user.id, now=now)
    append_audit(session, actor=actor.actor, action="staff.deactivated",
                 subject=f"staff:{user.username}", details={}, now=now)
    session.flush()
    return StaffView(id=user.id, username=user.username, role=Role(user.role), active=False)
