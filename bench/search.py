"""Search latency on a large archive: caigou's full-text search (jieba-segmented FTS5) against a LIKE '%…%' scan.

    python bench/search.py [--notices 1000000] [--runs 20] [--db FILE]
    python bench/search.py --db postgresql://postgres@127.0.0.1/test [--notices 1000000,2000000,4000000]

Builds a SQLite archive of synthetic notices — real ccgp titles from ../shared/real/ccgp (when present) mixed with
police DNA purchases, hospital and CDC purchases, each with a body and a region — indexed by the same tokenizer the
store uses (tokens are computed once per distinct text, then bulk-inserted). Then times typical queries through
``caigou.search.search`` (the function the web interface and ``caigou search`` call, facets included) and the same
questions answered by a LIKE scan, and prints p50/p95 for each. Target on SQLite: p95 ≤ 100 ms and ≥ 100× faster
than the scan. ``--db`` keeps (or reuses) the built archive.

With a PostgreSQL URL it makes a database of its own on that server, grows it through each size with COPY (notices,
scores, and the index's tokens turned into tsvectors in SQL), VACUUM ANALYZEs it, times the same queries at each
size and prints how p95 grows. Target on PostgreSQL: p95 ≤ 200 ms at the largest size, facets included.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from caigou.filters import TIBETAN_AREAS, NoticeFilters  # noqa: E402
from caigou.models import Notice, NoticeScore, Source  # noqa: E402
from caigou.models.db import Database  # noqa: E402
from caigou.models.types import SHANGHAI  # noqa: E402
from caigou.pipelines.regions import tibetan_region_prefixes  # noqa: E402
from caigou.pipelines.search_index import phrase_tokens, search_tokens  # noqa: E402
from caigou.search import search  # noqa: E402

TITLES_CSV = ROOT.parent / "shared" / "real" / "ccgp" / "titles_20220606-20220610.csv"
REGIONS = [("540600", "那曲市"), ("540100", "拉萨市"), ("540300", "昌都市"), ("632700", "玉树藏族自治州"),
           ("513300", "甘孜藏族自治州"), ("440100", "广州市"), ("330100", "杭州市"), ("520100", "贵阳市"),
           ("370100", "济南市"), ("110000", "北京市")]
# (text, weight): police buyers and DNA equipment are a small share of all procurement, as in the real titles.
BUYERS = [("{city}公安局", 3), ("{city}公安局刑侦支队", 1), ("{city}人民医院", 12), ("{city}疾病预防控制中心", 4),
          ("{city}第一中学", 15), ("{city}自然资源局", 10), ("{city}中心血站", 1), ("{city}交通运输局", 10),
          ("{city}住房和城乡建设局", 12), ("{city}人民政府办公室", 12)]
ITEMS = [("遗传分析仪", 0.3), ("Y-STR扩增试剂盒", 0.3), ("DNA提取试剂盒", 0.3), ("采血卡", 0.3), ("二代测序仪", 0.2),
         ("荧光定量PCR仪", 2), ("人脸识别门禁系统", 2), ("监控摄像机", 5), ("办公家具", 15), ("电脑及打印机", 15),
         ("道路养护服务", 10), ("物业管理服务", 15), ("校服", 8), ("医用病床", 6)]
BOILERPLATE = ("本项目采购内容为{item}，数量若干，具体技术参数详见采购文件。"
               "供应商资格要求：具有独立承担民事责任的能力。"
               "采购人：{buyer}。项目所在地：{city}。")


def corpus_titles() -> list[str]:
    if TITLES_CSV.exists():
        with open(TITLES_CSV, encoding="utf-8") as handle:
            return [row["title"] for row in csv.DictReader(handle)]
    return []


def generate(count: int, first: int = 1) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """Synthetic notices ``first``..``first + count - 1``: (notice row, score row, index row). The same ids give the
    same notices whatever the batch (one generator per id range, seeded by its first id)."""
    rng = random.Random(7 if first == 1 else first)
    real = corpus_titles()
    buyer_names, buyer_weights = zip(*BUYERS, strict=False)
    item_names, item_weights = zip(*ITEMS, strict=False)
    start = dt.datetime(2016, 1, 1, tzinfo=SHANGHAI)
    for i in range(first, first + count):
        code, city = REGIONS[rng.randrange(len(REGIONS))]
        buyer = rng.choices(buyer_names, buyer_weights)[0].format(city=city)
        item = rng.choices(item_names, item_weights)[0]
        title = real[rng.randrange(len(real))] if real and rng.random() < 0.5 else f"{buyer}{item}采购项目公告"
        body = BOILERPLATE.format(item=item, buyer=buyer, city=city)
        notice = {"id": i, "source_id": 1, "source_key": str(i), "url": f"http://www.ccgp.gov.cn/t_{i}.htm",
                  "notice_type": "award" if i % 3 == 0 else "tender", "notice_type_label": "",
                  "title": title, "published_at": start + dt.timedelta(minutes=5 * i),
                  "region_code": code, "region_name": city, "buyer": buyer, "agency": "", "project_code": "",
                  "budget_cny": None, "award_cny": None, "body_text": body, "fields": {}, "line_items": [],
                  "warnings": [], "raw_sha256": "", "first_seen_at": start, "last_seen_at": start}
        police_dna = "公安" in buyer and item_weights[item_names.index(item)] < 1
        score = {"notice_id": i, "score": 90 if police_dna else rng.randrange(0, 50), "reasons": [],
                 "buyer_type": "", "watchlist_version": "bench", "scored_at": start,
                 "first_matched_at": None, "match_origin": ""}
        index = {"id": i, "t": tokens(title) + " " + tokens(buyer) + " " + tokens(body),
                 "p": phrases(title) + " " + phrases(buyer) + " " + phrases(body)}
        yield notice, score, index


@functools.cache
def tokens(value: str) -> str:
    """The index's word tokens of a text, computed once per distinct text."""
    return " ".join(search_tokens(value, for_index=True))


