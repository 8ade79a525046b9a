"""What linking costs: the time ``link_notice`` adds to each stored notice, and a full ``relink``.

    python bench/linking.py [--projects 1000] [--db URL]

Stores, per project, an intention, a tender and an award, each on ccgp, the award also on a provincial portal and
ggzy (ggzy without a project code, so it links by title), into a fresh SQLite file (or ``--db``); prints the
seconds spent storing, of which linking, and a full relink.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import caigou.pipelines.store as store_module  # noqa: E402
from caigou.models.db import Database  # noqa: E402
from caigou.models.types import SHANGHAI  # noqa: E402
from caigou.pipelines.linking import relink  # noqa: E402
from caigou.pipelines.record import NoticeRecord  # noqa: E402
from caigou.pipelines.store import NoticeStore  # noqa: E402


def records(projects: int) -> list[NoticeRecord]:
    out = []
    for number in range(projects):
        code, buyer = f"XZ-2024-{number:05d}", f"西藏自治区第{number % 97}县公安局"
        start = dt.datetime(2024, 1, 1, 9, tzinfo=SHANGHAI) + dt.timedelta(hours=number)
        for offset, kind, title in ((0, "intention", "采购意向"), (10, "tender", "公开招标公告"),
                                    (30, "award", "中标公告")):
            when = start + dt.timedelta(days=offset)
            copies = [("ccgp", code)] + ([("xizang", code.lower().replace("-", "")), ("ggzy", "")]
                                         if kind == "award" else [])
            for source, written in copies:
                out.append(NoticeRecord(source=source, source_key=f"{number}-{kind}", url=f"http://{source}/{number}",
                                        title=f"{buyer}DNA实验室耗材采购项目{number}{title}", notice_type=kind,
                                        published_at=when + dt.timedelta(hours=len(source)), buyer=buyer,
                                        project_code=written, body_text="Y-STR 试剂盒", region_code="540000"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--db", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Database(args.db or f"sqlite:///{folder}/bench.db")
        linking_seconds = 0.0
        link = store_module.link_notice

        def timed(session, notice):  # type: ignore[no-untyped-def]
            nonlocal linking_seconds
            began = time.perf_counter()
            try:
                return link(session, notice)
            finally:
                linking_seconds += time.perf_counter() - began

        store_module.link_notice = timed  # type: ignore[assignment]
        store = NoticeStore(database)
        batch = records(args.projects)
        began = time.perf_counter()
        for record in batch:
            store.save_notice(record)
        storing = time.perf_counter() - began
        with database.session() as session:
            began = time.perf_counter()
            counts = relink(session)
            relinking = time.perf_counter() - began
        print(f"{len(batch)} notices stored in {storing:.1f} s ({len(batch) / storing:.0f}/s), of which linking "
              f"{linking_seconds:.1f} s ({1000 * linking_seconds / len(batch):.2f} ms per notice, "
              f"{100 * linking_seconds / storing:.0f}%)")
        print(f"relink: {relinking:.1f} s; {counts.line()}")
        database.dispose()


if __name__ == "__main__":
    main()
