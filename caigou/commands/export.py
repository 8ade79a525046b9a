"""``caigou export`` and ``caigou import``."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

import click
from click.core import ParameterSource

from caigou.context import AppContext, pass_app
from caigou.export.importing import check_file, import_file
from caigou.export.rows import COLUMNS, COMPACT_COLUMNS, MATCH_COLUMNS, Selection
from caigou.export.writers import write_csv, write_jsonl, write_ocds, write_xlsx
from caigou.filters import NoticeFilters, filter_options
from caigou.models.errors import CaigouError

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar  # what click.progressbar returns; click exports no name for it

_T = TypeVar("_T")
PROGRESS_FROM = 10_000  # rows: larger exports show progress on stderr


@click.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl", "ocds", "ftm"]), default="csv",
              show_default=True)
@click.option("--per", type=click.Choice(["notice", "match"]), default="notice", show_default=True,
              help="One row per notice, or one per watchlist match (CSV, XLSX, JSONL).")
@click.option("-o", "--output", default="-", show_default=True, help="File to write; - for standard output.")
@click.option("--encoding", type=click.Choice(["utf-8-sig", "utf-8"]), default="utf-8-sig", show_default=True,
              help="CSV encoding: with a byte-order mark (Excel reads Chinese right) or plain UTF-8 for tools.")
@click.option("--columns", "column_set", type=click.Choice(["compact", "all"]), default="compact",
              show_default=True,
              help="CSV/XLSX: compact (title, buyer, region, date, amounts, score, terms, review status, URL) or "
                   "all (what `caigou import` reads back). JSON Lines and OCDS always have everything.")
@click.option("--public", is_flag=True,
              help="Write a SQLite copy to publish (e.g. with Datasette): notices, matches, suppliers, attachments, "
                   "organisations, review status and tags; no accounts, subscriptions, recipients, feed tokens or "
                   "logs. Needs -o FILE.db (a new file).")
@click.option("--with-reviewers", is_flag=True,
              help="With --public: keep the reviewers' names and notes on the reviews (left out by default).")
@filter_options()
@pass_app
def export(app: AppContext, fmt: str, per: str, output: str, encoding: str, column_set: str, public: bool,
           with_reviewers: bool, filters: NoticeFilters) -> None:
    """Export the archive, or a filtered part of it, streamed (memory stays flat).

    Columns are documented in docs/export.md. CSV cells a spreadsheet would run as formulas (starting with
    = + - @ tab or carriage return) get a leading apostrophe.
    """
    if public:
        context = click.get_current_context()
        given = [option for option, name in (("--format", "fmt"), ("--per", "per"), ("--encoding", "encoding"),
                                             ("--columns", "column_set"))
                 if context.get_parameter_source(name) is ParameterSource.COMMANDLINE]
        if given:
            raise CaigouError(f"--public writes a SQLite file: leave out {', '.join(given)}")
        _export_public(app, output, with_reviewers, filters)
        return
    if with_reviewers:
        raise CaigouError("--with-reviewers goes with --public")
    if fmt in ("ocds", "ftm") and per == "match":
        raise CaigouError(f"{fmt.upper()} has no place for watchlist matches: use --per notice")
    if fmt == "xlsx" and output == "-":
        raise CaigouError("XLSX is a binary file: give -o FILE.xlsx")
    if output != "-":
        check_writable(output)
    selection = Selection(filters)
    total = selection.count(app.db)
    columns = (MATCH_COLUMNS if per == "match" else
               COMPACT_COLUMNS if column_set == "compact" and fmt in {"csv", "xlsx"} else COLUMNS)
    with ExitStack() as stack:
        # CSV/XLSX write only ``columns``: the rest is not read (JSON Lines and OCDS write everything)
        rows = selection.rows(app.db, per, columns if fmt in {"csv", "xlsx"} else None)
        if total >= PROGRESS_FROM and per == "notice":
            bar = stack.enter_context(click.progressbar(length=total, label="exporting", file=sys.stderr))
            rows = _counting(rows, bar)
        if fmt == "xlsx":
            try:
                count = write_xlsx(rows, columns, output)
            except OSError as exc:  # the file is written at the end: a full disk, a folder removed meanwhile
                raise CaigouError(f"cannot write {output}: {exc.strerror or exc}") from exc
        else:
            try:
                out: IO[str] = (sys.stdout if output == "-" else
                                stack.enter_context(open(output, "w", newline="",
                                                         encoding=encoding if fmt == "csv" else "utf-8")))
            except OSError as exc:
                raise CaigouError(f"cannot write {output}: {exc.strerror or exc}") from exc
            if output == "-" and fmt == "csv" and encoding == "utf-8-sig":
                out.write("\ufeff")
            if fmt == "csv":
                count = write_csv(rows, columns, out)
            elif fmt == "jsonl":
                count = write_jsonl(rows, columns, out)
            elif fmt == "ftm":  # FollowTheMoney entities (caigou/export/ftm.py), for Aleph and OpenSanctions' tools
                from caigou.export.ftm import write_ftm

                count = write_ftm(app.db, selection, out)
            else:
                count = write_ocds(rows, out, app.config.get("export", "ocid_prefix", "ocds-caigou-"))
    if output != "-":
        click.echo(f"wrote {count} {({'ocds': 'releases', 'ftm': 'entities'}).get(fmt, 'rows')} to {output}", err=True)


def _export_public(app: AppContext, output: str, with_reviewers: bool, filters: NoticeFilters) -> None:
    """``--public``: the SQLite copy (caigou/export/public.py), with progress on larger archives."""
    from caigou.export.public import check_target, write_public

    check_target(output)
    selection = Selection(filters)
    total = selection.count(app.db)  # a filter typo is one error line here, before any file is made
    with ExitStack() as stack:
        bar = (stack.enter_context(click.progressbar(length=total, label="exporting", file=sys.stderr))
               if total >= PROGRESS_FROM else None)
        count = write_public(app.db, selection, output, with_reviewers, progress=bar.update if bar else None)
    click.echo(f"wrote {count} notices to {output} (public: no accounts, subscriptions or logs"
               f"{'' if with_reviewers else ', no reviewer names or notes'})", err=True)


def check_writable(output: str) -> None:
    """Before the export runs (an XLSX is only written at the end): a missing or read-only folder is one line."""
    target = Path(output).expanduser()
    folder = target.parent
    if target.is_dir():
        raise CaigouError(f"cannot write {output}: it is a folder")
    if not folder.is_dir():
        raise CaigouError(f"cannot write {output}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise CaigouError(f"cannot write {output}: permission denied")


def _counting(rows: Iterable[_T], bar: ProgressBar[int]) -> Iterator[_T]:
    for row in rows:
        bar.update(1)
        yield row


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@pass_app
def import_(app: AppContext, file: Path) -> None:
    """Import FILE (.jsonl or .csv as written by caigou export): a colleague's archive, or yours moved to
    another database. Notices already stored (same source and ID) are updated only if they differ.

    The whole file is checked first: a malformed line is one error, "line N: what is wrong", and nothing is
    imported. UTF-8 (with or without a byte-order mark) and UTF-16 with a byte-order mark are read."""
    check_file(file)  # a bad line is one error line, before any progress is shown
    with click.progressbar(length=0, label="importing", file=sys.stderr) as bar:
        counts = import_file(app.db, file, progress=bar.update, checked=True)
    click.echo(f"imported {file}: {counts['new']} new, {counts['updated']} updated, "
               f"{counts['unchanged']} unchanged")


COMMANDS = [export, import_]
