"""CSV export speed and memory: ``caigou export --format csv`` against ``sqlite3 -csv`` dumping the same rows.

    python bench/export.py [--notices 1000000] [--keep DIR]

Builds a SQLite archive of synthetic notices (bulk inserts, with suppliers and scores), then times both dumps of
every notice and reads the peak resident memory of the export (at 1/10 of the archive and at all of it: flat
memory means the two agree). Target: within 3× of sqlite3's time. ``--keep DIR`` builds the archives (and writes the
dumps) in DIR and leaves them there; a later run with the same DIR and count reuses the archives, so timing a change
of the export does not rebuild them.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from caigou.models import Notice, NoticeScore, Source, Supplier  # noqa: E402
from caigou.models.db import Database  # noqa: E402
from caigou.models.types import SHANGHAI  # noqa: E402

BUYERS = ["那曲市公安局", "拉萨市疾病预防控制中心", "某县人民医院", "昌都市公安局", "西藏大学"]


def build(path: Path, count: int) -> None:
    database = Database(f"sqlite:///{path}")
    rng = random.Random(1)
    with database.engine.begin() as connection:
        connection.execute(insert(Source), [{"id": 1, "name": "ccgp", "title": "ccgp", "base_url": ""}])
        start = dt.datetime(2020, 1, 1, tzinfo=SHANGHAI)
        for offset in range(0, count, 20_000):
            ids = range(offset + 1, min(count, offset + 20_000) + 1)
            connection.execute(insert(Notice), [{
                "id": i, "source_id": 1, "source_key": str(i), "url": f"http://www.ccgp.gov.cn/t_{i}.htm",
                "notice_type": "award", "notice_type_label": "中标公告",
                "title": f"{BUYERS[i % 5]}设备采购项目{i}中标公告",
                "published_at": start + dt.timedelta(minutes=i), "region_code": "540600", "region_name": "那曲市",
                "buyer": BUYERS[i % 5], "agency": "西藏某招标代理有限公司", "project_code": f"P-{i}",
                "budget_cny": None, "award_cny": None, "body_text": "采购内容：遗传分析仪一台。" * rng.randint(1, 5),
                "fields": {}, "line_items": [], "warnings": [], "raw_sha256": "0" * 64,
                "first_seen_at": start, "last_seen_at": start} for i in ids])
            connection.execute(insert(Supplier), [{"notice_id": i, "position": 0, "lot": "", "name": "某科技有限公司",
                                                   "address": "", "amount_cny": None, "amount_text": ""} for i in ids])
            connection.execute(insert(NoticeScore), [{"notice_id": i, "score": i % 100, "reasons": ["synthetic"],
                                                      "buyer_type": "", "watchlist_version": "bench",
                                                      "scored_at": start, "first_matched_at": None,
                                                      "match_origin": ""} for i in ids])
    database.dispose()


def export(path: Path, target: Path) -> tuple[float, float]:
    script = ("import resource, sys\nfrom caigou.cli import main\nsys.argv = ['caigou', '--db', sys.argv[1], 'export', "
              "'--format', 'csv', '-o', sys.argv[2]]\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
              "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, file=sys.stderr)\n")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script, f"sqlite:///{path}", str(target)], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    return time.perf_counter() - start, float(done.stderr.strip().splitlines()[-1])


def sqlite_dump(path: Path, target: Path) -> float:
    query = ("SELECT n.id, s.name, n.source_key, n.url, n.notice_type, n.notice_type_label, n.title, n.published_at, "
             "n.region_code, n.region_name, n.buyer, n.agency, n.project_code, n.budget_cny, n.award_cny, "
             "(SELECT group_concat(name, '; ') FROM notice_suppliers WHERE notice_id = n.id), sc.score, sc.reasons, "
             "n.first_seen_at, n.last_seen_at, n.raw_sha256, n.body_text, n.fields, n.line_items "
             "FROM notices n JOIN sources s ON s.id = n.source_id LEFT JOIN notice_scores sc ON sc.notice_id = n.id")
    start = time.perf_counter()
    with open(target, "w") as out:
        subprocess.run(["sqlite3", "-csv", "-header", str(path), query], stdout=out, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notices", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="build in DIR and keep the archives and dumps; reuse archives already there")
    args = parser.parse_args()
    if shutil.which("sqlite3") is None:
        raise SystemExit("needs the sqlite3 command (Debian package sqlite3)")
    with contextlib.ExitStack() as stack:
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            folder = str(args.keep)
        else:
            folder = stack.enter_context(tempfile.TemporaryDirectory())
        small, large = Path(folder, f"small-{args.notices}.db"), Path(folder, f"large-{args.notices}.db")
        for path, count in ((small, max(1, args.notices // 10)), (large, args.notices)):
            if not path.exists():
                build(path, count)
        _, small_peak = export(small, Path(folder, "small.csv"))
        seconds, peak = export(large, Path(folder, "large.csv"))
        reference = sqlite_dump(large, Path(folder, "ref.csv"))
    print(f"notices:            {args.notices:,}")
    print(f"caigou export csv:  {seconds:8.1f} s  {args.notices / seconds:10,.0f} rows/s")
    print(f"sqlite3 -csv:       {reference:8.1f} s  {args.notices / reference:10,.0f} rows/s")
    print(f"ratio:              {seconds / reference:8.2f}×  (target ≤ 3×)")
    print(f"peak memory:        {small_peak:.0f} MB at {args.notices // 10:,} notices, "
          f"{peak:.0f} MB at {args.notices:,}")


if __name__ == "__main__":
    main()
