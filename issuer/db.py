"""Database plumbing: declarative base, engines for SQLite and PostgreSQL, Alembic upgrade."""

from __future__ import annotations

import contextlib
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    DateTime,
    Engine,
    MetaData,
    create_engine,
    event,
    inspect,
    literal,
    make_url,
    select,
    table,
)
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from issuer.errors import IssuerError
from issuer.regular_files import kind_of

if TYPE_CHECKING:
    from issuer.keys import IssuerKeys

DEFAULT_DATABASE_URL = "sqlite:///instance/cardsim.db"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option for a connection that only reads: on SQLite its transaction is a deferred
# BEGIN (a WAL snapshot beside the writers) instead of BEGIN IMMEDIATE (the write lock).
READ_ONLY = {"cardsim_read_only": True}

# Stable constraint names so Alembic migrations (and SQLite batch mode) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every issuer model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes stored as naive UTC, identical on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        # SQLite hands back whatever text is stored: one that carries an offset (written by
        # hand) means that instant, not the same wall-clock time in UTC.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def load_all_models() -> MetaData:
    """Import every issuer module that defines tables (`models`, `*_models`); return metadata.

    Alembic and the schema test need every table registered, whoever wrote it.
    """
    import importlib
    import pkgutil

    package = Path(__file__).parent
    for module in pkgutil.iter_modules([str(package)]):
        if module.name == "models" or module.name.endswith("_models"):
            importlib.import_module(f"issuer.{module.name}")
    return Base.metadata


def database_url_from_env() -> str:
    """`DATABASE_URL` from the environment, or the default SQLite file under instance/."""
    return os.environ.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL


class DatabaseUnavailable(IssuerError):
    """The database URL is malformed, needs a driver that is not installed, names a SQLite
    file that cannot be (or, for read-only use, is not yet) there, or no server answers."""


def is_sqlite(url: str) -> bool:
    """Whether a database URL names SQLite."""
    return make_url(url).get_backend_name() == "sqlite"


