"""Re-matching speed: the Aho–Corasick + block-local jieba path against tokenising every notice with jieba.

    python bench/match.py [--notices 100000] [--naive-sample 2000] [--process-notices 4000]

Also, as whole processes (what a user waits for): `caigou match` start-up on input with no candidate (target
≤ 0.5 s: jieba and SQLAlchemy are not loaded), and `caigou match` on --process-notices notices against a process
that tokenises every notice with jieba (target ≥ 10×).

Builds a synthetic archive of realistic notices (a few kB of Chinese procurement prose each; about 3% carry
watchlist terms), streams it through both paths and asserts identical matches on the sample both paths see.
The naive path is timed on a sample (it runs at jieba's ~1 µs a character) and its rate used for the ratio.
Peak resident memory is read at each quarter of the stream, to show it does not grow with the archive.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from caigou.pipelines.matching import MatchInput, Scorer, load_watchlist

PROSE = ("采购人拟采购一批办公设备，供应商应具备独立承担民事责任的能力，具有良好的商业信誉和健全的财务会计制度。"
         "投标人须在投标截止时间前递交投标文件，逾期送达的投标文件恕不接受。本项目不接受联合体投标。"
         "评标办法采用综合评分法，价格分占百分之三十。合同履行期限自合同签订之日起六十日内交货并安装调试完毕。"
         "质量要求符合国家相关标准，售后服务响应时间不超过二十四小时。采购单位地址：某市某区某路一号。")
BUYERS = ["某县人民医院", "某市疾病预防控制中心", "某县教育局", "某市公安局", "某大学", "某县财政局", "那曲市公安局"]
SIGNALS = ["采购遗传分析仪一台，品牌赛默飞世尔，型号3500xL。", "Y-STR扩增试剂盒(100人份/盒)60盒。",
           "DNA数据库建设项目。", "荧光定量PCR仪用于新冠核酸检测。", "采血卡(FTA卡)50000张。"]


def notices(count: int, seed: int = 7) -> Iterator[MatchInput]:
    rng = random.Random(seed)
    for _ in range(count):
        body = "".join(rng.sample(PROSE.split("。"), 4)) * rng.randint(6, 12)
        if rng.random() < 0.03:
            cut = rng.randrange(len(body))
            body = body[:cut] + rng.choice(SIGNALS) + body[cut:]
        yield MatchInput(title=f"{rng.choice(BUYERS)}设备采购项目公告", buyer=rng.choice(BUYERS), body=body)


ROOT = Path(__file__).resolve().parent.parent
# The naive whole process: the same scorer, tokenising every notice with jieba.
NAIVE = """
import json, sys
from caigou.pipelines.matching import MatchInput, Scorer, load_watchlist
scorer = Scorer(load_watchlist())
for line in open(sys.argv[1], encoding="utf-8"):
    record = json.loads(line)
    result = scorer.score(MatchInput(title=record["title"], buyer=record["buyer"], body=record["text"]), naive=True)
    print(json.dumps({"id": record["id"], "score": result.score}))
"""


def _run(*args: str, stdin: str | None = None) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL, input=stdin, text=True)
    return time.perf_counter() - started


def processes(count: int) -> None:
    """Whole processes, side by side in one run."""
    empty = json.dumps({"id": 1, "title": "办公桌椅采购项目", "text": "采购办公桌椅一批"}, ensure_ascii=False) + "\n"
    startup = statistics.median(_run("-m", "caigou", "match", stdin=empty) for _ in range(5))
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8", delete=False) as handle:
        for index, notice in enumerate(notices(count)):
            handle.write(json.dumps({"id": index, "title": notice.title, "buyer": notice.buyer, "text": notice.body},
                                    ensure_ascii=False) + "\n")
    fast = _run("-m", "caigou", "match", "--input", handle.name)
    naive = _run("-c", NAIVE, handle.name)
    Path(handle.name).unlink()
    print(f"start-up, no candidate (median of 5): {startup:.2f} s  (target ≤ 0.5 s)")
    print(f"caigou match, {count:,} notices:     {fast:.1f} s as a whole process")
    print(f"naive jieba, same notices:        {naive:.1f} s as a whole process")
    print(f"process ratio:  {naive / fast:8.1f}×  (target ≥ 10×)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notices", type=int, default=100_000)
    parser.add_argument("--naive-sample", type=int, default=2_000)
    parser.add_argument("--process-notices", type=int, default=4_000)
    args = parser.parse_args()
    processes(args.process_notices)
    scorer = Scorer(load_watchlist())

    sample = list(notices(args.naive_sample))
    sample_chars = sum(len(n.body) + len(n.title) + len(n.buyer) for n in sample)
    start = time.perf_counter()
    naive = [scorer.score(n, naive=True) for n in sample]
    naive_seconds = time.perf_counter() - start
    fast_sample = [scorer.score(n) for n in sample]
    assert [(r.score, r.matches) for r in naive] == [(r.score, r.matches) for r in fast_sample], "paths differ"

    chars = matched = 0
    start = time.perf_counter()
    peaks = []
    for index, notice in enumerate(notices(args.notices), start=1):
        chars += len(notice.body) + len(notice.title) + len(notice.buyer)
        matched += scorer.score(notice).score > 0
        if index % max(1, args.notices // 4) == 0:
            peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    fast_seconds = time.perf_counter() - start

    naive_rate = sample_chars / naive_seconds
    fast_rate = chars / fast_seconds
    print(f"archive:        {args.notices:,} notices, {chars / 1e6:,.1f} M characters, {matched:,} matched")
    print(f"naive (jieba):  {naive_rate / 1e6:8.2f} M chars/s  (on {args.naive_sample:,} notices, same results)")
    print(f"fast (AC+jieba):{fast_rate / 1e6:8.2f} M chars/s  ({fast_seconds:.1f} s)")
    print(f"ratio:          {fast_rate / naive_rate:8.1f}×  (target ≥ 20×)")
    print(f"peak resident memory at each quarter of the archive: {', '.join(f'{p:.0f} MB' for p in peaks)}")


if __name__ == "__main__":
    main()
