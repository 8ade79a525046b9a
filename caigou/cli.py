"""The ``caigou`` command. Each feature's commands live in ``caigou/commands/<feature>.py`` and are added here.

Expected failures (a bad date, an unknown source, an unreachable database) are ``CaigouError`` and print as one
line on stderr with exit status 2; only a bug prints a traceback.
"""
from __future__ import annotations

import importlib
import sys
from functools import cache

import click

from caigou import __version__
from caigou.context import AppContext
from caigou.models.errors import CaigouError
from caigou.safe_text import for_terminal


class CaigouGroup(click.Group):
    """The commands, registered on first need. ``caigou match`` (like every command in ALONE) imports only its own
    module: a filter in a shell pipeline should start fast, not load the crawler (Scrapy) and the web interface
    first, nor a digest or a scheduler the crawler, nor a crawl the web interface and the reports."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name in ALONE:
            module = importlib.import_module(f"caigou.commands.{ALONE[cmd_name]}")
            for command in module.COMMANDS:
                self.add_command(command)
            return self.commands.get(cmd_name)
        _register()
        return self.commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        _register()
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except CaigouError as exc:
            click.echo(f"caigou: error: {for_terminal(str(exc))}", err=True)  # it may quote stored text
            ctx.exit(2)


@click.group(cls=CaigouGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="CAIGOU_CONFIG",
              help="TOML configuration file (default: ./caigou.toml or ~/.config/caigou/caigou.toml).")
@click.option("--db", "database_url", metavar="URL",
              help="SQLAlchemy database URL (default: $CAIGOU_DATABASE_URL, the config file, "
                   "or SQLite in ~/.local/share/caigou/caigou.db).")
@click.version_option(__version__, prog_name="caigou")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, database_url: str | None) -> None:
    """Watch Chinese government procurement notices for DNA and biometric surveillance purchases."""
    try:
        ctx.obj = AppContext.create(config_path, database_url)
        ctx.call_on_close(ctx.obj.close)  # connections released when the command ends, not left to the interpreter
    except CaigouError as exc:
        click.echo(f"caigou: error: {exc}", err=True)
        ctx.exit(2)


# Commands found without registering the others: name → its module in caigou.commands (an export of a million
# rows, or a filter in a pipeline, need not wait for the crawler and the web interface to load). A command missing
# here still works: it registers them all.
ALONE = {
    "match": "matching", "watchlist": "matching", "rematch": "matching",
    "export": "export", "import": "export",
    "crawl": "crawl", "worker": "crawl",
    "attachments": "attachments", "db": "db", "demo": "demo", "sources": "sources", "screen": "screen",
    "judgements": "judgements",
    "search": "archive", "show": "archive", "review": "archive", "user": "archive", "serve": "archive",
    "digest": "digests", "subscriptions": "digests",
    "schedule": "schedule", "status": "schedule", "health": "schedule",
    "report": "report", "org": "report",
}


@cache
def _register() -> None:
    from caigou.commands import (
        archive,
        attachments,
        crawl,
        db,
        demo,
        digests,
        export,
        judgements,
        matching,
        report,
        schedule,
        screen,
        sources,
    )

    for module in (db, crawl, attachments, sources, demo, matching, archive, judgements, export, digests, schedule,
                   report, screen):
        for command in module.COMMANDS:
            cli.add_command(command)


def main() -> None:
    sys.exit(cli.main(prog_name="caigou", standalone_mode=True))
