"""The ccgp parsers on the real saved pages (exact values) and on the project's sample pages."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from caigou.crawler.parsers import ccgp
from caigou.crawler.parsers.ccgp import (
    ParseError,
    block_reason,
    build_search_url,
    channel_url,
    parse_channel_page,
    parse_detail,
    parse_search_page,
    source_key_from_url,
)
from caigou.pipelines.money import parse_money
from caigou.pipelines.normalise import parse_published, record_from_item
from caigou.pipelines.regions import prefecture_of
from tests import ccgp_truth

SAMPLES = Path(__file__).resolve().parent.parent / "caigou" / "demo_data" / "ccgp"
GUIZHOU_URL = "http://www.ccgp.gov.cn/cggg/dfgg/zbgg/202506/t20250627_24871234.htm"  # the ID is made up
SHANDONG_URL = "http://www.ccgp.gov.cn/cggg/dfgg/zbgg/202507/t20250714_24960123.htm"  # the ID is made up


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def test_real_guizhou_award(shared_dir: Path) -> None:
    item = parse_detail((shared_dir / "real/ccgp/detail_dfgg_zbgg_guizhou_20250627.html").read_bytes(), GUIZHOU_URL)
    assert item.title == ("清镇市2025年农村综合改革转移支付预算（农村公益事业财政奖补）项目麦格苗族布依族乡"
                          "太阳能路灯采购的中标(成交)结果公告")
    assert (item.source, item.source_key, item.notice_type, item.notice_type_label) == \
        ("ccgp", "24871234", "award", "中标公告")
    assert item.published_text == "2025-06-27 17:52"
    assert parse_published(item.published_text) == dt.datetime(2025, 6, 27, 17, 52,
                                                                tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert (item.buyer, item.region_text, item.agency) == ("清镇市麦格苗族布依族乡人民政府", "贵州省",
                                                           "贵州励柯工程咨询有限公司")
    assert item.project_code == "LKZX2025-CG013"
    assert item.award_text == "￥56.980000 万元（人民币）" and parse_money(item.award_text) == Decimal("569800.00")
    assert item.budget_text == ""
    assert [(s.lot, s.name, s.address, s.amount_text) for s in item.suppliers] == [
        ("", "江苏新煦光电科技有限公司", "高邮市菱塘工业集中区", "总价形式报价:569800.00(元)")]
    assert item.line_items == [{
        "lot_name": "清镇市2025年农村综合改革转移支付预算（农村公益事业财政奖补）项目麦格苗族布依族乡太阳能路灯采购",
        "name": "清镇市2025年农村综合改革转移支付预算（农村公益事业财政奖补）项目麦格苗族布依族乡太阳能路灯采购",
        "brand": "详见附件", "model": "详见附件", "quantity": "1", "unit_price": "569800元", "kind": "goods"}]
    assert [a.name for a in item.attachments] == ["中标（成交）结果公告.pdf", "中标结果文件压缩包.zip"]
    assert item.attachments[0].url.endswith("712f2f61-2276-466e-9e97-677c77b8e3bc.pdf")
    assert item.fields["评审专家名单"] == "赵有亮、叶华、邓霁" and item.fields["频道"] == "地方公告"
    assert "相关公告" not in item.body_text and "四、主要标的信息" in item.body_text


def test_real_shandong_lots(shared_dir: Path) -> None:
    item = parse_detail((shared_dir / "real/ccgp/detail_dfgg_zbgg_shandong_20250714_excerpt.html").read_bytes(),
                        SHANDONG_URL)
    assert item.title == "济南大学中心校区学生公寓改造提升项目施工中标（成交）公告"
    assert (item.buyer, item.region_text, item.agency) == ("济南大学", "山东省", "海逸恒安项目管理有限公司")
    assert item.project_code == "SDGP370000000202502005150"
    assert item.award_text == "￥10618.520389 万元（人民币）"  # the label is "总中标金 额" on the page
    assert [(s.lot, s.name, s.amount_text) for s in item.suppliers] == [
        ("A", "中建八局第二建设有限公司", "2837.861389万元"), ("B", "中建八局东南建设有限公司", "2767万元"),
        ("C", "济南一建集团有限公司", "2578.659万元"), ("D", "中铁十局集团有限公司", "2435万元")]
    assert item.suppliers[1].address == "厦门市思明区观音山国际商务营运中心2号11楼01和04单元部分"
    assert [(lot["lot"], lot["status"]) for lot in json.loads(item.fields["lots"])] == [
        ("A", "awarded"), ("B", "awarded"), ("C", "awarded"), ("D", "awarded")]
    assert "amount_conflict" not in item.fields  # the four lots add up to the total
    record = record_from_item(item)
    assert record.award_cny == Decimal("106185203.89") and record.region_code == "370000"
    assert [s.amount_cny for s in record.suppliers] == [Decimal("28378613.89"), Decimal("27670000.00"),
                                                        Decimal("25786590.00"), Decimal("24350000.00")]
    assert record.published_at == dt.datetime(2025, 7, 14, 1, 59, tzinfo=record.published_at.tzinfo)
    assert record.warnings == []


def test_sample_single_source_with_brand_in_the_item_table() -> None:
    url = "http://www.ccgp.gov.cn/cggg/dfgg/dylygg/202406/t20240612_22000101.htm"
    item = parse_detail(sample("detail_22000101.html"), url)
    assert (item.notice_type, item.buyer, item.project_code) == ("single_source", "那曲市公安局刑侦支队",
                                                                 "XZNQ-2024-017")
    assert item.line_items[0]["brand"] == "赛默飞世尔 Applied Biosystems"
    assert item.line_items[0]["model"] == "3500xL 24道"
    assert item.budget_text == "￥123.000000 万元（人民币）"


def test_sample_older_template() -> None:
    url = "http://www.ccgp.gov.cn/cggg/dfgg/cjgg/202406/t20240618_22000104.htm"
    item = parse_detail(sample("detail_22000104.html"), url)
    assert (item.notice_type, item.notice_type_label, item.region_text) == ("award", "成交公告", "西藏自治区")
    assert [(s.lot, s.name, s.amount_text) for s in item.suppliers] == [("1", "西藏林海科技有限公司", "42.6万元")]
    assert item.project_code == "LZGA-2024-009" and "自动打孔仪" in item.body_text


def test_block_pages_are_not_notices() -> None:
    blocked = sample("blocked_detail.html")
    assert block_reason(blocked, "detail") == "security check page (安全验证)"
    assert block_reason(sample("rate_limited.html"), "search") == "rate limited (频繁访问)"
    assert block_reason(b"<html><body>nothing</body></html>", "search") is not None
    assert block_reason(sample("search_dna_1.html"), "search") is None
    assert block_reason(sample("detail_22000102.html"), "detail") is None
    with pytest.raises(ParseError, match="安全验证"):
        parse_detail(blocked, "http://www.ccgp.gov.cn/cggg/dfgg/dylygg/202406/t20240612_22000101.htm")


def test_search_page_with_obfuscated_links_and_pager() -> None:
    page = parse_search_page(sample("search_dna_1.html"), "http://search.ccgp.gov.cn/bxsearch?kw=DNA")
    assert (page.total, page.page_count, len(page.rows)) == (5, 2, 3)
    first = page.rows[0]
    assert first.url == "http://www.ccgp.gov.cn/cggg/dfgg/dylygg/202406/t20240612_22000101.htm"  # from ohtmlurls
    assert (first.published_text, first.buyer, first.agency) == ("2024.06.12 09:30:00", "那曲市公安局刑侦支队",
                                                                 "西藏雪域招标代理有限公司")
    assert (first.type_label, first.region_text, first.pinmu) == ("单一来源公告", "西藏", "货物/设备")


def test_search_url_is_the_sites_own() -> None:
    url = build_search_url("遗传分析仪", dt.date(2024, 1, 1), dt.date(2024, 12, 31), page=3, zone_id="54",
                           zone_name="西藏自治区", bid_type=7)
    assert url.startswith("http://search.ccgp.gov.cn/bxsearch?searchtype=1&page_index=3&bidSort=0&buyerName=")
    assert "&bidType=7&dbselect=bidx&kw=%E9%81%97%E4%BC%A0%E5%88%86%E6%9E%90%E4%BB%AA&" in url
    assert "start_time=2024%3A01%3A01&end_time=2024%3A12%3A31&timeType=6" in url
    assert url.endswith("&zoneId=54&pppStatus=0&agentName=")


def test_channel_pages() -> None:
    assert channel_url("dfgg", "gkzb", 0) == "http://www.ccgp.gov.cn/cggg/dfgg/gkzb/index.htm"
    assert channel_url("zygg", "zbgg", 2) == "http://www.ccgp.gov.cn/cggg/zygg/zbgg/index_2.htm"
    page = parse_channel_page(sample("channel_dfgg_zbgg_1.html"), channel_url("dfgg", "zbgg", 1))
    assert page.page_count == 2
    assert [(r.url, r.published_text, r.region_text) for r in page.rows] == [
        ("http://www.ccgp.gov.cn/cggg/dfgg/zbgg/202405/t20240528_21990001.htm", "2024-05-28 08:00", "贵州")]


def test_every_sample_detail_parses() -> None:
    manifest = json.loads((SAMPLES / "manifest.json").read_text(encoding="utf-8"))
    details = [url for url in manifest if source_key_from_url(url)]
    assert len(details) == 10
    for url in details:
        spec = manifest[url][-1] if isinstance(manifest[url], list) else manifest[url]
        record = record_from_item(parse_detail((SAMPLES / spec["file"]).read_bytes(), url))
        assert record.title and record.buyer and record.published_at and record.project_code, url
        assert record.warnings == [], (url, record.warnings)


# ------------------------------------------------------------------------------------------------ real pages of 2026

def test_every_real_page_parses_to_its_true_values(shared_dir: Path) -> None:
    """Every true value read by hand from the eight 2026 pages (medchan-truth.json), field by field."""
    matching, checked, wrong = ccgp_truth.score(shared_dir)
    assert wrong == []
    assert checked >= 280 and matching == checked


def test_a_county_takes_its_prefecture_only_where_the_page_names_it() -> None:
    """甘南县 is in 齐齐哈尔市 (the national table of divisions); the prefecture is added where the page names it
    somewhere (an address), never where it does not, and a municipality's districts get no placeholder."""
    assert prefecture_of("甘南县", "23") == "齐齐哈尔市"
    assert prefecture_of("甘南县", "62") is None          # no county of that name in Gansu (甘南 is a prefecture)
    assert prefecture_of("东丽区", "12") is None          # Tianjin's districts sit under 市辖区
    named = ccgp._region_text("甘南县", ["黑龙江省某某局", "齐齐哈尔市龙沙区卜奎大街"])
    assert named == "黑龙江省 齐齐哈尔市 甘南县"
    assert ccgp._region_text("甘南县", ["黑龙江省某某局", "哈尔滨市南岗区"]) == "黑龙江省 甘南县"


