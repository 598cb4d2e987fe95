"""The Flask application factory: configuration, extensions, blueprints, error mapping."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from issuer.keys import IssuerKeys
from liveness import parse_challenges
from web.config import (
    DEFAULT_REDIS_PREFIX,
    check_redis_url,
    config_from_env,
    parse_rate_limits,
)
from web.database import init_database
from web.device.phones import ensure_manufacturer
from web.errors import register_error_handlers
from web.extensions import csrf
from web.flow.card_step import KEYS_EXTENSION
from web.request_guards import init_request_guards
from web.secret_key import derive_secret_key
from web.security_headers import init_security_headers
from web.stores import init_stores


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Build the app from the environment, with `config` overriding individual keys."""
    app = Flask(__name__)
    app.config.from_mapping(config_from_env())
    if config:
        app.config.from_mapping(config)
    for key in ("CARDSIM_KEY_FILE", "CARDSIM_DEVICE_DIR"):
        app.config[key] = Path(str(app.config[key]))
    challenges = app.config.get("CARDSIM_LIVENESS_CHALLENGES")
    if challenges:
        # Fail at start-up, not on the first applicant, when the configured order is invalid.
        app.config["CARDSIM_LIVENESS_CHALLENGES"] = tuple(
            c.value for c in parse_challenges(list(challenges)))
    # Overrides are checked like the environment: a bad URL fails here, not on first use.
    app.config["REDIS_URL"] = check_redis_url(app.config.get("REDIS_URL"))
    app.config.setdefault("CARDSIM_REDIS_PREFIX", DEFAULT_REDIS_PREFIX)
    limits = app.config.get("CARDSIM_RATE_LIMITS")
    if limits is None or isinstance(limits, str):
        app.config["CARDSIM_RATE_LIMITS"] = parse_rate_limits(limits)
    proxies = int(app.config.get("CARDSIM_TRUSTED_PROXIES") or 0)
    if proxies:
        # Believe exactly as many X-Forwarded-* hops as there are proxies we run; a client
        # cannot spoof its address past them.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = derive_secret_key(app.config["CARDSIM_KEY_FILE"])

    ensure_manufacturer(app.config["CARDSIM_DEVICE_DIR"])
    app.extensions[KEYS_EXTENSION] = IssuerKeys.load_or_create(app.config["CARDSIM_KEY_FILE"])
    csrf.init_app(app)
    # after_request hooks run in reverse order: headers must be added last, to every response.
    init_security_headers(app)
    init_database(app)
    init_stores(app)
    register_error_handlers(app)
    init_request_guards(app)
    _register_blueprints(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from web.api import api_bp
    from web.applicant import applicant_bp
    from web.device import device_bp
    from web.staff import staff_bp

    app.register_blueprint(applicant_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(device_bp)
    app.register_blueprint(staff_bp)
    csrf.exempt(api_bp)
    csrf.exempt(device_bp)
