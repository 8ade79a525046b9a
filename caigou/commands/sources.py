"""``caigou sources``: every portal caigou can crawl, what it covers and its caveats, and its last run."""
from __future__ import annotations

import inspect
import re
import textwrap
from dataclasses import dataclass, field

import click
from sqlalchemy import select

from caigou.context import AppContext, pass_app
from caigou.crawler.project import known_sources, spider_class
from caigou.models import CrawlRun, Source
from caigou.models.types import SHANGHAI

SECTIONS = ("Domain", "Ways in", "Regions", "Caveats")


@dataclass
class SourceDescription:
    name: str
    home_url: str
    summary: str
    sections: dict[str, str] = field(default_factory=dict)
    provinces: tuple[str, ...] = ()


def describe(name: str) -> SourceDescription:
    """A spider as its class describes itself: the docstring's first line and its **Section**: paragraphs."""
    cls = spider_class(name)
    doc = inspect.cleandoc(cls.__doc__ or "")
    summary, _, rest = doc.partition("\n")
    sections: dict[str, str] = {}
    parts = re.split(r"\*\*([A-Za-z ]+)\*\*:", rest)
    for title, text in zip(parts[1::2], parts[2::2], strict=False):
        sections[title.strip()] = text.strip()
    home = getattr(cls, "home_url", "") or ", ".join(getattr(cls, "allowed_domains", []))
    return SourceDescription(name, home, summary.strip(), sections, tuple(getattr(cls, "covered_provinces", ())))


def last_runs(app: AppContext) -> dict[str, CrawlRun]:
    with app.db.session() as session:
        runs: dict[str, CrawlRun] = {}
        for source in session.scalars(select(Source)):
            run = session.scalars(select(CrawlRun).where(CrawlRun.source_id == source.id)
                                  .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc()).limit(1)).first()
            if run is not None:
                session.expunge(run)
                runs[source.name] = run
        return runs


def run_line(run: CrawlRun | None) -> str:
    if run is None:
        return "never crawled"
    counts = run.counts or {}
    line = (f"{run.started_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} {run.status} — {counts.get('pages', 0)} pages, "
            f"{counts.get('new', 0)} new, {counts.get('blocked', 0)} blocked, {counts.get('errors', 0)} errors")
    message = (run.message or "").strip().splitlines()
    return line + (f" ({message[0]})" if message else "")


def _paragraph(text: str, indent: str) -> str:
    """A docstring section as wrapped text, its bullet lists kept as lists."""
    blocks = re.split(r"\n\s*\n|\n(?=\s*\* )", text.replace("``", ""))
    lines = []
    for block in blocks:
        block = " ".join(block.split())
        if not block:
            continue
        bullet = block.startswith("* ")
        lines.append(textwrap.fill(block, width=100, initial_indent=indent,
                                   subsequent_indent=indent + ("  " if bullet else "")))
    return "\n".join(lines)


@click.command()
@click.option("--brief", is_flag=True, help="One line a source: name, site, what it is, last run.")
@pass_app
def sources(app: AppContext, brief: bool) -> None:
    """List the portals caigou crawls: site, ways in, regions, caveats (from the spiders), and each one's last
    run in the database.

    \b
    Examples:
      caigou sources
      caigou sources --brief
    """
    runs = last_runs(app)
    for name in known_sources():
        source = describe(name)
        if brief:
            click.echo(f"{name:<8} {source.home_url:<34} {source.summary} [{run_line(runs.get(name))}]")
            continue
        click.echo(f"{name} — {source.home_url}")
        click.echo(f"  {source.summary}")
        for title in SECTIONS:
            if source.sections.get(title):
                click.echo(f"  {title}:")
                click.echo(_paragraph(source.sections[title], "    "))
        click.echo(f"  Last run: {run_line(runs.get(name))}")
        click.echo("")


COMMANDS = [sources]
