"""Opening the audit store: which database (PADDOCK_DB_URL, else `[store] url`, else SQLite in data_dir),
the engine (SQLite in WAL mode), and the Alembic migrations, run on every open."""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from core.config import PROJECT_ROOT, LoadedConfig, check_store_url
from core.errors import StoreError

logger = logging.getLogger("paddock.store")

ENV_URL = "PADDOCK_DB_URL"
SQLITE_NAME = "paddock.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CONNECT_TIMEOUT = 5  # seconds to reach a PostgreSQL server
HEAD_REVISION = "0004"  # the newest file in core/migrations/versions (a test holds them together)
PG_MIGRATION_LOCK = 7_317_410  # pg_advisory_xact_lock key: one process migrates at a time


def store_url(config: LoadedConfig, environ: Mapping[str, str]) -> URL:
    """The store's URL: the environment's PADDOCK_DB_URL wins over `[store] url`; else data_dir/paddock.db."""
    raw = environ.get(ENV_URL) or config.app.store.url
    if raw:
        where = ENV_URL if environ.get(ENV_URL) else f"{config.path}: key 'store.url'"
        try:
            check_store_url(raw)
        except ValueError as exc:
            raise StoreError(f"{where}: {exc}") from None
        url = make_url(raw)
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")  # the driver the requirements pin
        return url
    path = config.resolve(config.app.data_dir) / SQLITE_NAME
    return URL.create("sqlite", database=str(path))


def shown(url: URL) -> str:
    """The URL as it may be printed or logged: the password masked."""
    return url.render_as_string(hide_password=True)


def open_store(url: URL, create: bool = True) -> Engine:
    """An engine on the store with its schema migrated to the latest revision; StoreError with one clear message
    (the password left out) when it cannot be reached, read or migrated. create=False: a missing SQLite file is
    an error ("no run has written one") rather than created."""
    if url.drivername == "sqlite":
        path = Path(url.database or "")
        if not path.exists():
            if not create:
                raise StoreError(f"no audit store at {path}: no run has written one yet")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the audit store's folder {path.parent}: {exc.strerror}") from None
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT})
    try:
        with _migration_lock(url):
            _migrate(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"audit store {shown(url)}: {describe(exc)}") from None
    return engine


def describe(exc: SQLAlchemyError) -> str:
    """The database's own message, first line only (no SQL, no parameters)."""
    inner = getattr(exc, "orig", None) or exc
    return (str(inner).strip().splitlines() or [type(inner).__name__])[0]


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the CLI) never block the writer
    # WAL with NORMAL: a commit is in the OS's hands at once, so it survives the process dying (kill -9) without
    # an fsync per commit (3 ms here, on every live placeOrders); a power cut may lose the last commits, not the file
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@contextlib.contextmanager
def _migration_lock(url: URL) -> Iterator[None]:
    """SQLite: a lock file beside the database, so two processes opening a new store do not both create it."""
    if url.drivername != "sqlite":
        yield  # PostgreSQL: an advisory lock inside the migration's transaction
        return
    lock_path = Path(f"{url.database}.lock")
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _migrate(engine: Engine) -> None:
    """Upgrade to the head revision; a store already there costs one query (Alembic is not even imported)."""
    with engine.connect() as connection:
        has_version = connection.dialect.has_table(connection, "alembic_version")
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar() if has_version else None
    if current == HEAD_REVISION:
        return
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
        if MigrationContext.configure(connection).get_current_revision() == head:
            return
        logger.info("audit store: migrating to revision %s", head)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def paddock_version() -> str:
    """The project's version, from pyproject.toml."""
    import tomllib

    try:
        return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"
