"""The scheduler: crawls on their crons, a re-match, the digests at their subscriptions' times.

APScheduler 3 with its jobs in the project's database (``scheduler_jobs``), so a restart keeps each job's next run
and a missed run fires once (coalesce) if within the grace time. One worker thread: jobs run one at a time, in the
order they fall due, never twice at once (max_instances=1), and never twice at once across processes either (a
``caigou schedule --once`` from cron beside a running ``caigou schedule``): each job holds an OS file lock in the
data folder while it runs, which the kernel releases when the process dies. A job that fails or times out is one
log line and the next job still runs. Each crawl runs in its own process (Twisted's reactor
cannot be restarted), with the database URL in its environment rather than on its command line. SIGTERM lets the
running job finish and starts no other.

Jobs hold only names; what they do is looked up in the configuration of the running process (``_runtime``), so no
secret is pickled into the job store.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import hashlib
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select

from caigou.context import AppContext
from caigou.digest.subscriptions import local_time
from caigou.models import CrawlRun, NoticeScore, Source, Subscription
from caigou.models.errors import CaigouError
from caigou.models.types import now

logger = logging.getLogger("caigou.schedule")
ORDER = {"crawl": 0, "rematch": 1, "digest": 2}
_runtime: AppContext | None = None
_stopping = threading.Event()  # set by SIGTERM: jobs already queued behind the running one do not start


@dataclass(frozen=True)
class PlannedJob:
    id: str                 # kind:name
    func: Callable[..., Any]
    args: tuple[str, ...]
    trigger: CronTrigger

    @property
    def kind(self) -> str:
        return self.id.partition(":")[0]


@dataclass
class CrawlSpec:
    name: str
    source: str
    arguments: list[str] = field(default_factory=list)
    cron: str = ""
    timeout: float | None = None  # seconds; None: [schedule] crawl_timeout


def cron_trigger(expression: str, zone: str, where: str) -> CronTrigger:
    """A crontab (5 fields), or 6 fields with seconds first (for tests and the impatient)."""
    parts = expression.split()
    try:
        if len(parts) == 5:
            return CronTrigger.from_crontab(expression, timezone=zone)
        if len(parts) == 6:
            second, minute, hour, day, month, dow = parts
            return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month, day_of_week=dow,
                               timezone=zone)
    except ValueError as exc:
        raise CaigouError(f"{where}: bad cron expression {expression!r}: {exc}") from exc
    raise CaigouError(f"{where}: a cron expression has 5 fields (minute hour day month weekday), not {expression!r}")


def crawl_specs(app: AppContext) -> list[CrawlSpec]:
    specs: list[CrawlSpec] = []
    for index, raw in enumerate(app.config.values.get("schedule", {}).get("crawls", []), 1):
        where = f"[[schedule.crawls]] #{index}"
        if not isinstance(raw, dict) or not raw.get("source") or not raw.get("cron"):
            raise CaigouError(f"{where} needs source and cron")
        arguments = raw.get("arguments", [])
        arguments = shlex.split(arguments) if isinstance(arguments, str) else [str(a) for a in arguments]
        timeout = raw.get("timeout")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                    or timeout <= 0):
            raise CaigouError(f"{where}: timeout is a number of seconds above 0, not {timeout!r}")
        spec = CrawlSpec(name=str(raw.get("name") or f"{raw['source']}-{index}"), source=str(raw["source"]),
                         arguments=arguments, cron=str(raw["cron"]),
                         timeout=float(timeout) if timeout is not None else None)
        if any(s.name == spec.name for s in specs):
            raise CaigouError(f"{where}: another crawl is named {spec.name!r}; give each a distinct name")
        specs.append(spec)
    return specs


def planned_jobs(app: AppContext) -> list[PlannedJob]:
    zone = app.config.get("schedule", "timezone", "Asia/Shanghai")
    jobs = [PlannedJob(f"crawl:{spec.name}", crawl_job, (spec.name,),
                       cron_trigger(spec.cron, zone, f"crawl {spec.name}")) for spec in crawl_specs(app)]
    rematch_cron = app.config.get("schedule", "rematch_cron", "50 * * * *")
    if rematch_cron:
        jobs.append(PlannedJob("rematch:watchlist", rematch_job, (), cron_trigger(rematch_cron, zone, "rematch")))
    with app.db.session() as session:
        for sub in session.scalars(select(Subscription).order_by(Subscription.name)):
            hour, minute, tz = local_time(sub)
            jobs.append(PlannedJob(f"digest:{sub.name}", digest_job, (sub.name,),
                                   CronTrigger(hour=hour, minute=minute, timezone=tz)))
    return jobs


def _child_environment(app: AppContext) -> dict[str, str]:
    env = dict(os.environ)
    env["CAIGOU_DATABASE_URL"] = app.database_url  # in the environment, not on a command line others can read
    if app.config.path is not None:
        env["CAIGOU_CONFIG"] = str(app.config.path)
    return env


def _caigou(app: AppContext, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``caigou ARGS`` in a process of its own; on ``timeout`` its whole process group is killed (a crawl may
    have started LibreOffice or antiword for an attachment) and ``subprocess.TimeoutExpired`` raised."""
    # A session of its own: a signal to the scheduler's process group (Ctrl-C, systemd) does not cut the crawl
    # short; the scheduler lets the running job finish.
    command = [sys.executable, "-m", "caigou", *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=_child_environment(app), start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


class JobLocked(Exception):
    """Another process holds this job's lock."""


def _lock_path(app: AppContext, job: str) -> Path:
    # One lock per database and job: two schedulers on different databases (tests, several archives) do not
    # exclude each other, while a cron ``--once`` and a ``caigou schedule`` on the same database do.
    database = hashlib.sha256(app.database_url.encode("utf-8")).hexdigest()[:12]
    safe = hashlib.sha256(job.encode("utf-8")).hexdigest()[:16]  # job names may hold any character (subscriptions)
    return app.config.data_dir / "locks" / f"{database}-{safe}.lock"


@contextlib.contextmanager
def job_lock(app: AppContext, job: str) -> Iterator[None]:
    """Hold ``job``'s cross-process lock while the block runs, or raise ``JobLocked`` at once if another process
    holds it. flock locks belong to the open file, so the kernel releases them when the holder dies: no stale
    lock to clear after a crash or a kill."""
    path = _lock_path(app, job)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise JobLocked(holder) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} ({job})")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def guarded(kind: str) -> Callable[[Callable[..., None]], Callable[..., bool]]:
    """Run the job under its cross-process lock; a failure is one log line, never an exception, so the next job
    still runs. The wrapped job returns whether it ran (False when another process holds its lock). functools.wraps
    keeps the name, so the job store's reference (``caigou.schedule:crawl_job``) finds the guarded function."""
    def decorate(job_func: Callable[..., None]) -> Callable[..., bool]:
        @functools.wraps(job_func)
        def guarded_job(*args: str) -> bool:
            job = f"{kind}:{args[0]}" if args else kind
            app = _runtime
            if app is None:
                raise RuntimeError("the scheduler's context is not set")
            try:
                with job_lock(app, job):
                    job_func(*args)
            except JobLocked as held:
                logger.warning("job %s skipped: already running (%s)", job, held)
                return False
            except Exception as exc:  # one job's failure must not stop the others
                detail = str(exc).strip().splitlines()
                logger.error("job %s failed: %s: %s", job, type(exc).__name__, detail[0] if detail else "")
            return True
        return guarded_job
    return decorate


