"""Flask extensions, created once at module level and bound to an app in `create_app`."""

from __future__ import annotations

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
