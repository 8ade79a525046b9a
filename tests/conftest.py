"""Shared fixtures.

``db`` runs a test on SQLite and on the real PostgreSQL server; ``sqlite_db`` on SQLite only. The rule:

- a test whose point is what the database does keeps ``db``: column types and lengths, values PostgreSQL refuses,
  locks and concurrency, full-text search and ranking, migrations, upserts and unique constraints, transactions,
  search estimates, and any path through a dialect branch of the code (``dialect``, ``postgresql``, ``sqlite``);
- an end-to-end flow (a crawl through the replay server, an export, import, report, review, digest or web flow),
  where the database is a passive store, takes ``sqlite_db``;
- each flow file keeps one PostgreSQL smoke run on ``db`` (two where they take different storage paths), its
  richest flow, and names it and why in its module docstring.

The PostgreSQL server is ``CAIGOU_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each test session creates a database of its own there and
drops it at the end, so parallel runs do not meet. Without a server the PostgreSQL half skips with a
reason, unless ``CAIGOU_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), where it fails.
"""
from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from caigou.models import Base
from caigou.models.db import Database

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
POSTGRES_URL = os.environ.get("CAIGOU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared/, the research and real pages beside the checkout; skips the test where it is absent, fails
    instead when ``CAIGOU_REQUIRE_SHARED=1`` (set by ``.ci/run`` when ../shared is there)."""
    if not SHARED.is_dir():
        if os.environ.get("CAIGOU_REQUIRE_SHARED") == "1":
            pytest.fail(f"../shared/ is required (CAIGOU_REQUIRE_SHARED=1) but absent at {SHARED}")
        pytest.skip("../shared/ is absent: the real pages and research files are not beside this checkout")
    return SHARED


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is faster than per test)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    Database(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the PostgreSQL server for this test session, migrated, dropped at the end."""
    try:
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as exc:  # any failure to connect means "no server here"
        if os.environ.get("CAIGOU_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but not reachable at {POSTGRES_URL}: {exc}")
        pytest.skip(f"no PostgreSQL server answers at {POSTGRES_URL}")
    name = f"caigou_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    Database(url).dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(database: Database) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with database.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty, migrated database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "caigou.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        database = Database(f"sqlite:///{path}")
    else:
        database = Database(request.getfixturevalue("postgres_url"))
        _truncate_all(database)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """An empty, migrated SQLite database, for tests that need no PostgreSQL twin."""
    path = tmp_path / "caigou.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, int]]]:
    """The web interface on a real socket over the browser tests' archive: its address and the archive's IDs."""
    import threading
    import time

    import uvicorn

    from caigou.web.app import create_app
    from caigou.web.security import WebSettings
    from tests.digest_data import free_port
    from tests.web_data import build_archive

    database = Database(f"sqlite:///{tmp_path / 'web.db'}")
    ids = build_archive(database)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(database, WebSettings(secret_key="browser-test-secret")),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("the web server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", ids
    server.should_exit = True
    thread.join(10)
    database.dispose()
