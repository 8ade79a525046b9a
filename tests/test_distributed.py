"""Distributed crawling (crawler/distributed.py): one seeded run, two ``caigou worker`` processes sharing the Redis
queue at 127.0.0.1:6379 (``CAIGOU_TEST_REDIS_URL``), one PostgreSQL archive, the replay server as the portal —
every notice stored exactly once, also after one worker is killed with SIGKILL mid-crawl.

PostgreSQL only: the workers are separate processes writing into one run and one archive at once, which is what
a distributed deployment runs on. The workers are fresh interpreters (``start_caigou``: several at once, and a
kill -9). An idle worker looks at the queue again every 0.2 s (``CAIGOU_REDIS_POLL``) instead of at Scrapy's
5-second idle heartbeat, and leaves after 1 s of an empty queue (``CAIGOU_REDIS_IDLE``)."""
from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from caigou.models import CrawlRun, Notice, Watermark
from caigou.models.db import Database
from caigou.replay import ReplayServer, Reply, route_key
from tests.conftest import _truncate_all
from tests.crawling import FAST, ROOT, run_caigou, start_caigou

REDIS_URL = os.environ.get("CAIGOU_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SAMPLES = ROOT / "caigou" / "demo_data" / "ccgp"
JUNE = ("--since", "2024-06-01", "--until", "2024-06-30")
DETAILS = 30
KEYS = {str(23000000 + n) for n in range(DETAILS)}
CHANNEL = "http://www.ccgp.gov.cn/cggg/{scope}/{segment}/index{page}.htm"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own on the machine's Redis; its keys are removed afterwards."""
    redis = pytest.importorskip("redis")
    server = redis.Redis.from_url(REDIS_URL)
    try:
        server.ping()
    except redis.RedisError as exc:
        if os.environ.get("CAIGOU_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis required but not reachable at {REDIS_URL}: {exc}")
        pytest.skip(f"no Redis answers at {REDIS_URL}")
    prefix = f"caigou-test-{uuid.uuid4().hex[:10]}"
    yield prefix
    for key in server.scan_iter(match=f"{prefix}:*"):
        server.delete(key)


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Database]:
    database = Database(postgres_url)
    _truncate_all(database)
    yield database
    database.dispose()


def channel_page(rows: list[tuple[str, str]], pages: int, current: int) -> bytes:
    items = "".join(f'<li><a href="./202406/t20240618_{key}.htm" title="{title}">{title}</a>'
                    f"<em>2024-06-18 15:20</em><em>西藏</em></li>" for key, title in rows)
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>成交公告</title></head><body>'
            f'<ul class="c_list_bid">{items}</ul><div class="pager"><script>Pager({{size:{pages}, '
            f"current:{current}, prefix:'index',suffix:'htm'}});</script></div></body></html>").encode()


@pytest.fixture
def portal() -> Iterator[ReplayServer]:
    """ccgp's award channels: 30 distinct notices on two pages of 地方公告/成交公告, each answered slowly (0.3 s), so
    a worker can be killed with requests in flight; the other award channels are empty."""
    template = (SAMPLES / "detail_22000104.html").read_text(encoding="utf-8")
    title = "林芝地区公安处刑事科学技术室物证检验设备采购成交公告"
    replay = ReplayServer()
    rows = []
    for n, key in enumerate(sorted(KEYS)):
        numbered = f"{title}（第{n + 1}包）"
        rows.append((key, numbered))
        replay.add(f"http://www.ccgp.gov.cn/cggg/dfgg/cjgg/202406/t20240618_{key}.htm",
                   Reply(template.replace(title, numbered).encode(), delay=0.3))
    half = DETAILS // 2
    replay.add(CHANNEL.format(scope="dfgg", segment="cjgg", page=""), Reply(channel_page(rows[:half], 2, 0)))
    replay.add(CHANNEL.format(scope="dfgg", segment="cjgg", page="_1"), Reply(channel_page(rows[half:], 2, 1)))
    for scope, segment in (("dfgg", "zbgg"), ("zygg", "zbgg"), ("zygg", "cjgg")):
        replay.add(CHANNEL.format(scope=scope, segment=segment, page=""), Reply(channel_page([], 1, 0)))
    replay.start()
    yield replay
    replay.stop()