def test_real_failed_lot_keeps_its_reason(shared_dir: Path) -> None:
    item = parse_detail((shared_dir / "real/ccgp/ccgp_award_liaoning_all_packages_failed.html").read_bytes(),
                        ccgp_truth.PAGE_URLS["ccgp_award_liaoning_all_packages_failed.html"])
    assert item.suppliers == []
    assert json.loads(item.fields["lots"]) == [{
        "lot": "002 县级医院医疗服务能力提升设备采购", "supplier": None, "amount": None, "status": "failed",
        "reason": "通过符合性检查的供应商不足3家，技术参数不满足招标文件要求。",
        "decided_at": "2026年09月28日 19时57分43秒"}]
    assert item.attachments[0].url.startswith("http://www.ccgp.gov.cn/download.do?method=getFile")


def test_real_yuan_in_a_wan_yuan_column_is_flagged_and_both_figures_kept(shared_dir: Path) -> None:
    name = "ccgp_award_tianjin_unit_price_misdeclared.html"
    item = parse_detail((shared_dir / "real/ccgp" / name).read_bytes(), ccgp_truth.PAGE_URLS[name])
    assert item.line_items[0]["unit_price"] == "312000元" and item.line_items[0]["unit_price_as_printed"] == "312000"
    assert "312000 under a 万元 header read as yuan" in item.fields["amount_conflict"]
    assert record_from_item(item).award_cny == Decimal("312000.00")
