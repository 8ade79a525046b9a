"""Notice bodies → their facts: the one reader of the Ministry of Finance's standard notice text (项目编号,
预算金额, 采购人信息, 中标（成交）信息, 主要标的信息, 更正事项), which ccgp and every provincial portal publish, in
whatever template: ccgp's ``vF_detail_content``, a 政采云 ``content``, FreeCMS's ``notice-con``, gpcms's
``content``, ggzy's ``mycontent``, a Word export.

``parse_body`` reads labelled lines (``项目编号：``, ``预算金额：``, ``包号：``, ``供应商名称：``), supplier and lot
tables in every shape seen, goods, service and works tables, the files the body links and a correction's facts.
A portal's parser reads its page's frame (title, date, region, the list's facts) and hands the body here; amounts
stay text as printed, their units put beside them (``pipelines.money``), to be read by ``pipelines.normalise``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urljoin

from bs4 import Comment, Doctype, NavigableString, Tag

from caigou.crawler.items import AttachmentItem, SupplierItem
from caigou.crawler.parsers.common import cell_text, soup_of, text_of
from caigou.pipelines.money import (
    bracketed_unit,
    money_or_none,
    split_figure,
    sum_disagrees,
    unit_in_label,
    unit_matching,
    with_unit,
    yuan_under_wan,
)
from caigou.pipelines.text import clean_text, fold_text, label_key, squeeze_cjk

__all__ = ["CORRECTION_LABELS", "DOWNLOAD_URL", "Lot", "NoticeBody", "code_after_label", "name_in_section",
           "parse_body", "split_label", "value_after_label"]

# ccgp's file store: a body's ``a.bizDownload`` names its file by id.
DOWNLOAD_URL = "https://download.ccgp.gov.cn/oss/download?uuid={}"


# ------------------------------------------------------------------------------------------------ labelled text

def code_after_label(text: str, label: str) -> str:
    """A code-like value after its label: ``项目编号：XZCG-2024-061`` → ``XZCG-2024-061``; codes may open with a
    bracket (``[231025]FAGC[GK]20260002``), and the punctuation after a code (``XZCG-2024-061（``, ``…；``) or an
    unmatched bracket at its end is not part of it."""
    match = re.search(rf"{label}\s*[:：]\s*([A-Za-z0-9\[【(（][A-Za-z0-9\-_/\[\]【】()（）.#]*)", text)
    if not match:
        return ""
    code = match.group(1).rstrip("。；;,，.")
    pairs = {")": "(", "）": "（", "]": "[", "】": "【"}
    while code and (code[-1] in "(（[【" or code[-1] in pairs and code.count(code[-1]) > code.count(pairs[code[-1]])):
        code = code[:-1].rstrip("。；;,，.")
    return code if re.search(r"[A-Za-z0-9]", code) else ""


def value_after_label(text: str, *labels: str) -> str:
    """The rest of the line after the first of ``labels`` followed by a colon (``预算金额：56.98万元``)."""
    for label in labels:
        spaced = r"\s*".join(map(re.escape, label))
        match = re.search(rf"(?:^|[\n\s、.．)）]){spaced}\s*[:：]\s*([^\n]+)", text)
        if match and clean_text(match.group(1)):
            return clean_text(match.group(1)).rstrip("。；;")
    return ""


def name_in_section(text: str, section: str) -> str:
    """``名 称：X`` in the paragraph after a section heading (采购人信息 → the buyer's name)."""
    start = text.find(section)
    if start < 0:
        return ""
    match = re.search(r"名\s*称\s*[:：]\s*(\S[^\n]*)", text[start:start + 400])
    return squeeze_cjk(match.group(1)) if match else ""


def split_label(line: str) -> tuple[str, str, str]:
    """``1.供应商名称：X`` → (``供应商名称``, ``：``, ``X``); numbering before the label is dropped."""
    parts = re.split(r"([:：])", line, maxsplit=1)
    if len(parts) < 3:
        return line, "", ""
    label = re.sub(r"^[\s\d一二三四五六七八九十、.．()（）]+", "", parts[0])
    return label_key(label), parts[1], clean_text(parts[2])


# ------------------------------------------------------------------------------------------------ notice bodies

@dataclass
class Lot:
    """One lot (包) of a result notice: who won it for how much, or why it failed."""

    lot: str = ""                  # as the page labels it: 第1包, 合同包1(医疗设备采购及服务), 002 县级医院…
    suppliers: list[SupplierItem] = field(default_factory=list)
    amount_text: str = ""          # the award as printed, with its unit
    status: str = ""               # awarded | failed
    reason: str = ""               # why it failed (废标（终止）原因)
    decided_at: str = ""

    def supplier_names(self) -> str:
        return "、".join(s.name for s in self.suppliers)

    def as_dict(self) -> dict[str, str | None]:
        values: dict[str, str | None] = {"lot": self.lot or None, "supplier": self.supplier_names() or None,
                                         "amount": self.amount_text or None, "status": self.status}
        if self.reason:
            values["reason"] = self.reason
        if self.decided_at:
            values["decided_at"] = self.decided_at
        return values


@dataclass
class NoticeBody:
    """What a notice body says, strings as printed: the shape every portal's body is read into."""

    text: str = ""
    title: str = ""
    published_text: str = ""
    project_code: str = ""
    project_name: str = ""
    buyer: str = ""            # the 政采云 purchaser cell, the 采购人信息 section's 名称, else a 采购人名称：… line
    buyer_in_section: str = ""  # the cell or section only (ccgp's summary 采购单位 comes before a labelled line)
    agency: str = ""           # the same for the agency (采购代理机构信息, 代理机构名称：…)
    budget_text: str = ""
    award_text: str = ""
    lots: list[Lot] = field(default_factory=list)
    suppliers: list[SupplierItem] = field(default_factory=list)
    line_items: list[dict[str, str]] = field(default_factory=list)
    attachments: list[AttachmentItem] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def award_or_sole_supplier(self) -> str:
        """The total the body states, else the amount of its one supplier (a notice of one award states it once,
        beside the supplier)."""
        if self.award_text or len(self.suppliers) != 1:
            return self.award_text
        return self.suppliers[0].amount_text


def parse_body(body: str | bytes | Tag, base_url: str, award_text: str = "") -> NoticeBody:
    """A notice body (the HTML of the MoF standard notice text, in any portal's template) → its facts: project code
    and name, buyer, agency, budget, award, the dates and method its labelled lines give. Suppliers and lots come
    from the summary cells, lot and supplier tables, or labelled lines (``包号：``, ``供应商名称：``,
    ``中标（成交）金额：``, ``废标（终止）原因：``), merged by lot; goods, service and works tables become line items.

    ``award_text`` is the notice's total where the page states it outside the body (ccgp's summary table). The lots
    go to ``fields["lots"]`` (JSON: lot, supplier, amount as printed, status awarded/failed, reason, decided_at);
    figures that disagree are kept as printed and explained in ``fields["amount_conflict"]``; an awarded lot
    without its amount is said in ``fields["parse_problems"]``."""
    content = body if isinstance(body, Tag) else soup_of(body)
    text = text_of(content)
    result = NoticeBody(text=text)
    result.project_code = code_after_label(text, "项目编号") or code_after_label(text, "采购计划编号")
    purchaser = content.find(class_="noticePurchase-purchaserOrgName")
    agency_node = content.find(class_="noticeAgency-agencyName")
    result.project_name = value_after_label(text, "项目名称", "采购项目名称")
    result.buyer_in_section = cell_text(purchaser) or name_in_section(text, "采购人信息")
    result.buyer = result.buyer_in_section or value_after_label(text, "采购人名称", "采购单位", "采购人")
    result.agency = cell_text(agency_node) or name_in_section(text, "采购代理机构信息") \
        or value_after_label(text, "采购代理机构名称", "代理机构名称")
    result.budget_text = value_after_label(text, "预算金额", "项目预算金额", "采购预算")
    result.award_text = value_after_label(text, "总中标金额", "总成交金额", "中标（成交）总金额")
    heading = content.find(id="titlecandel") or content.find(["h1", "h2", "h3"])
    result.title = squeeze_cjk(cell_text(heading)) if heading is not None and len(cell_text(heading)) > 8 else ""
    published = re.search(r"发布(?:日期|时间)\s*[:：]\s*(\d{4}[年\-./]\d{1,2}[月\-./]\d{1,2}日?)", text)
    result.published_text = published.group(1) if published else ""
    result.lots = _merge_lots(_lots_from_code_cells(content) or _lots_from_tables(content)
                              or _lots_from_notice_detail(content), _lots_from_lines(text))
    result.suppliers = [supplier for lot in result.lots for supplier in lot.suppliers]
    result.line_items = _line_items(content, result.lots)
    result.attachments = _body_attachments(content, base_url)
    result.fields = _correction_fields(text)
    total = award_text or result.award_text
    lots = result.lots
    if len(lots) == 1 and lots[0].status == "awarded" and not lots[0].amount_text and total:
        lots[0].amount_text = total  # one lot: its award is the notice's total
    _check_units(result.line_items, lots, total)
    conflicts = _amount_problems(total, lots, result.line_items)
    if conflicts:
        result.fields["amount_conflict"] = "; ".join(conflicts)
    missing = [f"lot {lot.lot or '(unnamed)'}: supplier {lot.supplier_names()} without an amount"
               + (f" ({lot.amount_text})" if lot.amount_text else "")
               for lot in lots if lot.status == "awarded" and money_or_none(lot.amount_text) is None
               and (lot.amount_text or len(lots) > 1)]
    if missing:
        result.fields["parse_problems"] = "; ".join(missing)
    if lots:
        result.fields["lots"] = json.dumps([lot.as_dict() for lot in lots], ensure_ascii=False,
                                           separators=(",", ":"))
    for label in ("采购方式", "最高限价", "开标时间", "中标日期", "成交日期", "评审专家名单"):
        value = value_after_label(text, label)
        if value:
            result.fields[label] = value
    return result


# A lot's heading line: 第1包 ：, 合同包1(医疗设备采购及服务):, 包2, 标包A, 包号：3.
_LOT_HEADING = re.compile(r"^(第\s*[0-9A-Za-z一二三四五六七八九十]+\s*(?:包|标段|标包|分包)|合同包\s*[0-9A-Za-z]+"
                          r"|(?:标包|分包|包组|包)\s*[0-9A-Za-z]+|(?:包号|标包号|包组编号|分包号)\s*[:：]\s*[0-9A-Za-z]+)"
                          r"\s*((?:[(（][^)）]*[)）])?)\s*[:：]?$")
_SECTION_HEADING = re.compile(r"^[一二三四五六七八九十]+\s*[、.．]")
_KIND_WORDS = {"货物": "goods", "服务": "service", "工程": "works"}


_LOT_ID = re.compile(r"第[0-9A-Za-z一二三四五六七八九十]+(?:包|标段|标包|分包)|合同包[0-9A-Za-z]+"
                     r"|(?:标包|分包|包组|包)[0-9A-Za-z]+")


def _lot_id(label: str) -> str:
    """The lot's own name in its label: ``合同包1(医疗设备采购及服务)`` → ``合同包1``, ``002 县级…`` → ``002``."""
    match = _LOT_ID.match(re.sub(r"\s+", "", label))
    return match.group() if match else (label.split() or [""])[0]


def _lot_key(label: str) -> str:
    """第1包, 包1, 合同包1 and 1 are the same lot: the number (or letter) alone."""
    ident = _lot_id(label)
    number = re.search(r"[0-9A-Za-z]+|[一二三四五六七八九十]+", ident)
    return (number.group().lstrip("0") or "0") if number else ident


def _context_before(table: Tag) -> tuple[str, str]:
    """(lot heading, kind of goods) printed just before a table: ``第1包 ：``, ``合同包1(…):``, ``货物类（…）``."""
    lot, kind = "", ""
    seen = 0
    for string in table.previous_elements:
        if not isinstance(string, NavigableString) or isinstance(string, (Comment, Doctype)) \
                or string.parent is not None and string.parent.name in ("style", "script", "title"):
            continue
        line = squeeze_cjk(clean_text(str(string)))
        if not line:
            continue
        seen += 1
        if not kind and line[:2] in _KIND_WORDS and line[2:3] in ("类", ""):
            kind = _KIND_WORDS[line[:2]]
        heading = _LOT_HEADING.match(line)
        if heading:
            # 包号：3 names lot 3, as the labelled lines do.
            label = (heading.group(1) + heading.group(2)).replace(" ", "")
            lot = re.sub(r"^(?:包号|标包号|包组编号|分包号)[:：]", "", label)
            break
        if _SECTION_HEADING.match(line) or seen >= 4:
            break
    return lot, kind


def _data_rows(table: Tag) -> tuple[list[str], list[list[Tag]], str] | None:
    """(header labels, data rows, banner) of a data table; None for a layout table (one holding tables)."""
    if table.find("table") is not None:
        return None
    rows = [row.find_all(["td", "th"], recursive=False) for row in table.find_all("tr")]
    rows = [row for row in rows if row]
    banner = ""
    for index, row in enumerate(rows):
        if len(row) >= 2:
            header = [label_key(cell.get_text(" ")) for cell in row]
            return header, [r for r in rows[index + 1:] if len(r) >= 2], banner
        banner = banner or cell_text(row[0])
    return None


_SUPPLIER_COLUMNS = {"中标(成交)供应商名称", "中标供应商名称", "成交供应商名称", "供应商名称", "中标供应商",
                     "成交供应商", "中标人名称", "中标人", "供应商"}  # as label_key reads them (NFKC brackets)
# A table of bidders' scores or ranks names losing bidders too: they are not suppliers.
_RANKING_MARKS = ("排序", "排名", "评审报价", "评审价格", "资格性审查", "符合性审查", "最终报价")
_ITEM_MARKS = ("品牌", "型号", "规格", "服务名称", "服务范围", "标的名称", "货物名称", "采购标的", "施工范围", "品目")


def _lots_from_tables(content: Tag) -> list[Lot]:
    """Lots from supplier tables: one per table (``projectBundleList`` after ``第N包 ：``, 合同包 tables), or one
    table listing a lot column; a plain table of names without amounts too."""
    lots: list[Lot] = []
    for table in content.find_all("table"):
        shape = _data_rows(table)
        if shape is None:
            continue
        header, rows, _banner = shape
        name_col = next((i for i, label in enumerate(header) if label in _SUPPLIER_COLUMNS), None)
        if name_col is None or any(mark in label for label in header for mark in _RANKING_MARKS + _ITEM_MARKS):
            continue
        address_col = next((i for i, label in enumerate(header) if "地址" in label), None)
        amount_col = next((i for i, label in enumerate(header)
                           if ("金额" in label or "报价" in label or "价格" in label) and "费" not in label), None)
        lot_col = next((i for i, label in enumerate(header) if label.startswith(("包号", "标包", "标项", "包组"))),
                       None)
        heading, _kind = _context_before(table)
        for row in rows:
            def cell(index: int | None, cells: list[Tag] = row) -> str:
                return cell_text(cells[index]) if index is not None and index < len(cells) else ""
            name = squeeze_cjk(cell(name_col))
            if not name or name in ("/", "-", "无"):
                continue
            label = cell(lot_col) or heading
            amount = with_unit(cell(amount_col), unit_in_label(header[amount_col]) if amount_col is not None else "")
            lot = next((existing for existing in lots if label and _lot_key(existing.lot) == _lot_key(label)), None)
            if lot is None:
                lot = Lot(lot=label, status="awarded")
                lots.append(lot)
            lot.suppliers.append(SupplierItem(name=name, lot=label, address=cell(address_col),
                                              amount_text=amount))
            lot.amount_text = lot.amount_text or amount
    return lots


def _lots_from_code_cells(content: Tag) -> list[Lot]:
    """The new template's ``code-*`` cells; the 序号 column numbers rows, it names a lot only when there are
    several."""
    lots: list[Lot] = []
    for name in content.find_all(class_="code-winningSupplierName"):
        row = name.find_parent("tr") or name.parent
        assert row is not None  # found inside ``content``, so it has a parent
        label = cell_text(row.find(class_="code-sectionNo"))
        supplier = SupplierItem(name=squeeze_cjk(cell_text(name)), lot=label,
                                address=cell_text(row.find(class_="code-winningSupplierAddr")),
                                amount_text=cell_text(row.find(class_="code-summaryPrice")))
        lots.append(Lot(lot=label, suppliers=[supplier], amount_text=supplier.amount_text, status="awarded"))
    if len({lot.lot for lot in lots}) <= 1:
        for lot in lots:
            lot.lot = lot.suppliers[0].lot = ""
    return lots


def _lots_from_notice_detail(content: Tag) -> list[Lot]:
    """The older template's ``table#NoticeDetail``: cells ``标包：<u>A</u>``, ``供应商名称：<u>X</u>`` …"""
    table = content.find("table", id="NoticeDetail")
    if table is None:
        return []
    lots: list[Lot] = []
    lot: Lot | None = None
    current: SupplierItem | None = None
    for cell in table.find_all("td"):
        label, value = _cell_pair(cell)
        if label.startswith("标包") or label.startswith("包号"):
            lot = Lot(lot=value, status="awarded")
            lots.append(lot)
            current = None
        elif label.startswith("供应商名称") or label.startswith("中标供应商") or label.startswith("成交供应商"):
            if lot is None:
                lot = Lot(status="awarded")
                lots.append(lot)
            current = SupplierItem(name=squeeze_cjk(value), lot=lot.lot)
            lot.suppliers.append(current)
        elif current is not None and label.startswith("供应商地址"):
            current.address = value
        elif current is not None and lot is not None and ("金额" in label or "报价" in label):
            current.amount_text = value
            lot.amount_text = lot.amount_text or value
    return [lot for lot in lots if lot.suppliers]


def _cell_pair(cell: Tag) -> tuple[str, str]:
    """``供应商名称：<u>X</u>`` → (label, value); the value is the underlined text when there is one."""
    underlined = cell.find("u")
    text = clean_text(cell.get_text(""))
    label = label_key(re.split(r"[:：]", text, maxsplit=1)[0])
    value = cell_text(underlined) if underlined is not None else clean_text(re.split(r"[:：]", text)[-1])
    return label, value


# Labelled lines, by what the label introduces. Labels match with either width of colon and bracket and with any
# white space between their characters (供 应 商 名 称 ：).
_LINE_LABELS = {
    "lot": ("包号", "包组编号", "标包号", "标包编号", "分包号", "合同包号", "标段号", "标项号", "包组", "标包",
            "合同包",
            "标项"),
    "lot_name": ("包组名称", "包名称", "标包名称", "分包名称", "合同包名称", "标项名称", "标段名称"),
    "supplier": ("中标(成交)供应商名称", "中标供应商名称", "成交供应商名称", "供应商名称", "中标人名称", "中标供应商",
                 "成交供应商", "中标人"),
    "address": ("中标(成交)供应商地址", "中标供应商地址", "成交供应商地址", "供应商地址", "中标人地址"),
    "amount": ("中标(成交)金额", "中标金额", "成交金额", "中标(成交)价格", "中标价格", "成交价格", "中标价", "成交价"),
    "result": ("结果类型", "中标结果", "采购结果"),
    "reason": ("废标(终止)原因", "废标(流标)原因", "废标原因", "终止原因", "流标原因", "废标情形", "废标理由",
               "项目废标的原因", "失败原因"),
    "decided": ("确定时间",),
}
_LABEL_KIND = {label: kind for kind, labels in _LINE_LABELS.items() for label in labels}
_WIDTHS = {"(": "[(（]", ")": "[)）]"}
_LINE_LABEL = re.compile(
    r"(?:^|(?<=[\s、.．)）]))(?P<label>" + "|".join(
        r"\s*".join(_WIDTHS.get(char, re.escape(char)) for char in label)
        for label in sorted(_LABEL_KIND, key=len, reverse=True))
    + r")\s*[:：]\s*")
_FAILED_WORDS = ("废标", "流标", "终止", "失败", "不成立")


def _lots_from_lines(text: str) -> list[Lot]:
    """Lots from labelled lines: ``包号：2`` opens a lot; ``供应商名称：`` / ``中标（成交）金额：`` fill it;
    ``废标（终止）原因：`` or ``结果类型：废标`` mark it failed. Several labels may share a line."""
    lots: list[Lot] = []
    lot: Lot | None = None

    def current() -> Lot:
        nonlocal lot
        if lot is None:
            lot = Lot()
            lots.append(lot)
        return lot

    for line in text.split("\n"):
        matches = list(_LINE_LABEL.finditer(line))
        for index, match in enumerate(matches):
            end = matches[index + 1].start() if index + 1 < len(matches) else len(line)
            kind = _LABEL_KIND[fold_text(re.sub(r"\s+", "", match.group("label")))]
            value = clean_text(line[match.end():end])
            value = value if kind == "reason" else value.rstrip("。；;,，")
            if kind == "lot":
                if not value:
                    continue
                existing = next((known for known in lots if _lot_key(known.lot) == _lot_key(value)), None)
                lot = existing or Lot(lot=value)
                if existing is None:
                    lots.append(lot)
            elif kind == "lot_name" and value and lot is not None and value not in lot.lot:
                lot.lot = f"{lot.lot} {value}"
            elif kind == "supplier" and value:
                target = current()
                if value not in (s.name for s in target.suppliers):
                    target.suppliers.append(SupplierItem(name=squeeze_cjk(value), lot=target.lot))
                target.status = target.status or "awarded"
            elif kind == "address" and lot is not None and lot.suppliers and value:
                lot.suppliers[-1].address = lot.suppliers[-1].address or value
            elif kind == "amount" and lot is not None:
                amount = bracketed_unit(value)
                if lot.suppliers and not lot.suppliers[-1].amount_text:
                    lot.suppliers[-1].amount_text = amount
                lot.amount_text = lot.amount_text or amount
            elif kind == "result" and value and lot is not None:
                if any(word in value for word in _FAILED_WORDS):
                    lot.status = "failed"
            elif kind == "reason" and value:
                target = current()
                target.status, target.reason = "failed", value
            elif kind == "decided" and value and lot is not None:
                lot.decided_at = value
    return [lot for lot in lots if lot.suppliers or lot.status]


def _merge_lots(found: list[Lot], from_lines: list[Lot]) -> list[Lot]:
    """Lots from tables and from labelled lines are one list: the same lot (by its number, or by its supplier
    when unnumbered) is completed, never listed twice."""
    lots = list(found)
    for extra in from_lines:
        same = next((lot for lot in lots if extra.lot and lot.lot and _lot_key(lot.lot) == _lot_key(extra.lot)), None)
        if same is None and not extra.lot:
            names = {s.name for s in extra.suppliers}
            same = next((lot for lot in lots if names & {s.name for s in lot.suppliers}), None)
        if same is None:
            lots.append(extra)
            continue
        known = {s.name for s in same.suppliers}
        same.suppliers += [s for s in extra.suppliers if s.name not in known]
        same.amount_text = same.amount_text or extra.amount_text
        if extra.status == "failed" and not same.suppliers:
            same.status = "failed"
        same.reason = same.reason or extra.reason
        same.decided_at = same.decided_at or extra.decided_at
        if extra.lot and len(extra.lot) > len(same.lot):
            same.lot = extra.lot
    for lot in lots:
        lot.status = "awarded" if lot.suppliers and lot.status != "failed" else lot.status or "failed"
    return lots


# ------------------------------------------------------------------------------------------------ goods tables

# Column labels of goods, service and works tables → line-item keys (the first prefix that fits wins).
_ITEM_COLUMNS = (("品目号", "item_no"), ("品目编号", "item_no"), ("品目名称", "category"), ("标项名称", "lot_name"),
                 ("供应商名称", "supplier"), ("服务名称", "name"), ("标的名称", "name"), ("货物名称", "name"),
                 ("采购标的", "name"), ("名称", "name"), ("货物品牌", "brand"), ("品牌", "brand"),
                 ("货物型号", "model"), ("规格型号", "model"), ("型号", "model"), ("规格", "model"),
                 ("数量", "quantity"), ("单价", "unit_price"), ("总价", "total"), ("合计", "total"),
                 ("中标金额", "amount"), ("成交金额", "amount"), ("金额", "amount"), ("类型", "type"),
                 ("服务范围", "scope"), ("施工范围", "scope"), ("服务要求", "requirement"),
                 ("服务标准", "standard"), ("服务时间", "service_time"), ("服务期限", "service_time"),
                 ("施工工期", "duration"), ("工期", "duration"), ("项目经理", "project_manager"),
                 ("执业证书", "certificate"))
_MONEY_KEYS = ("unit_price", "total", "amount")


def _line_items(content: Tag, lots: list[Lot]) -> list[dict[str, str]]:
    """Rows of the 主要标的信息 tables (goods: brand and model, where a distributor's Thermo Fisher purchase
    shows; services; works), each with its lot and kind. A cell holding several items (``A;<br/>B``) in every
    multi-valued column gives one row per item."""
    items: list[dict[str, str]] = []
    for table in content.find_all("table"):
        shape = _data_rows(table)
        if shape is None:
            continue
        header, rows, banner = shape
        if not any(mark in label for label in header for mark in _ITEM_MARKS):
            continue
        if any(mark in label for label in header for mark in _RANKING_MARKS):
            continue
        keys = [next((key for prefix, key in _ITEM_COLUMNS if label.startswith(prefix)), "") for label in header]
        heading, kind = _context_before(table)
        banner_kind = next((k for word, k in _KIND_WORDS.items() if banner.startswith(word)), "")
        for row in rows:
            columns = [_cell_parts(cell) for cell in row]
            count = max((len(parts) for parts in columns), default=1)
            if count > 1 and any(len(parts) not in (1, count) for parts in columns):
                count, columns = 1, [[" ".join(parts)] for parts in columns]
            for position in range(count):
                item: dict[str, str] = {}
                for index, parts in enumerate(columns):
                    key = keys[index] if index < len(keys) else ""
                    if not key or key in item:
                        continue
                    value = parts[position] if len(parts) == count else parts[0]
                    item[key] = with_unit(value, unit_in_label(header[index])) if key in _MONEY_KEYS else value
                if not any(item.get(key) for key in ("name", "brand", "model", "scope")):
                    continue
                type_kind = next((k for word, k in _KIND_WORDS.items() if item.get("type", "").startswith(word)), "")
                item["kind"] = type_kind or banner_kind or kind or _kind_of(keys)
                if banner and "type" not in item and banner_kind:
                    item["type"] = banner
                if heading:
                    item["lot"] = _lot_id(heading)
                items.append(item)
    return items


def _kind_of(keys: list[str]) -> str:
    if "duration" in keys or "project_manager" in keys:
        return "works"
    if "requirement" in keys or "service_time" in keys:
        return "service"
    return "goods"


def _cell_parts(cell: Tag) -> list[str]:
    """A cell's values: one, or several where the cell lists items separated by ``;`` and line breaks."""
    pieces = [clean_text(piece) for piece in re.split(r"[;；]\s*(?:\n|$)|\n(?=.)", cell.get_text("\n"))]
    if len([p for p in pieces if p]) > 1 and cell.find("br") is not None:
        return [p.rstrip(";；") for p in pieces if p]
    return [cell_text(cell)]


def _check_units(items: list[dict[str, str]], lots: list[Lot], total_text: str = "") -> None:
    """Money cells read against the award they make up. A bare number (no unit in cell or header) that is the
    award in yuan (or in 万元) gets that unit. A figure under a 万元 header that is a yuan figure (312000 where the
    lot's award is 31.2万元) is read as yuan, the printed figure kept beside it (``…_as_printed``) and a note left
    for ``_amount_problems`` to flag the notice."""
    awards = {_lot_key(lot.lot): money_or_none(lot.amount_text) for lot in lots if lot.amount_text}
    total = money_or_none(total_text) if total_text else None
    for item in items:
        reference = awards.get(_lot_key(item["lot"])) if item.get("lot") else None
        if reference is None:
            reference = next(iter(awards.values())) if len(awards) == 1 else total
        if not reference:
            continue
        quantity = re.match(r"\s*(\d+(?:\.\d+)?)", item.get("quantity", ""))
        for key in _MONEY_KEYS:
            figure = split_figure(item.get(key, ""))
            if figure is None:
                continue
            number, unit = figure
            count = Decimal(quantity.group(1)) if key == "unit_price" and quantity else Decimal(1)
            yuan = Decimal(number.replace(",", "")) * count
            if not unit:
                unit = unit_matching(yuan, reference)
                if unit:
                    item[key] = f"{number}{unit}"
            elif unit == "万元" and yuan_under_wan(yuan, reference):
                item[f"{key}_as_printed"] = number
                item[key] = f"{number}元"
                item["unit_note"] = (f"{key} {number} under a 万元 header read as yuan "
                                     f"(as 万元 it would be {yuan * 10_000} 元 against an award of {reference} 元)")


def _amount_problems(award_text: str, lots: list[Lot], items: list[dict[str, str]]) -> list[str]:
    """Figures of one notice that disagree, in words: the lots' sum against the total, a 万元 column holding yuan.
    Both figures stay on the notice; nothing is silently picked."""
    problems = [item["unit_note"] for item in items if "unit_note" in item]
    for item in items:
        item.pop("unit_note", None)
    total = money_or_none(award_text) if award_text else None
    amounts = [money_or_none(lot.amount_text) for lot in lots if lot.status == "awarded"]
    if total is not None and len(amounts) > 1 and all(a is not None for a in amounts):
        lot_sum = sum_disagrees(total, [a for a in amounts if a is not None])
        if lot_sum is not None:
            problems.append(f"the total {award_text} is not the lots' sum {lot_sum} 元")
    return problems


# ------------------------------------------------------------------------------------------------ attachments

_DOCUMENT = re.compile(r"\.(pdf|docx?|xlsx?|zip|rar|7z|wps|et|jpe?g|png|tif?f|ofd)$", re.I)
_DOWNLOAD_CALL = re.compile(r"""(?:download\w*|open\w*|window\.open)\s*\(\s*['"]([^'"]+)['"]""", re.I)


def _body_attachments(content: Tag, base_url: str) -> list[AttachmentItem]:
    """Files the body links: ``a.bizDownload``, ``<a href=….pdf>``, links whose name is a file (``开标记录表.zip``
    behind a download script), and ``onclick="downloadFile('…')"`` links."""
    found: list[AttachmentItem] = []
    for anchor in content.find_all("a"):
        name = cell_text(anchor)
        href = str(anchor.get("href") or "").strip()
        if anchor.get("id") and "bizDownload" in (anchor.get("class") or []):
            found.append(AttachmentItem(url=DOWNLOAD_URL.format(anchor["id"]), name=name))
            continue
        call = _DOWNLOAD_CALL.search(str(anchor.get("onclick") or ""))
        if href.lower().startswith(("javascript:", "#")) or not href:
            if call and (_DOCUMENT.search(name) or _DOCUMENT.search(call.group(1).split("?")[0])):
                found.append(AttachmentItem(url=urljoin(base_url, call.group(1)), name=name))
            continue
        path = href.split("?")[0]
        if _DOCUMENT.search(path) or _DOCUMENT.search(name) or re.search(r"download|upload|attach", href, re.I):
            found.append(AttachmentItem(url=urljoin(base_url, href), name=name))
    return found


# ------------------------------------------------------------------------------------------------ corrections

CORRECTION_LABELS = ("首次公告日期", "更正事项", "更正原因", "更正内容", "更正日期")


def _correction_fields(text: str) -> dict[str, str]:
    """A correction's facts from its body: 首次公告日期 (and the original notice's address on that line), 更正事项,
    更正原因, 更正内容 (every line up to 更正日期), 更正日期."""
    fields: dict[str, str] = {}
    lines = text.split("\n")
    for index, line in enumerate(lines):
        label, sep, value = split_label(line)
        if not sep or label not in CORRECTION_LABELS:
            continue
        if label == "更正内容":
            rest = [value] if value else []
            for following in lines[index + 1:]:
                if split_label(following)[0] in ("更正日期", "更正原因") or _SECTION_HEADING.match(following):
                    break
                rest.append(following)
            value = "\n".join(rest).strip()
            if value == "其他内容不变":
                value = ""
        if label == "首次公告日期":
            address = re.search(r"(?:地址|链接)\s*[:：]\s*(https?://\S+)", value)
            if address:
                fields["原公告地址"] = address.group(1)
                value = clean_text(value[: address.start()])
        if label == "更正原因" and not value and index + 1 < len(lines):
            value = lines[index + 1]
        fields[label] = value
    return fields
