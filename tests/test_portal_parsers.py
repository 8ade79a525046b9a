"""The portals' parsers and the shared machinery on their own: list answers, detail pages, block answers, the
standard notice text, and the replay server's POST routing."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from urllib.request import ProxyHandler, Request, build_opener

import pytest

from caigou.crawler.parsers import ggzy, qinghai, sichuan, xizang
from caigou.crawler.parsers.common import ParseError, json_block_reason, soup_of, waf_block_reason
from caigou.crawler.parsers.notice_body import parse_body
from caigou.pipelines.money import parse_money
from caigou.pipelines.normalise import record_from_item
from caigou.replay import ReplayServer, Reply
from tests.portals import page


def test_xizang_list_rows_carry_the_listing_facts() -> None:
    body = json.dumps({"code": "200", "total": 1, "data": [{
        "id": "5d2f0a7c1e9b4c3d8a6f2b1e0c9d8a71", "title": "那曲市公安局STR试剂盒采购项目公开招标公告",
        "pageurl": "/freecms/site/xizang/ggxx/info/2024/5d2f0a7c1e9b4c3d8a6f2b1e0c9d8a71.html",
        "addtime": 1718159400000, "fieldValues": {"f_noticeTime": "2024-06-12 10:30:00", "f_purchaser": "那曲市公安局",
                                                  "f_budget": 569800}}]}, ensure_ascii=False)
    listed = xizang.parse_list(body, "")
    assert listed.total == 1
    row = listed.rows[0]
    assert row.url == "http://www.ccgp-xizang.gov.cn/freecms/site/xizang/ggxx/info/2024/5d2f0a7c1e9b4c3d8a6f2b1e0c9d8a71.html"
    assert row.key == xizang.source_key_from_url(row.url) == "5d2f0a7c1e9b4c3d8a6f2b1e0c9d8a71"
    assert row.listing == {"buyer": "那曲市公安局", "budget_text": "569800元"}
    assert row.published_text == "2024-06-12 10:30:00"


def test_xizang_award_detail() -> None:
    item = xizang.parse_detail(page("xizang", "detail_award.html"), "http://x/info/2024/8b1c2d3e4f5a6b7c8d9e0f1a2b3c4d52.html")
    assert item.title == "那曲市公安局STR试剂盒采购项目中标（成交）结果公告"
    assert item.published_text == "2024-06-20 16:05:00" and item.project_code == "XZNQ2024-GK031"
    assert [(s.name, s.amount_text) for s in item.suppliers] == [("西藏锐新生物科技有限公司", "565000.00元")]
    assert [row["brand"] for row in item.line_items] == ["Thermo Fisher", "Thermo Fisher"]
    assert item.fields["评审专家名单"] == "扎西、王建国、次仁卓玛"


def test_a_page_without_a_notice_is_a_parse_error_not_a_notice() -> None:
    with pytest.raises(ParseError, match="no notice"):
        xizang.parse_detail("<html><body><p>页面已迁移</p></body></html>", "http://x")
    with pytest.raises(ParseError, match="not JSON"):
        qinghai.parse_detail(page("qinghai", "aliyun_waf.html"), "http://x")
    with pytest.raises(ParseError, match="not JSON"):
        sichuan.parse_detail(page("xizang", "waf_block.html"), "http://x")


def test_block_answers() -> None:
    assert waf_block_reason(page("qinghai", "aliyun_waf.html")) == "Aliyun WAF JavaScript challenge (acw_sc__v2)"
    assert waf_block_reason(page("xizang", "waf_block.html")) == "web application firewall page"
    assert waf_block_reason("<html><head><title>安全验证</title></head><body>" + "x" * 9000) == \
        "security check page (安全验证)"
    assert waf_block_reason(page("xizang", "detail_tender.html")) is None
    assert json_block_reason("<html><body>登录</body></html>").startswith("an HTML answer where JSON")
    assert json_block_reason('{"code": 200}') is None
    assert ggzy.answer_code('{"code": 829, "message": "验证码"}') == ggzy.CAPTCHA
    assert ggzy.answer_code("<html></html>") is None


def test_ggzy_list_codes_and_content_urls() -> None:
    assert ggzy.parse_list('{"code": 804, "message": "请细化查询条件"}').too_broad
    with pytest.raises(ParseError, match="code 500"):
        ggzy.parse_list('{"code": 500, "message": "系统错误"}')
    listed = ggzy.parse_list(json.dumps({"code": 200, "data": {"total": 1, "records": [{
        "id": "0054f3e1a2b6", "title": "昌都市公安局DNA实验室建设项目（二期）中标结果公告", "publishTime": "2024-06-24 11:20:00",
        "provinceText": "西藏", "cityText": "昌都市", "informationTypeText": "中标公告",
        "url": "/information/html/a/540000/0202/20240624/0054f3e1a2b6.shtml"}]}}))
    row = listed.rows[0]
    assert row.url == "https://www.ggzy.gov.cn/information/html/b/540000/0202/20240624/0054f3e1a2b6.shtml"
    assert row.listing["region_text"] == "西藏 昌都市" and row.listing["notice_type"] == "award"
    assert ggzy.row_notice_type("采购/资格预审公告", "日喀则市公安局人像比对系统运维服务询价公告") == "inquiry"
    form = ggzy.list_form("试剂盒", "0200", "540000", dt.date(2024, 6, 1), dt.date(2024, 6, 30), 3)
    assert (form["DEAL_TIME"], form["TIMEBEGIN"], form["TIMEEND"], form["PAGENUMBER"]) == \
        ("06", "2024-06-01", "2024-06-30", "3")


def test_ggzy_content_page() -> None:
    item = ggzy.parse_detail(page("ggzy", "b_changdu_award.html"), "https://www.ggzy.gov.cn/information/html/b/540000/0202/20240624/0054f3e1a2b6.shtml")
    assert item.source_key == "0054f3e1a2b6" and item.published_text == "2024-06-24 11:20"
    assert item.fields["来源平台"] == "西藏自治区公共资源交易平台"
    assert item.fields["原文链接"] == "http://ggzy.xizang.gov.cn/jyxxzfcg/20240624/3301.jhtml"
    assert [(s.name, parse_money(s.amount_text)) for s in item.suppliers] == [("西藏高原刑科技术有限公司",
                                                                               Decimal("2865000.00"))]
    assert {row["model"] for row in item.line_items} == {"SeqStudio 8 Flex", "AutoMate Express"}


def test_ggzy_content_page_attachments() -> None:
    url = "https://www.ggzy.gov.cn/information/html/b/540000/0201/20240612/0054c7d8e9f0.shtml"
    item = ggzy.parse_detail(page("ggzy", "b_naqu_tender.html"), url)
    # The files linked from the body, in order; the buyer's web site is not one; the original's link neither.
    assert [(a.url, a.name) for a in item.attachments] == [
        ("https://www.ggzy.gov.cn/files/2024/06/12/XZNQ2024-GK031%E6%8B%9B%E6%A0%87%E6%96%87%E4%BB%B6.pdf",
         "招标文件.pdf"),
        ("http://ggzy.xizang.gov.cn/attachment/download?id=88231", "采购需求清单")]
    changdu = ggzy.parse_detail(page("ggzy", "b_changdu_award.html"), url)
    assert changdu.attachments == []  # its only link is the provincial original, outside the body


def test_ggzy_detail_table_and_compact_lines() -> None:
    url = "http://www.ggzy.gov.cn/information/html/b/540000/0202/20240618/0054b1c2d3e4.shtml"
    table = ggzy.parse_detail(page("ggzy", "b_detail_table.html"), url)
    assert (table.buyer, table.agency, table.project_code) == ("林芝市公安局", "西藏尼洋河招标代理有限公司", "LZGA-2024-022")
    assert [(s.name, s.amount_text) for s in table.suppliers] == [("西藏天眼智能科技有限公司", "318.6万元")]
    assert table.award_text == "318.6万元"  # the unit from the header 中标金额（万元）
    compact = ggzy.parse_detail(page("ggzy", "b_compact.html"), url)
    assert compact.buyer == "山南市公安局" and compact.award_text == "1150000元"
    assert ggzy.compact_pairs("中标单位:甲公司,中标价格:12.5（万元）\n采购单位：乙局 联系人：丙") == [
        ("中标单位", "甲公司"), ("中标价格", "12.5（万元）"), ("采购单位", "乙局"), ("联系人", "丙")]
    # Labels run on after a name without a separator are still split off.
    assert ggzy.compact_pairs("采购单位：乙局联系人：丙")[0] == ("采购单位", "乙局")
    # A page with neither text, table nor lines of any known label: no buyer, no supplier, no crash.
    bare = ggzy.parse_detail(page("ggzy", "b_compact.html").replace("中标单位".encode(), "备注".encode())
                             .replace("采购单位".encode(), "说明".encode()), url)
    assert (bare.buyer, bare.suppliers, bare.award_text) == ("", [], "")


def test_qinghai_category_list_in_guangxi_s_documented_shape(shared_dir: Path) -> None:
    """The real 政采云 answer of 2024 (Guangxi, the same platform) parses as Qinghai's would."""
    listed = qinghai.parse_category((shared_dir / "real/qinghai/zcy_portal_category_doc_guangxi.json").read_bytes())
    assert listed.total == 1
    row = listed.rows[0]
    assert row.key == "Y1Xs+Ya9sqZiYbm5sKeVqQ=="
    assert row.url == "http://www.ccgp-qinghai.gov.cn/portal/detail?articleId=Y1Xs%2BYa9sqZiYbm5sKeVqQ%3D%3D"
    assert qinghai.source_key_from_url(row.url) == row.key
    assert row.title == "那坡县应急管理局关于乡镇消防车及配套装备采购项目的终止公告"
    assert row.published_text == "1708251407000"
    assert row.listing["notice_type_label"] == "终止公告" and row.listing["district_code"] == "451026"
    assert row.listing["author"] == "广西恒耀项目管理有限公司"  # an agency: never taken as the buyer
    # Any 政采云 province: the same answer read for Guangxi's own host.
    guangxi = qinghai.parse_category((shared_dir / "real/qinghai/zcy_portal_category_doc_guangxi.json").read_bytes(),
                                     "http://www.ccgp-guangxi.gov.cn")
    assert guangxi.rows[0].url.startswith("http://www.ccgp-guangxi.gov.cn/portal/detail?articleId=")


