"""Scrapyd: ``scrapyd-deploy`` builds an egg of the project (scrapy.cfg's deploy target, the ``scrapy`` settings
entry point in pyproject.toml) and uploads it to a Scrapyd started here (a free port, a temporary folder); a crawl
scheduled through Scrapyd's HTTP API runs the ccgp spider with the project's settings against the replay server
and stores its notices in the database it was given."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from caigou.crawler.project import known_sources
from caigou.models import CrawlRun, Notice
from caigou.models.db import Database
from caigou.replay import ReplayServer
from tests.crawling import ROOT
from tests.test_crawl_ccgp import SAMPLES

BIN = Path(sys.executable).parent
# The project as scrapyd-deploy sees it (copied, so building the egg leaves the checkout alone).
PROJECT_FILES = ("caigou", "crawler", "pipelines", "models", "alembic", "pyproject.toml", "setup.py", "scrapy.cfg",
                 "README.md")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def api(base: str, path: str, form: dict[str, object] | list[tuple[str, str]] | None = None) -> dict[str, object]:
    data = urllib.parse.urlencode(form, doseq=True).encode() if form is not None else None
    with urllib.request.urlopen(base + path, data=data, timeout=30) as answer:  # loopback only
        return json.loads(answer.read())


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    replay = ReplayServer()
    replay.add_manifest(SAMPLES / "manifest.json")
    replay.start()
    yield replay
    replay.stop()


@pytest.fixture
def scrapyd(tmp_path: Path, server: ReplayServer) -> Iterator[str]:
    """Scrapyd on a free port, its eggs, logs and queues in a temporary folder; its crawls go through the replay
    server (http_proxy), as the crawl tests' do."""
    if not (BIN / "scrapyd").exists():
        pytest.skip("scrapyd is not installed (pip install -e '.[test]')")
    home = tmp_path / "scrapyd"
    home.mkdir()
    port = free_port()
    (home / "scrapyd.conf").write_text(
        f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {port}\neggs_dir = {home / 'eggs'}\n"
        f"logs_dir = {home / 'logs'}\ndbs_dir = {home / 'dbs'}\nitems_dir =\nmax_proc = 1\npoll_interval = 0.2\n")
    environment = {key: value for key, value in os.environ.items()
                   if key.lower() not in {"http_proxy", "https_proxy", "no_proxy", "all_proxy", "pythonpath"}}
    environment["http_proxy"] = environment["https_proxy"] = server.url
    process = subprocess.Popen([str(BIN / "scrapyd")], cwd=home, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            api(base, "daemonstatus.json")
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"Scrapyd did not start: {process.communicate()[0][-2000:]}")
            time.sleep(0.2)
    yield base
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def deploy(base: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``scrapyd-deploy local`` from a copy of the project, the target named in the user's scrapy.cfg
    ($XDG_CONFIG_HOME/scrapy.cfg), as an operator would add one."""
    project = tmp_path / "project"
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(source, project / name)
    config = tmp_path / "config"
    config.mkdir()
    (config / "scrapy.cfg").write_text(f"[deploy:local]\nurl = {base}\nproject = caigou\n")
    environment = {**os.environ, "XDG_CONFIG_HOME": str(config)}
    environment.pop("PYTHONPATH", None)
    return subprocess.run([str(BIN / "scrapyd-deploy"), "local", "--version", "1"], cwd=project, env=environment,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.postgres
def test_a_crawl_scheduled_through_scrapyd_stores_its_notices(postgres_url: str, scrapyd: str, tmp_path: Path,
                                                              server: ReplayServer) -> None:
    database = Database(postgres_url)
    from tests.conftest import _truncate_all

    _truncate_all(database)
    deployed = deploy(scrapyd, tmp_path)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert '"status": "ok"' in deployed.stdout, deployed.stdout
    assert api(scrapyd, "listspiders.json?project=caigou")["spiders"] == known_sources()  # every source
    job = api(scrapyd, "schedule.json", [
        ("project", "caigou"), ("spider", "ccgp"), ("since", "2024-06-01"), ("until", "2024-06-30"),
        ("keyword", "DNA"),
        ("setting", f"CAIGOU_DATABASE_URL={postgres_url}"),
        # Politeness off: the replay server is local (as tests/crawling.py's FAST).
        ("setting", "DOWNLOAD_DELAY=0"), ("setting", "AUTOTHROTTLE_ENABLED=False"),
        ("setting", "CAIGOU_BLOCK_BACKOFF=0.05"), ("setting", "CAIGOU_RETRY_BACKOFF=0.05")])
    assert job["status"] == "ok", job
    deadline = time.monotonic() + 240
    while not any(j["id"] == job["jobid"] for j in api(scrapyd, "listjobs.json?project=caigou")["finished"]):
        assert time.monotonic() < deadline, "the Scrapyd job did not finish"
        time.sleep(0.1)
    log = next((tmp_path / "scrapyd" / "logs").rglob(f"{job['jobid']}.log")).read_text(encoding="utf-8")
    with database.session() as session:
        keys = set(session.scalars(select(Notice.source_key)))
        run = session.scalars(select(CrawlRun)).one()
    assert keys == {"22000101", "22000102", "22000103", "22000108", "22000109"}, log[-3000:]
    assert run.status == "succeeded" and run.arguments["keywords"] == ["DNA"]
    assert "_job" not in run.arguments  # Scrapyd's own argument is not a filter
    # The project's settings, not Scrapy's defaults: caigou's user agent, block detection, the run record.
    assert run.counts["blocked"] == 1
    database.dispose()