@functools.cache
def phrases(value: str) -> str:
    return " ".join(phrase_tokens(value))


def build(path: Path, count: int) -> None:
    database = Database(f"sqlite:///{path}")
    began = time.perf_counter()
    with database.engine.begin() as connection:
        connection.execute(insert(Source), [{"id": 1, "name": "ccgp", "title": "ccgp", "base_url": ""}])
    rows = generate(count)
    for offset in range(0, count, 10_000):
        batch = list(itertools.islice(rows, 10_000))
        with database.engine.begin() as connection:
            connection.execute(insert(Notice), [notice for notice, _, _ in batch])
            connection.execute(insert(NoticeScore), [score for _, score, _ in batch])
            connection.execute(text("INSERT INTO notice_fts (rowid, tokens, phrases) VALUES (:id, :t, :p)"),
                               [index for _, _, index in batch])
        done = min(count, offset + 10_000)
        print(f"\rbuilding: {done:,}/{count:,} notices ({time.perf_counter() - began:.0f} s)", end="", file=sys.stderr)
    print(file=sys.stderr)
    database.dispose()


def grow_postgres(database: Database, first: int, count: int) -> float:
    """Add notices ``first``.. to a PostgreSQL archive with COPY (notices, scores, and the index's text into a
    staging table turned into tsvectors by one INSERT … SELECT); returns the seconds it took."""
    began = time.perf_counter()
    notice_columns = [c.name for c in Notice.__table__.columns if c.name in NOTICE_KEYS]
    score_columns = [c.name for c in NoticeScore.__table__.columns if c.name in SCORE_KEYS]
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if first == 1:
            cursor.execute("INSERT INTO sources (id, name, title, base_url) VALUES (1, 'ccgp', 'ccgp', '')")
        cursor.execute("CREATE TEMPORARY TABLE fts_staging (id integer, t text, p text)")
        rows = generate(count, first)
        for offset in range(0, count, 50_000):
            batch = list(itertools.islice(rows, 50_000))
            with cursor.copy(f"COPY notices ({', '.join(notice_columns)}) FROM STDIN") as copy:
                for notice, _, _ in batch:
                    copy.write_row([_copy_value(notice[c]) for c in notice_columns])
            with cursor.copy(f"COPY notice_scores ({', '.join(score_columns)}) FROM STDIN") as copy:
                for _, score, _ in batch:
                    copy.write_row([_copy_value(score[c]) for c in score_columns])
            with cursor.copy("COPY fts_staging (id, t, p) FROM STDIN") as copy:
                for _, _, index in batch:
                    copy.write_row([index["id"], index["t"], index["p"]])
            done = first - 1 + min(count, offset + 50_000)
            print(f"\rbuilding: {done:,} notices ({time.perf_counter() - began:.0f} s)", end="", file=sys.stderr)
        cursor.execute("INSERT INTO notice_fts (notice_id, document, phrases) "
                       "SELECT id, to_tsvector('simple', t), to_tsvector('simple', p) FROM fts_staging")
        cursor.execute("DROP TABLE fts_staging")
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('notices', 'id'), {first + count - 1})")
        raw.commit()
        raw.driver_connection.autocommit = True  # VACUUM runs outside a transaction
        raw.driver_connection.execute("VACUUM ANALYZE")
        raw.driver_connection.autocommit = False
    finally:
        raw.close()
    print(file=sys.stderr)
    return time.perf_counter() - began


