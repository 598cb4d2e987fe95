"""Card lifecycle actions and the audited full-PAN reveal."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from issuer.errors import AccessDenied, NotFound
from issuer.models import Card
from issuer.permissions import Permission
from issuer.review import change_card_status, reveal_pan
from web.clock import now
from web.database import db_session, mark_for_commit_despite_error
from web.flow.card_step import issuer_keys
from web.staff import staff_bp
from web.staff.auth import current_staff, requires
from web.staff.errors import acting_on_case
from web.staff.forms import field


@staff_bp.post("/cards/<int:card_id>/status")
@requires(Permission.CARD_FREEZE)
def card_status(card_id: int) -> Response:
    """Freeze, unfreeze or close a card."""
    acting_on_case(_card_application(card_id))
    result = change_card_status(db_session(), card_id=card_id, actor=current_staff(),
                                action=field("action"), reason=field("reason"),
                                comment=field("comment", required=False), now=now())
    flash(f"Card is now {result.new_status}.", "success")
    return redirect(url_for("staff.case", application_id=result.application_id), code=303)


def _card_application(card_id: int) -> str:
    card = db_session().get(Card, card_id)
    if card is None:
        raise NotFound("No such card.")
    return card.application_id


@staff_bp.get("/cards/<int:card_id>/reveal")
@requires(Permission.CARD_REVEAL_PAN)
def reveal_form(card_id: int) -> str:
    """Ask the supervisor to re-enter their password before revealing the PAN."""
    return render_template("staff/reveal.html", card_id=card_id,
                           application_id=_card_application(card_id), pan=None, error=None)


@staff_bp.post("/cards/<int:card_id>/reveal")
@requires(Permission.CARD_REVEAL_PAN)
def reveal(card_id: int) -> Response:
    """Show the full PAN once (never logged, never cached); audited either way."""
    application_id = _card_application(card_id)
    try:
        revealed = reveal_pan(db_session(), card_id=card_id, actor=current_staff(),
                              password=request.form.get("password", "")[:1024],
                              kek=issuer_keys().kek, now=now())
    except AccessDenied as exc:
        mark_for_commit_despite_error()  # keep the audit entry of the refused attempt
        return make_response(render_template(
            "staff/reveal.html", card_id=card_id, application_id=application_id, pan=None,
            error=exc.message), 403)
    response = make_response(render_template(
        "staff/reveal.html", card_id=card_id, application_id=application_id,
        pan=revealed.pan, error=None))
    response.headers["Cache-Control"] = "no-store"
    return response
