"""The emulated phone panel (`/device/...`): forwards to tee_sim's public API only.

These routes stand for the phone itself, not for the bank: they are not authenticated by the
applicant's cookie (a device is addressed by its unguessable id) and are CSRF-exempt for that
reason. The page's scripts carry messages between the phone and the issuer's routes.
"""

from __future__ import annotations

from flask import Blueprint

device_bp = Blueprint("device", __name__, url_prefix="/device")

from web.device import views  # noqa: E402,F401  (registers the routes)
