"""Staff roles and the named permissions each role grants: the one table the console checks."""

from __future__ import annotations

from enum import StrEnum

from issuer.errors import AccessDenied


class Permission(StrEnum):
    """A named capability a staff member may hold."""

    REVIEW_READ = "review:read"
    REVIEW_DECIDE = "review:decide"
    REVIEW_OVERRIDE = "review:override"
    CARD_FREEZE = "card:freeze"
    CARD_REVEAL_PAN = "card:reveal_pan"
    AUDIT_READ = "audit:read"
    STAFF_MANAGE = "staff:manage"


class Role(StrEnum):
    """A staff role; every staff account has exactly one."""

    REVIEWER = "reviewer"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.REVIEWER: frozenset({Permission.REVIEW_READ, Permission.REVIEW_DECIDE}),
    Role.SUPERVISOR: frozenset(
        {
            Permission.REVIEW_READ,
            Permission.REVIEW_DECIDE,
            Permission.REVIEW_OVERRIDE,
            Permission.CARD_FREEZE,
            Permission.CARD_REVEAL_PAN,
        }
    ),
    Role.AUDITOR: frozenset({Permission.REVIEW_READ, Permission.AUDIT_READ}),
    Role.ADMIN: frozenset({Permission.STAFF_MANAGE, Permission.AUDIT_READ, Permission.REVIEW_READ}),
}


class PermissionDenied(AccessDenied):
    """A staff member tried something their role does not grant."""

    def __init__(self, *, role: str, permission: Permission) -> None:
        super().__init__(f"Your role ({role}) does not have the permission {permission.value}.")
        self.role = role
        self.permission = permission


def parse_role(value: str) -> Role:
    """Return the `Role` named by `value`, or raise ValueError listing the valid roles."""
    try:
        return Role(value)
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {value!r}; expected one of: {valid}") from None


def permissions_for(role: str) -> frozenset[Permission]:
    """Every permission granted to `role`; an unknown role grants nothing."""
    try:
        return ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()


def has_permission(*, role: str, permission: Permission) -> bool:
    """Whether `role` grants `permission`."""
    return permission in permissions_for(role)


def require_permission(*, role: str, permission: Permission) -> None:
    """Raise `PermissionDenied` unless `role` grants `permission`."""
    if not has_permission(role=role, permission=permission):
        raise PermissionDenied(role=role, permission=permission)