NOTICE_KEYS = set(next(generate(1))[0])
SCORE_KEYS = set(next(generate(1))[1])


def _copy_value(value: Any) -> Any:
    """JSON columns go to COPY as their JSON text; everything else as psycopg dumps it."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value


def like_scan(must: list[str], excluded: list[str], filters: NoticeFilters) -> str:
    """The LIKE '%…%' scan answering the same question as a search: the same fields (title, buyer, agency, body;
    the archive here has no suppliers or attachments) and the same filters (Tibetan areas, score floor), so the two
    are compared like for like. A selective filter makes the scan fast too (it starts from the score index)."""
    fields = ("title", "buyer", "agency", "body_text")

    def anywhere(word: str) -> str:
        pattern = word.replace("'", "''")
        return "(" + " OR ".join(f"n.{f} LIKE '%{pattern}%'" for f in fields) + ")"

    where = [anywhere(w) for w in must] + [f"NOT {anywhere(w)}" for w in excluded]
    if TIBETAN_AREAS in filters.regions:
        where.append("(" + " OR ".join(f"n.region_code LIKE '{p}%'" for p in tibetan_region_prefixes()) + ")")
    join = ""
    if filters.min_score:
        join = " JOIN notice_scores s ON s.notice_id = n.id"
        where.append(f"s.score >= {int(filters.min_score)}")
    return f"SELECT count(*) FROM notices n{join} WHERE " + " AND ".join(where)


# (label, query, filters, the words the scan must find, the words it must not)
QUERIES = [
    ("word + Tibetan areas + facets", "遗传分析仪", NoticeFilters(regions=[TIBETAN_AREAS], min_score=0),
     ["遗传分析仪"], []),
    ("sub-word, review first", "公安", NoticeFilters(min_score=50), ["公安"], []),
    ("sub-word, every score", "公安", NoticeFilters(min_score=0), ["公安"], []),
    ("phrase", '"Y-STR扩增试剂盒"', NoticeFilters(min_score=0), ["Y-STR扩增试剂盒"], []),
    ("exclusion", "试剂盒 -医院", NoticeFilters(min_score=0), ["试剂盒"], ["医院"]),
    ("rare word", "测序仪 那曲", NoticeFilters(min_score=0), ["测序仪", "那曲"], []),
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def time_queries(database: Database, runs: int, scan: bool = True) -> list[tuple[str, int, float, float, float, int]]:
    """(label, hits, p50, p95, LIKE p50, LIKE hits) of every query kind, through ``caigou.search.search``."""
    rows = []
    for label, query, filters, must, excluded in QUERIES:
        like = like_scan(must, excluded, filters)
        timings, total = [], 0
        search(database, query, filters)  # warm the page cache and the tokenizer once
        for _ in range(runs):
            began = time.perf_counter()
            total = search(database, query, filters, limit=20).total
            timings.append((time.perf_counter() - began) * 1000)
        scans, scanned = [float("nan")], 0
        if scan:
            scans = []
            with database.engine.connect() as connection:
                for _ in range(max(3, runs // 5)):
                    began = time.perf_counter()
                    scanned = connection.execute(text(like)).scalar() or 0
                    scans.append((time.perf_counter() - began) * 1000)
        rows.append((label, total, percentile(timings, .5), percentile(timings, .95), statistics.median(scans),
                     scanned))
    return rows


def print_rows(rows: list[tuple[str, int, float, float, float, int]]) -> None:
    print(f"{'query':32} {'hits':>8} {'p50 ms':>8} {'p95 ms':>8} {'LIKE p50 ms':>12} {'LIKE hits':>10} "
          f"{'speed-up':>9}")
    for label, total, p50, p95, scan, scanned in rows:
        if scan != scan:  # not timed (NaN): the scan is timed at the first size only
            print(f"{label:32} {total:>8,} {p50:>8.1f} {p95:>8.1f} {'-':>12} {'-':>10} {'-':>9}")
            continue
        print(f"{label:32} {total:>8,} {p50:>8.1f} {p95:>8.1f} {scan:>12.1f} {scanned:>10,} {scan / p50:>8.1f}×")


def postgres(url: str, sizes: list[int], runs: int, keep: bool) -> None:
    """Grow a fresh PostgreSQL database through ``sizes`` with COPY, timing the query kinds at each size."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    server = make_url(url)
    if server.drivername == "postgresql":
        server = server.set(drivername="postgresql+psycopg")
    name = f"caigou_bench_search_{os.getpid()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    target = server.set(database=name).render_as_string(hide_password=False)
    database = Database(target)
    try:
        with database.engine.connect() as connection:
            shown = {key: connection.execute(text(f"SHOW {key}")).scalar() for key in PG_SETTINGS}
        print(f"PostgreSQL {database.engine.dialect.server_version_info}; "
              + ", ".join(f"{k} = {v}" for k, v in shown.items()))
        results: dict[int, list[tuple[str, int, float, float, float, int]]] = {}
        built = 0
        for size in sizes:
            seconds = grow_postgres(database, built + 1, size - built)
            built = size
            print(f"\narchive: {size:,} notices (tsvector + GIN, jieba-segmented), built with COPY in {seconds:.0f} s "
                  f"(this step)")
            results[size] = time_queries(database, runs, scan=size == sizes[0])
            print_rows(results[size])
        first, last = sizes[0], sizes[-1]
        print(f"\np95 growth from {first:,} to {last:,} notices ({last / first:.0f}× the notices); "
              "target p95 ≤ 200 ms at the largest size")
        pairs = zip(results[first], results[last], strict=False)
        for (label, _, _, p95_first, _, _), (_, hits, _, p95_last, _, _) in pairs:
            verdict = "met" if p95_last <= 200 else "NOT met"
            print(f"{label:32} {p95_first:>8.1f} → {p95_last:>8.1f} ms ({p95_last / p95_first:.1f}×, {hits:,} hits) "
                  f"{verdict}")
    finally:
        database.dispose()
        if keep:
            print(f"kept: {target}")
        else:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