def test_qinghai_detail_in_guangxi_s_documented_shape(shared_dir: Path) -> None:
    body = (shared_dir / "real/qinghai/zcy_portal_detail_doc_guangxi.json").read_bytes()
    # The saved answer's content is only its style sheet: a notice without text is a parse error, not a notice.
    with pytest.raises(ParseError, match="content is empty"):
        qinghai.parse_detail(body, qinghai.detail_url("j3fGSjOb9+s2L57ar0Y/MQ=="))
    answer = json.loads(body)
    answer["result"]["data"]["content"] += "<p>一、项目编号：E4510002866005744001</p><p>预算金额：120.5万元</p>"
    item = qinghai.parse_detail(json.dumps(answer, ensure_ascii=False), qinghai.detail_url("x"))
    assert item.source_key == "j3fGSjOb9+s2L57ar0Y/MQ==" and item.project_code == "E4510002866005744001"
    assert item.url == "http://www.ccgp-qinghai.gov.cn/site/detail?parentId=&articleId=j3fGSjOb9%2Bs2L57ar0Y%2FMQ%3D%3D"
    assert item.region_text == "广西壮族自治区" and item.published_text == "1701679601000"
    assert item.buyer == "" and item.fields["发布单位"] == "广西达苏泰工程咨询有限公司"


