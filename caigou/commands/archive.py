"""The investigators' commands: ``caigou search``, ``caigou show``, ``caigou review``, ``caigou user`` and
``caigou serve``."""
from __future__ import annotations

import csv
import getpass
import ipaddress
import json
import os
import sys
from collections.abc import Mapping
from typing import TypedDict

import click

from caigou.context import AppContext, pass_app
from caigou.filters import NoticeFilters, filter_options
from caigou.models import REVIEW_FIRST_SCORE, REVIEW_STATUSES
from caigou.models.errors import CaigouError
from caigou.safe_text import echo, for_terminal
from caigou.search import SORTS, search


class QueryCommand(click.Command):
    """A command whose free words are a search query, where ``-医院`` excludes a word instead of being an option.

    Before click parses, every argument that is not one of the command's own options (or an option's value) goes
    behind a ``--``, in its order: so ``-word`` and ``-"phrase"`` are query text wherever they stand, and
    ``--options`` still work before, between or after the words. A mistyped ``--long-option`` stays an error.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value: dict[str, bool] = {}
        for param in self.get_params(ctx):
            if isinstance(param, click.Option):
                for name in param.opts + param.secondary_opts:
                    takes_value[name] = not (param.is_flag or param.count)
        options: list[str] = []
        words: list[str] = []
        remaining = iter(args)
        for arg in remaining:
            if arg == "--":
                words.extend(remaining)
                break
            name = arg.split("=", 1)[0]
            if name in takes_value:
                options.append(arg)
                value = next(remaining, None) if takes_value[name] and "=" not in arg else None
                if value is not None:   # a missing value is left for click to report
                    options.append(value)
            elif arg.startswith("--") and len(arg) > 2:
                options.append(arg)   # an unknown long option: click says "No such option"
            else:
                words.append(arg)
        return super().parse_args(ctx, options + (["--", *words] if words else []))


class SearchRow(TypedDict):
    """A hit as ``caigou search`` prints it (a JSON Lines line, a CSV row without the reasons, a table line)."""
    notice_id: int
    score: int
    published: str
    source: str
    type: str
    region: str
    buyer: str
    title: str
    terms: list[str]
    status: str
    reasons: list[str]


@click.command("search", cls=QueryCommand)
@click.argument("query", nargs=-1)
@filter_options(default_min_score=REVIEW_FIRST_SCORE)
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True,
              help="relevance needs a query; without one, relevance means score.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "jsonl"]), default="table", show_default=True)
@pass_app
def search_command(app: AppContext, query: tuple[str, ...], filters: NoticeFilters, sort: str, limit: int,
                   offset: int, fmt: str) -> None:
    """Search the archive: QUERY is words (公安 finds 公安厅), "exact phrases", -excluded and OR.

    Only notices scoring 50 or more ("review first") are listed unless you say --min-score 0. For CSV, XLSX
    or OCDS of a whole filtered set, use `caigou export`.

    Example: caigou search 遗传分析仪 公安 -医院 --region tibetan --since 2016-01-01
    """
    results = search(app.db, " ".join(query), filters, sort=sort, limit=limit, offset=offset,
                     facets=fmt == "table")
    rows: list[SearchRow] = [
        {"notice_id": h.notice.id, "score": h.score,
         "published": h.notice.published_at.date().isoformat() if h.notice.published_at else "",
         "source": h.notice.source.name, "type": h.notice.notice_type, "region": h.notice.region_name,
         "buyer": h.notice.buyer, "title": h.notice.title, "terms": h.terms, "status": h.status,
         "reasons": h.reasons} for h in results.hits]
    if fmt == "jsonl":
        for row in rows:
            echo(json.dumps(row, ensure_ascii=False))
        return
    if fmt == "csv":
        from caigou.export.writers import neutralise

        writer = csv.writer(sys.stdout, lineterminator="\r\n")
        columns = ["notice_id", "score", "published", "source", "type", "region", "buyer", "title", "terms",
                   "status"]
        writer.writerow(columns)

        def text(value: object) -> str:
            return for_terminal(neutralise("; ".join(value) if isinstance(value, list) else str(value)))

        for row in rows:
            cells: Mapping[str, object] = row
            writer.writerow([text(cells[c]) if c not in {"notice_id", "score"} else cells[c] for c in columns])
        return
    if results.also_searched:
        click.echo(f"also searched: {', '.join(results.also_searched)} (spellings of the same watchlist term)",
                   err=True)
    if results.suggestion:
        click.echo(f"nothing found; did you mean: caigou search {results.suggestion}", err=True)
    shown = f"{offset + 1}–{offset + len(rows)} of " if rows else ""
    floor = f", score ≥ {filters.min_score}" if filters.min_score else ""
    echo(f"{shown}{results.total} notices{floor}")
    for row in rows:
        terms = ", ".join(row["terms"][:4])
        echo(f"[{row['score']:>3}] #{row['notice_id']:<6} {row['published']:<10} {row['status']:<12} "
                   f"{row['title'][:50]}  {row['buyer'][:24]}  {terms}")
    if results.total > offset + len(rows):
        echo(f"… more with --offset {offset + len(rows)}", err=True)
    # The facets were counted for the table: a line each, as the web page's side bar (its first few values).
    for name in ("year", "region", "type", "source", "score", "review"):
        values = results.facets.get(name) or []
        if values:
            echo(f"{name}: " + " · ".join(f"{label} {count}" for _value, label, count in values[:8]))


@click.command("show")
@click.argument("notice_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="The notice as the JSON API gives it.")
@pass_app
def show(app: AppContext, notice_id: int, as_json: bool) -> None:
    """Show one notice: fields, score and reasons, matches, review history and its archived evidence."""
    from caigou.notice_view import notice_detail, notice_dict

    with app.db.session() as session:
        detail = notice_detail(session, notice_id)
        data = notice_dict(detail, app.config.get("web", "base_url", "") or "")
    if as_json:
        echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    echo(f"#{data['id']} {data['title']}\n{data['notice_type_label'] or data['notice_type']} · "
               f"{data['source']} {data['source_key']} · {data['published_at'] or 'date unknown'}\n{data['url']}")
    for label in ("buyer", "agency", "region_name", "project_code", "budget_cny", "award_cny"):
        if data[label]:
            echo(f"  {label}: {data[label]}")
    for supplier in data["suppliers"]:
        echo(f"  supplier: {supplier['name']} {supplier['lot']} {supplier['amount_cny'] or ''}".rstrip())
    echo(f"score {data['score']}" + "".join(f"\n  - {reason}" for reason in data["reasons"]))
    with app.db.session() as session:  # what re-matches changed (pipelines/matching/store.py)
        from caigou.pipelines.matching.store import changes_since, describe_change
        for change in changes_since(session, notice_id=notice_id):
            echo(f"  rematch: {describe_change(change)}")
    for match in data["matches"]:
        echo(f"  match {match['term']} ({match['tier']}, {match['field']}): {match['snippet']}")
    echo(f"review status: {data['review_status']}")
    for review in data["reviews"]:
        echo(f"  {review['created_at']} {review['reviewer']}: {review['status']} {review['note']}".rstrip())
    for page in data["archived_pages"]:
        echo(f"  evidence: page {page['id']} v{page['version']} {page['fetched_at']} sha256 {page['sha256']}")


@click.command("review")
@click.argument("notice_ids", metavar="NOTICE_ID...", nargs=-1, required=True, type=int)
@click.option("--status", type=click.Choice(REVIEW_STATUSES), help="Your judgement; without it, show the history.")
@click.option("--note", default="", help="Why: what you checked, what you found.")
@click.option("--tag", "tags", multiple=True, help="A tag; repeatable.")
@click.option("--reviewer", envvar="CAIGOU_REVIEWER", help="Your name (default: $CAIGOU_REVIEWER, then your login).")
@pass_app
def review(app: AppContext, notice_ids: tuple[int, ...], status: str | None, note: str, tags: tuple[str, ...],
           reviewer: str | None) -> None:
    """Record a judgement on one or several notices (added to each one's history; the evidence is never changed),
    or show their history.

    \b
    Example: caigou review 7 9 10 --status relevant --note "police DNA lab"
    Several notices are judged together or not at all: an unknown ID changes nothing.
    """
    from caigou.review import ReviewInput, add_review, history, parse_tags

    with app.db.session() as session:
        if status is not None:
            name = reviewer or app.config.get("review", "reviewer", "") or getpass.getuser()
            judgement = ReviewInput(status, note, parse_tags(list(tags)))
            added = [add_review(session, notice_id, name, judgement) for notice_id in dict.fromkeys(notice_ids)]
            session.flush()
            for item in added:
                echo(f"notice #{item.notice_id}: {item.status} by {item.reviewer} at "
                           f"{item.created_at.isoformat()}")
            return
        if note or tags:
            raise CaigouError("give --status with --note or --tag")
        for notice_id in notice_ids:
            reviews = history(session, notice_id)
            if not reviews:
                from caigou.models import Notice
                from caigou.review import ReviewError
                if session.get(Notice, notice_id) is None:
                    raise ReviewError(f"no notice with ID {notice_id}")
                echo(f"notice #{notice_id}: not reviewed yet (status new)")
            for item in reviews:
                tags_text = f" [{', '.join(item.tags)}]" if item.tags else ""
                prefix = f"#{notice_id} " if len(notice_ids) > 1 else ""
                echo(f"{prefix}{item.created_at.isoformat()} {item.reviewer}: {item.status}{tags_text} "
                           f"{item.note}".rstrip())


@click.group("user")
def user() -> None:
    """Reviewers' accounts for the web interface."""


def _password(prompt: bool, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if os.environ.get("CAIGOU_NEW_PASSWORD"):
        return os.environ["CAIGOU_NEW_PASSWORD"]
    if not prompt:
        raise CaigouError("no password: give it at the prompt, with --password-stdin or $CAIGOU_NEW_PASSWORD")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@user.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@pass_app
def user_add(app: AppContext, name: str, password_stdin: bool) -> None:
    """Add a reviewer NAME (asks for the password; at least 10 characters; stored as an Argon2id hash)."""
    from caigou.accounts import add_user

    password = _password(sys.stdin.isatty(), password_stdin)
    with app.db.session() as session:
        add_user(session, name, password)
    echo(f"added user {name}")


@user.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@pass_app
def user_password(app: AppContext, name: str, password_stdin: bool) -> None:
    """Change NAME's password."""
    from caigou.accounts import set_password

    password = _password(sys.stdin.isatty(), password_stdin)
    with app.db.session() as session:
        set_password(session, name, password)
    echo(f"changed the password of {name}")


@user.command("disable")
@click.argument("name")
@pass_app
def user_disable(app: AppContext, name: str) -> None:
    """Stop NAME from logging in (their reviews stay in the history)."""
    from caigou.accounts import set_active

    with app.db.session() as session:
        set_active(session, name, False)
    echo(f"disabled {name}")


@user.command("list")
@pass_app
def user_list(app: AppContext) -> None:
    """List the reviewers."""
    from sqlalchemy import select

    from caigou.models import User

    with app.db.session() as session:
        for account in session.scalars(select(User).order_by(User.name)):
            echo(f"{account.name}{'' if account.active else ' (disabled)'}  since "
                       f"{account.created_at.date().isoformat()}")


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1, or [web] host).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 8000, or [web] port).")
@click.option("--anonymous-read/--no-anonymous-read", default=None,
              help="Let visitors who are not logged in search and read (never review). Default: [web] "
                   "anonymous_read, off.")
@pass_app
def serve(app: AppContext, host: str | None, port: int | None, anonymous_read: bool | None) -> None:
    """Serve the web interface and JSON API (OpenAPI description at /openapi.json)."""
    import uvicorn

    from caigou.web.app import create_app
    from caigou.web.security import WebSettings

    host = host or str(app.config.get("web", "host", "127.0.0.1"))
    port = port or int(app.config.get("web", "port", 8000))
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        echo(f"caigou: warning: listening on {host}, reachable from other machines; serve it behind HTTPS "
                   "and set [web] secure_cookies = true", err=True)
    settings = WebSettings.from_config(app.config, anonymous_read)
    application = create_app(app.db, settings)
    echo(f"caigou: serving {app.db.display_url} on http://{host}:{port}/ "
               f"({'anonymous reading on' if settings.anonymous_read else 'log in to read'})", err=True)
    uvicorn.run(application, host=host, port=port, log_level="warning", proxy_headers=False)


COMMANDS = [search_command, show, review, user, serve]
