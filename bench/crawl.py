"""Detail pages per second through the whole pipeline (Scrapy engine → parse → normalise → match → store) against
a bare Scrapy spider that fetches the same pages and does nothing, both from a local server, politeness off.

    python bench/crawl.py [--pages 2000]

Target: the pipeline costs at most 1.5× the bare fetch. Each side runs in its own process (Twisted's reactor
runs once per process) against the same replay server; the pipeline writes to a fresh SQLite file.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from caigou.replay import Reply, ReplayServer  # noqa: E402

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
    print(f"pipeline / bare:    {full_seconds / bare_seconds:8.2f}×  (target ≤ 1.5×)")


if __name__ == "__main__":
    main()
