"""``caigou screen``: flag buyers and suppliers that appear on a screening list."""
from __future__ import annotations

from pathlib import Path

import click

from caigou.context import AppContext, pass_app


@click.command()
@click.option("--list", "list_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="FollowTheMoney entities as JSON lines (as OpenSanctions publishes them) or a "
                                   "CSV with a name column and optional aliases (; or | between) and id columns.")
@click.option("--name", "list_name", metavar="NAME", help="The list's name as flags show it (default: the file's).")
@pass_app
def screen(app: AppContext, list_file: Path, list_name: str | None) -> None:
    """Flag the buyers and suppliers whose names or aliases are on a list (Chinese or English, by the
    organisations' own name rules, or as close by rapidfuzz). Flags show on dossiers and entity pages; screening
    the same list again replaces its flags."""
    from caigou.reports.screening import read_list
    from caigou.reports.screening import screen as screen_list

    entries = read_list(list_file)
    name = list_name or list_file.name
    with app.db.session() as session:
        flags = screen_list(session, entries, name)
        for flag in flags:
            click.echo(f"{flag.kind} {flag.organisation_key}: on {name} as {flag.entry_name} "
                       f"[{flag.entry_id}] ({flag.matched})")
    click.echo(f"screened {len(entries)} entries of {name}: {len(flags)} organisations flagged", err=True)


COMMANDS = [screen]
