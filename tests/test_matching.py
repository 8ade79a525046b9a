"""Watchlist matching: every trap of the research notes, the fast path equal to the naive one, scores with reasons,
quantities, storing and re-matching on SQLite and PostgreSQL, and the command line."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from caigou.models import NoticeMatch, NoticeScore
from caigou.models.db import Database
from caigou.pipelines.matching import MatchInput, Scorer, load_watchlist
from caigou.pipelines.matching.matcher import Matcher
from caigou.pipelines.matching.store import changes_since, describe_change, rematch
from caigou.pipelines.matching.text import normalise, normalise_with_offsets
from caigou.pipelines.matching.watchlist import DEFAULT_PATH, parse_watchlist
from caigou.pipelines.store import NoticeStore
from tests.crawling import run_caigou
from tests.test_store import make_record


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer(load_watchlist())


def terms(scorer: Scorer, text: str) -> list[str]:
    return [m.term for m in scorer.matches(MatchInput(body=text))]


@pytest.mark.parametrize(("text", "expected"), [
    ("ＤＮＡ　Ｙ－ＳＴＲ扩增试剂盒", ["Y-STR扩增试剂盒"]),            # full width
    ("采购ystr检测试剂", ["Y-STR扩增试剂盒"]),
    ("THERMO FISHER SCIENTIFIC 供货", ["赛默飞世尔"]),                # Latin case, several tokens
    ("Applied Biosystems 3500xL Genetic Analyzer", ["应用生物系统", "3500xL", "遗传分析仪"]),
    ("帝肯（上海）实验器材有限公司", ["帝肯"]),
    ("我们上帝肯定会保佑", []),                                         # 帝肯 inside 上帝肯定
    ("清华大学采购实验设备", []),                                        # no bare 华大
    ("华大基因测序服务", ["华大基因"]),
    ("单价3500元，共3130元", []),                                       # model numbers as prices
    ("3500型遗传分析仪一台", ["3500xL"]),
    ("ABI 3130遗传分析仪", ["应用生物系统", "3130xl"]),
    ("3500 型 遗传分析仪", ["3500xL"]),
    ("男性家族排查系统血样检验试剂盒", ["家系排查"]),
    ("DNA   数据库 建设", ["DNA数据库"]),                             # stray white space inside CJK
    ("abilities of the lab", []),                                      # ABI only as a whole Latin token
])
def test_traps(scorer: Scorer, text: str, expected: list[str]) -> None:
    assert terms(scorer, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("ABI 3500元", ["应用生物系统"]),                  # a price after the model spelling: ABI is still the vendor
    ("价格3500元", []),
    ("遗传分析仪3500", ["遗传分析仪", "3500xL"]),       # a bare model number beside its instrument
    ("型号:3500", ["3500xL"]),
    ("荧光定量PCR仪7500", ["荧光定量PCR仪", "QuantStudio"]),
    ("7500荧光定量PCR仪一台", ["QuantStudio", "荧光定量PCR仪"]),
    ("采购7500台", []),                                # a count
    ("遗传分析仪 3500台", ["遗传分析仪"]),             # a count even beside the instrument
    ("9700 PCR扩增仪", ["GeneAmp 9700", "PCR扩增仪"]),
    ("北京博奥森生物科技有限公司", []),                 # Bioss, not CapitalBio
    ("博奥公司生物芯片", ["博奥生物"]),
    ("金盾保安服务有限公司", []),                       # a security firm, not the Golden Shield
    ("公安金盾二期项目", ["金盾工程"]),
])
def test_model_numbers_and_short_names_need_context(scorer: Scorer, text: str, expected: list[str]) -> None:
    assert terms(scorer, text) == expected


def test_a_user_alias_that_is_a_bare_number_needs_context(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('[[term]]\nterm = "某仪"\ncategory = "equipment"\ntier = "strong"\naliases = ["3500"]\n',
                    encoding="utf-8")
    own = Scorer(load_watchlist((mine,)))
    assert [terms(own, text) for text in ("价格3500元", "价格3500左右", "型号3500")] == [[], [], ["某仪"]]


@pytest.mark.parametrize(("notice", "at_least", "below"), [
    (MatchInput(title="那曲市公安局刑侦支队DNA实验室遗传分析仪升级单一来源公示", buyer="那曲市公安局刑侦支队"), 50, None),
    (MatchInput(title="拉萨市疾病预防控制中心荧光定量PCR仪采购", buyer="拉萨市疾病预防控制中心",
                body="用于新冠病毒核酸检测"), None, 50),
    (MatchInput(title="日喀则市妇幼保健院新生儿疾病筛查采血卡", buyer="日喀则市妇幼保健院"), None, 50),
    (MatchInput(title="某市人民医院遗传分析仪采购", buyer="某市人民医院"), None, 50),          # hospital buyer
    (MatchInput(title="西藏大学二代测序仪采购", buyer="西藏大学"), None, 50),
    (MatchInput(title="某司法鉴定中心STR试剂盒采购", buyer="某司法鉴定中心", body="亲子鉴定"), None, 50),
    (MatchInput(title="某县畜牧兽医站非洲猪瘟PCR仪采购", buyer="某县畜牧兽医站"), None, 50),
])
def test_buyers_and_contexts(scorer: Scorer, notice: MatchInput, at_least: int | None, below: int | None) -> None:
    score = scorer.score(notice).score
    if at_least is not None:
        assert score >= at_least
    if below is not None:
        assert score < below


@pytest.mark.parametrize(("buyer", "points"), [
    ("某市人民检察院", "+30"), ("某市中级人民法院", "+30"), ("某县司法局", "+30"),
    ("某市人民检察院司法鉴定中心", "+30"),     # a procuratorate's own forensic lab
    ("某司法鉴定中心", "+30"),                 # a judicial appraisal centre is a judicial buyer (issue 11)…
])
def test_judicial_buyers(scorer: Scorer, buyer: str, points: str) -> None:
    result = scorer.score(MatchInput(title=f"{buyer}遗传分析仪采购", buyer=buyer))
    assert any(r.startswith("buyer is") and r.endswith(points) for r in result.reasons), result.reasons
    assert (result.score >= 50) == (points == "+30")


def test_paternity_testing_stays_below_50_whatever_forensic_markers_say(scorer: Scorer) -> None:
    """…but civil paternity testing (亲子鉴定) is a firm negative context: STR, a forensic marker, cannot cancel it."""
    result = scorer.score(MatchInput(title="某司法鉴定所亲子鉴定用STR试剂盒采购", buyer="某司法鉴定所"))
    assert result.score < 50
    assert any(r.startswith("negative context 亲子鉴定") for r in result.reasons)


def test_newborn_screening_is_a_context_negative_cancelled_by_forensic_markers(scorer: Scorer) -> None:
    plain = scorer.score(MatchInput(title="某市公安局采血卡采购", buyer="某市公安局")).score
    screening = scorer.score(MatchInput(title="某市公安局采血卡采购", buyer="某市公安局", body="用于新生儿筛查和NIPT"))
    assert screening.score < 50 <= plain
    # the penalty, and the general word 采血 no longer counts (it did beside the police buyer)
    assert any(r.startswith("general word 采血 in title counts") for r in scorer.score(
        MatchInput(title="某市公安局采血卡采购", buyer="某市公安局")).reasons)
    assert "general word 采血 not counted: a negative context" in screening.reasons
    assert any(r.startswith("negative context 新生儿筛查") and r.endswith("-25") for r in screening.reasons)
    forensic = scorer.score(MatchInput(title="某市公安局采血卡采购", buyer="某市公安局",
                                       body="用于新生儿筛查; Y-STR检测"))
    assert any("cancelled by forensic marker" in r for r in forensic.reasons)
    # the maternal hospital itself is still a negative buyer
    assert any(r.startswith("buyer is maternal") for r in scorer.score(
        MatchInput(title="某妇幼保健院采血卡", buyer="某市妇幼保健院")).reasons)


@pytest.mark.parametrize(("title", "below_50"), [
    ("某市人民医院遗传分析仪3500xL采购项目", True),     # was 50: the trading centre hid the hospital
    ("某市公安局遗传分析仪采购项目", False),
])
def test_a_generic_buyer_falls_back_to_the_title(scorer: Scorer, title: str, below_50: bool) -> None:
    result = scorer.score(MatchInput(title=title, buyer="某市公共资源交易中心"))
    assert (result.score < 50) == below_50
    assert any(r.startswith("title (buyer 某市公共资源交易中心 only runs the tender) is") for r in result.reasons)


def test_police_covid_purchase_is_mid_score_and_a_forensic_marker_cancels_the_penalty(scorer: Scorer) -> None:
    covid = scorer.score(MatchInput(title="某县公安局核酸检测PCR扩增仪采购", buyer="某县公安局", body="新冠核酸检测"))
    assert 0 < covid.score < 50
    assert any("negative context" in r and "-25" in r for r in covid.reasons)
    forensic = scorer.score(MatchInput(title="某县公安局PCR扩增仪采购", buyer="某县公安局",
                                       body="用于新冠核酸检测及STR分型"))
    assert forensic.score > covid.score
    assert any("cancelled by forensic marker" in r for r in forensic.reasons)


def test_tibet_scores_higher_including_former_names(scorer: Scorer) -> None:
    elsewhere = scorer.score(MatchInput(title="某市公安局DNA采血卡采购", buyer="某市公安局")).score
    nyingchi = scorer.score(MatchInput(title="林芝地区公安处DNA采血卡采购", buyer="林芝地区公安处"))
    by_code = scorer.score(MatchInput(title="某市公安局DNA采血卡采购", buyer="某市公安局", region_code="632700"))
    assert nyingchi.score == by_code.score == elsewhere + 15
    assert any("Tibetan area (林芝地区)" in r for r in nyingchi.reasons)


def test_reasons_and_vendor_product_kit(scorer: Scorer) -> None:
    result = scorer.score(MatchInput(title="刑科所试剂采购", buyer="某市公安局刑事科学技术研究所",
                                     items=["GlobalFiler 试剂盒 赛默飞世尔 3500xL 20盒",
                                            "STR扩增试剂盒 200人份/盒 15盒"]))
    assert result.score == 100
    assert "vendor, product model and kit together: +10" in result.reasons
    assert all(m.field == "items" for m in result.matches)
    assert result.reasons[-1] == "score 100 — review first"


def test_quantities(scorer: Scorer) -> None:
    found = scorer.matches(MatchInput(body="B包Y-STR扩增试剂盒(100人份/盒)60盒；A包FTA卡50000张"))
    by_term = {m.term: m.quantity for m in found}
    assert by_term["Y-STR扩增试剂盒"] == {"per_unit": 100, "per_unit_unit": "人份/盒", "count": 60, "unit": "盒",
                                       "reactions": 6000}
    assert by_term["FTA卡"] == {"count": 50000, "unit": "张"}


def test_snippets_and_offsets_refer_to_the_original_field(scorer: Scorer) -> None:
    body = "前文" * 40 + "采购遗传分析仪一台" + "后文" * 40
    match = scorer.matches(MatchInput(body=body))[0]
    assert body[match.start:match.end] == "遗传分析仪"
    at = body.index(match.snippet)
    assert at <= match.start and match.end <= at + len(match.snippet)
    assert match.start - at <= 30 and at + len(match.snippet) - match.end <= 30


@pytest.mark.parametrize(("body", "term", "snippet"), [
    # a clause boundary within reach: the snippet ends there, whole clauses
    ("二、项目名称：昌都市公安局采购项目中标公告\n本项目分两个标包：A包采血卡(FTA卡)50000张；B包Y-STR扩增试剂盒"
     "(100人份/盒)174盒，用于男性家族排查系统血样检验。三、中标信息", "Y-STR扩增试剂盒",
     "本项目分两个标包：A包采血卡(FTA卡)50000张；B包Y-STR扩增试剂盒(100人份/盒)174盒，用于男性家族排查系统血样检验。"),
])
def test_snippets_end_at_clause_boundaries_never_inside_a_number(scorer: Scorer, body: str, term: str,
                                                                 snippet: str) -> None:
    [match] = [m for m in scorer.matches(MatchInput(body=body)) if m.term == term]
    assert match.snippet == snippet


@pytest.mark.parametrize("padding", range(6, 18))
def test_snippets_without_a_clause_boundary_never_cut_a_number_or_word(scorer: Scorer, padding: int) -> None:
    body = "遗传分析仪一台以及" + "配套" * padding + "耗材(100人份/盒)174盒还有其他配套东西" + "以及配套" * 20
    [match] = scorer.matches(MatchInput(body=body))
    end = body.index(match.snippet) + len(match.snippet)
    assert not (body[end - 1].isdigit() and body[end].isdigit()), match.snippet
    edges, at = {0}, 0
    for word in scorer.matcher.tokenizer.cut(body, HMM=True):
        at += len(word)
        edges.add(at)
    assert end in edges, match.snippet  # a word's edge, as jieba reads the text


@pytest.mark.parametrize(("body", "matched"), [
    ("西藏自治区公安厅ＤＮＡ数据库项目", "ＤＮＡ数据库"),          # full width: 3 characters, as published
    ("某市公安局Dna  数据库项目", "Dna  数据库"),                  # mixed case, stray spaces kept in the span
    ("甲\n\n　ＡＢＩ　３５００ｘＬ　遗传分析仪", "ＡＢＩ"),
])
def test_offsets_and_snippets_index_the_original_text(scorer: Scorer, body: str, matched: str) -> None:
    match = scorer.matches(MatchInput(body=body))[0]
    assert match.matched_text == matched and body[match.start:match.end] == matched
    assert match.snippet in body and matched in match.snippet
    assert "dna" not in match.snippet  # not the lower-cased, normalised text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ＤＮＡdnaＡＢＣabc　 \n\t－—-ｶﾞ㎏İΣς公安厅数据库，,;；。123１２３")),
               max_size=30))
def test_offset_map_agrees_with_normalise(text: str) -> None:
    mapped, offsets = normalise_with_offsets(text)
    assert mapped == normalise(text)
    assert len(offsets) == len(mapped) + 1 and offsets == sorted(offsets) and offsets[-1] == len(text)
    for index, char in enumerate(mapped):  # each character comes from its source (or is a space it collapsed)
        source = text[offsets[index]:offsets[index + 1] or len(text)]
        assert char == " " or char.casefold() in normalise(source).casefold() or offsets[index] == offsets[index + 1]


@pytest.mark.parametrize(("body", "expected"), [
    # the desks' count is not the analyser's: the clause ends at the comma
    ("遗传分析仪，办公桌5张", {"遗传分析仪": None}),
    # a line break ends a clause too (normalising drops it, the original keeps it)
    ("遗传分析仪\n办公桌5张", {"遗传分析仪": None}),
    # boxes × reactions go to the kit only, not to the vendor, model or analyser beside it
    ("赛默飞世尔 3500xL 遗传分析仪 STR扩增试剂盒 60盒×100人份",
     {"赛默飞世尔": None, "3500xL": None, "遗传分析仪": None,
      "STR扩增试剂盒": {"count": 60, "unit": "盒", "per_unit": 100, "per_unit_unit": "人份/盒", "reactions": 6000}}),
    # 采血卡(FTA卡) is one item: the cards are counted once, for the nearer name
    ("采血卡(FTA卡)50000张", {"采血卡": None, "FTA卡": {"count": 50000, "unit": "张"}}),
    # an instrument's count and unit price; a price's digits are not a count
    ("遗传分析仪1台，单价3500000元", {"遗传分析仪": {"count": 1, "unit": "台"}}),
    ("遗传分析仪1台 单价3500000元", {"遗传分析仪": {"count": 1, "unit": "台", "amount_cny": "3500000.00",
                                               "amount_label": "单价"}}),
    ("STR扩增试剂盒 总价35.5万元", {"STR扩增试剂盒": {"amount_cny": "355000.00", "amount_label": "总价"}}),
    ("遗传分析仪5张", {"遗传分析仪": None}),                          # an instrument is not counted in 张
    # no instrument named: the model takes 台, never 盒 (boxes of what?)
    ("赛默飞世尔3500xL 2台", {"赛默飞世尔": None, "3500xL": {"count": 2, "unit": "台"}}),
    ("赛默飞世尔 3500xL 20盒", {"赛默飞世尔": None, "3500xL": None}),
    ("遗传分析仪 3500xL 2台", {"遗传分析仪": {"count": 2, "unit": "台"}, "3500xL": None}),
    ("DNA数据库建设 预算1000万元", {"DNA数据库": {"amount_cny": "10000000.00", "amount_label": "预算"}}),
])
def test_quantities_attach_to_the_right_term(scorer: Scorer, body: str, expected: dict[str, object]) -> None:
    assert {m.term: m.quantity for m in scorer.matches(MatchInput(body=body))} == expected


def test_capacity_summary_in_reasons_and_match_output(scorer: Scorer) -> None:
    body = ("1. Y-STR扩增试剂盒(100人份/盒)60盒；2. STR扩增试剂盒 200人份/盒 × 15盒；3. 采血卡(FTA卡)50000张；"
            "4. 遗传分析仪2台 单价1500000元")
    result = scorer.score(MatchInput(title="某市公安局DNA实验室耗材", buyer="某市公安局", body=body,
                                     items=["Y-STR扩增试剂盒 100人份/盒 60盒"]))
    # items restate part of the body: the larger field counts, not both
    assert result.capacity == {"reactions": 9000, "cards": 50000, "instruments": 2, "amount_cny": "3000000.00"}
    assert "capacity: 9000 reactions (boxes × 人份/盒), 50000 sample cards, 2 instruments, ¥3000000.00" in result.reasons


ALPHABET = st.sampled_from(list("公安局采购遗传分析仪试剂盒上帝肯定清华大学元台张盒人份的和在DNAYSTRxl3500-  ，。")
                           + ["遗传分析仪", "Y-STR", "3500xL", "帝肯", "赛默飞", "Thermo Fisher", "采血卡",
                              "3500元", "华大基因", "STR扩增试剂盒", "家系排查", "博奥", "公司", "金盾", "保安",
                              "荧光定量PCR仪", "7500", "型号:", "ABI 3500"])


@settings(max_examples=300, deadline=None)
@given(st.lists(ALPHABET, max_size=40))
def test_fast_path_equals_tokenising_everything(parts: list[str]) -> None:
    matcher = _matcher()
    text = normalise("".join(parts))
    assert matcher.find(text) == matcher.find_naive(text)


def test_fast_path_equals_naive_on_real_pages(shared_dir: Path) -> None:
    from caigou.crawler.parsers.ccgp import parse_detail

    matcher = _matcher()
    for page in (shared_dir / "real/ccgp").glob("detail_*.html"):
        text = normalise(parse_detail(page.read_bytes(), "http://www.ccgp.gov.cn/cggg/dfgg/zbgg/x/t1_1.htm")
                         .body_text)
        assert matcher.find(text) == matcher.find_naive(text)
    titles = (shared_dir / "real/ccgp/titles_20220606-20220610.csv").read_text(encoding="utf-8")
    text = normalise(titles[:200_000])
    assert matcher.find(text) == matcher.find_naive(text)


_MATCHER: list[Matcher] = []


def _matcher() -> Matcher:
    if not _MATCHER:
        _MATCHER.append(Matcher(load_watchlist()))
    return _MATCHER[0]


def test_watchlist_check_reports_lines(tmp_path: Path) -> None:
    bad = tmp_path / "mine.toml"
    bad.write_text(textwrap.dedent("""\
        # my terms
        [[term]]  # the analyser
        term = "遗传分析仪"
        category = "equipment"
        tier = "strong"
        aliases = ["基因分析仪"]

        [[term]]
        term = "新仪器"
        category = "gadgets"
        tier = "strong"
        aliases = [
            "新仪器二号",
            "基因分析仪",
        ]

        [[negative]]
        term = "新冠"
        kind = "context"
        aliases = ["新型冠状病毒"]

        [[negative]]   # the same again, by mistake
        term = "新冠病毒"
        kind = "context"
        aliases = ["疫情", "新型冠状病毒"]
        """), encoding="utf-8")
    parsed, problems = parse_watchlist([bad])
    # a header with a comment after it is still a header; the alias's own line in a multi-line array
    assert [(t.line, t.line_of("新仪器二号")) for t in parsed.terms] == [(2, 2), (8, 13)]
    assert [(p.line, p.message) for p in problems] == [
        (10, "新仪器: unknown category 'gadgets'"),
        (14, "新仪器: alias '基因分析仪' is already claimed by '遗传分析仪' (line 6)"),
        (25, "新冠病毒: alias '新型冠状病毒' is already claimed by '新冠' (line 20)")]


def test_watchlist_check_command_checks_an_extension_against_the_default(tmp_path: Path) -> None:
    extension = tmp_path / "extra.toml"
    extension.write_text(textwrap.dedent("""\
        [[term]]
        term = "我的分析仪"
        category = "equipment"
        tier = "strong"
        aliases = ["DNA遗传分析仪"]

        [[negative]]
        term = "我的负面"
        kind = "context"
        aliases = ["咽拭子"]
        """), encoding="utf-8")
    result = run_caigou("watchlist", "check", str(extension))
    assert result.returncode == 1
    default = Path(str(DEFAULT_PATH))  # as the command names it: the package's own file
    lines = default.read_text(encoding="utf-8").splitlines()
    analyser = next(n for n, line in enumerate(lines, 1) if '"DNA遗传分析仪"' in line)
    swab = next(n for n, line in enumerate(lines, 1) if '"咽拭子"' in line)
    assert result.stdout.splitlines() == [
        f"{extension}:5: 我的分析仪: alias 'DNA遗传分析仪' is already claimed by '遗传分析仪' ({default} line {analyser})",
        f"{extension}:10: 我的负面: alias '咽拭子' is already claimed by '采样管' ({default} line {swab})"]
    assert run_caigou("watchlist", "check", "--alone", str(extension)).returncode == 0
    assert run_caigou("watchlist", "check").returncode == 0


@pytest.mark.parametrize(("alias", "why"), [
    ("3500", "is a bare number"),
    ("x", "is a single character"),
    ("-x", "starts or ends with punctuation"),
    ("a.b", "has no Latin word of two letters or more"),
    ("-ab", "starts or ends with punctuation"),
    ("肯定", "is a common word (jieba has seen it 6227 times)"),
])
def test_watchlist_check_refuses_spellings_that_match_nothing_or_everything(tmp_path: Path, alias: str,
                                                                            why: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[[term]]\nterm = "某试剂盒"\ncategory = "kit"\ntier = "strong"\naliases = [\n  "某某试剂",\n'
                   f'  "{alias}",\n]\n', encoding="utf-8")
    result = run_caigou("watchlist", "check", "--alone", str(bad))
    assert result.returncode == 1
    assert result.stdout.startswith(f"{bad}:7: 某试剂盒: '{alias}' {why}"), result.stdout


def test_watchlist_check_runs_token_checks_with_the_other_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[term]]\nterm = "某试剂盒"\ncategory = "kits"\ntier = "strong"\naliases = ["3130"]\n',
                   encoding="utf-8")
    result = run_caigou("watchlist", "check", "--alone", str(bad))
    assert result.stdout.splitlines() == [
        f"{bad}:3: 某试剂盒: unknown category 'kits'",
        f"{bad}:5: 某试剂盒: '3130' is a bare number (prices and counts look the same): list it under "
        "`context_only` with `context`"]


def test_a_spelling_jieba_cuts_differently_fails_the_check(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[term]]\nterm = "某试剂盒"\ncategory = "kit"\ntier = "strong"\naliases = ["采购一"]\n',
                   encoding="utf-8")
    result = run_caigou("watchlist", "check", "--alone", str(bad))
    # jieba reads 关于/采购/一项/目的: the alias would never match there
    assert result.stdout.splitlines() == [f"{bad}:5: 某试剂盒: '采购一' does not come out of jieba as whole tokens "
                                          "in '关于采购一项目的' (关于/采购/一项/目的)"]


def test_match_command(tmp_path: Path) -> None:
    lines = [{"id": 1, "title": "那曲市公安局遗传分析仪采购", "buyer": "那曲市公安局"},
             {"id": 2, "title": "办公桌椅采购"}]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", encoding="utf-8")
    result = run_caigou("match", "--input", str(source))
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == [1, 2]
    assert out[0]["score"] >= 50 and out[0]["matches"][0]["term"] == "遗传分析仪"
    assert set(out[0]["matches"][0]) >= {"term", "category", "field", "start", "end", "snippet"}
    assert out[1] == {"id": 2, "score": 0, "matches": [], "reasons": [], "capacity": {}}


def test_store_matches_and_rematch(db: Database, tmp_path: Path) -> None:
    store = NoticeStore(db)
    matched = store.save_notice(make_record(source_key="1"))
    plain = store.save_notice(make_record(source_key="2", title="办公家具采购", body_text="桌椅", buyer="某县财政局",
                                          region_code="520000", suppliers=[]))
    with db.session() as session:
        score = session.get_one(NoticeScore, matched.notice_id)
        assert score.score >= 50 and score.match_origin == "crawl" and score.first_matched_at is not None
        assert session.get_one(NoticeScore, plain.notice_id).first_matched_at is None
        assert {m.term for m in session.scalars(select(NoticeMatch))} == {"遗传分析仪"}

    # A watchlist that adds 家具 (furniture) and drops the genetic analyzer.
    changed = tmp_path / "watchlist.toml"
    changed.write_text('[[term]]\nterm = "家具"\ncategory = "other"\ntier = "strong"\naliases = []\n'
                       .replace('"other"', '"equipment"'), encoding="utf-8")
    counts = rematch(db, Scorer(load_watchlist((changed,))), batch=1)
    assert (counts.notices, counts.newly_matched, counts.no_longer_matching) == (2, 1, 1)
    with db.session() as session:
        now_matched = session.get_one(NoticeScore, plain.notice_id)
        assert now_matched.match_origin == "rematch" and now_matched.first_matched_at is not None
        assert session.get_one(NoticeScore, matched.notice_id).first_matched_at is None
        assert {m.term for m in session.scalars(select(NoticeMatch))} == {"家具"}
        # what stopped matching is kept, with the scores and watchlist versions before and after
        changes = {c.notice_id: c for c in changes_since(session, counts.started)}
        gone, new = changes[matched.notice_id], changes[plain.notice_id]
        assert (gone.no_longer_matching, gone.newly_matched, gone.new_score) == (True, False, 0)
        assert gone.old_score is not None and gone.old_score >= 50 and gone.no_longer_review_first
        assert gone.old_version == load_watchlist().version and gone.new_version == load_watchlist((changed,)).version
        assert (new.newly_matched, new.old_score) == (True, 0)
        assert describe_change(gone).startswith(f"#{matched.notice_id} {gone.old_score} → 0 (watchlist ")
        assert describe_change(gone).endswith(": no longer matching, below 50 now")
    # nothing changes the second time: nothing is recorded
    again = rematch(db, Scorer(load_watchlist((changed,))), batch=1)
    with db.session() as session:
        assert changes_since(session, again.started) == []
    shown = run_caigou("--db", db.url, "show", str(matched.notice_id))
    assert shown.returncode == 0, shown.stderr
    assert f"  rematch: #{matched.notice_id} {gone.old_score} → 0 (watchlist " in shown.stdout


def test_a_rematch_that_raises_a_score_across_50_marks_it_newly_matched(db: Database, tmp_path: Path) -> None:
    store = NoticeStore(db)
    # matched at crawl time, but weakly: a PCR instrument bought by a finance bureau
    weak = store.save_notice(make_record(source_key="3", title="某县财政局PCR仪采购", buyer="某县财政局",
                                         region_code="520000", body_text="", suppliers=[]))
    with db.session() as session:
        before = session.get_one(NoticeScore, weak.notice_id)
        assert before.match_origin == "crawl" and before.score < 50
    stronger = tmp_path / "stronger.toml"
    stronger.write_text('[[term]]\nterm = "PCR仪"\ncategory = "equipment"\ntier = "strong"\n'
                        '[[term]]\nterm = "财政局"\ncategory = "buyer-type"\ntier = "strong"\n', encoding="utf-8")
    counts = rematch(db, Scorer(load_watchlist((stronger,))))
    assert counts.now_review_first == 1
    with db.session() as session:
        after = session.get_one(NoticeScore, weak.notice_id)
        assert after.score >= 50 and after.match_origin == "rematch"  # digests: "newly matched after a change"
        [change] = changes_since(session, counts.started)
        assert change.now_review_first and not change.newly_matched


def test_stored_capacity(db: Database) -> None:
    store = NoticeStore(db)
    saved = store.save_notice(make_record(source_key="4", body_text="Y-STR扩增试剂盒(100人份/盒)60盒；FTA卡50000张"))
    with db.session() as session:
        assert session.get_one(NoticeScore, saved.notice_id).capacity == {"reactions": 6000, "cards": 50000}


def test_rematch_report_lists_the_changes(sqlite_db: Database, tmp_path: Path) -> None:
    saved = NoticeStore(sqlite_db).save_notice(make_record(source_key="5"))
    changed = tmp_path / "watchlist.toml"
    changed.write_text('[[term]]\nterm = "家具"\ncategory = "equipment"\ntier = "strong"\n', encoding="utf-8")
    result = run_caigou("--db", sqlite_db.url, "rematch", "--report", env={"CAIGOU_WATCHLIST_PATH": str(changed)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("re-matched 1 notices with watchlist ") and "1 no longer match" in lines[0]
    assert lines[1].startswith(f"#{saved.notice_id} ") and lines[1].endswith(": no longer matching, below 50 now")


# What the demo's notices state (caigou/demo_data/build.py): each notice restates its purchase in the summary and
# in the 主要标的信息 table or items, and a restatement must not add up.
DEMO_CAPACITY = {
    "22000101": {"instruments": 1},                                   # 遗传分析仪升级 1台
    "22000103": {"cards": 50000, "reactions": 6000},                  # 50000张; 60盒 × 100人份/盒
    "22000104": {"instruments": 3},                                   # PCR扩增仪2台、自动打孔仪1台
    "22000105": {"instruments": 5},                                   # 荧光定量PCR仪3台、全自动核酸提取仪2台
    "22000106": {"cards": 20000},
}


def test_demo_capacity_equals_what_the_notices_state(db: Database) -> None:
    from caigou.crawler.parsers.ccgp import parse_detail
    from caigou.demo_data.build import OUT
    from caigou.pipelines.normalise import record_from_item

    store = NoticeStore(db)
    saved = {}
    for key in DEMO_CAPACITY:
        page = OUT / f"detail_{key}.html"
        item = parse_detail(page.read_bytes(), f"http://www.ccgp.gov.cn/cggg/dfgg/zbgg/202406/t20240620_{key}.htm")
        saved[key] = store.save_notice(record_from_item(item)).notice_id
    with db.session() as session:
        for key, stated in DEMO_CAPACITY.items():
            capacity = session.get_one(NoticeScore, saved[key]).capacity or {}
            assert {k: v for k, v in capacity.items() if k != "amount_cny"} == stated, key


def test_a_restatement_counts_once_distinct_lines_add_up(scorer: Scorer) -> None:
    summary = "采购Y-STR扩增试剂盒(100人份/盒)60盒；采血卡(FTA卡)50000张。"
    table = "\n序号 标的名称 数量\n1 Y-STR扩增试剂盒 100人份/盒 60盒\n2 FTA采血卡 50000张"
    assert scorer.score(MatchInput(body=summary + table)).capacity == {"reactions": 6000, "cards": 50000}
    distinct = "Y-STR扩增试剂盒(100人份/盒)60盒；STR扩增试剂盒(100人份/盒)60盒"
    assert scorer.score(MatchInput(body=distinct)).capacity == {"reactions": 12000}


def test_match_command_names_bad_lines_and_goes_on(tmp_path: Path) -> None:
    good = json.dumps({"id": 1, "title": "那曲市公安局遗传分析仪采购"}, ensure_ascii=False).encode()
    lines = [good,
             "某市公安局DNA".encode("gbk"),                      # GBK, not UTF-8
             b"\x00\x01\xfe\xff binary",                         # binary junk
             b"[" * 100_000 + b"]" * 100_000,                    # nested too deeply for json
             b'{"id": NaN, "title": "x"}',                       # NaN would make the output invalid JSON
             b'"a string"',
             json.dumps({"id": 2, "title": "办公桌椅"}, ensure_ascii=False).encode()]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    result = run_caigou("match", "--input", str(source))
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [1, 2]
    assert result.stderr.splitlines() == [
        "caigou: error: line 2: not UTF-8 (invalid continuation byte at byte 2; save the file as UTF-8)",
        "caigou: error: line 3: not UTF-8 (invalid start byte at byte 2; save the file as UTF-8)",
        "caigou: error: line 4: JSON nested too deeply",
        "caigou: error: line 5: not JSON: NaN is not a JSON number",
        "caigou: error: line 6: not a JSON object (a str)",
        "caigou: error: 5 bad lines skipped (named above)"]
    assert result.returncode == 2

    strict = run_caigou("match", "--strict", "--input", str(source))
    assert [json.loads(line)["id"] for line in strict.stdout.splitlines()] == [1]
    assert strict.stderr.splitlines() == [
        "caigou: error: line 2: not UTF-8 (invalid continuation byte at byte 2; save the file as UTF-8)"]
    assert strict.returncode == 2


def test_matching_is_linear_in_the_number_of_hits(scorer: Scorer) -> None:
    """25,000 hits, each with two numbers: the owner of each number, the overlap of hits and the blocks jieba cuts
    were pairwise (25,000 hits took 279 s). Linear, they take a few seconds; 20 s of CPU is a generous guard."""
    import time

    line = "Y-STR扩增试剂盒(100人份/盒)60盒；"
    started = time.process_time()
    result = scorer.score(MatchInput(title="某市公安局试剂采购", body=line * 25_000))
    seconds = time.process_time() - started
    kits = [m for m in result.matches if m.term == "Y-STR扩增试剂盒"]
    assert len(kits) == 25_000
    assert all(m.quantity == {"count": 60, "unit": "盒", "per_unit": 100, "per_unit_unit": "人份/盒",
                              "reactions": 6000} for m in kits)
    assert result.capacity == {"reactions": 6000}  # 25,000 restatements of one line count once
    assert seconds < 20, f"{seconds:.1f} s of CPU for 25,000 hits"


@pytest.mark.parametrize(("title", "body", "context"), [
    # issue 11's kinds of wording that scored 0 or below 50
    ("某市公安局DNA检验试剂耗材采购", "", "police or judicial buyer 市公安局"),
    ("某县公安局DNA检测外包服务项目", "", "police or judicial buyer 县公安局"),
    ("某市司法鉴定中心DNA检测试剂采购", "", "police or judicial buyer 司法鉴定中心"),
    ("某市公安局人脸布控系统建设", "", "police or judicial buyer 市公安局"),
    ("某市公安局人像比对系统采购", "", "police or judicial buyer 市公安局"),
    ("某县看守所DNA及指纹采集设备采购", "", "police or judicial buyer 看守所"),
    ("山南边境管理支队人像采集设备采购", "", "police or judicial buyer 边境管理支队"),
    ("某市公安局生物样本采集设备采购", "", "police or judicial buyer 市公安局"),
    ("某市公安局法医物证实验室仪器设备采购", "", "police or judicial buyer 市公安局"),
    ("某招标代理有限公司关于DNA实验室外包人员服务项目的公告", "一、采购人信息\n名称：某市公安局刑事科学技术研究所",
     "body's 采购人 section"),
])
def test_general_words_count_in_a_police_or_judicial_context(scorer: Scorer, title: str, body: str,
                                                             context: str) -> None:
    result = scorer.score(MatchInput(title=title, body=body))
    assert result.score >= 50, result.reasons
    assert any(r.startswith("general word") and context in r for r in result.reasons), result.reasons
    assert any(m.category == "general-word" for m in result.matches)


@pytest.mark.parametrize(("title", "buyer"), [
    ("某市人民医院基因检测服务", ""), ("某大学人脸识别门禁系统", ""), ("中国农业银行某分行人脸识别系统", ""),
    ("某县公安局交通警察大队酒驾采血检验服务", ""),           # drink-driving blood tests: 采血, but not DNA
    ("某市农业农村局农作物品种DNA指纹鉴定", ""),
])
def test_general_words_stay_quiet_elsewhere(scorer: Scorer, title: str, buyer: str) -> None:
    result = scorer.score(MatchInput(title=title, buyer=buyer))
    assert result.score < 50, result.reasons
    assert not any(m.category == "general-word" for m in result.matches)


@pytest.mark.parametrize(("title", "expected"), [
    # a police forensic laboratory's 试剂/耗材 are for DNA work, however the title words them
    ("某州公安局物证鉴定所实验室耗材采购项目", 50),
    ("某市公安局刑事科学技术研究所试剂耗材采购", 50),
    # the same words from a bureau, or beside casework words, are not: the forensic band or nothing
    ("某市公安局办公耗材采购", 0),
    ("某市公安局理化检验试剂耗材采购", 20),
    ("某市公安局刑事科学技术研究所理化检验试剂采购", 20),
])
def test_laboratory_supplies_count_for_a_forensic_laboratory_only(scorer: Scorer, title: str, expected: int) -> None:
    result = scorer.score(MatchInput(title=title))
    if expected >= 50:
        assert result.score >= 50, result.reasons
        assert any(r.startswith("laboratory supplies") for r in result.reasons), result.reasons
    else:
        assert expected <= result.score < 50 if expected else result.score < 20, result.reasons
        assert not any(r.startswith("laboratory supplies") for r in result.reasons), result.reasons


def test_a_programme_or_place_alone_stays_below_50(scorer: Scorer) -> None:
    alone = scorer.score(MatchInput(title="色达县公安局警务站活动板房采购"))
    assert alone.score == 45 and "only a programme or place named" in alone.reasons[-2], alone.reasons
    bought = scorer.score(MatchInput(title="色达县公安局便民警务站人脸识别系统采购"))
    assert bought.score >= 50, bought.reasons


def test_a_laboratory_buyer_must_be_a_buyer_type(tmp_path: Path) -> None:
    extension = tmp_path / "extra.toml"
    extension.write_text('[laboratory]\nwords = ["试剂"]\nbuyers = ["物证鉴定所", "化验室"]\n', encoding="utf-8")
    _, problems = parse_watchlist([Path("pipelines/matching/watchlist.toml"), extension])
    assert [(p.path, p.line, p.message) for p in problems] == [
        (str(extension), 3, "laboratory buyer '化验室' is not a buyer-type term")]


def test_forensic_band_is_stored_and_filterable(db: Database) -> None:
    from caigou.filters import NoticeFilters
    from caigou.search import search

    store = NoticeStore(db)
    forensic = store.save_notice(make_record(source_key="f1", title="某市公安局法医毒物检验服务采购", body_text="",
                                             buyer="某市公安局", suppliers=[], attachments=[]))
    store.save_notice(make_record(source_key="f2", title="某市公安局警服采购", body_text="", buyer="某市公安局",
                                  suppliers=[], attachments=[]))
    with db.session() as session:
        score = session.get_one(NoticeScore, forensic.notice_id)
        assert 20 <= score.score <= 45 and score.first_matched_at is not None
        assert any(r.startswith("forensic, not DNA/biometric") for r in score.reasons)
    found = search(db, "", NoticeFilters(categories=["forensic"], min_score=20))
    assert [hit.notice.id for hit in found.hits] == [forensic.notice_id]
    assert search(db, "", NoticeFilters(categories=["forensic"], min_score=50)).total == 0
