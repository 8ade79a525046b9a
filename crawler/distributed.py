"""Distributed crawling on scrapy-redis: several worker processes, on one machine or several, share one Redis
request queue and duplicate filter and store into one archive (PostgreSQL).

``caigou crawl SOURCE --redis URL`` (``seed``) resolves the window as a crawl does (the watermark), records ONE
run, and pushes the start requests into the queue. ``caigou worker --redis URL`` runs the source's spider with this
module's scheduler: it pops requests, pushes the requests its callbacks make, and stops when the queue has stayed
empty and no live worker has a request in flight (a list page in flight may still add detail pages).

**Nothing is lost when a worker dies.** scrapy-redis pops a request out of Redis for good; here a pop moves it,
atomically (a Lua script), from the shared queue into the worker's own *processing* hash, and the worker deletes
it from there only once Scrapy's scraper is done with its response — its callback run, its items through the
pipelines (stored), the requests it made pushed to the queue (``Slot.finish_response``) — or once a retry of it is
back in the shared queue. A worker whose process is gone (same host: its pid, as a run's; another host: no
heartbeat for ``CAIGOU_REDIS_WORKER_TIMEOUT`` seconds) has its processing hash moved back into the queue by
whichever worker or seeder notices first, so another worker fetches its in-flight requests again. A page fetched
twice is harmless: a notice is stored once per source and key, and a stored detail page is skipped.

**One run.** Each worker archives pages and records crawl errors under the seeded run's id; on closing it leaves
its status and counts in Redis. The last worker to leave with the queue drained closes the run: the counts
summed, ``failed``/``partial`` if any worker was (or any page error was recorded for the run, a dead worker's
included), ``succeeded`` otherwise — and only then the watermark advances.

Redis keys, all under ``{CAIGOU_REDIS_PREFIX}:{source}:`` (one prefix per deployment or test): ``requests``
(sorted set, scrapy-redis' priority queue), ``dupefilter`` (set), ``run`` (the run id and spider arguments),
``workers`` (hash of heartbeats), ``processing:{worker}`` (hash: request → priority score), ``results`` (hash:
worker → its outcome), ``dead`` (set), ``closing`` (the guard that one worker closes the run).
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import redis
from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider
from scrapy_redis import picklecompat
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from sqlalchemy import func, select
from twisted.internet import task

from caigou.crawler.crawl_context import CrawlContext, _start_ticks, process_alive
from caigou.crawler.pipelines import UNREAD_KINDS
from caigou.models import CrawlError
from caigou.models.db import Database
from caigou.models.errors import CaigouError
from caigou.pipelines.store import NoticeStore

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "caigou"
# Crawl errors that mean a list or detail page of the window was not read (see CrawlRecorder, UNREAD_KINDS).
PAGE_ERROR_KINDS = ("http", "download", "blocked", "captcha", *sorted(UNREAD_KINDS))
# Settings given to the seeding crawl (--refresh, --attachments) that its workers follow.
RUN_SETTINGS = ("CAIGOU_REFRESH", "CAIGOU_ATTACHMENTS")

# Pop: move the best request from the shared queue into this worker's processing hash, in one step.
POP = """
local r = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #r == 0 then return false end
redis.call('ZREM', KEYS[1], r[1])
redis.call('HSET', KEYS[2], r[1], r[2])
return r[1]
"""
# Requeue: a worker's in-flight requests back into the shared queue, in one step.
REQUEUE = """
local items = redis.call('HGETALL', KEYS[1])
for i = 1, #items, 2 do redis.call('ZADD', KEYS[2], items[i + 1], items[i]) end
redis.call('DEL', KEYS[1])
return #items / 2
"""


@dataclass(frozen=True)
class Keys:
    prefix: str
    source: str

    def key(self, name: str) -> str:
        return f"{self.prefix}:{self.source}:{name}"

    @property
    def requests(self) -> str:
        return self.key("requests")

    @property
    def dupefilter(self) -> str:
        return self.key("dupefilter")

    @property
    def run(self) -> str:
        return self.key("run")

    @property
    def workers(self) -> str:
        return self.key("workers")

    def processing(self, worker: str) -> str:
        return self.key(f"processing:{worker}")

    @property
    def results(self) -> str:
        return self.key("results")

    @property
    def dead(self) -> str:
        return self.key("dead")

    @property
    def closing(self) -> str:
        return self.key("closing")

    def all_keys(self, server: redis.Redis) -> list[str]:
        return [self.requests, self.dupefilter, self.run, self.workers, self.results, self.dead, self.closing,
                *(k.decode() if isinstance(k, bytes) else k
                  for k in server.scan_iter(match=self.processing("*")))]


def connect(url: str) -> redis.Redis:
    """A client for ``url``; an unreachable or malformed address is a one-line error."""
    try:
        server = redis.Redis.from_url(url, socket_connect_timeout=10, socket_timeout=30)
        server.ping()
    except (ValueError, redis.RedisError) as exc:
        raise CaigouError(f"cannot use Redis at {url}: {exc}") from exc
    return server


def worker_id() -> str:
    """host:pid:start — one process even after its pid is reused."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_ticks(os.getpid()) or 0}"


