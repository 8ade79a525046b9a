"""Held-out layouts of ccgp detail pages: variations written here from the templates the real pages show (lot counts,
label spacing, full- and half-width colons, several labels on one line, nested tables, banner rows, cells listing
several items), none of them seen while the parser was built against ../shared/real/ccgp. Also bad input: a page
without the notice structure, a lot without an amount, a 万元 column holding yuan."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caigou.crawler.items import NoticeItem
from caigou.crawler.parsers.ccgp import ParseError, parse_detail
from caigou.crawler.parsers.notice_body import parse_body
from caigou.pipelines.money import parse_money
from caigou.pipelines.normalise import record_from_item

URL = "http://www.ccgp.gov.cn/cggg/dfgg/zbgg/202609/t20260930_29990001.htm"  # made up


def page(body: str, summary: dict[str, str] | None = None, title: str = "某医院DNA测序仪采购项目中标公告",
         header: bool = True) -> str:
    """A ccgp detail page in the frame the real pages share; ``header=False`` is a saved copy without it."""
    rows = "".join(f"<tr><td class='title'>{label}</td><td colspan='3'>{value}</td></tr>"
                   for label, value in (summary or {}).items())
    head = (f'<meta name="ArticleTitle" content="{title}" /><title>{title}</title>' if header else "")
    frame = (f'<div class="vF_deail_currentloc"><p><a title="首页">首页</a> » <a title="地方公告">地方公告</a> » '
             f'<a title="中标公告">中标公告</a></p></div><div class="vF_detail_header"><h2 class="tc">{title}</h2>'
             f'<p class="tc"><span id="pubTime">2026年09月30日 10:00</span></p></div>' if header else "")
    return (f"<!doctype html><html><head><meta charset='utf-8'>{head}</head><body><div class='vF_detail_main'>{frame}"
            f"<div class='table'><h5>公告概要：</h5><table>{rows}</table></div><div class='vF_detail_content_container'>"
            f"<div class='vF_detail_content'>{body}</div></div></div></body></html>")


def lots_of(item: NoticeItem) -> list[dict[str, str | None]]:
    return json.loads(item.fields.get("lots", "[]"))


def test_labelled_lines_three_lots_one_failed_with_spaced_labels_and_both_colons() -> None:
    body = """<p>一、项目编号：SCZC-2026-0917（</p><p>二、项目名称：刑侦DNA实验室设备采购</p>
    <p>三、中标（成交）信息</p>
    <p>包号：1</p><p>供 应 商 名 称 ：成都博安生物科技有限公司</p><p>供应商地址：成都市武侯区科华北路1号</p>
    <p>中标（成交）金额：85.6（万元）</p>
    <p>包号:2</p><p>供应商名称:四川华测司法鉴定器材有限公司</p><p>中标(成交)金额:1,234,500.00元</p>
    <p>包号：3</p><p>废标（终止）原因：有效供应商不足三家</p>
    <p>九、凡对本次公告内容提出询问，请按以下方式联系。</p><p>1.采购人信息</p><p>名 称：甘孜藏族自治州公安局</p>"""
    item = parse_detail(page(body, {"采购单位": "甘孜藏族自治州公安局", "行政区域": "甘孜藏族自治州",
                                    "总中标金额": "￥209.050000 万元（人民币）"}), URL)
    assert item.project_code == "SCZC-2026-0917"
    assert [(s.lot, s.name) for s in item.suppliers] == [("1", "成都博安生物科技有限公司"),
                                                         ("2", "四川华测司法鉴定器材有限公司")]
    assert item.suppliers[0].address == "成都市武侯区科华北路1号"
    lots = lots_of(item)
    assert [(lot["lot"], lot["status"]) for lot in lots] == [("1", "awarded"), ("2", "awarded"), ("3", "failed")]
    assert [parse_money(lot["amount"]) for lot in lots[:2]] == [Decimal("856000.00"), Decimal("1234500.00")]
    assert lots[2]["reason"] == "有效供应商不足三家" and lots[2]["supplier"] is None
    assert "amount_conflict" not in item.fields  # 85.6万 + 123.45万 = 209.05万, the total
    record = record_from_item(item)
    assert record.region_code == "513300" and record.warnings == []
    assert item.region_text == "四川省 甘孜藏族自治州"


def test_several_labels_on_one_line_and_a_failed_lot_by_result_type() -> None:
    body = """<p>项目编号：GA-2026-11</p><div>包号：A 供应商名称：拉萨安科科技有限公司 中标金额：42.6万元</div>
    <div>包号：B 供应商名称：西藏林海科技有限公司 中标金额：18万元</div>
    <div>包号：C</div><div>结果类型：流标</div><div>确定时间：2026-09-29 10:00</div>"""
    item = parse_detail(page(body, {"采购单位": "那曲市公安局", "行政区域": "那曲市"}), URL)
    assert [(lot["lot"], lot["supplier"], lot["amount"], lot["status"]) for lot in lots_of(item)] == [
        ("A", "拉萨安科科技有限公司", "42.6万元", "awarded"), ("B", "西藏林海科技有限公司", "18万元", "awarded"),
        ("C", None, None, "failed")]
    assert lots_of(item)[2]["decided_at"] == "2026-09-29 10:00"
    assert item.region_text == "西藏自治区 那曲市" and record_from_item(item).region_code == "540600"


def test_one_lot_table_with_a_lot_column_inside_a_layout_table() -> None:
    rows = "".join(f"<tr><td>{lot}</td><td>{name}</td><td>地址{lot}</td><td>{amount}</td></tr>" for lot, name, amount in
                   (("1", "甲公司", "10.5"), ("2", "乙公司", "20"), ("3", "丙公司", "30.25"), ("4", "丁公司", "5")))
    body = f"""<table><tr><td><div>三、中标（成交）信息</div>
    <table><tr><th>包号</th><th>中标供应商名称</th><th>供应商地址</th><th>中标（成交）金额（万元）</th></tr>{rows}</table>
    </td></tr></table>
    <table><tr><th>排序</th><th>供应商名称</th><th>评审报价（万元）</th></tr><tr><td>1</td><td>戊公司</td><td>9</td></tr></table>"""
    item = parse_detail(page(body, {"采购单位": "某医院", "总中标金额": "￥65.750000 万元（人民币）"}), URL)
    assert [s.name for s in item.suppliers] == ["甲公司", "乙公司", "丙公司", "丁公司"]  # not the ranked 戊公司
    assert [parse_money(s.amount_text) for s in item.suppliers] == [
        Decimal("105000.00"), Decimal("200000.00"), Decimal("302500.00"), Decimal("50000.00")]
    assert "amount_conflict" not in item.fields


def test_totals_that_disagree_keep_both_figures_and_flag_the_notice() -> None:
    body = """<p>第1包 ：</p><table><tr><td>供应商名称</td><td>中标金额(万元)</td></tr><tr><td>甲公司</td><td>60</td></tr>
    </table><p>第2包 ：</p><table><tr><td>供应商名称</td><td>中标金额(万元)</td></tr><tr><td>乙公司</td><td>50</td></tr>
    </table>"""
    item = parse_detail(page(body, {"采购单位": "某医院", "总中标金额": "￥100.000000 万元（人民币）"}), URL)
    record = record_from_item(item)
    assert record.award_cny == Decimal("1000000.00")  # the total as printed …
    assert [s.amount_cny for s in record.suppliers] == [Decimal("600000.00"), Decimal("500000.00")]  # … and the lots
    assert "is not the lots' sum 1100000" in record.fields["amount_conflict"]


def test_goods_table_with_banner_row_several_items_in_one_cell_and_goods_labels() -> None:
    body = """<p>四、主要标的信息</p><p>合同包2(DNA检测设备):</p><table>
    <tr><th colspan="6">货物类</th></tr>
    <tr><td>名称</td><td>货物品牌</td><td>货物型号</td><td>数量</td><td>单价(元)</td><td>总价(元)</td></tr>
    <tr><td>基因测序仪;<br/>核酸提取仪</td><td>Illumina;<br/>Qiagen</td><td>MiSeq;<br/>QIAcube</td><td>1</td>
        <td>1,200,000.00;<br/>300,000.00</td><td>1,500,000.00</td></tr></table>"""
    item = parse_body(body, URL)
    assert [(i["lot"], i["kind"], i["type"], i["name"], i["brand"], i["model"], i["unit_price"]) for i in
            item.line_items] == [("合同包2", "goods", "货物类", "基因测序仪", "Illumina", "MiSeq", "1,200,000.00元"),
                                 ("合同包2", "goods", "货物类", "核酸提取仪", "Qiagen", "QIAcube", "300,000.00元")]


def test_a_page_without_its_header_takes_title_from_the_body_and_date_from_the_summary() -> None:
    body = """<h3 id="titlecandel">某市公安局物证鉴定所Y-STR试剂采购项目成交公告</h3><p>项目编号：ABC-1</p>
    <p>1.采购人信息</p><p>名称：某市公安局物证鉴定所</p>"""
    item = parse_detail(page(body, {"采购单位": "某市公安局", "公告时间": "2026年09月30日 09:15"}, header=False), URL)
    assert item.title == "某市公安局物证鉴定所Y-STR试剂采购项目成交公告"
    assert item.published_text == "2026年09月30日 09:15"
    assert item.buyer == "某市公安局物证鉴定所"  # the 采购人 section, not the summary's paying body


def test_body_linked_files_are_attachments_other_links_are_not() -> None:
    body = """<p>十、附件</p><p><a href="/files/招标文件.pdf">招标文件.pdf</a></p>
    <p><a href="http://x.gov.cn/dl?id=7">报价明细.xls</a></p><p><a href="http://www.ccgp.gov.cn/">首页</a></p>
    <p><a href="javascript:void(0)" onclick="downloadFile('/download.do?f=a.doc')">采购文件.doc</a></p>"""
    item = parse_body(body, URL)
    assert [(a.name, a.url) for a in item.attachments] == [
        ("招标文件.pdf", "http://www.ccgp.gov.cn/files/招标文件.pdf"), ("报价明细.xls", "http://x.gov.cn/dl?id=7"),
        ("采购文件.doc", "http://www.ccgp.gov.cn/download.do?f=a.doc")]


def test_region_from_the_page_when_only_a_county_is_stated() -> None:
    body = "<p>2.采购代理机构信息</p><p>名称：某咨询公司</p><p>地址：四川省成都市武侯区某路1号</p>"
    item = parse_detail(page(body, {"采购单位": "某县人民医院", "行政区域": "某某县",
                                    "代理机构地址": "四川省成都市武侯区某路1号"}), URL)
    assert item.region_text == "四川省 某某县" and record_from_item(item).region_code == "510000"


# ------------------------------------------------------------------------------------------------ bad input

def test_a_page_without_the_notice_structure_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="no notice on the page"):
        parse_detail("<html><head><title>首页</title></head><body><p>欢迎</p></body></html>", URL)
    with pytest.raises(ParseError, match="empty"):
        parse_detail(page("", {}, header=False), URL)


def test_a_lot_without_an_amount_is_kept_and_said() -> None:
    body = """<p>包号：1</p><p>供应商名称：甲公司</p><p>中标金额：12万元</p>
    <p>包号：2</p><p>供应商名称：乙公司</p>"""
    item = parse_detail(page(body, {"采购单位": "某医院"}), URL)
    assert [s.name for s in item.suppliers] == ["甲公司", "乙公司"]
    assert item.fields["parse_problems"] == "lot 2: supplier 乙公司 without an amount"
    assert record_from_item(item).warnings == []  # a missing figure is not an unreadable one
    body = "<p>供应商名称：甲公司</p><p>中标金额：详见附件</p>"
    item = parse_detail(page(body, {"采购单位": "某医院"}), URL)
    assert item.fields["parse_problems"] == "lot (unnamed): supplier 甲公司 without an amount (详见附件)"


def test_a_wan_yuan_column_holding_yuan_is_flagged_with_both_figures() -> None:
    body = """<p>第1包 ：</p><table><tr><td>供应商名称</td><td>中标金额(万元)</td></tr><tr><td>甲公司</td><td>48.5</td></tr>
    </table><p>第1包 :</p><table><tr><td>名称</td><td>品牌</td><td>规格型号</td><td>数量</td><td>单价(万元)</td></tr>
    <tr><td>基因分析仪</td><td>ABI</td><td>3500</td><td>1</td><td>485000</td></tr></table>"""
    item = parse_detail(page(body, {"采购单位": "某公安局", "总中标金额": "￥48.500000 万元（人民币）"}), URL)
    line = item.line_items[0]
    assert (line["unit_price"], line["unit_price_as_printed"]) == ("485000元", "485000")
    assert "485000 under a 万元 header read as yuan" in item.fields["amount_conflict"]


@pytest.fixture(scope="module")
def real_pages(shared_dir: Path) -> list[bytes]:
    return [path.read_bytes() for path in sorted((shared_dir / "real/ccgp").glob("*.html"))]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_cut_or_damaged_real_pages_parse_or_raise_parse_error(real_pages: list[bytes], data: st.DataObject) -> None:
    """A page cut anywhere (a download that stopped) or with a span dropped parses, or raises ParseError: no other
    exception."""
    raw = data.draw(st.sampled_from(real_pages))
    start = data.draw(st.integers(0, len(raw)))
    end = data.draw(st.integers(start, len(raw)))
    damaged = raw[:start] + raw[end:] if data.draw(st.booleans()) else raw[:start]
    try:
        record_from_item(parse_detail(damaged, URL))
    except ParseError:
        pass


# ------------------------------------------------------------------------------------------------ generated layouts

NAMES = ("甲生物科技有限公司", "乙医疗器械有限公司", "丙（天津）科技有限公司", "丁司法鉴定器材有限公司", "戊商贸有限公司")


def lot_block(template: str, number: int, amount_wan: Decimal, colon: str, spaced: bool) -> str:
    """One awarded lot in one of three templates the real pages show, its labels spaced or not."""
    name = NAMES[number - 1]
    space = " " if spaced else ""
    if template == "tianjin":  # 第N包 ： then a projectBundleList table, 中标金额 in 万元 via entities
        return (f'<div class="line">第{space}{number}{space}包 {colon}</div><table id="projectBundleList">'
                f'<tr class="tableHeader"><td>供应商名称</td><td>供应商地址</td><td>统一社会信用代码</td>'
                f'<td>&#20013;&#26631;金额(万元)</td></tr><tr><td>   {name}   </td><td>某地{number}号</td>'
                f'<td>91120000MA0{number}</td><td>{amount_wan}</td></tr></table>')
    if template == "hljcg":  # 合同包N(名称): then a table with the amount in yuan, thousands grouped
        return (f'<p class="u-content">合同包{space}{number}(设备{number}){colon}</p><table><thead><tr>'
                f'<th>供应商名称</th><th>供应商地址</th><th>中标（成交）金额</th></tr></thead><tbody><tr>'
                f'<td>{name}</td><td>某地{number}号</td><td><span>{amount_wan * 10000:,.2f}元</span></td></tr>'
                f'</tbody></table>')
    label = space.join("供应商名称") if spaced else "供应商名称"
    return (f"<p>包号{colon}{number}</p><p>{label}{colon}{name}</p><p>供应商地址{colon}某地{number}号</p>"
            f"<p>中标（成交）金额{colon}{amount_wan}（万元）</p>")


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
@pytest.mark.parametrize("spaced", [False, True], ids=["tight", "spaced"])
@pytest.mark.parametrize("colon", ["：", ":"], ids=["fullwidth", "halfwidth"])
@pytest.mark.parametrize("count", [1, 2, 5])
@pytest.mark.parametrize("template", ["tianjin", "hljcg", "lines"])
def test_generated_layouts(template: str, count: int, colon: str, spaced: bool, nested: bool) -> None:
    """Every combination of template, lot count, colon width, label spacing and a layout table around the body
    gives exactly its lots; with several lots the last one failed (a labelled failure after the awarded lots)."""
    awarded = count - 1 if count > 1 else 1
    amounts = [Decimal(f"{12.5 * number + 3}") for number in range(1, awarded + 1)]
    blocks = [lot_block(template, number, amount, colon, spaced) for number, amount in enumerate(amounts, 1)]
    if count > 1:
        blocks.append(f"<p>包号{colon}{count}</p><p>废标（终止）原因{colon}有效供应商不足三家。</p>")
    body = "<p>一、项目编号：GEN-2026-001</p><p>三、中标（成交）信息</p>" + "".join(blocks)
    if nested:
        body = f"<table><tr><td><div>{body}</div></td></tr></table>"
    total = sum(amounts, Decimal(0))
    item = parse_detail(page(body, {"采购单位": "某医院", "总中标金额": f"￥{total:.6f} 万元（人民币）"}), URL)
    lots = lots_of(item)
    assert [s.name for s in item.suppliers] == list(NAMES[:awarded])
    assert [s.address for s in item.suppliers] == [f"某地{n}号" for n in range(1, awarded + 1)]
    assert [parse_money(lot["amount"]) for lot in lots[:awarded]] == [(a * 10000).quantize(Decimal("0.01"))
                                                                       for a in amounts]
    assert [lot["status"] for lot in lots] == ["awarded"] * awarded + (["failed"] if count > 1 else [])
    if count > 1:
        assert lots[-1]["reason"] == "有效供应商不足三家。" and lots[-1]["supplier"] is None
    assert "amount_conflict" not in item.fields and "parse_problems" not in item.fields
    assert item.project_code == "GEN-2026-001"


def test_supplier_tables_under_labelled_lot_numbers() -> None:
    body = "".join(f"<p>包号：{n}</p><table><tr><th>中标供应商名称</th><th>中标金额（元）</th></tr>"
                   f"<tr><td>{name}</td><td>{amount}</td></tr></table>"
                   for n, name, amount in ((1, "甲公司", "100000"), (2, "乙公司", "250000.50")))
    item = parse_detail(page(body, {"采购单位": "某医院", "总中标金额": "￥35.000050 万元（人民币）"}), URL)
    assert [(lot["lot"], lot["supplier"], lot["amount"]) for lot in lots_of(item)] == [
        ("1", "甲公司", "100000元"), ("2", "乙公司", "250000.50元")]
    assert "amount_conflict" not in item.fields
