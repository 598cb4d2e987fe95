"""The applicant's pages: start, identity, liveness, interview, phone, agreement, card."""

from __future__ import annotations

from flask import Blueprint

applicant_bp = Blueprint("applicant", __name__)

from web.applicant import views  # noqa: E402,F401  (registers the routes)
