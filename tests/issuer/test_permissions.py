"""The role → permission table and its checks."""

from __future__ import annotations

import pytest

from issuer.permissions import (
    ROLE_PERMISSIONS,
    Permission,
    PermissionDenied,
    Role,
    has_permission,
    parse_role,
    permissions_for,
    require_permission,
)

pytestmark = pytest.mark.unit

EXPECTED = {
    "reviewer": {"review:read", "review:decide"},
    "supervisor": {
        "review:read",
        "review:decide",
        "review:override",
        "card:freeze",
        "card:reveal_pan",
    },
    "auditor": {"review:read", "audit:read"},
    "admin": {"staff:manage", "audit:read", "review:read"},
}


def test_every_role_has_exactly_the_documented_permissions() -> None:
    assert {r.value: {p.value for p in ps} for r, ps in ROLE_PERMISSIONS.items()} == EXPECTED


@pytest.mark.parametrize("role", [r.value for r in Role])
@pytest.mark.parametrize("permission", list(Permission))
def test_require_permission_matrix(role: str, permission: Permission) -> None:
    allowed = permission.value in EXPECTED[role]
    assert has_permission(role=role, permission=permission) is allowed
    if allowed:
        require_permission(role=role, permission=permission)
    else:
        with pytest.raises(PermissionDenied) as info:
            require_permission(role=role, permission=permission)
        assert info.value.permission is permission
        assert info.value.role == role


def test_unknown_role_grants_nothing() -> None:
    assert permissions_for("root") == frozenset()
    with pytest.raises(PermissionDenied):
        require_permission(role="root", permission=Permission.REVIEW_READ)


def test_parse_role_names_the_valid_roles() -> None:
    assert parse_role("auditor") is Role.AUDITOR
    with pytest.raises(ValueError, match="expected one of: reviewer, supervisor, auditor, admin"):
        parse_role("superuser")
