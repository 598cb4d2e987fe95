"""`cardsim serve`: prepare the instance (database, keys, phone manufacturer) and serve the app.

One worker runs Werkzeug's threaded server; `--workers N` (N > 1) runs gunicorn with N worker
processes, each building its own app (the liveness face mesh is per process; all applicant
state is in the database, or in Redis for the short-lived part when `REDIS_URL` is set, so any
worker can serve any request).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from issuer.clock import utc_now
from issuer.db import (
    error_line,
    make_engine,
    make_session_factory,
)
from issuer.errors import AccessDenied, AccountLocked, Conflict, IssuerError
from issuer.key_check import upgrade_with_key_file
from issuer.staff_accounts import authenticate_staff, create_staff
from liveness import LivenessError, parse_challenges
from tee_sim import TeeError
from web.config import ConfigError, config_from_env
from web.device.phones import ensure_manufacturer

DEMO_STAFF = (("demo", "supervisor"), ("reviewer", "reviewer"))


def register(subparsers: Any) -> None:
    """Add `cardsim serve`."""
    parser = subparsers.add_parser("serve", help="run the web app (applicant pages, API, console)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5000, help="TCP port (default 5000)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes; >1 uses gunicorn (default 1)")
    parser.add_argument("--demo-staff", action="store_true",
                        help="create demo staff accounts and print their passwords")
    parser.set_defaults(func=serve)


def demo_password(key_file: Path, username: str) -> str:
    """A per-installation demo password, derived from the issuer key file (never stored)."""
    digest = hmac.new(key_file.read_bytes(), f"cardsim demo staff {username}".encode(),
                      hashlib.sha256).hexdigest()
    return f"demo-{digest[:16]}"


def check_redis(url: str) -> None:
    """Raise `ConfigError` unless a Redis answers PING at `url` (fail at start, not later)."""
    from redis.exceptions import RedisError

    from web.redis_stores import connect, describe_redis_url

    try:
        client = connect(url)
    except (ValueError, TypeError) as exc:  # e.g. ?socket_timeout=abc in the URL
        raise ConfigError(f"REDIS_URL: {describe_redis_url(url)} cannot be used: "
                          f"{error_line(exc)}") from None
    try:
        client.ping()
    except RedisError as exc:
        raise ConfigError(f"REDIS_URL: no Redis answers at {describe_redis_url(url)} "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
                          ) from None
    finally:
        client.close()


def prepare_instance(config: dict[str, object]) -> None:
    """Migrate the database, create the key file and the phone manufacturer if absent; check
    that the configured Redis answers and that the key file is this database's."""
    if config.get("REDIS_URL"):
        check_redis(str(config["REDIS_URL"]))
    url = str(config["DATABASE_URL"])
    upgrade_with_key_file(url, key_file=Path(str(config["CARDSIM_KEY_FILE"])), now=utc_now())
    ensure_manufacturer(Path(str(config["CARDSIM_DEVICE_DIR"])))


@dataclass(frozen=True)
class DemoAccount:
    """A demo staff account: its derived password works unless `problem` says why not."""

    username: str
    role: str
    password: str
    problem: str | None = None

    def line(self) -> str:
        """What `serve --demo-staff` prints about the account."""
        if self.problem is None:
            return (f"cardsim: demo staff account {self.username} ({self.role}) "
                    f"password {self.password}")
        return (f"cardsim: demo staff account {self.username} already exists and "
                f"{self.problem}; its password was not changed")


def _existing_account_problem(sessions: sessionmaker[Session], username: str, password: str,
                              role: str) -> str | None:
    """Why an existing account cannot be used with the demo password and role (None: it can).

    The login is only tried: the transaction is rolled back, so it records no login, no
    failure count and no audit entry.
    """
    with sessions() as session:
        try:
            view = authenticate_staff(session, username=username, password=password,
                                      now=utc_now())
        except AccountLocked:
            return "is locked or deactivated"
        except AccessDenied:
            return "has another password"
        finally:
            session.rollback()
    if view.role.value != role:
        return f"has the role {view.role.value}, not {role}"
    return None


def ensure_demo_staff(config: dict[str, object]) -> list[DemoAccount]:
    """Create the demo staff accounts once; an account of the same name made otherwise (with
    `create-staff`, another password or role) is left as it is and reported, not printed with
    a password that would not work."""
    key_file = Path(str(config["CARDSIM_KEY_FILE"]))
    engine = make_engine(str(config["DATABASE_URL"]))
    accounts = []
    try:
        sessions = make_session_factory(engine)
        for username, role in DEMO_STAFF:
            password = demo_password(key_file, username)
            try:
                with sessions() as session, session.begin():
                    create_staff(session, username=username, password=password, role=role,
                                 now=utc_now(), actor="cardsim serve --demo-staff")
                problem = None
            except Conflict:  # made on an earlier run (same derived password), or otherwise
                problem = _existing_account_problem(sessions, username, password, role)
            accounts.append(DemoAccount(username, role, password, problem))
    finally:
        engine.dispose()
    return accounts


def check_listen(host: str, port: int) -> None:
    """Raise `ConfigError` unless a TCP socket can be bound at host:port (name resolved, port
    free, permitted), so a bind failure is one line before anything is printed or migrated.

    The socket is closed again at once; the server binds its own (both set SO_REUSEADDR).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as Werkzeug chooses
    try:
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
        address_family, kind, proto, _name, address = infos[0]
        with socket.socket(address_family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
            probe.listen(1)
    except OSError as exc:  # socket.gaierror for a name that does not resolve
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}") from None


def serve(args: argparse.Namespace) -> int:
    """Entry point of `cardsim serve`."""
    if not 1 <= args.port <= 65535 or not 1 <= args.workers <= 64:
        print("cardsim serve: --port must be 1-65535 and --workers 1-64", file=sys.stderr)
        return 2
    try:
        config = config_from_env()
        challenges = config.get("CARDSIM_LIVENESS_CHALLENGES")
        if isinstance(challenges, tuple):
            parse_challenges([str(c) for c in challenges])
        check_listen(args.host, args.port)
        prepare_instance(config)
        accounts = ensure_demo_staff(config) if args.demo_staff else []
        from web.app import create_app

        app = create_app(config) if args.workers == 1 else None
    except (ConfigError, IssuerError, LivenessError, TeeError, OSError) as exc:
        print(f"cardsim serve: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"cardsim serve: database error: {error_line(exc)}", file=sys.stderr)
        return 1
    url = f"http://{f'[{args.host}]' if ':' in args.host else args.host}:{args.port}"
    print(f"cardsim: applicant pages {url}/  ·  staff console {url}/staff/  ·  "
          f"API {url}/api/v1/openapi.json", flush=True)
    for account in accounts:
        print(account.line(), flush=True)
    if app is not None:
        app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
        return 0
    return _run_gunicorn(args.host, args.port, args.workers)


def _run_gunicorn(host: str, port: int, workers: int) -> int:
    from gunicorn.app.base import BaseApplication

    class CardsimGunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("timeout", 60)
            self.cfg.set("accesslog", "-")

        def load(self) -> Any:
            from web.app import create_app

            return create_app()

    CardsimGunicorn().run()
    return 0
