"""``caigou crawl SOURCE``: fetch notices from a portal into the archive."""
from __future__ import annotations

from typing import Any

import click

from caigou.context import AppContext, pass_app
from caigou.crawler.pipelines import ATTACHMENT_MODES
from caigou.models.errors import CaigouError
from caigou.safe_text import echo


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
@click.option("--redis", "redis_url", metavar="URL",  # no envvar: seeding instead of crawling is asked for
              help="Distributed: record the run and seed this Redis queue for `caigou worker` processes "
              "(e.g. redis://127.0.0.1:6379/0); nothing is fetched here.")
@click.option("--redis-prefix", default="caigou", show_default=True, envvar="CAIGOU_REDIS_PREFIX",
              help="Prefix of the Redis keys (one per deployment).")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log.")
@pass_app
def crawl(app: AppContext, source: str, since: str | None, until: str | None, keywords: tuple[str, ...],
          region: str | None, types: tuple[str, ...], buyer: str | None, urls: tuple[str, ...], refresh: bool,
          attachments: str | None, settings: tuple[str, ...], redis_url: str | None, redis_prefix: str,
          verbose: bool) -> None:
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
    arguments = {"since": since, "until": until, "keyword": list(keywords), "region": region,
                 "type": list(types), "buyer": buyer, "url": list(urls)}
    if redis_url:
        from caigou.crawler.distributed import seed

        seeded = seed(source, arguments, app.database_url, redis_url, redis_prefix, overrides)
        click.echo(f"{source}: run {seeded.run_id} seeded with {seeded.requests} requests "
                   f"({seeded.since or 'given URLs'} to {seeded.until}); start workers with "
                   f"`caigou worker --redis {redis_url}" + (f" --redis-prefix {redis_prefix}`"
                                                           if redis_prefix != "caigou" else "`"))
        return
    from caigou.crawling import run_crawl  # Scrapy and Twisted only for the commands that crawl

    summary = run_crawl(source, arguments, app.database_url, overrides, verbose)
    echo(summary.line())
    if summary.status != "succeeded":
        raise SystemExit(1)


@click.command()
@click.option("--redis", "redis_url", required=True, metavar="URL", envvar="CAIGOU_REDIS_URL",
              help="The Redis that `caigou crawl SOURCE --redis URL` seeded.")
@click.option("--redis-prefix", default="caigou", show_default=True, envvar="CAIGOU_REDIS_PREFIX",
              help="Prefix of the Redis keys, as given to the seeding crawl.")
@click.option("--source", "sources", multiple=True, help="Work only on this source's run; repeatable "
              "(default: every seeded source).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="A Scrapy setting, as scrapy -s "
              "(the seeding crawl's --refresh and --attachments apply to every worker).")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log.")
@pass_app
def worker(app: AppContext, redis_url: str, redis_prefix: str, sources: tuple[str, ...],
           settings: tuple[str, ...], verbose: bool) -> None:
    """Work on a distributed crawl: take requests from the shared Redis queue, store into this archive, and stop
    once the queue has stayed empty. Start as many as you have addresses (politeness is per worker); a worker
    killed mid-crawl loses nothing: its in-flight requests go back to the queue for the others.

    \b
    Examples:
      caigou crawl ccgp --type award --since 2024-06-01 --redis redis://10.0.0.5:6379/0
      caigou worker --redis redis://10.0.0.5:6379/0          # on each crawling machine
    """
    overrides = settings_overrides(settings)
    user_agent = app.config.get("crawl", "user_agent")
    if user_agent:
        overrides.setdefault("USER_AGENT", user_agent)
    app.db  # noqa: B018 - migrate (and fail clearly on an unreachable database) before the crawl starts
    from caigou.crawler.distributed import seeded_runs
    from caigou.crawling import run_workers

    runs = seeded_runs(redis_url, redis_prefix, list(sources))
    if not runs:
        raise CaigouError(f"no seeded run in Redis {redis_url} (prefix {redis_prefix!r})"
                          + (f" for {', '.join(sources)}" if sources else "")
                          + "; seed one with `caigou crawl SOURCE --redis URL`")
    summaries = run_workers(runs, app.database_url, redis_url, redis_prefix, overrides, verbose)
    for summary in summaries:
        click.echo(summary.line())
    if any(summary.status != "succeeded" for summary in summaries):
        raise SystemExit(1)


COMMANDS = [crawl, worker]