PG_SETTINGS = ("shared_buffers", "work_mem", "effective_cache_size", "random_page_cost",
               "max_parallel_workers_per_gather")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notices", default=None,
                        help="archive size; for PostgreSQL a comma-separated list of sizes grown in turn "
                             "(default 1000000 on SQLite, 1000000,2000000,4000000 on PostgreSQL)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--db", help="a SQLite file to build (or reuse when it exists) instead of a temporary "
                        "file, or a postgresql:// server URL: a database of the benchmark's own is made there "
                        "and dropped afterwards (--keep leaves it)")
    parser.add_argument("--keep", action="store_true", help="PostgreSQL: keep the database built")
    args = parser.parse_args()
    if args.db and args.db.startswith("postgresql"):
        sizes = [int(n) for n in (args.notices or "1000000,2000000,4000000").split(",")]
        postgres(args.db, sorted(sizes), args.runs, args.keep)
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(args.db) if args.db else Path(folder, "search.db")
        if not path.exists():
            build(path, int(args.notices or 1_000_000))
        database = Database(f"sqlite:///{path}")
        with database.session() as session:
            stored = session.scalar(select(func.count(Notice.id))) or 0
        print(f"archive: {stored:,} notices (SQLite FTS5, jieba-segmented)")
        print_rows(time_queries(database, args.runs))
        print("target: p95 ≤ 100 ms and ≥ 100× faster than the scan (the search includes its facets, snippets and "
              "ranking; the scan only counts, so with a selective filter it is fast too; facets over more than "
              "2,000 publications are estimates from a sample)")
        database.dispose()


if __name__ == "__main__":
    main()
