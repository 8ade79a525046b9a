"""``caigou watchlist``, ``caigou match`` and ``caigou rematch``: the watchlist and what it catches."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO

import click
from sqlalchemy import func, select

from caigou.context import AppContext, pass_app
from caigou.safe_text import echo
from models import Notice
from models.errors import CaigouError
from pipelines.matching.scoring import MatchInput, Scorer
from pipelines.matching.store import changes_since, describe_change
from pipelines.matching.store import rematch as rematch_archive
from pipelines.matching.watchlist import check_tokens, configured_paths, load_watchlist, parse_watchlist


def _paths(app: AppContext, file: str | None) -> list[Path]:
    if file:
        return [Path(file)]
    return configured_paths(app.config.get("watchlist", "path"), app.config.get("watchlist", "extra"))


@click.group()
def watchlist() -> None:
    """Show or check the watchlist of DNA and biometric terms."""


@watchlist.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--alone", is_flag=True, help="FILE is a whole watchlist (for `[watchlist] path`), not an extension.")
@pass_app
def check(app: AppContext, file: str | None, alone: bool) -> None:
    """Validate FILE (default: the configured watchlist): duplicates and spellings claimed twice (terms and
    negatives), unknown categories, bare numbers, single characters, common words, spellings jieba does not cut
    out whole. FILE is checked as an extension of the configured watchlist, so a clash with it is found, unless
    --alone. Prints FILE:LINE: problem, one a line."""
    paths = _paths(app, None)
    if file:
        # FILE beside the configured base and extensions (once), so a clash with any of them is found.
        paths = [Path(file)] if alone or _same_file(Path(file), paths[0]) else [
            *(p for p in paths if not _same_file(p, Path(file))), Path(file)]
    parsed, problems = parse_watchlist(paths)
    # Token problems come with the others: a file with a clash can have a dead spelling too.
    problems += check_tokens(parsed)
    if file and not alone:  # the base is not what is being checked: only FILE's own lines
        problems = [p for p in problems if _same_file(Path(p.path), Path(file))]
    for problem in sorted(problems, key=lambda p: (p.path, p.line)):
        click.echo(str(problem))
    if problems:
        raise SystemExit(1)
    click.echo(f"{', '.join(map(str, paths))}: {len(parsed.terms)} terms, {len(parsed.negatives)} negatives, "
               f"version {parsed.version}: no problems")


def _same_file(one: Path, other: Path) -> bool:
    try:
        return one.resolve() == other.resolve()
    except OSError:
        return False


@watchlist.command()
@click.option("--category", help="Only this category.")
@pass_app
def show(app: AppContext, category: str | None) -> None:
    """List the terms: tier, category, term, aliases."""
    listed = load_watchlist(tuple(_paths(app, None)))
    for term in listed.terms:
        if category and term.category != category:
            continue
        beside = (f"; only beside {'/'.join(term.context)}: {' · '.join(term.context_only)}"
                  if term.context_only else "")
        click.echo(f"{term.tier:<7} {term.category:<18} {term.term}  ({' · '.join(term.aliases)}{beside})")
    click.echo(f"version {listed.version}; {len(listed.negatives)} negative markers; forensic markers: "
               f"{', '.join(listed.forensic_markers)}")


@click.command()
@click.option("--input", "source", type=click.File("r", encoding="utf-8"), default="-", show_default=True,
              help='JSON lines {"id", "title", "buyer"?, "text"?}; - for standard input.')
@click.option("--output", type=click.File("w", encoding="utf-8"), default="-", show_default=True)
@click.option("--watchlist", "file", type=click.Path(dir_okay=False), help="A watchlist file to try.")
@pass_app
def match(app: AppContext, source: IO[str], output: IO[str], file: str | None) -> None:
    """Match JSON lines against the watchlist, without a database: one line out per line in, in order,
    {"id", "score", "matches": [...], "reasons": [...], "capacity": {...}} (capacity: reactions, cards, instruments,
    amount_cny, where the text says them). A line that is not JSON gets {"id": null, "error"}."""
    scorer = Scorer(load_watchlist(tuple(_paths(app, file))))
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            output.write(json.dumps({"id": None, "line": number, "error": f"not a JSON object: {exc}"},
                                    ensure_ascii=False) + "\n")
            continue
        result = scorer.score(MatchInput(title=str(record.get("title") or ""), buyer=str(record.get("buyer") or ""),
                                         body=str(record.get("text") or "")))
        output.write(json.dumps({"id": record.get("id"), "score": result.score,
                                 "matches": [m.as_json() for m in result.matches], "reasons": result.reasons,
                                 "capacity": result.capacity},
                                ensure_ascii=False) + "\n")
        output.flush()


@click.command()
@click.option("--batch", default=500, show_default=True, help="Notices per transaction.")
@click.option("--report", is_flag=True, help="Then list each notice whose score or matched state changed.")
@pass_app
def rematch(app: AppContext, batch: int, report: bool) -> None:
    """Re-score the whole archive against the current watchlist (after editing it). Each change (old and new
    score and watchlist version, newly matched, no longer matching, crossed 50) is kept; `caigou show ID` lists a
    notice's."""
    scorer = Scorer(load_watchlist(tuple(_paths(app, None))))
    with app.db.session() as session:
        total = session.scalar(select(func.count(Notice.id))) or 0
    if total == 0:
        raise CaigouError("the archive is empty: nothing to re-match")
    with click.progressbar(length=total, label="re-matching", file=sys.stderr) as bar:
        counts = rematch_archive(app.db, scorer, batch, progress=bar.update)
    click.echo(f"re-matched {counts.notices} notices with watchlist {scorer.watchlist.version}: "
               f"{counts.newly_matched} newly matched, {counts.no_longer_matching} no longer match, "
               f"{counts.review_first} score 50+ (review first), {counts.now_review_first} of them newly")
    if report and counts.started is not None:
        with app.db.session() as session:
            for change in changes_since(session, counts.started):
                echo(describe_change(change))


COMMANDS = [watchlist, match, rematch]
