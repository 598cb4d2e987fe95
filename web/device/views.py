"""Phone panel routes."""

from __future__ import annotations

from flask import Response, jsonify

from web.device import device_bp


@device_bp.post("/phones")
def create_phone() -> Response:
    return jsonify({})
