"""Detail pages per second through the whole pipeline (Scrapy engine → parse → normalise → match → store) against
a bare Scrapy spider that fetches the same pages and does nothing, both from a local server, politeness off.

    python bench/crawl.py [--pages 2000]

Target: the pipeline costs at most 3× the bare fetch (issue 16). Each side runs in its own process (Twisted's reactor
runs once per process) against the same replay server; the pipeline writes to a fresh SQLite file.

Then it times each stage of the pipeline on the same page outside Scrapy (parse, normalise, match, index tokens,
store: archive + save with its matches, index and links), so the ratio explains itself: a local fetch costs a few
milliseconds, which the stages together exceed; against a real portal, one request every few seconds, the
pipeline is a small fraction of a crawl's time.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from caigou.replay import ReplayServer, Reply  # noqa: E402

SAMPLE_MANIFEST = ROOT / "caigou" / "demo_data" / "ccgp" / "manifest.json"

BARE = """
import json, sys, time
import scrapy
from scrapy.crawler import CrawlerProcess
urls = json.load(open(sys.argv[1]))
class Bare(scrapy.Spider):
    name = "bare"
    async def start(self):
        for url in urls:
            yield scrapy.Request(url, callback=self.parse)
    def parse(self, response):
        return None
process = CrawlerProcess({"LOG_LEVEL": "ERROR", "CONCURRENT_REQUESTS": 16, "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
                          "DOWNLOAD_DELAY": 0, "TELNETCONSOLE_ENABLED": False, "ROBOTSTXT_OBEY": False})
