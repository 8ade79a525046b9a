"""Engines, sessions and migrations.

SQLite is the embedded default: WAL mode and a busy timeout, because the crawler, the web interface and the
scheduler share one file. Any SQLAlchemy URL works (``postgresql+psycopg://…``). The schema comes from the Alembic
migrations, never from ``create_all``; opening a ``Database`` applies them (``migrate=False`` to only look).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from caigou.models.errors import CaigouError

# caigou/migrations, beside caigou/models: in a checkout a link to alembic/, in a wheel the migrations themselves.
MIGRATIONS_DIR = Path(__file__).parent.parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Searches and exports read large parts of the archive: a 64 MiB page cache per connection and memory-mapped
    # reads (up to 1 GiB of the file; the OS shares the pages) instead of SQLite's 2 MiB default.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA mmap_size=1073741824")
    # Search's scratch tables live in memory, not in a temporary file.
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def parse_database_url(url: str) -> URL:
    """``url`` read as a SQLAlchemy URL; a malformed one, a file path given bare and Heroku's ``postgres://`` are
    each one line saying what to write instead."""
    if url.startswith("postgres://"):
        raise CaigouError("postgres:// is the old spelling, which SQLAlchemy no longer accepts: write the same URL "
                          "with postgresql:// (e.g. postgresql://postgres@127.0.0.1:5432/caigou)")
    try:
        return make_url(url)
    except ArgumentError as exc:
        hint = ""
        if "://" not in url and url.strip():
            path = Path(url).expanduser()
            hint = (f"; for a SQLite file write sqlite:///{path}" if not path.is_absolute() else
                    f"; for a SQLite file write sqlite:///{path} (four slashes for an absolute path)")
        raise CaigouError(f"not a database URL: {url!r}{hint}") from exc


def check_new_database(url: str) -> None:
    """For a URL the user typed (``--db``): a SQLite file may be created, but not its folder, so a mistyped path
    is an error rather than a new empty archive somewhere unexpected."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        file = Path(parsed.database).expanduser()
        if not file.exists() and not file.parent.is_dir():
            raise CaigouError(f"no database at {file} and its folder {file.parent} does not exist: check the path "
                              "(caigou creates the database file, not its folder)")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a SQLite file's folder is created. A malformed URL is a CaigouError."""
    parsed = parse_database_url(url)
    if parsed.drivername == "postgresql":  # psycopg 3 is the driver this project installs
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # /proc/…, a read-only disk, a file where a folder should be
                raise CaigouError(f"cannot create the folder {folder} of the SQLite database: "
                                  f"{exc.strerror or exc}") from exc
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    try:
        engine = create_engine(parsed, **kwargs)
    except NoSuchModuleError as exc:
        raise CaigouError(f"unknown database kind {parsed.drivername!r} in {url!r}: use sqlite:///FILE or "
                          "postgresql://USER@HOST/NAME") from exc
    except ModuleNotFoundError as exc:
        raise CaigouError(f"the driver for {parsed.drivername} is not installed ({exc.name}); "
                          "for PostgreSQL: pip install 'caigou[postgres]'") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (the newest by default)."""
    from alembic import command

    try:
        command.upgrade(alembic_config(engine), revision)
    except OperationalError as exc:
        raise CaigouError(f"cannot reach the database {engine.url.render_as_string(hide_password=True)}: "
                          f"{str(exc.orig).strip().splitlines()[0]}") from exc


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


class Database:
    """An engine and its session factory, migrated to the newest schema when opened."""

    def __init__(self, url: str, migrate: bool = True) -> None:
        self.url = url
        self.upgraded_from: str | None = None  # the revision this opening migrated from ("" for a new database)
        self.engine = make_engine(url)
        if migrate:
            try:
                current = current_revision(self.engine)
            except OperationalError as exc:
                raise CaigouError(f"cannot reach the database {self.display_url}: "
                                  f"{str(exc.orig).strip().splitlines()[0]}") from exc
            if not MIGRATIONS_DIR.is_dir():
                # Running from a Scrapyd egg (a zip without the migrations): the schema is the operator's to
                # migrate, with `caigou db upgrade` from a checkout or an installed copy; the crawl only writes.
                if current is None:
                    raise CaigouError(f"the database {self.display_url} has no schema yet, and the migrations "
                                      "are not beside this code (a Scrapyd egg?): run `caigou db upgrade` first")
            elif current != head_revision():
                upgrade(self.engine)
                # Derived data (links, index, scores) may need bringing up to the new schema: the application
                # layer does that (pipelines.catch_up), since this layer knows no pipeline.
                self.upgraded_from = current or ""
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def display_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def table_names(self) -> list[str]:
        return inspect(self.engine).get_table_names()

    def dispose(self) -> None:
        self.engine.dispose()