def distributed_settings(redis_url: str, prefix: str) -> dict[str, Any]:
    """The Scrapy settings that make a crawl a worker of the shared queue."""
    return {
        "CAIGOU_REDIS_URL": redis_url,
        "CAIGOU_REDIS_PREFIX": prefix,
        "REDIS_URL": redis_url,
        "SCHEDULER": "caigou.crawler.distributed.ReliableScheduler",
        "SCHEDULER_QUEUE_CLASS": "caigou.crawler.distributed.ReliableQueue",
        "SCHEDULER_QUEUE_KEY": f"{prefix}:%(spider)s:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{prefix}:%(spider)s:dupefilter",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True,  # the queue outlives each worker
        "EXTENSIONS": {"caigou.crawler.extensions.CrawlRecorder": 100, "caigou.crawler.extensions.Progress": 110,
                       "caigou.crawler.distributed.WorkerCoordinator": 120},
        "SPIDER_MIDDLEWARES": {"caigou.crawler.distributed.SeededStart": 10},
    }


# ------------------------------------------------------------------------------------------ the queue


class ReliableQueue(PriorityQueue):
    """scrapy-redis' priority queue whose pop keeps the request in this worker's processing hash until ``ack``."""

    def __init__(self, server: redis.Redis, spider: Any, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        settings = spider.crawler.settings
        self.keys = Keys(settings.get("CAIGOU_REDIS_PREFIX", DEFAULT_PREFIX), spider.name)
        self.worker = settings.get("CAIGOU_WORKER_ID") or worker_id()
        self.processing = self.keys.processing(self.worker)
        self.in_flight: dict[str, list[bytes]] = {}  # fingerprint → the popped entries
        self._pop = server.register_script(POP)
        register(server, self.keys, self.worker)  # before its first pop: a worker dead at once is found too

    def pop(self, timeout: int = 0) -> Request | None:
        data = self._pop(keys=[self.key, self.processing])
        if not data:
            return None
        request = self._decode_request(data)
        self.in_flight.setdefault(fingerprint(request), []).append(data)
        return request

    def ack(self, request: Request) -> bool:
        """Done with ``request`` (or a retry of it is back in the queue): forget it."""
        entries = self.in_flight.get(fingerprint(request))
        if not entries:
            return False
        data = entries.pop()
        if not entries:
            del self.in_flight[fingerprint(request)]
        self.server.hdel(self.processing, data)
        return True

    def requeue_in_flight(self) -> int:
        """A worker stopping early hands what it had not finished back to the others."""
        self.in_flight.clear()
        return int(self.server.register_script(REQUEUE)(keys=[self.processing, self.key]))


def fingerprint(request: Request) -> str:
    return RFPDupeFilter.request_fingerprint(None, request)  # a pure function of the request


class ReliableScheduler(Scheduler):
    """scrapy-redis' scheduler with the reliable queue: a request that comes back (a retry, a block waited out)
    is pushed to the shared queue, and only then is its popped entry acknowledged."""

    queue: ReliableQueue

    # Both as scrapy-redis has them, but for the ack, and stats without the ``spider`` argument Scrapy deprecates.
    def enqueue_request(self, request: Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        if request.dont_filter:
            self.queue.ack(request)  # a retry of a popped request: now safe in the shared queue
        return True

    def next_request(self) -> Request | None:
        request = self.queue.pop(self.idle_before_close)
        if request and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request


class SeededStart:
    """A worker makes no start requests: the seeder put them in the queue."""

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        return
        yield  # an async generator that yields nothing


# ------------------------------------------------------------------------------------------ workers


def _decode(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def register(server: redis.Redis, keys: Keys, worker: str) -> None:
    """This worker's heartbeat: who it is (to tell a dead process on this host) and when it was last seen."""
    process = {"host": socket.gethostname(), "pid": os.getpid(), "start": _start_ticks(os.getpid())}
    server.hset(keys.workers, worker, json.dumps({"process": process, "seen": time.time()}))


def recover_dead_workers(server: redis.Redis, keys: Keys, timeout: float) -> list[str]:
    """Move the in-flight requests of workers that are gone back into the queue; returns their ids."""
    host = socket.gethostname()
    requeue = server.register_script(REQUEUE)
    dead: list[str] = []
    for name, value in server.hgetall(keys.workers).items():
        worker, beat = _decode(name), json.loads(value)
        gone = (not process_alive(beat["process"]) if beat["process"].get("host") == host
                else time.time() - beat["seen"] > timeout)
        if gone and server.hdel(keys.workers, worker):
            returned = int(requeue(keys=[keys.processing(worker), keys.requests]))
            server.sadd(keys.dead, f"{worker} ({returned} in-flight requests returned to the queue)")
            logger.warning("%s: worker %s is gone; %d in-flight requests returned to the queue", keys.source,
                           worker, returned)
            dead.append(worker)
    return dead


def busy_elsewhere(server: redis.Redis, keys: Keys, me: str) -> bool:
    """Does another live worker have a request in flight (which may add to the queue)?"""
    return any(server.hlen(keys.processing(_decode(w))) for w in server.hkeys(keys.workers) if _decode(w) != me)


class WorkerCoordinator:
    """A worker's part in the shared crawl: heartbeat, acknowledgements, waiting while others are busy, and the
    roll-up into the one run when it leaves (called by CrawlRecorder)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.server = connect(settings["CAIGOU_REDIS_URL"])
        self.prefix = settings.get("CAIGOU_REDIS_PREFIX", DEFAULT_PREFIX)
        self.worker = settings.get("CAIGOU_WORKER_ID") or worker_id()
        self.timeout = settings.getfloat("CAIGOU_REDIS_WORKER_TIMEOUT", 120)
        self.idle_wait = settings.getfloat("CAIGOU_REDIS_IDLE", 10)
        # How soon an idle worker looks at the queue again (Scrapy's own idle check comes every 5 s).
        self.poll = settings.getfloat("CAIGOU_REDIS_POLL", 5)
        self.empty_since: float | None = None
        self.loop: task.LoopingCall | None = None
        self.recheck: Any = None  # the pending idle re-check (a DelayedCall)
        crawler._caigou_worker = self
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)

    @classmethod
    def from_crawler(cls, crawler: Any) -> WorkerCoordinator:
        return cls(crawler)

    @property
    def keys(self) -> Keys:
        return Keys(self.prefix, self.crawler.spider.name)

    def spider_opened(self, spider: Any) -> None:
        self.queue: ReliableQueue = self.crawler.engine._slot.scheduler.queue
        self.beat()
        recover_dead_workers(self.server, self.keys, self.timeout)
        self.loop = task.LoopingCall(self.beat)
        self.loop.start(min(5.0, self.timeout / 4), now=False)
        # The acknowledgement point: Scrapy's scraper is done with a response (or a download's failure) once its
        # callback has run, its items have passed the pipelines and its requests are in the queue.
        slot = self.crawler.engine.scraper.slot
        finish = slot.finish_response

        def finish_response(result: Any, request: Request) -> None:
            finish(result, request)
            self.queue.ack(request)

        slot.finish_response = finish_response

    def beat(self) -> None:
        register(self.server, self.keys, self.worker)

    def spider_idle(self, spider: Any) -> None:
        """Keep the worker while the queue may still get requests; let it close once it has stayed empty."""
        recover_dead_workers(self.server, self.keys, self.timeout)
        if self.server.zcard(self.keys.requests) or busy_elsewhere(self.server, self.keys, self.worker):
            self.empty_since = None
            self.look_again()
            raise DontCloseSpider
        if self.empty_since is None:
            self.empty_since = time.monotonic()
        if time.monotonic() - self.empty_since < self.idle_wait:
            self.look_again()
            raise DontCloseSpider

    def look_again(self) -> None:
        """Have the engine look for requests (and call spider_idle again) in ``CAIGOU_REDIS_POLL`` seconds."""
        from twisted.internet import reactor

        if self.recheck is not None and self.recheck.active():
            return

        def wake() -> None:
            slot = self.crawler.engine._slot
            if slot is not None and slot.closing is None:
                slot.nextcall.schedule()

        self.recheck = reactor.callLater(self.poll, wake)

    def finished(self, spider: Any, status: str, counts: dict[str, int], message: str) -> tuple[str, str]:
        """This worker leaves: hand back what it had in flight, leave its outcome, and close the run if it is the
        last one out of a drained queue. Returns the status and message to print."""
        if self.loop and self.loop.running:
            self.loop.stop()
        if self.recheck is not None and self.recheck.active():
            self.recheck.cancel()
        keys, server = self.keys, self.server
        returned = self.queue.requeue_in_flight()
        server.hset(keys.results, self.worker, json.dumps({"status": status, "counts": counts,
                                                           "message": message}))
        server.hdel(keys.workers, self.worker)
        recover_dead_workers(server, keys, self.timeout)
        context = CrawlContext.for_crawler(self.crawler)
        text = f"worker {self.worker}: {status}" + (f" ({message})" if message else "")
        if returned:
            text += f"; {returned} unfinished requests returned to the queue"
        drained = not server.zcard(keys.requests) and not any(
            server.hlen(k) for k in server.scan_iter(match=keys.processing("*")))
        if server.hlen(keys.workers) or not drained or not server.set(keys.closing, self.worker, nx=True):
            left = server.zcard(keys.requests)
            return status, f"{text}; run {context.run_id} stays open ({left} requests queued, other workers on)"
        run_status, run_message = close_run(server, keys, context, spider)
        return run_status, f"{text}\nrun {context.run_id}: {run_status}" + (f" — {run_message}" if run_message
                                                                           else "")


def close_run(server: redis.Redis, keys: Keys, context: CrawlContext, spider: Any) -> tuple[str, str]:
    """The last worker out closes the one run: counts summed, the worst status, the watermark only when every
    page of the window was read, and the run's Redis keys removed."""
    results = [json.loads(v) for v in server.hvals(keys.results)]
    totals: dict[str, int] = {}
    for result in results:
        for key, value in result["counts"].items():
            totals[key] = totals.get(key, 0) + int(value)
    statuses = [r["status"] for r in results]
    with context.store.db.session() as session:
        page_errors = session.scalar(select(func.count(CrawlError.id)).where(
            CrawlError.crawl_run_id == context.run_id, CrawlError.kind.in_(PAGE_ERROR_KINDS))) or 0
    dead = sorted(_decode(d) for d in server.smembers(keys.dead))
    if "failed" in statuses:
        status = "failed"
    elif "partial" in statuses or page_errors:
        status = "partial"
    else:
        status = "succeeded"
    messages = [r["message"] for r in results if r["message"]]
    if dead:
        messages.append(f"workers gone mid-crawl: {'; '.join(dead)}")
    if status == "succeeded" and hasattr(spider, "query_key") and not getattr(spider, "urls", None):
        context.store.set_watermark(spider.name, spider.query_key(), spider.until)
    elif status != "succeeded":
        messages.append("the watermark was not advanced, so the next run asks again")
    counts: dict[str, Any] = {**totals, "workers": len(results), "workers_gone": len(dead)}
    message = "; ".join(messages)
    context.store.finish_run(context.run_id, status, counts, message)
    server.delete(*keys.all_keys(server))
    return status, message


# ------------------------------------------------------------------------------------------ seeding


@dataclass
class Seeded:
    source: str
    run_id: int
    requests: int
    since: str | None
    until: str


def seed(source: str, arguments: dict[str, Any], database_url: str, redis_url: str, prefix: str,
         overrides: dict[str, Any] | None = None) -> Seeded:
    """Record one run of ``source`` and push its start requests into the shared queue."""
    from scrapy.crawler import Crawler

    from caigou.crawler.extensions import resolve_since
    from caigou.crawler.project import project_settings, spider_class

    cls = spider_class(source)
    cls.parse_arguments(**arguments)
    server = connect(redis_url)
    keys = Keys(prefix, source)
    settings = project_settings({"CAIGOU_DATABASE_URL": database_url, **(overrides or {}),
                                 **distributed_settings(redis_url, prefix)})
    recover_dead_workers(server, keys, settings.getfloat("CAIGOU_REDIS_WORKER_TIMEOUT", 120))
    current = server.get(keys.run)
    if current and server.hlen(keys.workers):
        run_id = json.loads(current)["run_id"]
        raise CaigouError(f"run {run_id} of {source} is still being worked in this Redis (prefix {prefix!r}): "
                          "let its workers finish, or use another --redis-prefix")
    crawler = Crawler(cls, settings)
    spider = cls.from_crawler(crawler, **{k: v for k, v in arguments.items() if v not in (None, [], "")})
    store = NoticeStore(Database(database_url))
    if spider.needs_since:
        resolve_since(spider, store, settings)
    if current:
        # A run no worker is on any more (all stopped or died before the queue drained): this seed replaces it.
        # Nothing is lost: its stored notices are skipped and its window is asked again (its watermark stayed).
        stale = json.loads(current)["run_id"]
        left = server.zcard(keys.requests)
        store.finish_run(stale, "interrupted", {}, f"{source}: its workers ended with {left} requests still "
                         "queued; replaced by a new seed, the watermark stayed put")
    server.delete(*keys.all_keys(server))
    since, until = spider.since.isoformat() if spider.since else None, spider.until.isoformat()
    spider_arguments = {"since": since, "until": until, "keyword": spider.keywords, "region": spider.region,
                        "type": spider.notice_types, "buyer": spider.buyer or None, "url": spider.urls}
    # No "process": the run belongs to its workers, not to this short-lived seeder (see interrupt_dead_runs).
    run_id = store.start_run(source, {**spider.run_arguments(), "distributed": {"prefix": prefix}})
    # What the run's own options decide, so every worker crawls the same way (a worker's --set adds to them).
    shared = {key: value for key, value in (overrides or {}).items() if key in RUN_SETTINGS}
    server.set(keys.run, json.dumps({"run_id": run_id, "arguments": spider_arguments, "settings": shared}))
    queue = PriorityQueue(server, spider, keys.requests, picklecompat)
    dupefilter = RFPDupeFilter(server, keys.dupefilter)
    count = 0
    requests: Iterable[Request] = ((spider.detail_request(url) for url in spider.urls) if spider.urls
                                   else spider.list_requests())
    for request in requests:
        if request.dont_filter or not dupefilter.request_seen(request):
            queue.push(request)
            count += 1
    return Seeded(source, run_id, count, since, until)


def seeded_runs(redis_url: str, prefix: str, sources: list[str]) -> dict[str, dict[str, Any]]:
    """The runs waiting for workers: source → {run_id, arguments}."""
    from caigou.crawler.project import known_sources

    server = connect(redis_url)

    found = {}
    for source in sources or known_sources():
        value = server.get(Keys(prefix, source).run)
        if value:
            found[source] = json.loads(value)
    return found