def test_qinghai_json_notice_to_record() -> None:
    item = qinghai.parse_detail(page("qinghai", "detail_guoluo_award.json"), qinghai.detail_url("x"))
    record = record_from_item(item)
    assert (record.source_key, record.region_code, record.buyer) == ("Gl4Mn8pQ2rS6tU0vW4xY8z==", "632600",
                                                                     "果洛藏族自治州公安局")
    assert record.award_cny == Decimal("968000.00") and record.warnings == []
    assert [(s.name, s.amount_text) for s in item.suppliers] == [("青海智安信息技术有限公司", "报价:968000.00(元)")]
    assert item.line_items[0]["brand"] == "海康威视"


@pytest.mark.parametrize("body", [
    "[]", '{"success": false, "error": "系统繁忙"}', '{"success": true, "result": null}',
    '{"success": true, "result": {"data": []}}', '{"success": true, "result": {"data": {"total": "x", "data": []}}}',
    '{"success": true, "result": {"data": {"total": 1, "data": {"a": 1}}}}',
    '{"success": true, "result": {"data": {"total": 1, "data": ["row"]}}}', "<html>acw_sc__v2</html>"])
def test_qinghai_list_of_another_shape_is_a_parse_error(body: str) -> None:
    with pytest.raises(ParseError):
        qinghai.parse_category(body)


