"""An archive for the web tests, stored through the real pipeline (NoticeStore: matching and indexing included):
DNA notices in Tibetan areas, a project with a tender and an award, a hospital's PCR purchase, and a notice whose
title, body and archived page carry hostile HTML."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from caigou.accounts import add_user
from caigou.models.db import Database
from caigou.models.types import SHANGHAI
from caigou.pipelines.record import SupplierRecord
from caigou.pipelines.store import NoticeStore
from tests.test_store import make_record

PASSWORD = "correct horse battery"
HOSTILE_TITLE = '那曲市公安局Y-STR试剂盒采购<script>window.pwned=1</script>'
HOSTILE_BODY = 'Y-STR扩增试剂盒 <img src=x onerror="window.pwned=2"> 遗传分析仪 =HYPERLINK("http://evil")'
HOSTILE_PAGE = ("<html><head><title>t</title><script>window.pwned=3</script></head><body>"
                "<h2 onclick='window.pwned=4'>那曲市公安局</h2><img src='http://www.ccgp.gov.cn/track.gif' "
                "onerror='window.pwned=5'><a href='javascript:window.pwned=6'>x</a><p>Y-STR扩增试剂盒</p>"
                "<iframe src='http://evil.example/'></iframe></body></html>").encode()


def build_archive(db: Database) -> dict[str, int]:
    """Store the notices; return their IDs by short name."""
    store = NoticeStore(db)
    ids: dict[str, int] = {}

    def save(name: str, **values: object) -> None:
        ids[name] = store.save_notice(make_record(attachments=[], **values)).notice_id

    save("tender", source_key="101", title="西藏自治区公安厅DNA数据库建设项目公开招标公告", buyer="西藏自治区公安厅",
         region_code="540000", region_name="西藏自治区", notice_type="tender", notice_type_label="公开招标公告",
         project_code="XZGA-2024-001", body_text="DNA数据库建设，Y-STR数据库，法庭科学DNA实验室。",
         published_at=dt.datetime(2024, 3, 1, 9, tzinfo=SHANGHAI), suppliers=[])
    save("award", source_key="102", title="西藏自治区公安厅DNA数据库建设项目中标公告", buyer="西藏自治区公安厅",
         region_code="540000", region_name="西藏自治区", notice_type="award", notice_type_label="中标公告",
         project_code="XZGA-2024-001", body_text="DNA数据库建设，Y-STR数据库，中标供应商：西藏某科技有限公司。",
         published_at=dt.datetime(2024, 5, 1, 9, tzinfo=SHANGHAI), award_cny=Decimal("2860000.00"),
         suppliers=[SupplierRecord("西藏某科技有限公司", amount_cny=Decimal("2860000.00"))])
    save("analyzer", source_key="103", title="那曲市公安局刑侦支队遗传分析仪升级单一来源公示",
         buyer="那曲市公安局刑侦支队", region_code="540600", region_name="那曲市", notice_type="single_source",
         notice_type_label="单一来源公示", project_code="XZNQ-2024-017",
         body_text="原有3500xL遗传分析仪升级，赛默飞世尔，Y-STR扩增试剂盒。",
         published_at=dt.datetime(2024, 6, 12, 9, tzinfo=SHANGHAI), suppliers=[])
    save("hospital", source_key="104", title="拉萨市人民医院荧光定量PCR仪采购", buyer="拉萨市人民医院",
         region_code="540100", region_name="拉萨市", notice_type="tender", notice_type_label="公开招标公告",
         project_code="LSYY-2022-9", body_text="用于新冠病毒核酸检测。",
         published_at=dt.datetime(2022, 6, 1, 9, tzinfo=SHANGHAI), suppliers=[])
    url = "http://www.ccgp.gov.cn/cggg/dfgg/zbgg/202406/t20240620_105.htm"
    page = store.archive_page(url, 200, HOSTILE_PAGE, content_type="text/html; charset=utf-8")
    save("hostile", source_key="105", url=url, title=HOSTILE_TITLE, buyer="那曲市公安局", region_code="540600",
         region_name="那曲市", notice_type="award", notice_type_label="中标公告", project_code="",
         body_text=HOSTILE_BODY, raw_sha256=page.sha256,
         published_at=dt.datetime(2024, 6, 20, 9, tzinfo=SHANGHAI), suppliers=[])
    with db.session() as session:
        add_user(session, "anna", PASSWORD)
        add_user(session, "bob", PASSWORD)
    return ids
