"""Writes the demo's sample pages in www.ccgp.gov.cn's structure: ``python -m caigou.demo_data.build``.

Sample data: synthetic notices written for the demo and the tests, not real ones. The markup follows the real pages
(../shared/real/ccgp/): the vF_detail template with its summary table, the code-* award cells and the 主要标的信息
table; the older vT_detail template with table#NoticeDetail; bxsearch result pages (one with ``ohtmlurls``
obfuscation); channel lists; and the site's block pages.
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

OUT = Path(__file__).resolve().parent / "ccgp"
MARK = "<!-- caigou sample data: synthetic, written for the demo and tests; not a real notice -->\n"
SEGMENT_LABELS = {"gkzb": "公开招标公告", "dylygg": "单一来源公告", "zbgg": "中标公告", "cjgg": "成交公告",
                  "gzgg": "更正公告", "jzxcs": "竞争性磋商公告", "jzxtpgg": "竞争性谈判公告", "xjgg": "询价公告"}


@dataclass
class Sample:
    id: str
    segment: str
    day: str                  # YYYYMMDD
    time: str                 # HH:MM
    title: str
    buyer: str
    region: str
    agency: str
    project_code: str
    budget_wan: str = ""      # 万元, 6 decimals as the site writes them
    award_wan: str = ""
    suppliers: list[tuple[str, str, str, str]] = field(default_factory=list)  # lot, name, address, amount
    items: list[tuple[str, str, str, str, str]] = field(default_factory=list)  # name, brand, model, quantity, price
    body: str = ""
    old_template: bool = False
    attachment: str = ""
    scope: str = "dfgg"

    @property
    def url(self) -> str:
        return (f"http://www.ccgp.gov.cn/cggg/{self.scope}/{self.segment}/{self.day[:6]}/"
                f"t{self.day}_{self.id}.htm")

    @property
    def date_text(self) -> str:
        return f"{self.day[:4]}年{self.day[4:6]}月{self.day[6:]}日 {self.time}"

    @property
    def dash_date(self) -> str:
        return f"{self.day[:4]}-{self.day[4:6]}-{self.day[6:]} {self.time}"


SAMPLES = [
    Sample("22000101", "dylygg", "20240612", "09:30", "那曲市公安局刑侦支队DNA实验室遗传分析仪升级项目单一来源公示",
           "那曲市公安局刑侦支队", "西藏自治区", "西藏雪域招标代理有限公司", "XZNQ-2024-017", budget_wan="123.000000",
           suppliers=[("1", "西藏高原生物科技有限公司", "拉萨市城关区金珠西路8号", "总价形式报价:1198000.00(元)")],
           items=[("遗传分析仪升级", "赛默飞世尔 Applied Biosystems", "3500xL 24道", "1台", "1198000")],
           body="采购人拟采用单一来源方式采购：原有3500xL遗传分析仪升级及配套毛细管阵列、POP-7分离胶。"
                "理由：设备原厂技术唯一，需与法庭科学DNA数据库兼容。"),
    Sample("22000102", "gkzb", "20240605", "16:00", "西藏自治区公安厅DNA数据库建设项目公开招标公告",
           "西藏自治区公安厅", "西藏自治区", "西藏雪域招标代理有限公司", "XZGA-2024-DNA01", budget_wan="1000.000000",
           body="项目概况：DNA数据库建设，包括DNA实验室设备、Y-STR数据库建设、DNA样本采集及入库比对服务。"
                "投标人须提供全国公安机关DNA鉴定关键试剂耗材质检合格产品及制造商名录内的试剂。",
           attachment="设备及试剂清单.xlsx"),
    Sample("22000103", "zbgg", "20240620", "11:05", "昌都市公安局DNA采血卡及Y-STR试剂盒采购项目中标公告",
           "昌都市公安局", "西藏自治区", "昌都市政府采购中心", "CDGA-2024-033", award_wan="96.500000",
           suppliers=[("A", "四川蓉城法医器材有限公司", "成都市武侯区科华北路99号", "38.5万元"),
                      ("B", "无锡中德美联生物技术有限公司", "无锡市新吴区长江路7号", "58万元")],
           items=[("FTA采血卡", "Whatman", "FTA Classic Card", "50000张", "7.7"),
                  ("Y-STR扩增试剂盒", "AGCU", "Y-STR 41位点 100人份/盒", "60盒", "9666.67")],
           body="本项目分两个标包：A包采血卡(FTA卡)50000张；B包Y-STR扩增试剂盒(100人份/盒)60盒，"
                "用于男性家族排查系统血样检验。"),
    Sample("22000104", "cjgg", "20240618", "15:20", "林芝地区公安处刑事科学技术室物证检验设备采购成交公告",
           "林芝地区公安处", "西藏自治区", "林芝市公共资源交易中心", "LZGA-2024-009", award_wan="42.600000",
           suppliers=[("1", "西藏林海科技有限公司", "林芝市巴宜区双拥路3号", "42.6万元")],
           body="采购内容：PCR扩增仪2台、DNA提取试剂盒20盒、自动打孔仪1台。", old_template=True),
    Sample("22000105", "gkzb", "20240603", "10:00", "拉萨市疾病预防控制中心荧光定量PCR仪采购项目公开招标公告",
           "拉萨市疾病预防控制中心", "西藏自治区", "西藏雪域招标代理有限公司", "LSCDC-2024-002",
           budget_wan="85.000000",
           body="用于新冠病毒核酸检测及呼吸道传染病监测，采购荧光定量PCR仪3台、全自动核酸提取仪2台。"),
    Sample("22000106", "jzxcs", "20240614", "14:45", "日喀则市妇幼保健院新生儿疾病筛查采血卡采购竞争性磋商公告",
           "日喀则市妇幼保健院", "西藏自治区", "日喀则市政府采购中心", "RKZFY-2024-011", budget_wan="12.000000",
           body="采购新生儿疾病筛查用采血卡(滤纸片)20000张，用于新生儿筛查干血斑采集。"),
    Sample("22000107", "gkzb", "20240610", "09:00", "西藏大学二代测序仪采购项目公开招标公告",
           "西藏大学", "西藏自治区", "西藏雪域招标代理有限公司", "XZDX-2024-021", budget_wan="260.000000",
           body="用于高原生物学重点实验室科研，采购高通量测序仪1台(NGS)。"),
    Sample("22000108", "gzgg", "20240615", "17:10", "西藏自治区公安厅DNA数据库建设项目更正公告",
           "西藏自治区公安厅", "西藏自治区", "西藏雪域招标代理有限公司", "XZGA-2024-DNA01", budget_wan="1000.000000",
           body="原公告的投标截止时间更正为2024年07月10日09:30，其他内容不变。"),
    Sample("22000109", "jzxtpgg", "20240625", "10:30", "玉树藏族自治州公安局Y-STR检测服务采购竞争性谈判公告",
           "玉树藏族自治州公安局", "青海省", "青海三江源招标有限公司", "YSGA-2024-005", budget_wan="180.000000",
           body="委托检验：DNA样本检测及Y-STR数据库建库检测服务，约20000份血样。"),
]
# The keywords the sample search pages answer, over June 2024 (the demo crawls them all). "DNA" has two pages.
KEYWORDS = ["DNA", "遗传分析仪", "采血卡", "测序仪", "PCR", "物证"]
# Channel-list extras: older notices that tell the spider to stop paging.
OLD = Sample("21990001", "zbgg", "20240528", "08:00", "某县人民医院病床采购项目中标公告", "某县人民医院", "贵州省",
             "贵州某招标有限公司", "GZ-2024-100", award_wan="20.000000",
             suppliers=[("1", "贵州某医疗器械有限公司", "贵阳市云岩区1号", "20万元")],
             body="采购病床40张。")


def summary_table(s: Sample) -> str:
    rows = [("采购项目名称", s.title.rsplit("项目", 1)[0] + "项目"), ("品目", "货物/设备"), ("采购单位", s.buyer)]
    html_rows = "".join(f"<tr><td class='title'>{html.escape(k)}</td><td colspan='3'>{html.escape(v)}</td></tr>"
                        for k, v in rows)
    html_rows += (f"<tr><td class='title'>行政区域</td><td width='168'>{s.region}</td>"
                  f"<td class='title' width='128'>公告时间</td><td width='168'>{s.date_text}</td></tr>")
    if s.budget_wan:
        html_rows += f"<tr><td class='title'>预算金额</td><td colspan='3'>￥{s.budget_wan} 万元（人民币）</td></tr>"
    if s.award_wan:
        # A stray space inside the label, as real pages have.
        html_rows += f"<tr><td class='title'>总中标金 额</td><td colspan='3'>￥{s.award_wan} 万元（人民币）</td></tr>"
    html_rows += (f"<tr><td colspan='4'><b>联系人及联系方式：</b></td></tr>"
                  f"<tr><td class='title'>代理机构名称</td><td colspan='3'>{s.agency}</td></tr>")
    return ("<div class='table'><h5>公告概要：</h5><table width='600' border='0' cellspacing='1'>"
            f"<tr><td colspan='4'><b>公告信息：</b></td></tr>{html_rows}</table></div>")


def new_body(s: Sample) -> str:
    parts = [f'<p><strong>一、项目编号：</strong><samp class="code-00004">{s.project_code}</samp></p>',
             f'<p><strong>二、项目名称：</strong><span class="code-00003">{html.escape(s.title)}</span></p>',
             f"<p>{html.escape(s.body)}</p>"]
    if s.suppliers:
        rows = "".join(
            f'<tr><td class="code-sectionNo">{lot}</td><td class="code-winningSupplierName">{html.escape(name)}</td>'
            f'<td class="code-winningSupplierAddr">{html.escape(addr)}</td><td class="code-summaryPrice">{amount}</td>'
            f'<td class="code-supplierReviewPrice">-</td></tr>' for lot, name, addr, amount in s.suppliers)
        parts.append('<p><strong>三、中标（成交）信息</strong></p><table class="template-bookmark"><thead><tr>'
                     "<td>序号</td><td>供应商名称</td><td>供应商地址</td><td>中标（成交）金额</td><td>评审报价</td>"
                     f"</tr></thead><tbody>{rows}</tbody></table>")
    if s.items:
        rows = "".join(f"<tr><td>{i + 1}</td><td>{html.escape(s.title)}</td><td>{html.escape(n)}</td>"
                       f"<td>{html.escape(b)}</td><td>{html.escape(m)}</td><td>{q}</td><td>{p}</td></tr>"
                       for i, (n, b, m, q, p) in enumerate(s.items))
        parts.append('<p><strong>四、主要标的信息</strong></p><table class="form-panel-input-cls"><tr><td>序号</td>'
                     "<td>标项名称</td><td>标的名称</td><td>品牌</td><td>规格型号</td><td>数量</td><td>单价（元）</td>"
                     f"</tr>{rows}</table>")
    parts.append(f'<p>1.采购人信息</p><p>名 称：<span class="code-00014">{s.buyer}</span></p>')
    body = "\n".join(parts)
    if s.attachment:
        body += ("</div><p class='fjxx'>附件信息：</p><ul class=\"fjxx\"><li><p><a href=\""
                 f"{attachment_url(s)}\" ignore=1>{s.attachment}</a></p></li></ul><div>")
    return body


def old_body(s: Sample) -> str:
    cells = "".join(f"<tr><td>标包：<u>{lot}</u></td></tr><tr><td>供应商名称：<u>{name}</u></td></tr>"
                    f"<tr><td>供应商地址：<u>{addr}</u></td></tr>"
                    f"<tr><td>中标（成交）金额：（可填写下浮率、折扣率或费率）：<u>{amount}</u></td></tr>"
                    for lot, name, addr, amount in s.suppliers)
    return (f"<table><tr><td><b>一、项目编号：</b>{s.project_code}</td></tr><tr><td><b>二、项目名称：</b>"
            f"{html.escape(s.title)}</td></tr><tr><td>{html.escape(s.body)}</td></tr><tr><td><b>三、中标（成交）信息："
            f"</b></td></tr><tr><td><table id='NoticeDetail'>{cells}</table></td></tr></table>")


def detail_page(s: Sample) -> str:
    prefix = "vT" if s.old_template else "vF"
    label = SEGMENT_LABELS[s.segment]
    channel = "地方公告" if s.scope == "dfgg" else "中央公告"
    body = old_body(s) if s.old_template else new_body(s)
    return f"""<!doctype html>
{MARK}<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8" />
<meta name="ArticleTitle" content="{html.escape(s.title)}" />
<meta name="PubDate" content="{s.dash_date}" />
<title>{html.escape(s.title)}</title></head>
<body id="detail"><script id="keyparam" src="/_bot_sbu/sbu_fpcm.js">sample</script>
<div class="main"><div class="main_container">
<div class="{prefix}_deail_currentloc mt10"><p>当前位置：<a href="../../../../" title="首页">首页</a>&nbsp;&raquo;&nbsp;
<a href="../../../" title="政采公告">政采公告</a>&nbsp;&raquo;&nbsp;<a href="../../" title="{channel}">{channel}</a>&nbsp;&raquo;&nbsp;<a href="../" title="{label}">{label}</a></p></div>
<div class="{prefix}_deail_maincontent"><div class="{prefix}_detail_main">
<div class="{prefix}_detail_header"><h2 class="tc">{html.escape(s.title)}</h2>
<p class="tc"><span id="pubTime">{s.date_text}</span></p></div>
{summary_table(s)}
<div class="{prefix}_detail_content_container"><div class="{prefix}_detail_content">
{body}
</div></div></div></div>
<div class="vF_detail_relcontent mt13"><h2><p>相关公告</p></h2><ul class="c_list_tat"><li><a href="#">其他项目的公告</a></li></ul></div>
</div></div></body></html>
"""


def search_page(rows: list[Sample], total: int, pages: int, obfuscate: bool) -> str:
    items = []
    for s in rows:
        href = "javascript:void(0)" if obfuscate else s.url
        items.append(f'<li><a href="{href}" target="_blank">{html.escape(s.title)}</a><p>{html.escape(s.body[:40])}'
                     f"</p><span>{s.day[:4]}.{s.day[4:6]}.{s.day[6:]} {s.time}:00 | 采购人：{s.buyer} | "
                     f"代理机构：{s.agency}<br><strong>{SEGMENT_LABELS[s.segment]}</strong> | "
                     f"{s.region.replace('自治区', '').replace('省', '')} | <strong>货物/设备</strong></span></li>")
    script = f'<script>var ohtmlurls="{",".join(s.url for s in rows)}";</script>' if obfuscate else ""
    return f"""<!doctype html>
{MARK}<html><head><meta charset="utf-8"><title>中国政府采购网搜索</title></head><body>
<div class="vT_z"><p>共找到<span style="color:#c00000"> {total} </span>条内容</p></div>
<div class="vT-srch-result-list-con2"><div class="vT-srch-result-list"><ul class="vT-srch-result-list-bid">
{"".join(items)}
</ul></div></div>{script}
<p class="pager"><script>Pager({{size:{pages}, current:0, prefix:'',suffix:''}});</script></p>
</body></html>
"""


def channel_page(rows: list[Sample], pages: int) -> str:
    items = "".join(f'<li><a href="./{s.day[:6]}/t{s.day}_{s.id}.htm" title="{html.escape(s.title)}">'
                    f"{html.escape(s.title)}</a><em>{s.dash_date}</em><em>{s.region[:2]}</em></li>" for s in rows)
    return f"""<!doctype html>
{MARK}<html><head><meta charset="utf-8"><title>中标公告</title></head><body>
<div class="vF_deail_currentloc">当前位置：首页 » 政采公告 » 地方公告 » 中标公告</div>
<ul class="c_list_bid">{items}</ul>
<div class="pager"><script>Pager({{size:{pages}, current:0, prefix:'index',suffix:'htm'}});</script></div>
</body></html>
"""


BLOCKED_DETAIL = f"""<!doctype html>
{MARK}<html><head><meta charset="utf-8"><title>安全验证</title></head><body>
<script src="/_bot_sbu/sbu_fpcm.js"></script><p>请稍候，正在进行安全验证……</p></body></html>
"""
RATE_LIMITED = f"""<!doctype html>
{MARK}<html><head><meta charset="utf-8"><title>频繁访问!中国政府采购网</title></head><body>
<p>您的访问过于频繁，请稍后再试。频繁访问!中国政府采购网</p></body></html>
"""


# The equipment list attached to the DNA-database tender (22000102): the brand and the analyzer's model appear only
# here, not on the notice's page — as with real tenders, where a distributor's list names Thermo Fisher.
ATTACHMENT_ROWS: list[list[object]] = [
    ["序号", "货物名称", "品牌", "规格型号", "数量", "单位"],
    [1, "遗传分析仪", "赛默飞世尔 Applied Biosystems", "3500xL", 1, "台"],
    [2, "STR荧光检测试剂盒", "赛默飞世尔", "GlobalFiler 200人份/盒", 40, "盒"],
    [3, "DNA采血卡", "国产", "FTA卡", 20000, "张"],
]


def attachment_url(s: Sample) -> str:
    return f"https://download.ccgp.gov.cn/oss/download?uuid=0f3c2b1a-{s.id}"


def attachment_xlsx(rows: list[list[object]]) -> bytes:
    """An XLSX written with openpyxl, its timestamps fixed so rebuilding the demo data changes nothing."""
    import datetime as dt
    import io
    import zipfile

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "设备清单"
    for row in rows:
        sheet.append(row)
    book.properties.created = dt.datetime(2024, 6, 5, 9, 0)
    raw = io.BytesIO()
    book.save(raw)
    # Zip entries carry the time of writing: rewrite them with a fixed one.
    stable = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(stable, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2024, 6, 5, 9, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" with the time of saving
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2024-06-05T09:00:00Z", data)
            target.writestr(fixed, data)
    return stable.getvalue()


def main() -> None:
    from caigou.crawler.parsers.ccgp import build_search_url, channel_url

    manifest: dict[str, object] = {}
    import datetime as dt

    def put(url: str, name: str, text: str, status: int = 200) -> dict[str, object]:
        (OUT / name).write_text(text, encoding="utf-8")
        return {"file": name, "content_type": "text/html; charset=utf-8", "status": status}

    for s in [*SAMPLES, OLD]:
        manifest[s.url] = put(s.url, f"detail_{s.id}.html", detail_page(s))
    # The first detail page is blocked once ("安全验证"), then served: the crawl waits and retries.
    first = SAMPLES[0]
    manifest[first.url] = [put(first.url, "blocked_detail.html", BLOCKED_DETAIL), manifest[first.url]]
    june = (dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    dna = [s for s in SAMPLES if "DNA" in s.title or "Y-STR" in s.title]
    manifest[build_search_url("DNA", *june, page=1)] = put("", "search_dna_1.html",
                                                           search_page(dna[:3], len(dna), 2, obfuscate=True))
    manifest[build_search_url("DNA", *june, page=2)] = put("", "search_dna_2.html",
                                                           search_page(dna[3:], len(dna), 2, obfuscate=False))
    for number, keyword in enumerate(KEYWORDS[1:], start=1):
        found = [s for s in SAMPLES if keyword in s.title]
        manifest[build_search_url(keyword, *june, page=1)] = put("", f"search_{number}_1.html",
                                                               search_page(found, len(found), 1, False))
    awards = sorted([s for s in SAMPLES if s.segment in {"zbgg", "cjgg"}] + [OLD], key=lambda s: s.day, reverse=True)
    manifest[channel_url("dfgg", "zbgg", 0)] = put("", "channel_dfgg_zbgg_0.html",
                                                   channel_page([s for s in awards if s.segment == "zbgg"][:1], 2))
    manifest[channel_url("dfgg", "zbgg", 1)] = put("", "channel_dfgg_zbgg_1.html",
                                                   channel_page([s for s in awards if s.segment == "zbgg"][1:], 2))
    manifest[channel_url("dfgg", "cjgg", 0)] = put("", "channel_dfgg_cjgg_0.html",
                                                   channel_page([s for s in awards if s.segment == "cjgg"], 1))
    for scope_segment in (("zygg", "zbgg"), ("zygg", "cjgg")):
        manifest[channel_url(*scope_segment, 0)] = put("", f"channel_{'_'.join(scope_segment)}_0.html",
                                                        channel_page([], 1))
    for s in SAMPLES:
        if s.attachment:
            name = f"attachment_{s.id}.xlsx"
            (OUT / name).write_bytes(attachment_xlsx(ATTACHMENT_ROWS))
            manifest[attachment_url(s)] = {"file": name, "content_type": "application/octet-stream", "status": 200}
    put("", "rate_limited.html", RATE_LIMITED)
    (OUT / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
