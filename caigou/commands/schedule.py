"""``caigou schedule``, ``caigou status`` and ``caigou health``: running the pipeline unattended and watching it."""
from __future__ import annotations

import datetime as dt
import logging
import sys

import click
from sqlalchemy import func, select

from caigou.context import AppContext, pass_app
from caigou.health import Thresholds, check_health, run_health, source_statuses
from caigou.models import Delivery, HealthAlert, Subscription
from caigou.models.types import SHANGHAI, now
from caigou.safe_text import echo


def _logging() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, force=True,
                        format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("caigou").setLevel(logging.INFO)


@click.command()
@click.option("--once", is_flag=True, help="Run every due job now (crawls, re-match, digests, in that order) "
              "and exit; jobs new to the job store count as due. For system cron.")
@pass_app
def schedule(app: AppContext, once: bool) -> None:
    """Run the configured crawls, the re-match and the digests on their schedules until SIGTERM.

    Crawls come from [[schedule.crawls]] in the configuration file, digests from the subscriptions' times
    (see caigou.example.toml). Jobs live in the database, so a restart resumes the schedule; SIGTERM lets the
    running job finish.
    """
    from caigou.schedule import planned_jobs, run_forever, run_once

    _logging()
    if not planned_jobs(app):
        echo("nothing to schedule: no [[schedule.crawls]], no subscriptions and rematch_cron is empty",
                   err=True)
    if once:
        ran = run_once(app)
        echo(f"ran {len(ran)} due job(s): {', '.join(ran) or 'none'}")
        return
    run_forever(app)


def _when(value: dt.datetime | None) -> str:
    return f"{value.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" if value is not None else "never"


@click.command()
@pass_app
def status(app: AppContext) -> None:
    """Summarise sources (last run, counts, notices), crawl-health conditions and subscriptions."""
    limits = Thresholds.from_config(app.config)
    with app.db.session() as session:
        echo("Sources:")
        statuses = source_statuses(session)
        if not statuses:
            echo("  none crawled yet (caigou crawl SOURCE)")
        for item in statuses:
            run = item.last_run
            line = f"  {item.name}: {item.notices} notices, newest {_when(item.newest)}; last run "
            if run is None:
                line += "none"
            else:
                c = run.counts
                line += (f"{_when(run.started_at)} {run.status} — {c.get('pages', 0)} pages, {c.get('new', 0)} new, "
                         f"{c.get('blocked', 0)} blocked, {c.get('errors', 0)} errors")
            echo(line)
        conditions = check_health(session, limits, now())
        echo("Health:" + ("" if conditions else " all sources fine"))
        alerted = {(a.source, a.condition) for a in session.scalars(
            select(HealthAlert).where(HealthAlert.cleared_at.is_(None), HealthAlert.notified_at.is_not(None)))}
        for condition in conditions:
            mark = " (operator alerted)" if (condition.source, condition.condition) in alerted else ""
            echo(f"  {condition.line()}{mark}")
        echo("Subscriptions:")
        subs = session.scalars(select(Subscription).order_by(Subscription.name)).all()
        if not subs:
            echo("  none (caigou subscriptions add)")
        for sub in subs:
            last_sent = session.scalar(select(func.max(Delivery.attempted_at)).where(
                Delivery.subscription_id == sub.id, Delivery.status == "sent"))
            last = session.scalars(select(Delivery).where(Delivery.subscription_id == sub.id)
                                   .order_by(Delivery.id.desc()).limit(1)).first()
            failing = (f"; last attempt failed: {last.error}" if last is not None and last.status == "failed" else
                       f"; gave up waiting for {last.recipient}: {last.error}"
                       if last is not None and last.status == "given_up" else "")
            echo(f"  {sub.name}: {len(sub.recipients)} recipient(s) at {sub.delivery_time} {sub.time_zone}; "
                       f"last sent {_when(last_sent)}{failing}")


@click.command()
@pass_app
def health(app: AppContext) -> None:
    """Check crawl health now and e-mail the operator ([health] operator_email) about new conditions."""
    conditions, outcome = run_health(app.db, app.config)
    for condition in conditions:
        echo(condition.line())
    echo(outcome)


COMMANDS = [schedule, status, health]
