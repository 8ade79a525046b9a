"""``caigou demo``: the whole pipeline on sample pages, without the internet."""
from __future__ import annotations

import os
from pathlib import Path

import click

from caigou.context import AppContext, pass_app
from caigou.crawling import run_crawl
from caigou.demo_data.build import KEYWORDS
from caigou.models.db import Database
from caigou.replay import serving

DEMO_DATA = Path(__file__).resolve().parent.parent / "demo_data" / "ccgp"
# The sample search pages answer these keywords over June 2024 (see demo_data/build.py).
DEMO_ARGUMENTS = {"since": "2024-06-01", "until": "2024-06-30", "keyword": list(KEYWORDS)}
# Attachments of matched notices are downloaded as in a real crawl: the sample tender's equipment list lives on the
# real https download host, which the local server answers too (it is the proxy for http and https alike).
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CAIGOU_BLOCK_BACKOFF": 0.2,
        "CAIGOU_PROGRESS_INTERVAL": 0}


@click.command()
@click.option("--demo-db", type=click.Path(dir_okay=False, path_type=Path),
              help="Where the demo's own database goes (default: demo.db in the data folder). "
                   "It is recreated on every run; your archive is never touched.")
@pass_app
def demo(app: AppContext, demo_db: Path | None) -> None:
    """Crawl sample pages in ccgp.gov.cn's structure from a local server, through the real spider and the real
    Scrapy engine, into a database of the demo's own, and show what was found.

    The pages are sample data written for this demo (not real notices); nothing is fetched from the internet.
    """
    path = demo_db or app.config.data_dir / "demo.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    Database(url).dispose()
    click.echo(f"caigou demo: serving sample pages (sample data, not real notices) from {DEMO_DATA}")
    with serving(DEMO_DATA / "manifest.json") as server:
        # The spider keeps the real portal URLs; the local server answers them as a proxy.
        for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
            os.environ[name] = server.url
        os.environ.pop("no_proxy", None)
        os.environ.pop("NO_PROXY", None)
        click.echo(f"caigou demo: crawling ccgp for {', '.join(DEMO_ARGUMENTS['keyword'])} "
                   f"{DEMO_ARGUMENTS['since']} … {DEMO_ARGUMENTS['until']} through {server.url}")
        summary = run_crawl("ccgp", dict(DEMO_ARGUMENTS), url, FAST)
    click.echo(summary.line())
    from caigou.overview import print_overview

    print_overview(Database(url, migrate=False))
    # Every hint names the demo's database: without --db, search and serve would open the (empty) archive.
    click.echo(f"\nThe demo database is {path}. Next:\n"
               f"  caigou --db {url} search 遗传分析仪 --min-score 0\n"
               f"  caigou --db {url} user add NAME && caigou --db {url} serve   (the web interface)\n"
               f"  caigou --db {url} export --format jsonl -o demo.jsonl\n"
               f"  caigou crawl ccgp --keyword 遗传分析仪 --since 2024-01-01   (the real site, your archive)\n"
               f"  caigou --help")


COMMANDS = [demo]
