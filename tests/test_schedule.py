"""The scheduler for real: ``caigou schedule`` in a subprocess, crawls in their own processes against the replay
server (as the http proxy), digests to a loopback SMTP server, health alerts to the operator.

``caigou schedule --once`` runs forked (tests/crawling.py); the crawls and the re-match it runs are fresh
interpreters of their own. Where the point is the scheduler as a process of its own (SIGTERM, another process
holding a job's lock), it is started as one.

The flows run on SQLite; the PostgreSQL smoke run is ``test_once_runs_due_jobs_in_order_and_the_digest_once``
(``db``): the job store (``scheduler_jobs``, pickled jobs and their next run times read back by the second
``--once``), the crawl, the re-match and the digest all on PostgreSQL. The health checks and job locks do not
depend on the database (``check_health`` and ``run_health`` run on both in the in-process tests below)."""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from caigou.crawler.parsers.ccgp import build_search_url
from caigou.models import CrawlRun, HealthAlert, Notice, Source, Subscription
from caigou.models.db import Database
from caigou.models.types import SHANGHAI, now
from caigou.replay import ReplayServer, Reply, route_key
from tests.crawling import FAST, ROOT, run_caigou
from tests.digest_data import SmtpServer, add_notice

SAMPLES = ROOT / "caigou" / "demo_data" / "ccgp"
JUNE = ["--since", "2024-06-01", "--until", "2024-06-30"]
DNA_DETAILS = {"22000101", "22000102", "22000103", "22000108", "22000109"}
OPERATOR = "ops@example.org"


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    server = ReplayServer()
    server.add_manifest(SAMPLES / "manifest.json")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def write_config(path: Path, smtp: SmtpServer, crawls: list[tuple[str, list[str], str]],
                 rematch_cron: str = "", timeouts: dict[str, float] | None = None) -> Path:
    # The data folder (job locks) in the test's own folder, not the home directory.
    lines = [f'[paths]\ndata_dir = "{path.parent / "data"}"\n',
             f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\n'
             'sender = "采购监测 <caigou@example.org>"\n',
             '[web]\nbase_url = "http://127.0.0.1:8000"\n',
             f'[health]\noperator_email = "{OPERATOR}"\nquiet_days = 3\n',
             f'[schedule]\ntimezone = "Asia/Shanghai"\nmisfire_grace_time = 30\nrematch_cron = "{rematch_cron}"\n']
    for name, arguments, cron in crawls:
        lines.append(f'[[schedule.crawls]]\nname = "{name}"\nsource = "ccgp"\n'
                     f"arguments = {toml_list(arguments + FAST)}\ncron = \"{cron}\"\n"
                     + (f"timeout = {(timeouts or {})[name]}\n" if name in (timeouts or {}) else ""))
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def environment(proxy: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"http_proxy", "https_proxy", "no_proxy"}
           and not k.startswith("CAIGOU_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["http_proxy"] = env["https_proxy"] = proxy
    return env


def schedule_once(config: Path, db: Database, proxy: str) -> subprocess.CompletedProcess[str]:
    return run_caigou("--config", str(config), "--db", db.url, "schedule", "--once", proxy=proxy)


def job_events(log: str) -> list[tuple[str, str]]:
    """(started|finished, job) in log order."""
    return [(m.group(2), m.group(1)) for m in re.finditer(r"job (crawl:\S+|digest:\S+|rematch)\S* (started|finished)",
                                                          log)]


def test_schedule_runs_crawls_in_processes_one_at_a_time_and_stops_on_sigterm(
        sqlite_db: Database, replay: ReplayServer, smtp: SmtpServer, tmp_path: Path) -> None:
    db = sqlite_db
    config = write_config(tmp_path / "caigou.toml", smtp, [
        ("dna", ["--keyword", "DNA", *JUNE], "*/2 * * * * *"),
        ("awards", ["--type", "award", *JUNE], "*/2 * * * * *")])
    process = subprocess.Popen([sys.executable, "-m", "caigou", "--config", str(config), "--db", db.url, "schedule"],
                               cwd=ROOT, env=environment(replay.url), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with db.session() as session:
            finished = session.scalar(select(func.count(CrawlRun.id)).where(CrawlRun.status != "running"))
        if finished >= 4 or process.poll() is not None:
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert finished >= 4, stderr
    assert "received SIGTERM: stopping after the running job" in stderr and stderr.rstrip().endswith(
        "scheduler stopped")
    assert "Traceback" not in stderr

    events = [(event, job) for event, job in job_events(stderr) if job.startswith("crawl:")]
    # One at a time: every start is followed by its own finish before anything else starts.
    assert events[0::2] == [("started", job) for _, job in events[0::2]]
    assert events[1::2] == [("finished", job) for _, job in events[0::2]][:len(events[1::2])]
    assert len(events) % 2 == 0, "SIGTERM let the running job finish"
    assert {"crawl:dna", "crawl:awards"} <= {job for _, job in events}
    with db.session() as session:
        keys = set(session.scalars(select(Notice.source_key)))
        assert keys == DNA_DETAILS | {"22000104"}  # 22000103 comes through both the search and the channel
        assert set(session.scalars(select(CrawlRun.status))) == {"succeeded"}
        stored = set(session.execute(text("SELECT id FROM scheduler_jobs")).scalars())
        assert stored == {"crawl:dna", "crawl:awards"}  # kept in the database for the next start
    assert smtp.inbox.messages == []  # healthy sources: no alert


def matched_notice_and_subscription(db: Database) -> None:
    """A police Y-STR notice matched just now and a subscription that has not delivered it yet."""
    moment = now()
    with db.session() as session:
        add_notice(session, "1001", "拉萨市公安局 Y-STR 试剂盒采购项目", score=90, matched_at=moment,
                   terms=[("Y-STR", "dna", "采购 Y-STR 检测试剂盒")])
        session.add(Subscription(name="西藏", recipients=["researcher@example.org"], filters={"min_score": 50},
                                 delivery_time="06:30", watermark=moment - dt.timedelta(hours=1)))


def test_once_runs_due_jobs_in_order_and_the_digest_once(db: Database, replay: ReplayServer, smtp: SmtpServer,
                                                         tmp_path: Path) -> None:
    matched_notice_and_subscription(db)
    config = write_config(tmp_path / "caigou.toml", smtp, [("dna", ["--keyword", "DNA", *JUNE], "0 5 * * *")],
                          rematch_cron="15 * * * *")
    first = schedule_once(config, db, replay.url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "ran 3 due job(s): crawl:dna, rematch:watchlist, digest:西藏"
    order = [job for event, job in job_events(first.stderr) if event == "started"]
    assert order == ["crawl:dna", "rematch", "digest:西藏"]
    # The seeded notice was scored under watchlist version "v1": the watchlist changed since, so a re-match is due.
    assert re.search(r"job rematch(: | started: )1 notice\(s\) scored under another watchlist version", first.stderr)
    assert first.stderr.index("job crawl:dna finished") < first.stderr.index("rematch") < first.stderr.index(
        "job digest:西藏 started")
    with db.session() as session:
        assert set(session.scalars(select(Notice.source_key))) >= DNA_DETAILS
    [message] = smtp.inbox.to("researcher@example.org")
    assert "拉萨市公安局 Y-STR" in message.get_body(preferencelist=("plain",)).get_content()

    second = schedule_once(config, db, replay.url)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "ran 0 due job(s): none"  # nothing came due since
    assert len(smtp.inbox.messages) == 1


def test_health_alert_for_a_source_that_only_returns_block_pages(sqlite_db: Database, replay: ReplayServer,
                                                                 smtp: SmtpServer, tmp_path: Path) -> None:
    db = sqlite_db
    blocked = Reply((SAMPLES / "rate_limited.html").read_bytes())
    for page in (1, 2):
        replay.add(build_search_url("DNA", dt.date(2024, 6, 1), dt.date(2024, 6, 30), page=page), blocked)
    config = write_config(tmp_path / "caigou.toml", smtp, [
        ("dna", ["--keyword", "DNA", *JUNE, "--set", "CAIGOU_BLOCK_GIVE_UP=1"], "0 5 * * *")])
    once = schedule_once(config, db, replay.url)
    assert once.returncode == 0, once.stderr
    assert "health: ccgp: blocked" in once.stderr and "alerted ops@example.org" in once.stderr
    [alert] = smtp.inbox.to(OPERATOR)
    body = alert.get_content()
    assert "ccgp" in alert["Subject"] and "抓取异常" in alert["Subject"]
    assert "* ccgp: blocked — " in body and "* ccgp: failing — " in body and "block pages" in body

    # The condition lasts: another blocked run and another check send nothing more.
    again = run_caigou("--config", str(config), "--db", db.url, "crawl", "ccgp", "--keyword", "DNA", *JUNE,
                       *FAST, "--set", "CAIGOU_BLOCK_GIVE_UP=1", proxy=replay.url)
    assert again.returncode == 1
    check = run_caigou("--config", str(config), "--db", db.url, "health")
    assert check.returncode == 0 and check.stdout.strip().endswith("no new condition")
    assert len(smtp.inbox.to(OPERATOR)) == 1
    status = run_caigou("--config", str(config), "--db", db.url, "status")
    assert "ccgp: 0 notices" in status.stdout and "failed — " in status.stdout
    assert "ccgp: blocked — " in status.stdout and "(operator alerted)" in status.stdout


def test_quiet_source_alerts_once_and_again_after_recovery(db: Database, smtp: SmtpServer) -> None:
    from caigou.health import run_health
    from caigou.models.config import Config

    config = Config(values={**smtp.config(), "health": {"operator_email": OPERATOR, "quiet_days": 3}})
    start = dt.datetime(2024, 6, 1, 6, 0, tzinfo=SHANGHAI)
    with db.session() as session:
        source = Source(name="ccgp")
        session.add(source)
        session.flush()
        for day in range(6):
            session.add(CrawlRun(source_id=source.id, started_at=start + dt.timedelta(days=day), status="succeeded",
                                 counts={"pages": 10, "new": 0, "blocked": 0}))
        session.add(Notice(source_id=source.id, source_key="1", url="http://x/1", notice_type="tender", title="t",
                           first_seen_at=start))
    conditions, outcome = run_health(db, config, now=start + dt.timedelta(days=5, hours=1))
    assert [c.condition for c in conditions] == ["quiet"] and outcome == f"alerted {OPERATOR} about 1 condition(s)"
    assert "no new notice for 3 days (newest: 2024-06-01)" in conditions[0].detail
    assert run_health(db, config, now=start + dt.timedelta(days=5, hours=2))[1] == "no new condition"
    with db.session() as session:  # a new notice ends the condition …
        session.add(Notice(source_id=session.scalar(select(Source.id)), source_key="2", url="http://x/2",
                           notice_type="tender", title="t2", first_seen_at=start + dt.timedelta(days=5)))
    assert run_health(db, config, now=start + dt.timedelta(days=5, hours=3))[0] == []
    conditions, outcome = run_health(db, config, now=start + dt.timedelta(days=9))  # … and a new one is new
    assert outcome == f"alerted {OPERATOR} about 1 condition(s)"
    assert len(smtp.inbox.to(OPERATOR)) == 2
    with db.session() as session:
        alerts = session.scalars(select(HealthAlert).order_by(HealthAlert.id)).all()
        assert [(a.condition, a.cleared_at is not None) for a in alerts] == [("quiet", True), ("quiet", False)]


def test_bad_schedule_configuration_is_one_line(tmp_path: Path, smtp: SmtpServer) -> None:
    config = write_config(tmp_path / "caigou.toml", smtp, [("dna", [], "every day")])
    result = run_caigou("--config", str(config), "--db", f"sqlite:///{tmp_path / 'x.db'}", "schedule", "--once")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "caigou: error: crawl dna: a cron expression has 5 fields" in result.stderr


def test_a_crawl_timeout_is_one_line_its_run_is_marked_failed_and_the_next_jobs_run(
        sqlite_db: Database, replay: ReplayServer, smtp: SmtpServer, tmp_path: Path) -> None:
    db = sqlite_db
    matched_notice_and_subscription(db)
    # The portal answers the DNA search's first page far later than that crawl's timeout allows. The timeout is
    # waited out: 5 s, a few times what a crawl takes to start and record its run (under 2 s), which it must have.
    slow = build_search_url("DNA", dt.date(2024, 6, 1), dt.date(2024, 6, 30), page=1)
    replay.routes[route_key(slow)] = [dataclasses.replace(reply, delay=60) for reply in replay.routes[route_key(slow)]]
    config = write_config(tmp_path / "caigou.toml", smtp, [
        ("dna", ["--keyword", "DNA", *JUNE], "0 5 * * *"), ("later-awards", ["--type", "award", *JUNE], "0 5 * * *")],
        rematch_cron="15 * * * *", timeouts={"dna": 5})
    once = schedule_once(config, db, replay.url)
    assert once.returncode == 0, once.stderr
    assert "Traceback" not in once.stderr and "TimeoutExpired" not in once.stderr
    assert once.stdout.strip() == "ran 4 due job(s): crawl:dna, crawl:later-awards, rematch:watchlist, digest:西藏"
    [failure] = [line for line in once.stderr.splitlines() if "job crawl:dna failed" in line]
    assert "killed after its timeout of 5 s" in failure and "marked failed" in failure
    assert "job crawl:later-awards finished (exit 0)" in once.stderr  # the crawl after the killed one ran
    assert "job digest:西藏 finished" in once.stderr
    with db.session() as session:
        statuses = sorted((run.status, run.message) for run in session.scalars(select(CrawlRun)))
    assert statuses == [("failed", "killed by the scheduler after its timeout of 5 s"), ("succeeded", "")], statuses
    assert len(smtp.inbox.to("researcher@example.org")) == 1


def test_a_job_running_in_another_process_is_skipped_with_one_line(sqlite_db: Database, replay: ReplayServer,
                                                                    smtp: SmtpServer, tmp_path: Path) -> None:
    db = sqlite_db
    slow = build_search_url("DNA", dt.date(2024, 6, 1), dt.date(2024, 6, 30), page=1)
    replay.routes[route_key(slow)] = [dataclasses.replace(reply, delay=60) for reply in replay.routes[route_key(slow)]]
    # Due every second, so the second process finds it due while the first is still crawling. The timeout is only
    # a safety net: the test ends the first process's crawl itself once the second has been checked.
    config = write_config(tmp_path / "caigou.toml", smtp, [("dna", ["--keyword", "DNA", *JUNE], "* * * * * *")],
                          timeouts={"dna": 60})
    first = subprocess.Popen([sys.executable, "-m", "caigou", "--config", str(config), "--db", db.url, "schedule",
                              "--once"], cwd=ROOT, env=environment(replay.url), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    crawl_pid = None
    try:
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:  # the first process's crawl has begun: its run is recorded
            with db.session() as session:
                if session.scalar(select(func.count(CrawlRun.id))):
                    break
            time.sleep(0.1)
        else:
            pytest.fail("the first crawl did not start")
        with db.session() as session:
            crawl_pid = session.scalars(select(CrawlRun)).one().arguments["process"]["pid"]
        second = schedule_once(config, db, replay.url)
        assert second.returncode == 0, second.stderr
        assert f"job crawl:dna skipped: already running (pid {first.pid} (crawl:dna))" in second.stderr
        assert "job crawl:dna started" not in second.stderr and "Traceback" not in second.stderr
        assert second.stdout.strip() == "ran 0 due job(s): none"
        with db.session() as session:
            assert session.scalar(select(func.count(CrawlRun.id))) == 1  # the source is crawled once, not twice
    finally:
        # End the first process's crawl (a session of its own: its process group), leaving no orphan crawl; the
        # scheduler's timeout killing it is test_a_crawl_timeout_is_one_line_….
        if crawl_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(crawl_pid, signal.SIGKILL)
        _, first_stderr = first.communicate(timeout=90)
    assert first.returncode == 0 and "job crawl:dna finished (exit -9)" in first_stderr, first_stderr


def test_a_job_lock_is_released_when_its_holder_dies(tmp_path: Path) -> None:
    from caigou.context import AppContext
    from caigou.models.config import Config
    from caigou.schedule import JobLocked, job_lock

    app = AppContext(config=Config(values={"paths": {"data_dir": str(tmp_path)}}),
                     database_url=f"sqlite:///{tmp_path / 'x.db'}")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from caigou.context import AppContext\nfrom caigou.schedule import job_lock\nfrom caigou.models.config import Config\n"
        f"app = AppContext(config=Config(values={{'paths': {{'data_dir': {str(tmp_path)!r}}}}}), "
        f"database_url={app.database_url!r})\n"
        "with job_lock(app, 'crawl:dna'):\n    print('held', flush=True)\n    time.sleep(120)\n")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(JobLocked, match=f"pid {holder.pid}"), job_lock(app, "crawl:dna"):
        pass
    with job_lock(app, "crawl:other"):  # another job's lock is another lock
        pass
    holder.kill()  # no clean-up runs: the kernel releases the lock with the process
    holder.wait(timeout=30)
    with job_lock(app, "crawl:dna"):
        pass


def test_a_run_of_block_pages_only_says_how_many_were_fetched(db: Database) -> None:
    from caigou.health import Thresholds, check_health

    start = dt.datetime(2024, 6, 1, 6, 0, tzinfo=SHANGHAI)
    with db.session() as session:
        source = Source(name="ccgp")
        session.add(source)
        session.flush()
        # Block pages are counted apart from the pages the spider got: 4 blocked and no other page.
        session.add(CrawlRun(source_id=source.id, started_at=start, status="failed",
                             counts={"pages": 0, "new": 0, "blocked": 4}))
        session.flush()
        [blocked] = [c for c in check_health(session, Thresholds(), start) if c.condition == "blocked"]
    assert blocked.detail == "4 of 4 pages fetched in the last run were block pages (2024-06-01 06:00)"