def describe_database_url(url: str) -> str:
    """The URL for messages, never with its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        _user, at, rest = url.rpartition("@")
        return repr(f"***@{rest}" if at else url)


def error_line(exc: BaseException) -> str:
    """The first line of an error's message (its type name when it has none), for one-line
    CLI errors. For a SQLAlchemy driver error it is the driver's own message, without the
    statement and the "Background on this error" link SQLAlchemy appends."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for other databases, in-memory and `file:` URIs."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" \
            or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout, foreign keys and BEGIN IMMEDIATE.

    The SQLite file holds staff password hashes and sealed personal data: the directories made
    for it are owner-only (0700), and the file, when a connection is about to create it, is
    created owner-only (0600); SQLite gives its -wal and -shm files the database file's mode.
    Existing directories and files keep their modes.

    Every SQLite transaction starts with BEGIN IMMEDIATE so writers queue on the busy timeout
    instead of failing with "database is locked" when a read lock is upgraded mid-transaction;
    a connection given the `READ_ONLY` execution option begins a plain (deferred) read instead.
    The SQLite file's directory is created if needed. A URL that cannot be parsed, names an
    unknown database or a driver that is not installed, or a directory that cannot be made
    raises `DatabaseUnavailable` with a one-line message (no connection is attempted here).
    """
    shown = describe_database_url(url)
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            return create_engine(parsed, pool_pre_ping=True, **kwargs)
        path = _sqlite_file(url)
        if path is not None:
            _make_private_directories(path.resolve().parent)
        engine = _make_sqlite_engine(parsed, path, **kwargs)
    except NoSuchModuleError:
        raise DatabaseUnavailable(
            f"cannot open database {shown}: unknown database type "
            "(use sqlite:///PATH or postgresql+psycopg://USER@HOST/NAME)") from None
    except ArgumentError:
        raise DatabaseUnavailable(
            f"cannot open database {shown}: not a database URL "
            "(use sqlite:///PATH or postgresql+psycopg://USER@HOST/NAME)") from None
    except ImportError as exc:
        raise DatabaseUnavailable(
            f"cannot open database {shown}: its driver is not installed ({error_line(exc)}; "
            "cardsim supports sqlite and postgresql+psycopg)") from None
    except OSError as exc:
        raise DatabaseUnavailable(f"cannot open database {shown}: cannot create the directory "
                                  f"{exc.filename}: {exc.strerror}") from None
    except (ValueError, TypeError) as exc:
        raise DatabaseUnavailable(f"cannot open database {shown}: {error_line(exc)}") from None
    return engine


def open_database(url: str, *, create: bool) -> Engine:
    """An engine on `url` that has connected once, or `DatabaseUnavailable` saying why.

    With `create=False` (commands that only read or add to an existing database) a SQLite
    file that does not exist is refused as "no database at PATH", and nothing is created.
    """
    shown = describe_database_url(url)
    try:
        path = _sqlite_file(url)
    except (ArgumentError, ValueError):
        path = None  # make_engine says what is wrong with the URL
    if path is not None:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            if not create:
                raise DatabaseUnavailable(f"no database at {path} (check DATABASE_URL, or "
                                          "run `cardsim init-db` to create one)") from None
        except OSError as exc:
            raise DatabaseUnavailable(f"cannot open database {shown}: {exc.strerror}") from None
        else:
            if not stat.S_ISREG(mode):
                raise DatabaseUnavailable(
                    f"cannot open database {shown}: {path} is {kind_of(mode)}")
    engine = make_engine(url)
    try:
        with engine.connect():
            pass
    except (SQLAlchemyError, ValueError, TypeError) as exc:
        engine.dispose()
        raise DatabaseUnavailable(f"cannot open database {shown}: {error_line(exc)}") from None
    return engine


def _make_private_directories(directory: Path) -> None:
    """`mkdir -p` where every directory made here is owner-only (0700); existing ones are left
    as they are."""
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        if directory.parent == directory:
            break
        directory = directory.parent
    for made in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile: theirs, with their mode
            made.mkdir(mode=0o700)


def _create_private_file(path: Path) -> None:
    """Create `path` empty and owner-only (0600) unless something is there already (an empty
    file is a valid SQLite database)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _make_sqlite_engine(parsed: URL, path: Path | None, **kwargs: Any) -> Engine:
    engine = create_engine(
        parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
    )

    if path is not None:
        @event.listens_for(engine, "do_connect")
        def _create_owner_only(*_args: Any) -> None:
            # Before SQLite creates the file with the umask's mode (usually 0644).
            if not path.exists():
                _create_private_file(path)

    @event.listens_for(engine, "connect")
    def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: SQLAlchemy's "begin" hook below issues BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        read_only = connection.get_execution_options().get("cardsim_read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to `engine`; objects stay usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(connection: Any = None, *, keys: IssuerKeys | None = None) -> Any:
    """Alembic configuration pointing at the migrations packaged inside `issuer`.

    `keys` are handed to migrations that encrypt stored data.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    if keys is not None:
        config.attributes[_ISSUER_KEYS] = keys
    return config


_ISSUER_KEYS = "issuer_keys"


def migration_keys(rows: int, *, needing: str) -> IssuerKeys | None:
    """Inside a migration: the issuer keys `alembic_config` handed over, or None without them.

    With `rows` rows to (re)seal and no keys, `KeyFileError` says "<rows> <needing> with the
    issuer keys; run `cardsim init-db`", before the migration changes anything.
    """
    from alembic import context

    from issuer.errors import KeyFileError
    from issuer.keys import IssuerKeys

    keys = context.config.attributes.get(_ISSUER_KEYS)
    if not isinstance(keys, IssuerKeys):
        if rows:
            raise KeyFileError(f"{rows} {needing} with the issuer keys; run `cardsim init-db` "
                               "(it loads CARDSIM_KEY_FILE)")
        return None
    return keys


def holds_encrypted_data(url: str) -> bool:
    """True when the database already has applicants or cards: data sealed under issuer keys.

    A missing schema or empty tables is False. Used before creating a key file, so a wrong
    `CARDSIM_KEY_FILE` cannot silently pair an existing database with brand-new keys.
    """
    engine = open_database(url, create=True)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            for name in ("applicant", "card"):
                if name in tables and connection.execute(
                        select(literal(1)).select_from(table(name)).limit(1)).first():
                    return True
    finally:
        engine.dispose()
    return False


def upgrade_database(url: str, *, keys: IssuerKeys | None = None) -> None:
    """Run every Alembic migration up to head against the database at `url`, in one transaction.

    `keys` are needed only where existing rows must be sealed.
    """
    from alembic import command

    engine = open_database(url, create=True)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # SQLite's batch migrations rebuild a table (copy, drop, rename); with foreign
                # keys enforced, dropping a table other rows refer to fails. The pragma only
                # takes effect outside a transaction, so it is set on the driver connection
                # before the migration transaction begins, and checked before it commits.
                _driver_pragma(connection, "PRAGMA foreign_keys=OFF")
            try:
                with connection.begin():
                    command.upgrade(alembic_config(connection, keys=keys), "head")
                    if sqlite:
                        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
                        if broken is not None:
                            raise DatabaseUnavailable(
                                f"migrating {describe_database_url(url)} would leave a "
                                f"{broken[0]} row pointing at a missing {broken[2]} row; "
                                "nothing was changed")
            finally:
                if sqlite:
                    _driver_pragma(connection, "PRAGMA foreign_keys=ON")
    finally:
        engine.dispose()


def _driver_pragma(connection: Any, pragma: str) -> None:
    """Run a PRAGMA on the driver connection, outside any SQLAlchemy transaction."""
    driver_connection = connection.connection.driver_connection
    driver_connection.execute(pragma)
