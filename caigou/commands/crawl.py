"""``caigou crawl SOURCE``: fetch notices from a portal into the archive."""
from __future__ import annotations

from typing import Any

import click

from caigou.context import AppContext, pass_app
from caigou.safe_text import echo
from models.errors import CaigouError
from pipelines.steps import ATTACHMENT_MODES


def configured_attachment_mode(app: AppContext) -> str:
    """``[crawl] attachments`` (``CAIGOU_CRAWL_ATTACHMENTS``), checked before anything starts."""
    mode = str(app.config.get("crawl", "attachments", "matched")).strip().lower()
    if mode not in ATTACHMENT_MODES:
        raise CaigouError(f"[crawl] attachments must be one of {', '.join(ATTACHMENT_MODES)}, not {mode!r}")
    return mode


def settings_overrides(values: tuple[str, ...]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key:
            raise CaigouError(f"--set takes KEY=VALUE, not {value!r}")
        overrides[key.strip()] = setting
    return overrides


@click.command()
@click.argument("source")
@click.option("--since", metavar="DATE", help="First publication date (YYYY-MM-DD); default: where the last "
              "successful run of the same query ended (a week back on the first run).")
@click.option("--until", metavar="DATE", help="Last publication date; default: today.")
@click.option("--keyword", "keywords", multiple=True, help="Search keyword; repeatable. Without keywords "
              "(and without --buyer) the keyword-free channel lists are crawled.")
@click.option("--region", "--zone", "region", metavar="CODE", help="Province or region: 54 (西藏), 63, 51, …")
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help="Notice type: tender, award, correction, termination, single_source, …; repeatable.")
@click.option("--buyer", help="Buyer name filter (e.g. 公安).")
@click.option("--url", "urls", multiple=True, help="Fetch exactly this detail page; repeatable.")
@click.option("--refresh", is_flag=True, help="Fetch detail pages again even when already stored.")
@click.option("--attachments", type=click.Choice(["matched", "all", "off"]),
              help="Whose attachments to download: matched notices (default; [crawl] attachments), all, or off.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="A Scrapy setting, as scrapy -s.")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log.")
@pass_app
def crawl(app: AppContext, source: str, since: str | None, until: str | None, keywords: tuple[str, ...],
          region: str | None, types: tuple[str, ...], buyer: str | None, urls: tuple[str, ...], refresh: bool,
          attachments: str | None, settings: tuple[str, ...], verbose: bool) -> None:
    """Crawl SOURCE (ccgp, xizang, ggzy, qinghai, sichuan: see ``caigou sources``) into the archive and print a
    summary.

    \b
    Examples:
      caigou crawl ccgp --keyword 遗传分析仪 --keyword Y-STR --since 2024-01-01 --region 54
      caigou crawl xizang --type award --since 2024-06-01
      caigou crawl ggzy --region 54 --keyword 试剂盒 --since 2024-01-01
      caigou crawl sichuan --region 513300 --set CAIGOU_BROWSER=1
      caigou crawl ccgp --type award --since 2024-06-01 --until 2024-06-30
      caigou crawl ccgp --url http://www.ccgp.gov.cn/cggg/dfgg/zbgg/202506/t20250627_24871234.htm
    """
    overrides = settings_overrides(settings)
    user_agent = app.config.get("crawl", "user_agent")
    if user_agent:
        overrides.setdefault("USER_AGENT", user_agent)
    if refresh:
        overrides["CAIGOU_REFRESH"] = True
    overrides.setdefault("CAIGOU_ATTACHMENTS", attachments or configured_attachment_mode(app))
    app.db  # noqa: B018 - migrate (and fail clearly on an unreachable database) before the crawl starts
    from caigou.crawling import run_crawl  # Scrapy and Twisted only for the commands that crawl

    summary = run_crawl(source, {"since": since, "until": until, "keyword": list(keywords), "region": region,
                                 "type": list(types), "buyer": buyer, "url": list(urls)},
                        app.database_url, overrides, verbose)
    echo(summary.line())
    if summary.status != "succeeded":
        raise SystemExit(1)


COMMANDS = [crawl]