def _app(job: str) -> AppContext | None:
    """The running scheduler's context, or None when the job must not start because the scheduler is stopping."""
    if _runtime is None:
        raise RuntimeError("the scheduler's context is not set")
    if _stopping.is_set():
        logger.info("job %s not started: the scheduler is stopping", job)
        return None
    return _runtime


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


@guarded("crawl")
def crawl_job(name: str) -> None:
    app = _app(f"crawl:{name}")
    if app is None:
        return
    spec = next((s for s in crawl_specs(app) if s.name == name), None)
    if spec is None:
        logger.warning("crawl %s is no longer configured; skipped", name)
        return
    logger.info("job crawl:%s started: caigou crawl %s %s", name, spec.source, shlex.join(spec.arguments))
    timeout = spec.timeout or float(app.config.get("schedule", "crawl_timeout", 6 * 3600))
    with app.db.session() as session:
        before = session.scalar(select(func.max(CrawlRun.id))) or 0
    try:
        result = _caigou(app, "crawl", spec.source, *spec.arguments, timeout=timeout)
    except subprocess.TimeoutExpired:
        marked = mark_killed_runs(app, spec.source, before, f"killed by the scheduler after its timeout of "
                                                            f"{timeout:g} s")
        logger.error("job crawl:%s failed: killed after its timeout of %g s; %s", name, timeout,
                     f"run {', '.join(map(str, marked))} marked failed" if marked else "it had recorded no run")
        health_job()
        return
    summary = result.stdout.strip().splitlines()[0] if result.stdout.strip() else _last_line(result.stderr)
    logger.info("job crawl:%s finished (exit %s): %s", name, result.returncode, summary)
    health_job()


def mark_killed_runs(app: AppContext, source: str, after_id: int, message: str) -> list[int]:
    """Mark failed the runs of ``source`` a killed crawl left "running" (those it started: ids above ``after_id``);
    a killed process cannot record its own end. Returns their ids."""
    with app.db.session() as session:
        runs = session.scalars(select(CrawlRun).join(Source, Source.id == CrawlRun.source_id).where(
            Source.name == source, CrawlRun.id > after_id, CrawlRun.status == "running")).all()
        for run in runs:
            run.status, run.finished_at, run.message = "failed", now(), message
        return [run.id for run in runs]


def health_job() -> None:
    from caigou.health import run_health

    app = _runtime
    assert app is not None
    conditions, outcome = run_health(app.db, app.config)
    for condition in conditions:
        logger.warning("health: %s", condition.line())
    logger.info("health: %s", outcome)


