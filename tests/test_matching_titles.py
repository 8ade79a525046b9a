"""The default watchlist on 7,924 real ccgp titles: every labelled police DNA / forensic / biometric-collection
title scores 50 or more; hospital, CDC, university and COVID titles score below 50. Prints precision and recall."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from pipelines.matching import MatchInput, Scorer, load_watchlist

LABELS = Path(__file__).with_name("data") / "titles_positive.csv"
# A title is a negative when its buyer is a hospital, CDC, health authority or university, or it is about COVID
# testing — and no police buyer is named.
NEGATIVE = re.compile(r"医院|卫生院|疾病预防控制|疾控|卫生健康|大学|学院|新冠|核酸检测|核酸采样|方舱")
POLICE = re.compile(r"公安|刑侦|刑警|物证鉴定")


def test_real_titles(shared_dir: Path) -> None:
    with open(shared_dir / "real/ccgp/titles_20220606-20220610.csv", encoding="utf-8") as handle:
        titles = {row["ref"]: row["title"] for row in csv.DictReader(handle)}
    with open(LABELS, encoding="utf-8") as handle:
        positives = {row["ref"] for row in csv.DictReader(line for line in handle if not line.startswith("#"))}
    negatives = {ref for ref, title in titles.items() if NEGATIVE.search(title) and not POLICE.search(title)}
    assert positives <= titles.keys() and len(negatives) > 300

    scorer = Scorer(load_watchlist())
    scores = {ref: scorer.score(MatchInput(title=title)).score for ref, title in titles.items()}
    flagged = {ref for ref, score in scores.items() if score >= 50}
    missed = {ref: titles[ref] for ref in positives - flagged}
    false_alarms = {ref: (scores[ref], titles[ref]) for ref in negatives & flagged}
    precision = len(flagged & positives) / len(flagged) if flagged else 0.0
    recall = len(flagged & positives) / len(positives)
    print(f"\n{len(titles)} titles, {len(positives)} labelled positive, {len(negatives)} negative by rule; "
          f"{len(flagged)} scored 50+: precision {precision:.2f}, recall {recall:.2f}")
    for ref in sorted(flagged - positives):
        print(f"  flagged but unlabelled: {ref} {scores[ref]} {titles[ref]}")
    assert missed == {}, f"police DNA/forensic/biometric titles below 50: {missed}"
    assert false_alarms == {}, f"hospital/CDC/university/COVID titles at 50 or more: {false_alarms}"
    assert precision >= 0.8


@pytest.mark.parametrize(("title", "low"), [
    ("江西中医药大学附属医院采购荧光定量PCR仪项目", True),
    ("广东省广州监狱购买新冠病毒核酸、血清抗体检测服务以及外送检验服务采购项目废标公告", True),
    ("济宁医学院2022年基因测序仪采购项目竞争性磋商公告", True),
])
def test_named_negatives(title: str, low: bool) -> None:
    assert Scorer(load_watchlist()).score(MatchInput(title=title)).score < 50
