"""The default watchlist on 7,593 real ccgp titles, against labels made by reading the titles (not by the scorer):
every labelled police DNA / biometric-collection title scores 50 or more; hand-labelled negatives, hospital, CDC,
university and COVID titles, and police titles about uniforms, buildings or cars score below 50. Other forensic
casework (pathology, toxicology, scene evidence) is labelled too: it belongs in the "forensic, not DNA/biometric"
band (20–45), never 50+. Prints precision and recall."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from caigou.pipelines.matching import MatchInput, Scorer, load_watchlist

LABELS = Path(__file__).with_name("data") / "titles_positive.csv"
# A title is a negative when its buyer is a hospital, CDC, health authority or university, or it is about COVID
# testing — and no police buyer is named.
NEGATIVE = re.compile(r"医院|卫生院|疾病预防控制|疾控|卫生健康|大学|学院|新冠|核酸检测|核酸采样|方舱")
POLICE = re.compile(r"公安|刑侦|刑警|物证鉴定")
# Police titles that buy the everyday (uniforms, buildings, cars, canteens, insurance, road markings…) and name
# nothing of a lab: a police buyer alone must not make a notice "review first".
EVERYDAY = re.compile(r"警服|被装|服装|物业|保险|食堂|餐饮|食材|维修|修缮|改造工程|车辆|标线|空调|租赁|租用|宣传|保安|"
                      r"油料|犬|办公设备|办公耗材|体检|劳务")
LAB = re.compile(r"DNA|采集|物证|取证|检验|鉴定|试剂|实验室|样本|检测")


def test_real_titles(shared_dir: Path) -> None:
    with open(shared_dir / "real/ccgp/titles_20220606-20220610.csv", encoding="utf-8") as handle:
        titles = {row["ref"]: row["title"] for row in csv.DictReader(handle)}
    with open(LABELS, encoding="utf-8") as handle:
        labels = {row["ref"]: row["kind"]
                  for row in csv.DictReader(line for line in handle if not line.startswith("#"))}
    core = {ref for ref, kind in labels.items() if kind == "dna"}
    forensic = {ref for ref, kind in labels.items() if kind == "forensic"}
    positives = core | forensic
    negatives = {ref for ref, title in titles.items() if NEGATIVE.search(title) and not POLICE.search(title)}
    everyday = {ref for ref, title in titles.items()
                if POLICE.search(title) and EVERYDAY.search(title) and not LAB.search(title)}
    negatives |= everyday | {ref for ref, kind in labels.items() if kind == "negative"}
    assert labels.keys() <= titles.keys() and not positives & negatives
    assert len(core) >= 8 and len(forensic) >= 8 and len(everyday) > 80 and len(negatives) > 1500

    scorer = Scorer(load_watchlist())
    scores = {ref: scorer.score(MatchInput(title=title)).score for ref, title in titles.items()}
    flagged = {ref for ref, score in scores.items() if score >= 50}
    precision = len(flagged & core) / len(flagged) if flagged else 0.0
    recall = {"dna": len(flagged & core) / len(core)}
    print(f"\n{len(titles)} titles; labelled {len(core)} DNA/biometric, {len(forensic)} other forensic; "
          f"{len(negatives)} negative ({len(everyday)} everyday police); {len(flagged)} scored 50+: "
          f"precision {precision:.2f}, recall DNA/biometric {recall['dna']:.2f}")
    for ref in sorted(flagged - positives):
        print(f"  flagged but not labelled positive: {ref} {scores[ref]} {titles[ref]}")
    for ref in sorted(forensic):
        print(f"  other forensic (band 20–45): {ref} {scores[ref]} {titles[ref]}")
    missed = {ref: titles[ref] for ref in core - flagged}
    false_alarms = {ref: (scores[ref], titles[ref]) for ref in negatives & flagged}
    assert missed == {}, f"police DNA/biometric titles below 50: {missed}"
    assert false_alarms == {}, f"negative titles at 50 or more: {false_alarms}"
    assert precision == 1.0  # everything at 50+ is a labelled police DNA/biometric purchase
    # Every title not labelled a police DNA/biometric purchase: at most 0.25% may score 50+ (issue 11).
    others = titles.keys() - core
    others_flagged = others & flagged
    print(f"  titles not labelled DNA/biometric scoring 50+: {len(others_flagged)} of {len(others)} "
          f"({100 * len(others_flagged) / len(others):.2f}%)")
    assert len(others_flagged) <= 0.0025 * len(others), sorted(titles[ref] for ref in others_flagged)
    # Other forensic casework is the "forensic, not DNA/biometric" band: never 50+, and the titles that name
    # forensic casework (尸体解剖, 法医毒物, 现场勘验, 取证勘查…) land in it. Held at what it finds today, so a change
    # that loses them fails.
    banded = {ref for ref in forensic if 20 <= scores[ref] <= 45}
    assert not forensic & flagged and len(banded) >= 5, {titles[ref]: scores[ref] for ref in forensic - banded}


@pytest.mark.parametrize(("title", "low"), [
    ("江西中医药大学附属医院采购荧光定量PCR仪项目", True),
    ("广东省广州监狱购买新冠病毒核酸、血清抗体检测服务以及外送检验服务采购项目废标公告", True),
    ("济宁医学院2022年基因测序仪采购项目竞争性磋商公告", True),
])
def test_named_negatives(title: str, low: bool) -> None:
    assert Scorer(load_watchlist()).score(MatchInput(title=title)).score < 50
