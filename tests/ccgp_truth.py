"""The real ccgp pages of ../shared/real/ccgp checked against their hand-read true values (medchan-truth.json), field
by field: every true value is one check, so the count of checks that hold is the parser's accuracy on real pages.

Only the comparison lives here; the values come from the page (parser) and from the truth file (people)."""
from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from caigou.crawler.parsers.ccgp import parse_detail
from caigou.pipelines.money import parse_money
from caigou.pipelines.normalise import parse_published, record_from_item
from caigou.pipelines.text import clean_text, squeeze_cjk

# Where each page was published: the URL its header comment gives, else one made up in the channel its breadcrumb
# names (the ID is made up then); the parser reads the notice type from the URL's channel as it does when crawling.
PAGE_URLS = {
    "ccgp_award_hebei_service_table.html": "http://www.ccgp.gov.cn/cggg/dfgg/zbgg/202609/t20260928_27410001.htm",
    "ccgp_award_heilongjiang_contract_package.html":
        "http://www.ccgp.gov.cn/cggg/dfgg/zbgg/202609/t20260929_27410002.htm",
    "ccgp_award_liaoning_all_packages_failed.html":
        "http://www.ccgp.gov.cn/cggg/dfgg/zbgg/202609/t20260929_27410003.htm",
    "ccgp_award_tianjin_multi_package.html": "https://www.ccgp.gov.cn/cggg/dfgg/zbgg/202609/t20260928_27412443.htm",
    "ccgp_award_tianjin_unit_price_misdeclared.html":
        "http://www.ccgp.gov.cn/cggg/dfgg/zbgg/202609/t20260928_27410005.htm",
    "ccgp_deal_tianjin_works_only.html": "https://www.ccgp.gov.cn/cggg/dfgg/cjgg/202609/t20260928_27411167.htm",
    "ccgp_event_beijing_package_correction.html": "http://www.ccgp.gov.cn/cggg/dfgg/gzgg/202609/t20260924_27410007.htm",
    "ccgp_event_heilongjiang_project_correction.html":
        "http://www.ccgp.gov.cn/cggg/dfgg/gzgg/202609/t20260928_27410008.htm",
}

# Truth keys of goods, service and works lines → the parser's line-item keys.
ITEM_KEYS = {"lot": "lot", "item_no": "item_no", "category": "category", "name": "name", "brand": "brand",
             "model": "model", "quantity": "quantity", "type": "type", "scope": "scope",
             "requirement": "requirement", "standard": "standard", "service_time": "service_time",
             "duration": "duration", "project_manager": "project_manager", "certificate": "certificate"}
MONEY_KEYS = {"unit_price_cny": "unit_price", "total_cny": "total", "amount_cny": "amount"}
ITEM_KINDS = {"items": "goods", "service_items": "service", "works_items": "works"}
# Truth keys of a correction → the field labels the parser keeps.
CORRECTION_LABELS = {"first_published": "首次公告日期", "corrected_at": "更正日期", "subject": "更正事项",
                     "reason": "更正原因", "content": "更正内容", "original_notice_url": "原公告地址"}


def truth(shared: Path) -> dict[str, dict[str, Any]]:
    return json.loads((shared / "real/ccgp/medchan-truth.json").read_text(encoding="utf-8"))


def _money(text: Any) -> Decimal | None:
    try:
        return parse_money(str(text)) if text not in (None, "") else None
    except ValueError:
        return Decimal("-1")  # unreadable: never equal to a true amount


def _same_time(got: str, want: str) -> bool:
    try:
        return parse_published(got) == parse_published(want)
    except ValueError:
        return False


def checks(page: Path, want: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(what, got, want) for every true value of the page."""
    raw = page.read_bytes()
    item = parse_detail(raw, PAGE_URLS[page.name])
    record = record_from_item(item)
    out: list[tuple[str, Any, Any]] = []

    def check(what: str, got: Any, expected: Any) -> None:
        out.append((what, got, expected))

    check("title", record.title, squeeze_cjk(want["title"]))  # the project folds spaces between CJK words
    check("notice_type", record.notice_type, want["notice_type"])
    published = record.published_at.strftime("%Y-%m-%d %H:%M") if record.published_at else None
    check("published_at", published, want["published_at"])
    for key in ("buyer", "agency", "project_code"):
        check(key, getattr(record, key), want[key])
    check("region", clean_text(item.region_text), want["region"])
    for key in ("budget_cny", "award_cny"):
        expected = Decimal(want[key]) if want[key] is not None else None
        check(key, getattr(record, key), expected)
    check("suppliers", list(dict.fromkeys(s.name for s in record.suppliers)), want["suppliers"])
    lots = json.loads(record.fields.get("lots", "[]"))
    check("lots.count", len(lots), len(want["lots"]))
    for index, want_lot in enumerate(want["lots"]):
        got_lot = lots[index] if index < len(lots) else {}
        for key, expected in want_lot.items():
            got = got_lot.get("amount" if key == "award_cny" else key)
            if key == "award_cny":
                got, expected = _money(got), Decimal(expected) if expected is not None else None
            elif key == "decided_at":
                got, expected = _same_time(got or "", expected), True
            check(f"lots[{index}].{key}", got, expected)
    for kind_key, kind in ITEM_KINDS.items():
        wanted = want.get(kind_key, [])
        got_items = [row for row in record.line_items if row.get("kind") == kind]
        check(f"{kind_key}.count", len(got_items), len(wanted))
        for index, want_row in enumerate(wanted):
            got_row = got_items[index] if index < len(got_items) else {}
            for key, expected in want_row.items():
                if key in MONEY_KEYS:
                    check(f"{kind_key}[{index}].{key}", _money(got_row.get(MONEY_KEYS[key])), Decimal(expected))
                elif key in ITEM_KEYS:
                    check(f"{kind_key}[{index}].{key}", got_row.get(ITEM_KEYS[key]), expected)
                elif key == "unit_price_as_printed":  # "312000 (column header says 万元)"
                    check(f"{kind_key}[{index}].{key}", got_row.get("unit_price_as_printed"),
                          expected.split(" ")[0])
    names = list(dict.fromkeys(a.name for a in record.attachments))
    check("attachments", names, [clean_text(name) for name in want["attachments"]])
    for key, expected in want.get("correction", {}).items():
        got = record.fields.get(CORRECTION_LABELS[key], "")
        if key in ("first_published", "corrected_at"):
            check(f"correction.{key}", _same_time(got, expected), True)
        elif key == "content" and expected:
            # The truth paraphrases the change; each piece of it the page prints word for word must be in the field.
            text = raw.decode("utf-8")
            pieces = [p for p in re.split(r"[\s;；]+|改为", expected) if len(p) >= 4 and p in text]
            check(f"correction.{key}", [p for p in pieces if p not in got], [])
        else:
            check(f"correction.{key}", got, expected)
    # A page whose figures agree is not flagged; the one whose 万元 column holds yuan is.
    check("amount_conflict", "amount_conflict" in record.fields, "unit_price_as_printed" in json.dumps(want))
    check("warnings", record.warnings, [])
    return out


def score(shared: Path) -> tuple[int, int, list[str]]:
    """(matching, checked, the mismatches in words) over every real page with true values."""
    matching = checked = 0
    wrong: list[str] = []
    for name, want in truth(shared).items():
        for what, got, expected in checks(shared / "real/ccgp" / name, want):
            checked += 1
            if got == expected:
                matching += 1
            else:
                wrong.append(f"{name} {what}: got {got!r}, want {expected!r}")
    return matching, checked, wrong
