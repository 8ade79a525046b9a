"""``caigou watchlist``, ``caigou match`` and ``caigou rematch``: the watchlist and what it catches."""
from __future__ import annotations

import json
import sys
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import IO

import click

from caigou.context import AppContext, pass_app
from caigou.models.errors import CaigouError
from caigou.pipelines.jsonlines import json_lines
from caigou.pipelines.matching.checks import check_tokens
from caigou.pipelines.matching.scoring import MatchInput, Scorer
from caigou.pipelines.matching.watchlist import configured_paths, load_watchlist, parse_watchlist
from caigou.safe_text import echo


def _paths(app: AppContext, file: str | None) -> list[Traversable]:
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


def _same_file(one: Traversable, other: Traversable) -> bool:
    if not (isinstance(one, Path) and isinstance(other, Path)):
        return one == other  # the shipped watchlist inside a zip (a Scrapyd egg): no file to resolve
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
               f"{', '.join(listed.forensic_markers)}; general words (in a police or judicial context only): "
               f"{', '.join(listed.general_words)}")


@watchlist.command("eval")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option("--split", help="Only examples of this split (e.g. dev or holdout).")
@click.option("--watchlist", "watchlist_file", type=click.Path(dir_okay=False), help="A watchlist file to try.")
@pass_app
def eval_(app: AppContext, file: str, split: str | None, watchlist_file: str | None) -> None:
    """Score labelled notices and print recall and precision at 50, per label and per watchlist category, then
    every miss and every false positive with its reasons. FILE is JSON lines: {"id", "title", "text"?, "buyer"?,
    "label": core|related|irrelevant, "category"?, "split"?}. tests/data/README.md describes the shipped set."""
    from caigou.pipelines.matching.evaluate import evaluate, read_examples

    with open(file, "rb") as handle:
        examples = read_examples(handle)
    if split:
        examples = [e for e in examples if e.split == split]
        if not examples:
            raise CaigouError(f"no example of split {split!r} in {file}")
    scorer = Scorer(load_watchlist(tuple(_paths(app, watchlist_file))))
    with click.progressbar(examples, label="scoring", file=sys.stderr) as bar:
        evaluation = evaluate(scorer, bar)
    for line in evaluation.report():
        click.echo(line)


@click.command()
@click.option("--input", "source", type=click.File("rb"), default="-", show_default=True,
              help='JSON lines {"id", "title", "buyer"?, "text"?} in UTF-8; - for standard input.')
@click.option("--output", type=click.File("w", encoding="utf-8"), default="-", show_default=True)
@click.option("--watchlist", "file", type=click.Path(dir_okay=False), help="A watchlist file to try.")
@click.option("--strict", is_flag=True, help="Stop at the first bad line (by default it is reported and skipped).")
@pass_app
def match(app: AppContext, source: IO[bytes], output: IO[str], file: str | None, strict: bool) -> None:
    """Match JSON lines against the watchlist, without a database: one line out per good line in, in order,
    {"id", "score", "matches": [...], "reasons": [...], "capacity": {...}} (capacity: reactions, cards, instruments,
    amount_cny, where the text says them). A bad line (not UTF-8, not a JSON object, nested too deeply) is named on
    stderr, `caigou: error: line N: ...`, and skipped; the exit status is then 2. jieba and its dictionary load only
    when a line has a candidate term."""
    scorer = Scorer(load_watchlist(tuple(_paths(app, file))))
    bad = 0
    for line in json_lines(source):
        record = line.record
        if record is None:
            if strict:
                raise CaigouError(f"line {line.number}: {line.error}")
            click.echo(f"caigou: error: line {line.number}: {line.error}", err=True)
            bad += 1
            continue
        result = scorer.score(MatchInput(title=_text(record.get("title")), buyer=_text(record.get("buyer")),
                                         body=_text(record.get("text"))))
        output.write(json.dumps({"id": record.get("id"), "score": result.score,
                                 "matches": [m.as_json() for m in result.matches], "reasons": result.reasons,
                                 "capacity": result.capacity},
                                ensure_ascii=False) + "\n")
        output.flush()
    if bad:
        raise CaigouError(f"{bad} bad line{'s' if bad > 1 else ''} skipped (named above)")


def _text(value: object) -> str:
    """A field as text: a string as it is; nothing as empty; anything else (a number, a list) as its JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@click.command()
@click.option("--batch", default=500, show_default=True, help="Notices per transaction.")
@click.option("--report", is_flag=True, help="Then list each notice whose score or matched state changed.")
@pass_app
def rematch(app: AppContext, batch: int, report: bool) -> None:
    """Re-score the whole archive against the current watchlist (after editing it). Each change (old and new
    score and watchlist version, newly matched, no longer matching, crossed 50) is kept; `caigou show ID` lists a
    notice's."""
    # Here, not at the top: `caigou match` shares this module and starts without SQLAlchemy.
    from sqlalchemy import func, select

    from caigou.models import Notice
    from caigou.pipelines.matching.store import changes_since, describe_change
    from caigou.pipelines.matching.store import rematch as rematch_archive

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
