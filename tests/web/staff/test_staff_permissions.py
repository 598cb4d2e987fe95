"""Every console route and action for every role: allowed, or 403 (HTML page and JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from issuer.models import LivenessKeyframe, StaffUser
from issuer.permissions import Permission, has_permission
from issuer.review_models import PendingOverride
from tests.web.staff.conftest import PASSWORD, ROLES, Console, csrf_token
from web.staff.errors import PERMISSION_WORDS

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Route:
    endpoint: str
    method: str
    path: str
    permission: Permission | None
    data: dict[str, str] = field(default_factory=dict)


def build_routes(console: Console) -> list[Route]:
    case = console.manual_review_case()
    declined = console.declined_case()
    _, card = console.card_case()
    console.add_staff("sup2", "supervisor")
    console.add_staff("victim", "reviewer")
    console.login("sup2")
    assert console.post("sup2", f"/staff/cases/{declined}/take").status_code == 303
    assert console.post("sup2", f"/staff/cases/{declined}/override", {
        "reason": "false_positive", "comment": "misread"}).status_code == 303
    with console.factory() as s:
        override = s.scalar(select(PendingOverride.id))
        keyframe = s.scalar(select(LivenessKeyframe.id))
        victim = s.scalar(select(StaffUser.id).where(StaffUser.username == "victim"))
    P = Permission
    c = f"/staff/cases/{case}"
    return [
        Route("staff.queue", "GET", "/staff/", P.REVIEW_READ),
        Route("staff.case", "GET", c, P.REVIEW_READ),
        Route("staff.keyframe", "GET", f"/staff/keyframes/{keyframe}", P.REVIEW_READ),
        Route("staff.export_bundle", "GET", f"{c}/export.json", P.REVIEW_READ),
        Route("staff.export_page", "GET", f"{c}/export.html", P.REVIEW_READ),
        Route("staff.take", "POST", f"{c}/take", P.REVIEW_DECIDE),
        Route("staff.release", "POST", f"{c}/release", P.REVIEW_DECIDE),
        Route("staff.take", "POST", f"{c}/take", P.REVIEW_DECIDE),
        Route("staff.redo", "POST", f"{c}/redo", P.REVIEW_DECIDE,
              {"step": "interview", "reason": "answers_inconsistent", "comment": "again"}),
        Route("staff.decide", "POST", f"{c}/decide", P.REVIEW_DECIDE,
              {"verb": "approve", "reason": "evidence_sufficient", "comment": "ok"}),
        Route("staff.override", "POST", f"/staff/cases/{declined}/override", P.REVIEW_DECIDE,
              {"reason": "false_positive", "comment": "x"}),
        Route("staff.override_confirm", "POST",
              f"/staff/cases/{declined}/overrides/{override}/confirm", P.REVIEW_OVERRIDE,
              {"comment": "yes"}),
        Route("staff.override_reject", "POST",
              f"/staff/cases/{declined}/overrides/{override}/reject", P.REVIEW_OVERRIDE,
              {"comment": "no"}),
        Route("staff.card_status", "POST", f"/staff/cards/{card}/status", P.CARD_FREEZE,
              {"action": "freeze", "reason": "suspected_fraud", "comment": ""}),
        Route("staff.reveal_form", "GET", f"/staff/cards/{card}/reveal", P.CARD_REVEAL_PAN),
        Route("staff.reveal", "POST", f"/staff/cards/{card}/reveal", P.CARD_REVEAL_PAN,
              {"password": PASSWORD}),
        Route("staff.audit_log", "GET", "/staff/audit", P.AUDIT_READ),
        Route("staff.audit_verify", "POST", "/staff/audit/verify", P.AUDIT_READ),
        Route("staff.staff_list", "GET", "/staff/accounts", P.STAFF_MANAGE),
        Route("staff.staff_create", "POST", "/staff/accounts", P.STAFF_MANAGE,
              {"username": "newbie", "password": PASSWORD, "role": "reviewer"}),
        Route("staff.staff_deactivate", "POST", f"/staff/accounts/{victim}/deactivate",
              P.STAFF_MANAGE),
        Route("staff.logout", "POST", "/staff/logout", None),
    ]


def call(console: Console, user: str, route: Route, *, json: bool = False):  # type: ignore[no-untyped-def]
    headers = {"Accept": "application/json"} if json else {}
    if route.method == "GET":
        return console.get(user, route.path, **headers)
    return console.post(user, route.path, route.data, **headers)


@pytest.mark.parametrize("role", ROLES)
def test_every_route_for_role(console: Console, role: str) -> None:
    routes = build_routes(console)
    console.login(role)
    outcomes: dict[str, int] = {}
    for route in routes:
        allowed = route.permission is None or has_permission(role=role,
                                                              permission=route.permission)
        if not allowed:
            page = call(console, role, route)
            assert page.status_code == 403, (route, page.status_code)
            text = page.get_data(as_text=True)
            assert "Not allowed" in text
            assert route.permission is not None
            assert PERMISSION_WORDS[route.permission] in text  # in words, not as a code
            assert route.permission.value not in text
            api = call(console, role, route, json=True)
            assert api.status_code == 403, (route, api.status_code)
            assert api.get_json()["error"]["code"] == "forbidden"
        else:
            response = call(console, role, route)
            assert response.status_code not in (401, 403) and response.status_code < 500, (
                route, response.status_code, response.get_data(as_text=True)[:500])
        outcomes[f"{route.method} {route.endpoint}"] = response.status_code if allowed else 403
    # The allowed actions really happened for the roles that hold them.
    if role == "supervisor":
        assert outcomes["POST staff.override_confirm"] == 303
        assert outcomes["POST staff.card_status"] == 303
        assert outcomes["POST staff.reveal"] == 200
    if role == "admin":
        assert outcomes["POST staff.staff_create"] == 303


def test_every_permission_has_words() -> None:
    assert set(PERMISSION_WORDS) == set(Permission)


def test_matrix_covers_every_console_route(console: Console) -> None:
    routes = build_routes(console)
    listed = {r.endpoint: r.permission for r in routes}
    endpoints = {rule.endpoint for rule in console.app.url_map.iter_rules()
                 if rule.endpoint.startswith("staff.")}
    assert endpoints - {"staff.login", "staff.login_form"} == set(listed)
    for endpoint, permission in listed.items():
        view = console.app.view_functions[endpoint]
        assert getattr(view, "required_permission", "missing") == permission, endpoint


def test_without_a_session_every_route_sends_to_login(console: Console) -> None:
    for route in build_routes(console):
        client = console.app.test_client()
        token = csrf_token(client)  # a valid form token, but nobody logged in
        data = {"csrf_token": token, **route.data}
        if route.method == "GET":
            page, api = client.get(route.path), client.get(
                route.path, headers={"Accept": "application/json"})
        else:
            page, api = client.post(route.path, data=data), client.post(
                route.path, data=data, headers={"Accept": "application/json"})
        assert page.status_code == 303 and page.headers["Location"].endswith("/staff/login")
        assert api.status_code == 401, route
        assert api.get_json()["error"]["code"] == "login_required"