process.crawl(Bare)
start = time.perf_counter(); process.start(); print(time.perf_counter() - start)
"""


def detail_template() -> tuple[str, bytes]:
    """A sample detail page of the demo data (sample, not a real notice)."""
    manifest = json.loads(SAMPLE_MANIFEST.read_text(encoding="utf-8"))
    for url, spec in manifest.items():
        spec = spec[-1] if isinstance(spec, list) else spec
        if "/cggg/" in url and url.endswith(".htm") and "/index" not in url and spec.get("status", 200) == 200:
            body = (SAMPLE_MANIFEST.parent / spec["file"]).read_bytes()
            if "安全验证".encode() not in body:
                return url, body
    raise SystemExit("no sample detail page in the demo data")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=2000)
    args = parser.parse_args()
    url, body = detail_template()
    prefix = url.rsplit("_", 1)[0]
    server = ReplayServer().start()
    urls = []
    for number in range(args.pages):
        page_url = f"{prefix}_{90000000 + number}.htm"
        # Each page its own title and project code, as real notices have: one code shared by every page would
        # make one procurement of thousands of notices, which linking re-reads on every save.
        page = body.replace(b"</title>", f" {number}</title>".encode()).replace(
            b"XZNQ-2024-017", f"XZNQ-{number:08d}".encode())
        server.add(page_url, Reply(page))
        urls.append(page_url)
    env = {"http_proxy": server.url, "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    with tempfile.TemporaryDirectory() as folder:
        url_file = Path(folder) / "urls.json"
        url_file.write_text(json.dumps(urls))
        bare = subprocess.run([sys.executable, "-c", BARE, str(url_file)], capture_output=True, text=True, env=env,
                              check=True)
        bare_seconds = float(bare.stdout.strip().splitlines()[-1])
        database = f"sqlite:///{folder}/bench.db"
        subprocess.run([sys.executable, "-m", "caigou", "--db", database, "db", "upgrade"], env=env, check=True,
                       capture_output=True)
        args_file = Path(folder) / "args.py"
        args_file.write_text(
            "import json, sys, time\n"
            "from caigou.crawling import run_crawl\n"
            f"urls = json.load(open({str(url_file)!r}))\n"
            "start = time.perf_counter()\n"
            f"summary = run_crawl('ccgp', {{'url': urls}}, {database!r}, {{'DOWNLOAD_DELAY': 0, "
            "'AUTOTHROTTLE_ENABLED': False, 'CONCURRENT_REQUESTS': 16, 'CONCURRENT_REQUESTS_PER_DOMAIN': 16, "
            "'CAIGOU_PROGRESS_INTERVAL': 0, 'LOG_LEVEL': 'ERROR'})\n"
            "print(summary.line()); print(time.perf_counter() - start)\n")
        started = time.perf_counter()
        full = subprocess.run([sys.executable, str(args_file)], capture_output=True, text=True, env=env)
        if full.returncode != 0:
            raise SystemExit(f"pipeline run failed:\n{full.stderr[-2000:]}")
        full_seconds = float(full.stdout.strip().splitlines()[-1])
        del started
    server.stop()
    print(f"pages:              {args.pages}")
    print(f"bare Scrapy fetch:  {args.pages / bare_seconds:8.1f} pages/s ({bare_seconds:.2f} s)")
    print(f"whole pipeline:     {args.pages / full_seconds:8.1f} pages/s ({full_seconds:.2f} s)  "
          f"[{full.stdout.strip().splitlines()[0]}]")
    print(f"pipeline / bare:    {full_seconds / bare_seconds:8.2f}×  (target ≤ 3×)")
    print(f"bare fetch per page: {bare_seconds / args.pages * 1000:6.2f} ms; the pipeline's stages per page:")
    for stage, milliseconds in stage_costs(url, body).items():
        print(f"  {stage:<48} {milliseconds:6.2f} ms")


def stage_costs(url: str, body: bytes, pages: int = 200) -> dict[str, float]:
    """Milliseconds per page of each pipeline stage, run directly on ``pages`` copies of the sample page."""
    from caigou.crawler.parsers.ccgp import parse_detail
    from caigou.models.db import Database
    from caigou.pipelines.matching.scoring import MatchInput
    from caigou.pipelines.matching.store import configured_scorer, input_from_notice  # noqa: F401 - warms jieba
    from caigou.pipelines.normalise import record_from_item
    from caigou.pipelines.search_index import search_tokens
    from caigou.pipelines.store import NoticeStore

    prefix = url.rsplit("_", 1)[0]
    copies = [(f"{prefix}_{80000000 + n}.htm",
               body.replace(b"</title>", f" {n}</title>".encode()).replace(b"XZNQ-2024-017", f"XZNQ-S{n:07d}".encode()))
              for n in range(pages)]
    scorer = configured_scorer()
    costs: dict[str, float] = {}

    def timed(stage: str, work: list[Any]) -> list[Any]:
        start = time.perf_counter()
        results = [step() for step in work]
        costs[stage] = (time.perf_counter() - start) / len(work) * 1000
        return results

    items = timed("parse (bs4 + lxml)", [lambda u=u, b=b: parse_detail(b, u) for u, b in copies])
    records = timed("normalise", [lambda i=i: record_from_item(i) for i in items])
    inputs = [MatchInput(title=r.title, body=r.body_text, buyer=r.buyer,
                         suppliers="; ".join(s.name for s in r.suppliers),
                         items=[], attachments={}, region_code=r.region_code) for r in records]
    timed("match and score", [lambda m=m: scorer.score(m) for m in inputs])
    timed("index tokens (jieba)", [lambda r=r: search_tokens(f"{r.title} {r.buyer} {r.body_text}", for_index=True)
                                   for r in records])
    with tempfile.TemporaryDirectory() as folder:
        store = NoticeStore(Database(f"sqlite:///{folder}/stages.db"))

        def store_one(page_url: str, page: bytes, record: Any) -> None:
            store.archive_page(page_url, 200, page)
            store.save_notice(record)

        timed("store (SQL: archive, save, match, index, link)",
              [lambda u=u, b=b, r=r: store_one(u, b, r) for (u, b), r in zip(copies, records, strict=False)])
        store.db.dispose()
    return costs


if __name__ == "__main__":
    main()