@pytest.mark.parametrize("data", [
    {}, {"title": "公告"}, {"title": "公告", "content": 5}, {"title": ["x"], "content": "<p>x</p>"},
    {"title": "公告", "content": "<p>x</p>", "articleId": "a", "attachmentList": "x.pdf"},
    {"title": "公告", "content": "<p>x</p>", "articleId": "a", "attachmentList": ["x.pdf"]}])
def test_qinghai_notice_of_another_shape_is_a_parse_error(data: dict[str, object]) -> None:
    with pytest.raises(ParseError):
        qinghai.parse_detail(json.dumps({"success": True, "result": {"data": data}}), "http://x/portal/detail")


def test_sichuan_list_and_notice_in_the_captured_shapes(shared_dir: Path) -> None:
    """The capture of 2026-03-14: rows and notices carry the buyer as ``author`` (there is no purchaser)."""
    capture = shared_dir / "real/sichuan/selectInfoForIndex_capture_excerpt_20260314.json"
    listed = sichuan.parse_list(capture.read_bytes())
    assert listed.total == 207806
    row = listed.rows[0]
    assert row.key == "9a8940a0-de03-4cb1-8b44-293009fdfe08" and row.url == sichuan.detail_url(row.key)
    assert sichuan.source_key_from_url(row.url) == row.key
    assert row.listing["buyer"] == "四川省内江市中级人民法院" and row.listing["notice_type"] == "intention"
    assert row.listing["project_code"] == "YXGK-511001-2026-00110" and row.published_text == "2026-03-14 15:16:32"
    body = json.loads((shared_dir / "real/sichuan/getInfoById_capture_excerpt_20260314.json").read_text())
    body["data"]["content"] = "<p>一、采购意向</p><p>采购项目名称：审判法庭智能化改造</p><p>预算金额：80万元</p>"
    item = sichuan.parse_detail(json.dumps(body, ensure_ascii=False), row.url)
    assert (item.buyer, item.notice_type, item.notice_type_label) == ("四川省内江市中级人民法院", "intention", "采购意向公告")
    assert item.url == "https://www.ccgp-sichuan.gov.cn/maincms-web/article?type=notice&id=" + row.key
    assert item.region_text == "四川省"  # 内江市市本级: 内江 (511000) is not in the regions table, its province is
    assert item.project_code == "YXGK-511001-2026-00110" and item.budget_text == "80万元"


def test_sichuan_body_s_own_level_is_its_prefecture() -> None:
    assert sichuan.region_of("513301", "甘孜藏族自治州州本级").code == "513300"
    assert sichuan.region_of("513301", "康定市").code == "513301"
    assert sichuan.region_of("510001", "四川省本级").code == "510000"


