"""``caigou subscriptions add|list|show|remove`` and ``caigou digest``: researchers' daily digests."""
from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy import select

from caigou.context import AppContext, pass_app
from caigou.digest.build import configured_base_url
from caigou.digest.feed import write_feeds
from caigou.digest.run import run_digests
from caigou.digest.subscriptions import (
    DEFAULT_TIME,
    DEFAULT_ZONE,
    SubscriptionInput,
    add_subscription,
    command_line_actor,
    delivered_count,
    get_subscription,
    history,
    last_sent,
    recent_deliveries,
    removals,
    remove_subscription,
)
from caigou.filters import NoticeFilters, filter_options
from caigou.models import REVIEW_FIRST_SCORE, Subscription
from caigou.models.errors import CaigouError
from caigou.models.types import SHANGHAI
from caigou.safe_text import echo


@click.group()
def subscriptions() -> None:
    """Manage digest subscriptions: who gets which notices, when."""


@subscriptions.command("add")
@click.argument("name")
@click.option("--to", "recipients", multiple=True, metavar="ADDRESS",
              help="Recipient, e.g. 'a@example.org' or '研究员 <a@example.org>'; repeatable. None: feed only.")
@click.option("--at", "delivery_time", default=DEFAULT_TIME, show_default=True, help="Delivery time, HH:MM.")
@click.option("--tz", "time_zone", default=DEFAULT_ZONE, show_default=True, help="Time zone of --at.")
@click.option("--send-empty", is_flag=True, help="Send a 'nothing new' message on empty days (default: skip).")
@click.option("--csv", "attach_csv", is_flag=True, help="Attach the digest's notices as a CSV file.")
@click.option("--backfill", is_flag=True,
              help="Include notices matched before the subscription existed in the first digest.")
@click.option("--query", default="", metavar="QUERY",
              help="A saved search: a free-text query in the search syntax (words, \"phrases\", -exclusions, OR).")
@pass_app
@filter_options(default_min_score=REVIEW_FIRST_SCORE)  # innermost: its wrapper keeps no options set below it
def add(app: AppContext, name: str, recipients: tuple[str, ...], filters: NoticeFilters, delivery_time: str,
        time_zone: str, send_empty: bool, attach_csv: bool, backfill: bool, query: str) -> None:
    """Add the subscription NAME (filters as in search; minimum score 50 unless --min-score).

    \b
    Example:
      caigou subscriptions add 西藏DNA --to '研究员 <r@example.org>' --region tibetan --category kit --csv
      caigou subscriptions add 分析仪 --to r@example.org --query '遗传分析仪 公安 -医院'
    """
    with app.db.session() as session:
        added = add_subscription(session, SubscriptionInput(
            name, recipients, filters, query=query, delivery_time=delivery_time, time_zone=time_zone,
            skip_when_empty=not send_empty, attach_csv=attach_csv, backfill=backfill), command_line_actor())
        name = added.name
    echo(f"added subscription {name!r}")


@subscriptions.command("list")
@pass_app
def list_(app: AppContext) -> None:
    """List the subscriptions with their recipients, time, last delivery and who created them; then the recent
    removals (who removed which, when)."""
    with app.db.session() as session:
        rows = session.scalars(select(Subscription).order_by(Subscription.name)).all()
        if not rows:
            echo("no subscriptions; add one with: caigou subscriptions add NAME --to ADDRESS")
        for sub in rows:
            last = last_sent(session, sub)
            when = f"last sent {last.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" if last else "never sent"
            who = ", ".join(sub.recipients) or "(feed only)"
            echo(f"{sub.name}\t{sub.delivery_time} {sub.time_zone}\t{who}\t{when}\t"
                 f"created by {sub.created_by or '(unknown)'}")
        gone = removals(session)
        if gone:
            echo("removed:")
        for event in gone:
            echo(f"  {event.name}\tremoved {event.at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} by {event.actor}")


@subscriptions.command("show")
@click.argument("name")
@click.option("--deliveries", "limit", default=10, show_default=True, help="How many recent deliveries to list.")
@pass_app
def show(app: AppContext, name: str, limit: int) -> None:
    """Show a subscription: filters, schedule, watermark and its delivery log."""
    with app.db.session() as session:
        sub = get_subscription(session, name)
        echo(f"name:        {sub.name}")
        echo(f"recipients:  {', '.join(sub.recipients) or '(none: feed only)'}")
        if sub.query:
            echo(f"query:       {sub.query}")
        echo(f"filters:     {json.dumps(sub.filters, ensure_ascii=False)}")
        echo(f"delivery:    {sub.delivery_time} {sub.time_zone}"
                   f"{'' if sub.skip_when_empty else ', also on empty days'}"
                   f"{', CSV attached' if sub.attach_csv else ''}")
        echo(f"watermark:   {sub.watermark.isoformat() if sub.watermark else '(none: backlog included)'}")
        echo(f"delivered:   {delivered_count(session, sub)} notice deliveries")
        for event in history(session, sub):
            echo(f"{event.action + ':':<12} {event.at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} by {event.actor}")
        for delivery in recent_deliveries(session, sub, limit):
            echo(f"  {delivery.attempted_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}  {delivery.status:6}  "
                       f"{delivery.recipient}  {delivery.notice_count} notices"
                       + (f"  {delivery.error}" if delivery.error else ""))


@subscriptions.command("remove")
@click.argument("name")
@pass_app
def remove(app: AppContext, name: str) -> None:
    """Remove a subscription and its delivery log (the notices and their evidence stay)."""
    with app.db.session() as session:
        remove_subscription(session, get_subscription(session, name), command_line_actor())
    echo(f"removed subscription {name!r}")


@click.command()
@click.option("--subscription", "names", multiple=True, metavar="NAME", help="Only this subscription; repeatable.")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send nothing, change nothing.")
@click.option("--feed-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write each subscription's Atom feed to DIR/NAME.atom.")
@click.option("--no-mail", is_flag=True, help="Only write the feeds (with --feed-dir).")
@pass_app
def digest(app: AppContext, names: tuple[str, ...], dry_run: bool, feed_dir: Path | None, no_mail: bool) -> None:
    """Send each subscription's digest of newly matched notices, exactly once.

    Only notices not yet delivered go out; the watermark advances only after delivery succeeded, so after an
    SMTP failure the next run delivers the backlog. SMTP settings: [smtp] in the configuration file.
    """
    if no_mail and feed_dir is None:
        raise CaigouError("--no-mail writes only the feeds: give --feed-dir DIR (or leave --no-mail out)")
    failed = 0
    if not no_mail:
        for outcome in run_digests(app.db, app.config, list(names), dry_run, echo=click.echo):
            echo(outcome.line(), err=outcome.status in {"failed", "given up", "unconfirmed"})
            failed += outcome.status == "failed"
    if feed_dir is not None:
        with app.db.session() as session:
            for path in write_feeds(session, feed_dir, configured_base_url(app.config), list(names)):
                echo(f"wrote {path}")
    if failed:
        raise CaigouError(f"{failed} digest deliver{'ies' if failed != 1 else 'y'} failed; "
                          "the watermark stays, the next run delivers the backlog")


COMMANDS = [subscriptions, digest]
