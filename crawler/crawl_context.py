"""The database side of one running crawl, shared by the item pipelines and the crawler's extension and
middlewares: one ``NoticeStore`` and one crawl-run record per crawler."""
from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from caigou.models import CrawlRun
from caigou.models.config import load_config
from caigou.models.db import Database
from caigou.models.types import now
from caigou.pipelines.catch_up import catch_up
from caigou.pipelines.store import NoticeStore

logger = logging.getLogger(__name__)


@dataclass
class CrawlContext:
    store: NoticeStore
    run_id: int
    source: str
    seen_keys: set[str] = field(default_factory=set)

    @classmethod
    def for_crawler(cls, crawler: Any) -> CrawlContext:
        """The crawler's context, created (with its run record) by whichever component asks first."""
        context = getattr(crawler, "_caigou_context", None)
        if context is None:
            url = crawler.settings.get("CAIGOU_DATABASE_URL") or load_config().database_url
            database = Database(url)
            if database.upgraded_from:  # a crawl that opens an older database brings its derived data up too
                catch_up(database, database.upgraded_from, progress=_log_progress)
            store = NoticeStore(database)
            spider = crawler.spider
            if crawler.settings.getint("CAIGOU_RUN_ID"):
                # A worker of a distributed crawl (crawler.distributed): the seeder recorded the one run.
                context = cls(store=store, run_id=crawler.settings.getint("CAIGOU_RUN_ID"), source=spider.name)
                crawler._caigou_context = context
                return context
            arguments = spider.run_arguments() if hasattr(spider, "run_arguments") else {}
            # Who runs it, so a later run can tell a run whose process died (SIGKILL, OOM, power) from a live one.
            arguments = {**arguments, "process": this_process()}
            interrupt_dead_runs(store, spider.name)
            context = cls(store=store, run_id=store.start_run(spider.name, arguments), source=spider.name)
            crawler._caigou_context = context
        return context


def _log_progress(step: str, done: int, total: int) -> None:
    logger.debug("catching up the database: %s %d/%d notices", step, done, total)


def _start_ticks(pid: int) -> int | None:
    """The process's start time (clock ticks since boot, /proc/PID/stat field 22): with the pid, it names one
    process even after the pid is reused. None where /proc is not there."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # after the command name, which may hold spaces
    return int(fields[19]) if len(fields) > 19 else None


def this_process() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _start_ticks(os.getpid())}


def process_alive(process: dict[str, Any]) -> bool:
    pid = process.get("pid")
    if not isinstance(pid, int):
        return True  # unknown: leave the run alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return True
    if state == "Z":
        return False  # killed, not yet reaped by its parent
    recorded = process.get("start")
    return recorded is None or recorded == _start_ticks(pid)  # another process now has the pid


def interrupt_dead_runs(store: NoticeStore, source: str) -> list[int]:
    """Runs of ``source`` still "running" whose process on this host is gone (killed with SIGKILL, out of memory)
    never closed themselves: mark them "interrupted", so they do not stay running for ever. Runs of other hosts,
    and runs recorded before the process was (no ``process`` in their arguments), are left alone: their liveness
    cannot be told from here."""
    host = socket.gethostname()
    ended: list[int] = []
    with store.db.session() as session:
        runs = session.scalars(select(CrawlRun).where(CrawlRun.source_id == store.source_id(session, source),
                                                      CrawlRun.status == "running"))
        for run in runs:
            process = (run.arguments or {}).get("process") or {}
            if process.get("host") != host or process_alive(process):
                continue
            run.status, run.finished_at = "interrupted", now()
            run.message = (f"{source}: its process ({process.get('pid')} on {host}) ended without closing the run "
                           "(killed?); the watermark stayed put, so a later run completes the window")
            ended.append(run.id)
    for run_id in ended:
        logger.warning("%s: run %d was left running by a process that is gone; marked interrupted", source, run_id)
    return ended
