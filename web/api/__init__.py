"""The versioned JSON API (`/api/v1`): the applicant flow for automation and testers.

Authentication is a bearer token returned when the application is created; no cookie is
involved, which is why this blueprint is exempt from CSRF protection. The OpenAPI 3.1
document is `openapi.yaml` next to this file, served at `/api/v1/openapi.json`.
"""

from __future__ import annotations

from flask import Blueprint

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")

from web.api import views  # noqa: E402,F401  (registers the routes)