def seed(db: Database, prefix: str) -> subprocess.CompletedProcess[str]:
    return run_caigou("--db", db.url, "crawl", "ccgp", "--type", "award", *JUNE, "--redis", REDIS_URL,
                      "--redis-prefix", prefix)


def start_worker(db: Database, prefix: str, proxy: str) -> subprocess.Popen[str]:
    return start_caigou("--db", db.url, "worker", "--redis", REDIS_URL, "--redis-prefix", prefix, *FAST,
                        # Two requests at a time (the portal is one domain) against 0.3 s replies: a worker alone
                        # needs seconds for the 30 notices, so a worker that starts late on a loaded machine still
                        # finds work left in the shared queue.
                        "--set", "CONCURRENT_REQUESTS=2", "--set", "CONCURRENT_REQUESTS_PER_DOMAIN=2",
                        "--set", "CAIGOU_REDIS_IDLE=1", "--set", "CAIGOU_REDIS_POLL=0.2", proxy=proxy)


def notices(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(Notice.source_key)))


def runs(db: Database) -> list[CrawlRun]:
    with db.session() as session:
        return list(session.scalars(select(CrawlRun)))


def finish(worker: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = worker.communicate(timeout=180)
    return worker.returncode, out, err


@pytest.mark.postgres
def test_two_workers_store_every_notice_once_into_one_run(pg: Database, redis_prefix: str,
                                                          portal: ReplayServer) -> None:
    seeded = seed(pg, redis_prefix)
    assert seeded.returncode == 0, seeded.stderr
    assert re.search(r"run \d+ seeded with 4 requests \(2024-06-01 to 2024-06-30\)", seeded.stdout)
    assert not portal.requests  # seeding fetches nothing
    workers = [start_worker(pg, redis_prefix, portal.url) for _ in range(2)]
    results = [finish(worker) for worker in workers]
    for code, _out, err in results:
        assert code == 0, err
    stored = notices(pg)
    assert sorted(stored) == sorted(KEYS)  # every notice, each once
    (run,) = runs(pg)  # one run for both workers
    assert run.status == "succeeded" and run.finished_at is not None
    assert run.counts["workers"] == 2 and run.counts["workers_gone"] == 0
    assert run.counts["new"] == DETAILS  # the workers' counts summed: no notice stored twice
    assert run.counts["pages"] == DETAILS + 5  # 5 channel pages, each detail fetched once
    # Both took a share of the work (the queue is shared, not copied).
    assert all(re.search(r"ccgp: \w+ — [1-9]\d* pages", out) for _, out, _ in results), [r[1] for r in results]
    assert sum("run " + str(run.id) + ": succeeded" in out for _, out, _ in results) == 1  # the last one closed it
    with pg.session() as session:
        assert session.scalar(select(Watermark.until_date)) == dt.date(2024, 6, 30)
    import redis

    assert not list(redis.Redis.from_url(REDIS_URL).scan_iter(match=f"{redis_prefix}:*"))  # the run's keys gone


@pytest.mark.postgres
def test_a_worker_killed_mid_crawl_loses_nothing(pg: Database, redis_prefix: str, portal: ReplayServer) -> None:
    import redis

    server = redis.Redis.from_url(REDIS_URL)
    assert seed(pg, redis_prefix).returncode == 0
    victim = start_worker(pg, redis_prefix, portal.url)
    survivor = start_worker(pg, redis_prefix, portal.url)
    processing = f"{redis_prefix}:ccgp:processing:*:{victim.pid}:*"
    deadline = time.monotonic() + 90
    # Kill it while it holds detail requests it has not finished, after some notices are stored.
    while time.monotonic() < deadline:
        held = sum(server.hlen(key) for key in server.scan_iter(match=processing))
        if held and len(notices(pg)) >= 3:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the worker to kill never held a request")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert len(notices(pg)) < DETAILS  # killed mid-crawl
    code, out, err = finish(survivor)
    assert code == 0, err
    stored = notices(pg)
    assert len(stored) == len(set(stored)) and set(stored) == KEYS  # nothing lost, nothing twice
    (run,) = runs(pg)
    assert run.status == "succeeded"
    assert run.counts["workers_gone"] == 1 and str(victim.pid) in run.message
    returned = re.search(r"\((\d+) in-flight requests returned to the queue\)", run.message)
    assert returned and int(returned.group(1)) > 0, run.message  # what it held went to the survivor
    assert not list(server.scan_iter(match=f"{redis_prefix}:*"))


@pytest.mark.postgres
def test_worker_without_a_seeded_run_is_an_error_and_a_second_seed_replaces_an_idle_run(pg: Database, redis_prefix: str,
                                                                           portal: ReplayServer) -> None:
    result = run_caigou("--db", pg.url, "worker", "--redis", REDIS_URL, "--redis-prefix", redis_prefix)
    assert result.returncode != 0 and "caigou: error: no seeded run" in result.stderr
    assert "Traceback" not in result.stderr
    assert seed(pg, redis_prefix).returncode == 0
    again = seed(pg, redis_prefix)  # no worker took the first run: the new seed replaces it
    assert again.returncode == 0, again.stderr
    first, second = sorted(runs(pg), key=lambda run: run.id)
    assert first.status == "interrupted" and "4 requests still queued" in first.message
    assert second.status == "running"
    bad = run_caigou("--db", pg.url, "crawl", "ccgp", "--redis", "redis://127.0.0.1:1/0")
    assert bad.returncode != 0 and "caigou: error: cannot use Redis" in bad.stderr


@pytest.mark.postgres
def test_blocks_and_errors_of_the_workers_roll_up_into_the_run(pg: Database, redis_prefix: str,
                                                               portal: ReplayServer) -> None:
    """One notice answers a block page first (waited out), another is gone (404): the run counts the block,
    records the error under its id, ends "partial" and leaves the watermark where it was."""
    from caigou.models import CrawlError

    blocked, gone = sorted(KEYS)[:2]
    block_page = (SAMPLES / "blocked_detail.html").read_bytes()
    detail = f"http://www.ccgp.gov.cn/cggg/dfgg/cjgg/202406/t20240618_{blocked}.htm"
    real = portal.routes[route_key(detail)][0]
    portal.add(detail, Reply(block_page), real)
    portal.add(f"http://www.ccgp.gov.cn/cggg/dfgg/cjgg/202406/t20240618_{gone}.htm", Reply(b"not found", status=404))
    assert seed(pg, redis_prefix).returncode == 0
    workers = [start_worker(pg, redis_prefix, portal.url) for _ in range(2)]
    results = [finish(worker) for worker in workers]
    assert set(notices(pg)) == KEYS - {gone}
    (run,) = runs(pg)
    # The last worker out closed the run and says so, with the run's status as its exit status.
    (closer,) = [(code, out) for code, out, _ in results if f"run {run.id}: partial" in out]
    assert closer[0] == 1, results
    assert run.status == "partial" and "watermark was not advanced" in run.message
    assert run.counts["blocked"] == 1 and run.counts["http_errors"] == 1 and run.counts["new"] == DETAILS - 1
    with pg.session() as session:
        errors = session.scalars(select(CrawlError).where(CrawlError.crawl_run_id == run.id)).all()
        assert [(e.kind, e.url.rsplit("_", 1)[-1]) for e in errors] == [("http", f"{gone}.htm")]
        assert session.scalar(select(Watermark.until_date)) is None
