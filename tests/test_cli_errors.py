"""Expected failures are one line, never a traceback: bad spider arguments under ``scrapy crawl``, an export to a
folder that does not exist, a SQLite database where no folder can be made. Each through the real command in a
subprocess."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.crawling import ROOT, run_caigou


def scrapy_crawl(*args: str, database: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scrapy", "crawl", *args, "-s", f"CAIGOU_DATABASE_URL=sqlite:///"
                           f"{database}", "-s", "LOG_LEVEL=WARNING"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(ROOT)})


@pytest.mark.parametrize(("argument", "message"), [
    ("since=baddate", "ccgp: error: since 'baddate' is not a date like 2024-01-31"),
    ("type=foo", "ccgp: error: unknown notice type foo; known: "),
    # A misspelt filter must not become an unfiltered crawl.
    ("keywords=DNA", "ccgp: error: unknown argument(s) keywords; ccgp takes since, until, keyword, region, type"),
])
def test_scrapy_crawl_with_a_bad_argument_is_one_line(tmp_path: Path, argument: str, message: str) -> None:
    database = tmp_path / "x.db"
    result = scrapy_crawl("ccgp", "-a", argument, database=database)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith(message)
    assert not database.exists()  # stopped before anything was opened or recorded


def test_scrapy_spider_arguments_of_scrapy_and_tools_are_allowed(tmp_path: Path) -> None:
    # scrapyd's _job and Scrapy's download_delay pass; the URL then is the error reached, one line too.
    result = scrapy_crawl("ccgp", "-a", "_job=1", "-a", "download_delay=0", "-a", "url=http://example.com/x",
                          database=tmp_path / "x.db")
    assert result.returncode == 2
    assert result.stderr.strip() == ("ccgp: error: http://example.com/x is not on ccgp's portal (ccgp.gov.cn); "
                                     "see `caigou sources` for which source crawls which site")


@pytest.mark.parametrize("fmt", ["jsonl", "xlsx", "csv"])
def test_export_into_a_missing_folder_is_one_line(tmp_path: Path, fmt: str) -> None:
    result = run_caigou("--db", f"sqlite:///{tmp_path / 'x.db'}", "export", "--format", fmt,
                        "-o", f"/nonexistent/dir/f.{fmt}")
    assert result.returncode == 2
    assert result.stderr.strip() == (f"caigou: error: cannot write /nonexistent/dir/f.{fmt}: the folder "
                                     "/nonexistent/dir does not exist")


def test_export_onto_a_folder_is_one_line(tmp_path: Path) -> None:
    result = run_caigou("--db", f"sqlite:///{tmp_path / 'x.db'}", "export", "--format", "jsonl", "-o", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == f"caigou: error: cannot write {tmp_path}: it is a folder"


def test_a_sqlite_database_where_no_folder_can_be_made_is_one_line() -> None:
    result = run_caigou("--db", "sqlite:////proc/foo/x.db", "status")
    assert result.returncode == 2
    assert result.stderr.strip() == ("caigou: error: no database at /proc/foo/x.db and its folder /proc/foo does "
                                     "not exist: check the path (caigou creates the database file, not its folder)")


@pytest.mark.parametrize(("url", "message"), [
    ("sqlite:////nonexistent/dir/x.db", "no database at /nonexistent/dir/x.db and its folder /nonexistent/dir "
                                        "does not exist"),
    ("/nonexistent/dir/x.db", "not a database URL: '/nonexistent/dir/x.db'; for a SQLite file write "
                              "sqlite:////nonexistent/dir/x.db (four slashes for an absolute path)"),
    ("postgres://postgres:secret@127.0.0.1/caigou", "postgres:// is the old spelling, which SQLAlchemy no longer "
                                                    "accepts: write the same URL with postgresql://"),
    ("mysqlx://a/b", "unknown database kind 'mysqlx'"),
])
def test_a_bad_db_option_is_one_line_and_creates_nothing(url: str, message: str) -> None:
    result = run_caigou("--db", url, "status")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith(f"caigou: error: {message}")
    assert "secret" not in result.stderr
    assert not Path("/nonexistent").exists()