def watchlist_change(app: AppContext) -> str:
    """Why a re-match is due ("" when it is not): scores made under another version of the configured watchlist."""
    from caigou.pipelines.matching.watchlist import configured_paths, parse_watchlist

    watchlist, _problems = parse_watchlist(configured_paths(app.config.get("watchlist", "path"),
                                                            app.config.get("watchlist", "extra")))
    with app.db.session() as session:
        stale = session.scalar(select(func.count(NoticeScore.notice_id))
                               .where(NoticeScore.watchlist_version != watchlist.version))
    return f"{stale} notice(s) scored under another watchlist version than {watchlist.version}" if stale else ""


@guarded("rematch")
def rematch_job() -> None:
    app = _app("rematch")
    if app is None:
        return
    reason = watchlist_change(app)
    if not reason:
        logger.info("job rematch: the watchlist did not change; nothing to do")
        return
    logger.info("job rematch started: %s", reason)
    result = _caigou(app, "rematch")
    logger.info("job rematch finished (exit %s): %s", result.returncode,
                _last_line(result.stdout) or _last_line(result.stderr))


@guarded("digest")
def digest_job(name: str) -> None:
    from caigou.digest.run import run_digests

    app = _app(f"digest:{name}")
    if app is None:
        return
    logger.info("job digest:%s started", name)
    try:
        outcomes = run_digests(app.db, app.config, [name], echo=logger.info)
    except CaigouError as exc:
        logger.error("job digest:%s: %s", name, exc)
        return
    for outcome in outcomes:
        (logger.error if outcome.status == "failed" else logger.info)("digest: %s", outcome.line())
    logger.info("job digest:%s finished", name)


class OneAtATime(ThreadPoolExecutor):
    """One worker, so jobs run one at a time in the order they fall due; once stopping, nothing more is taken."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)

    def submit_job(self, job: Any, run_times: list[dt.datetime]) -> None:
        if _stopping.is_set():
            logger.info("job %s not started: the scheduler is stopping", job.id)
            return
        super().submit_job(job, run_times)


def make_scheduler(app: AppContext) -> BackgroundScheduler:
    grace = int(app.config.get("schedule", "misfire_grace_time", 3600))
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=app.db.engine, tablename="scheduler_jobs")},
        executors={"default": OneAtATime()},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace},
        timezone=app.config.get("schedule", "timezone", "Asia/Shanghai"))


def sync_jobs(scheduler: BackgroundScheduler, plan: list[PlannedJob]) -> set[str]:
    """Make the stored jobs the planned ones; unchanged jobs keep their next run time. Returns the new job ids."""
    added: set[str] = set()
    wanted = {job.id for job in plan}
    for stored in scheduler.get_jobs():
        if stored.id not in wanted:
            stored.remove()
    for job in plan:
        stored = scheduler.get_job(job.id)
        if stored is not None and repr(stored.trigger) == repr(job.trigger) and tuple(stored.args) == job.args:
            continue
        scheduler.add_job(job.func, job.trigger, args=job.args, id=job.id, name=job.id, replace_existing=True)
        if stored is None:
            added.add(job.id)
    return added


def set_runtime(app: AppContext) -> None:
    global _runtime
    _runtime = app
    _stopping.clear()


def run_once(app: AppContext, now: dt.datetime | None = None) -> list[str]:
    """Run every due job now (crawls, then the re-match, then the digests) and return their ids in run order.

    Due: its time came since it last ran, or it is new to the job store.
    """
    set_runtime(app)
    scheduler = make_scheduler(app)
    scheduler.start(paused=True)
    try:
        added = sync_jobs(scheduler, planned_jobs(app))
        moment = now or dt.datetime.now(dt.UTC)
        due = [job for job in scheduler.get_jobs()
               if job.id in added or (job.next_run_time is not None and job.next_run_time <= moment)]
        due.sort(key=lambda job: (ORDER.get(job.id.partition(":")[0], 9), job.id))
        ran = []
        for job in due:
            if job.func(*job.args):
                ran.append(job.id)
            job.modify(next_run_time=job.trigger.get_next_fire_time(None, moment))
        if not any(job.startswith("crawl:") for job in ran):
            health_job()
        return ran
    finally:
        scheduler.shutdown(wait=False)


def run_forever(app: AppContext, refresh_seconds: float = 60.0) -> None:
    """Run until SIGTERM or SIGINT; re-reads the subscriptions every ``refresh_seconds`` for new digest times."""
    set_runtime(app)
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        logger.info("received %s: stopping after the running job", signal.Signals(signum).name)
        _stopping.set()
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    scheduler = make_scheduler(app)
    scheduler.start(paused=True)
    sync_jobs(scheduler, planned_jobs(app))
    for job in sorted(scheduler.get_jobs(), key=lambda j: j.id):
        logger.info("scheduled %s, next at %s", job.id, job.next_run_time)
    scheduler.resume()
    last_sync = time.monotonic()
    while not stop.wait(0.5):
        if time.monotonic() - last_sync >= refresh_seconds:
            sync_jobs(scheduler, planned_jobs(app))
            last_sync = time.monotonic()
    scheduler.pause()              # submit nothing more …
    scheduler.shutdown(wait=True)  # … and wait for the running job (queued ones see _stopping and return)
    logger.info("scheduler stopped")