def test_sichuan_notice_with_a_purchaser_and_attachments() -> None:
    url = sichuan.detail_url("ff8080")
    item = sichuan.parse_detail(json.dumps({"code": "200", "data": {
        "id": "ff8080", "title": "甘孜藏族自治州公安局Y-STR检测试剂采购项目中标（成交）结果公告", "noticeType": "00102",
        "noticeTime": "2024-06-15 15:00:00", "purchaser": "甘孜藏族自治州公安局", "author": "四川康定招标代理有限公司",
        "content": "<p>供应商名称：四川蜀康生物科技有限公司</p><p>中标（成交）金额：412,600.00元</p>",
        "attchs": [{"name": "中标通知书.pdf", "url": "/gpcms/upload/2024/zbtzs.pdf"}]}}, ensure_ascii=False), url)
    assert item.notice_type == "award" and item.award_text == "412,600.00元" and item.buyer == "甘孜藏族自治州公安局"
    assert item.attachments[0].url == "https://www.ccgp-sichuan.gov.cn/gpcms/upload/2024/zbtzs.pdf"
    assert sichuan.captcha_refused('{"code": "500", "msg": "验证码错误"}') == "验证码错误"
    assert sichuan.captcha_refused('{"code": "500", "msg": "系统繁忙"}') is None
    assert sichuan.captcha_refused('{"code": "200", "data": {}}') is None


@pytest.mark.parametrize("body", [
    "[]", '{"code": "500", "msg": "系统繁忙"}', '{"code": "200", "data": null}', '{"code": "200", "data": []}',
    '{"code": "200", "data": {"rows": {}, "total": 1}}', '{"code": "200", "data": {"rows": [1], "total": 1}}',
    '{"code": "200", "data": {"rows": [], "total": "many"}}', "<html>请开启JavaScript</html>"])
def test_sichuan_list_of_another_shape_is_a_parse_error(body: str) -> None:
    with pytest.raises(ParseError):
        sichuan.parse_list(body)


@pytest.mark.parametrize("data", [
    None, [], {"title": "公告"}, {"title": "公告", "content": {"html": "x"}}, {"title": {"a": 1}, "content": "<p>x</p>"},
    {"title": "公告", "content": "<p>x</p>", "attchs": "a.pdf"}, {"title": "公告", "content": "<p>x</p>", "attchs": [1]}])
def test_sichuan_notice_of_another_shape_is_a_parse_error(data: object) -> None:
    with pytest.raises(ParseError):
        sichuan.parse_detail(json.dumps({"code": "200", "data": data}), "http://x/getInfoById?id=1")


def test_notice_facts_from_labelled_lines() -> None:
    facts = parse_body(soup_of("<div><p>一、项目编号：XZ-2024-001</p><p>预算金额：56.98万元（人民币）</p>"
                                 "<p>1.采购人信息</p><p>名 称：那曲市公安局</p><p>2.采购代理机构信息</p>"
                                 "<p>名 称：西藏雪域招标代理有限公司</p></div>"), "http://x/")
    assert (facts.project_code, facts.budget_text, facts.buyer, facts.agency) == (
        "XZ-2024-001", "56.98万元（人民币）", "那曲市公安局", "西藏雪域招标代理有限公司")
    assert facts.suppliers == []


def test_replay_routes_posts_by_their_body() -> None:
    server = ReplayServer()
    url = "http://www.example.gov.cn/list"
    server.add(url, Reply(b"page one"), form={"PAGENUMBER": "1", "FINDTXT": "试剂盒"})
    server.add(url, Reply(b"page two"), form={"PAGENUMBER": "2", "FINDTXT": "试剂盒"})
    server.add(url, Reply(b"json"), json_body={"pageNo": 1, "districtCode": ["632700"]})
    server.add(url, Reply(b"any"))
    server.start()
    try:
        proxy = {"http": server.url}

        def post(body: bytes, content_type: str) -> bytes:
            request = Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
            return build_opener(ProxyHandler(proxy)).open(request, timeout=5).read()

        form = "application/x-www-form-urlencoded"
        assert post(b"FINDTXT=%E8%AF%95%E5%89%82%E7%9B%92&PAGENUMBER=2", form) == b"page two"
        assert post(b"PAGENUMBER=1&FINDTXT=%E8%AF%95%E5%89%82%E7%9B%92", form) == b"page one"
        assert post(b'{"districtCode":["632700"],"pageNo":1}', "application/json") == b"json"
        assert post(b"PAGENUMBER=9", form) == b"any"  # no body route: the URL's own route, as before
        assert server.misses == []
    finally:
        server.stop()
