"""Attacks on the staff console: forged cross-site actions, actions beyond a role, and
password guessing. Needs staff accounts (`--staff-user/--staff-password`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import requests

from issuer.permissions import Permission, permissions_for
from web.probe.api import Reply, Server
from web.probe.attacks_card import journey
from web.probe.context import ProbeContext, StaffAccount
from web.probe.result import ProbeAborted, ProbeResult, ProbeSkipped
from web.probe.verdict import refused

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_WHO = re.compile(r'data-testid="who">[^<(]*\(([a-z_]+)\)<')
JSON = {"Accept": "application/json"}
FAILED_GUESSES = 6


@dataclass
class StaffBrowser:
    """One staff member's browser: its own cookies, CSRF tokens read from the pages."""

    server: Server
    account: StaffAccount
    http: requests.Session

    def token(self, page: str = "/staff/login") -> str:
        """The CSRF token of a console page."""
        found = _CSRF.search(self.server.call("GET", page, http=self.http).text)
        if found is None:
            raise ProbeAborted(f"no CSRF token in {page}")
        return found.group(1)

    def login(self, password: str | None = None) -> Reply:
        """Submit the login form (303 on success)."""
        return self.server.call("POST", "/staff/login", http=self.http, data={
            "csrf_token": self.token(), "username": self.account.username,
            "password": self.account.password if password is None else password})

    def role(self) -> str:
        """The role the console shows for the logged-in member."""
        found = _WHO.search(self.server.call("GET", "/staff/", http=self.http).text)
        if found is None:
            raise ProbeAborted(f"cannot read {self.account.username}'s role from /staff/")
        return found.group(1)

    def post(self, path: str, fields: dict[str, str], *, csrf: bool = True) -> Reply:
        """POST a console form, with or without its CSRF token."""
        data = {**fields, "csrf_token": self.token("/staff/")} if csrf else dict(fields)
        return self.server.call("POST", path, http=self.http, data=data, headers=JSON)


def logged_in(ctx: ProbeContext) -> list[tuple[StaffBrowser, str]]:
    """Every given staff account, logged in, with its role."""
    if not ctx.staff:
        raise ProbeSkipped("needs staff accounts (--staff-user/--staff-password)")
    browsers = []
    for account in ctx.staff:
        browser = StaffBrowser(ctx.server, account, ctx.server.session())
        reply = browser.login()
        if reply.status != 303:
            raise ProbeAborted(f"staff login of {account.username} failed: HTTP {reply.status}")
        browsers.append((browser, browser.role()))
    return browsers


def _card(ctx: ProbeContext) -> tuple[int, str]:
    j = journey(ctx)
    card = j.applicant.get("/card")
    return int(card.field("id")), str(card.field("status"))


def forged_cross_site_action(ctx: ProbeContext) -> ProbeResult:
    """A card freeze posted from another site: the staff cookie is sent, no CSRF token."""
    name = "staff: action without CSRF token"
    browsers = logged_in(ctx)
    able = [b for b, role in browsers if Permission.CARD_FREEZE in permissions_for(role)]
    browser = able[0] if able else browsers[0][0]
    card_id, before = _card(ctx)
    fields = {"action": "freeze", "reason": "suspected_fraud", "comment": "probe"}
    reply = browser.post(f"/staff/cards/{card_id}/status", fields, csrf=False)
    verdict = refused(name, reply, statuses={400})
    if verdict.detected and _card(ctx)[1] != before:
        return ProbeResult(name, False, f"refused, yet the card went from {before} to "
                                        f"{_card(ctx)[1]}")
    return verdict


# A request per permission, sent with a valid CSRF token by a role that lacks it.
def _forbidden_requests(ctx: ProbeContext) -> dict[Permission, tuple[str, dict[str, str]]]:
    card_id, _ = _card(ctx)
    application_id = journey(ctx).applicant.application_id
    return {
        Permission.CARD_FREEZE: (f"/staff/cards/{card_id}/status",
                                 {"action": "freeze", "reason": "suspected_fraud"}),
        Permission.REVIEW_DECIDE: (f"/staff/cases/{application_id}/take", {}),
        Permission.STAFF_MANAGE: ("/staff/accounts", {"username": "probe-intruder",
                                                     "password": "probe-intruder-pw-1",
                                                     "role": "admin"}),
        Permission.AUDIT_READ: ("/staff/audit/verify", {}),
    }


def role_without_permission(ctx: ProbeContext) -> ProbeResult:
    """Each staff member tries an action their role does not grant."""
    name = "staff: action by a role without permission"
    requests_by_permission = _forbidden_requests(ctx)
    tried = []
    for browser, role in logged_in(ctx):
        granted = permissions_for(role)
        for permission, (path, fields) in requests_by_permission.items():
            if permission in granted:
                continue
            reply = browser.post(path, fields)
            verdict = refused(name, reply, statuses={403})
            if not verdict.detected:
                return ProbeResult(name, False, f"{role} did {permission}: "
                                                f"{verdict.server_reason}")
            tried.append(f"{role}×{permission}")
    if not tried:
        raise ProbeSkipped("every given staff account holds every tested permission")
    _, status = _card(ctx)
    if status != "active":
        return ProbeResult(name, False, f"refused, yet the card is now {status}")
    return ProbeResult(name, True, f"HTTP 403 for {', '.join(tried)}")


def brute_force_login(ctx: ProbeContext) -> ProbeResult:
    """Password guessing on a staff account, then the right password (must stay locked).

    Run last: it locks the account (and counts against the probe's address)."""
    name = "staff: brute-force login"
    if not ctx.staff:
        raise ProbeSkipped("needs staff accounts (--staff-user/--staff-password)")
    browser = StaffBrowser(ctx.server, ctx.staff[-1], ctx.server.session())
    statuses = [browser.login(password=f"wrong-guess-{i}").status
                for i in range(FAILED_GUESSES)]
    final = browser.login()
    if final.status == 303:
        return ProbeResult(name, False, f"the right password still worked after "
                                        f"{FAILED_GUESSES} wrong guesses ({statuses})")
    return ProbeResult(name, True, f"guesses answered {statuses}; then the right password "
                                   f"answered HTTP {final.status} (account locked)")


SCENARIOS: tuple[Callable[[ProbeContext], ProbeResult], ...] = (
    forged_cross_site_action, role_without_permission, brute_force_login,
)
