"""Crawl health: from the recorded runs, which sources are quiet, blocked or failing; one operator alert per
condition while it lasts (``health_alerts``), and the summary ``caigou status`` prints.

Conditions (``[health]`` configuration):
  quiet    no new notice for ``quiet_days`` days (default 3) although the source was crawled in that time
  blocked  the last run's pages were mostly block pages (``block_ratio``, default 0.5)
  failing  the last ``failed_runs`` runs (default 1) all failed or were partial (pages not read: the watermark
           stays put, so the source falls behind until a run succeeds)
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caigou.digest.mail import DeliveryError, SmtpSettings, mailer
from caigou.models import CrawlRun, HealthAlert, Notice, Source
from caigou.models.config import Config
from caigou.models.db import Database
from caigou.models.types import SHANGHAI
from caigou.models.types import now as current_time

logger = logging.getLogger(__name__)

# Run statuses that leave the watermark behind (models.crawl.CrawlRun); "interrupted" is an operator's stop.
FAILING_STATUSES = ("failed", "partial")


@dataclass(frozen=True)
class Condition:
    source: str
    condition: str   # quiet | blocked | failing
    detail: str

    def line(self) -> str:
        return f"{self.source}: {self.condition} — {self.detail}"


@dataclass(frozen=True)
class Thresholds:
    quiet_days: int = 3
    block_ratio: float = 0.5
    failed_runs: int = 1

    @classmethod
    def from_config(cls, config: Config) -> Thresholds:
        return cls(quiet_days=int(config.get("health", "quiet_days", 3)),
                   block_ratio=float(config.get("health", "block_ratio", 0.5)),
                   failed_runs=max(1, int(config.get("health", "failed_runs", 1))))


def _finished_runs(session: Session, source_id: int, limit: int) -> list[CrawlRun]:
    return list(session.scalars(select(CrawlRun).where(CrawlRun.source_id == source_id,
                                                       CrawlRun.status != "running")
                                .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc()).limit(limit)))


def source_conditions(session: Session, source: Source, limits: Thresholds, now: dt.datetime) -> list[Condition]:
    runs = _finished_runs(session, source.id, max(limits.failed_runs, 1))
    if not runs:
        return []
    found: list[Condition] = []
    last = runs[0]
    pages, blocked = int(last.counts.get("pages", 0)), int(last.counts.get("blocked", 0))
    # "pages" counts the pages the spider got; block pages are counted (and archived) apart, by the block
    # middleware, so the run fetched pages + blocked in all.
    fetched = pages + blocked
    if blocked and blocked >= limits.block_ratio * fetched:
        found.append(Condition(source.name, "blocked",
                               f"{blocked} of {fetched} pages fetched in the last run were block pages "
                               f"({last.started_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M})"))
    if len(runs) >= limits.failed_runs and all(run.status in FAILING_STATUSES for run in runs):
        found.append(Condition(source.name, "failing", f"the last {len(runs)} run(s) "
                                                       f"{'/'.join(sorted({run.status for run in runs}))}: "
                                                       f"{(last.message or 'no message').splitlines()[0]}"))
    since = now - dt.timedelta(days=limits.quiet_days)
    crawled_for = session.scalar(select(func.min(CrawlRun.started_at)).where(CrawlRun.source_id == source.id))
    newest = session.scalar(select(func.max(Notice.first_seen_at)).where(Notice.source_id == source.id))
    if crawled_for is not None and crawled_for <= since and (newest is None or newest < since):
        found.append(Condition(source.name, "quiet", f"no new notice for {limits.quiet_days} days (newest: "
                                                     + (f"{newest.astimezone(SHANGHAI):%Y-%m-%d}" if newest
                                                        else "none") + ")"))
    return found


def check_health(session: Session, limits: Thresholds, now: dt.datetime) -> list[Condition]:
    conditions: list[Condition] = []
    for source in session.scalars(select(Source).order_by(Source.name)):
        conditions += source_conditions(session, source, limits, now)
    return conditions


def record_conditions(session: Session, conditions: list[Condition], now: dt.datetime) -> list[HealthAlert]:
    """Open an alert for each new condition, close those that ended; return the open alerts not yet notified."""
    open_alerts = {(a.source, a.condition): a for a in
                   session.scalars(select(HealthAlert).where(HealthAlert.cleared_at.is_(None)))}
    current = {(c.source, c.condition): c for c in conditions}
    for key, alert in open_alerts.items():
        if key not in current:
            alert.cleared_at = now
    for key, condition in current.items():
        if key not in open_alerts:
            session.add(HealthAlert(source=condition.source, condition=condition.condition,
                                    detail=condition.detail, raised_at=now))
    session.flush()
    return list(session.scalars(select(HealthAlert).where(HealthAlert.cleared_at.is_(None),
                                                          HealthAlert.notified_at.is_(None))
                                .order_by(HealthAlert.source, HealthAlert.condition)))


def alert_message(alerts: list[HealthAlert], sender: str, operator: str, now: dt.datetime) -> EmailMessage:
    message = EmailMessage()
    sources = sorted({a.source for a in alerts})
    message["Subject"] = f"[caigou] crawl health: {', '.join(sources)} need attention / 抓取异常"
    message["From"], message["To"] = sender, operator
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain="caigou.local")
    lines = ["These crawl conditions started (each is reported once while it lasts):", ""]
    lines += [f"* {a.source}: {a.condition} — {a.detail}" for a in alerts]
    lines += ["", "See `caigou status` for the sources' last runs."]
    message.set_content("\n".join(lines) + "\n", charset="utf-8")
    return message


def run_health(db: Database, config: Config, now: dt.datetime | None = None) -> tuple[list[Condition], str]:
    """Check, record and alert; returns the current conditions and what happened to the alert."""
    moment = now or current_time()
    operator = config.get("health", "operator_email", "")
    with db.session() as session:
        conditions = check_health(session, Thresholds.from_config(config), moment)
        pending = record_conditions(session, conditions, moment)
        if not pending:
            return conditions, "no new condition"
        if not operator:
            return conditions, f"{len(pending)} new condition(s); no [health] operator_email to alert"
        settings = SmtpSettings.from_config(config)
        try:
            with mailer(settings) as connection:
                connection.send(alert_message(pending, settings.sender, operator, moment))
        except DeliveryError as exc:
            return conditions, f"alert to {operator} failed (will retry): {exc}"
        for alert in pending:
            alert.notified_at = moment
    return conditions, f"alerted {operator} about {len(pending)} condition(s)"


@dataclass
class SourceStatus:
    name: str
    notices: int
    newest: dt.datetime | None
    last_run: CrawlRun | None


def source_statuses(session: Session) -> list[SourceStatus]:
    out = []
    for source in session.scalars(select(Source).order_by(Source.name)):
        count, newest = session.execute(select(func.count(Notice.id), func.max(Notice.first_seen_at))
                                        .where(Notice.source_id == source.id)).one()
        last = session.scalars(select(CrawlRun).where(CrawlRun.source_id == source.id)
                               .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc()).limit(1)).first()
        out.append(SourceStatus(source.name, count, newest, last))
    return out
