"""``caigou attachments``: download, read and list notices' attachments (equipment lists, tender documents)."""
from __future__ import annotations

from collections import defaultdict

import click
from sqlalchemy import select

from caigou.commands.crawl import settings_overrides
from caigou.context import AppContext, pass_app
from caigou.models import Attachment, Notice
from caigou.models.errors import CaigouError
from caigou.pipelines.store import NoticeStore
from caigou.safe_text import echo


@click.group()
def attachments() -> None:
    """Notices' attachments: a distributor usually wins, so the maker and model often appear only there."""


@attachments.command()
@click.option("--all", "everything", is_flag=True,
              help="Attachments of every notice, not only of those matching the watchlist.")
@click.option("--notice", "notice_id", type=int, metavar="ID", help="Only this notice's attachments (any match).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="A Scrapy setting, as scrapy -s.")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log.")
@pass_app
def fetch(app: AppContext, everything: bool, notice_id: int | None, settings: tuple[str, ...],
          verbose: bool) -> None:
    """Download attachments of notices already in the archive, extract their text and re-score the notices.

    Only attachments not downloaded yet are fetched (and those whose download failed or was blocked); each is
    archived with its SHA-256 like a page. A small crawl runs through the same polite Scrapy engine.

    \b
    Examples:
      caigou attachments fetch                 # matched notices' attachments
      caigou attachments fetch --all
      caigou attachments fetch --notice 42
    """
    store = NoticeStore(app.db)
    if notice_id is not None:
        with app.db.session() as session:
            if session.get(Notice, notice_id) is None:
                raise CaigouError(f"no notice {notice_id}")
    mode = "all" if everything or notice_id is not None else "matched"
    pending = store.attachments_to_fetch(mode, notice_id=notice_id)
    if not pending:
        echo("nothing to download: every attachment " + ("of that notice " if notice_id else "")
                   + "is downloaded already" + ("" if mode == "all" else " (of matched notices; --all for every)"))
        return
    by_source: dict[str, list[tuple[str, list[int]]]] = defaultdict(list)
    for download in pending:
        by_source[download.source].append((download.url, download.attachment_ids))
    overrides = settings_overrides(settings)
    user_agent = app.config.get("crawl", "user_agent")
    if user_agent:
        overrides.setdefault("USER_AGENT", user_agent)
    echo(f"downloading {len(pending)} attachment(s)", err=True)
    from caigou.crawling import run_attachment_fetch  # Scrapy and Twisted only for the commands that crawl

    summaries = run_attachment_fetch(dict(by_source), app.database_url, overrides, verbose)
    failed = False
    for summary in summaries:
        counts = summary.counts
        echo(f"{summary.source}: {summary.status} — {counts['attachments']} attachments downloaded, "
                   f"{counts['attachments_failed']} failed, {counts['blocked']} blocked (run {summary.run_id})"
                   + (f"\n{summary.message}" if summary.message else ""))
        failed |= summary.status != "succeeded"
    if failed:
        raise SystemExit(1)


@attachments.command(name="list")
@click.option("--notice", "notice_id", type=int, metavar="ID", help="Only this notice's attachments.")
@click.option("--status", help="Only attachments with this download or extraction status (ok, too_large, …).")
@click.option("--limit", type=int, default=50, show_default=True)
@pass_app
def list_attachments(app: AppContext, notice_id: int | None, status: str | None, limit: int) -> None:
    """List attachments: notice, name, download and extraction status, type, size, SHA-256."""
    with app.db.session() as session:
        query = select(Attachment).order_by(Attachment.notice_id, Attachment.position).limit(limit)
        if notice_id is not None:
            query = query.where(Attachment.notice_id == notice_id)
        if status:
            query = query.where((Attachment.download_status == status) | (Attachment.extraction_status == status))
        rows = session.scalars(query).all()
        for row in rows:
            state = row.download_status or "not downloaded"
            if row.extraction_status:
                state += f"/{row.extraction_status}"
            details = [row.content_type, f"{row.size} bytes" if row.size is not None else "",
                       f"{len(row.text)} chars" if row.text else "", row.raw_sha256[:12], row.message]
            echo(f"{row.notice_id}\t{row.name or row.url}\t{state}\t" + "\t".join(d for d in details if d))
        if not rows:
            echo("no attachments")


COMMANDS = [attachments]
