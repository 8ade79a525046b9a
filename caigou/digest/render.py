"""A digest as plain text, HTML, CSV and a multipart e-mail.

Notice text comes from the portals and is hostile: every value is HTML-escaped, and only http(s) links become
links. Chinese is kept as text everywhere: the e-mail package encodes headers (RFC 2047, or raw UTF-8 with SMTPUTF8)
and bodies (UTF-8) itself.
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html import escape

from caigou.digest.build import Digest, Entry, band
from caigou.safe_text import http_url
from caigou.spreadsheet import neutralise

CSV_COLUMNS = ("notice_id", "score", "band", "update_of", "rematched", "published", "title", "notice_type", "buyer",
               "region", "amount_cny", "amount_kind", "suppliers", "project_code", "terms", "reasons", "source",
               "url", "archive_url", "also_on")
TERMS_SHOWN = 6  # a notice can fire a dozen terms; the strongest few say why, the CSV has them all


def money(amount: Decimal | None) -> str:
    return f"¥{amount:,.2f}" if amount is not None else "—"


def _safe_href(url: str) -> str | None:
    return http_url(url)


def subject(digest: Digest) -> str:
    count = len(digest.entries)
    day = f"{digest.generated_at:%Y-%m-%d}"
    if not count:
        return f"[caigou] {digest.subscription}: 无新公告 / no new notices ({day})"
    return f"[caigou] {digest.subscription}: {count} 条新公告 / {count} new notice{'s' * (count != 1)} ({day})"


def _facts(entry: Entry) -> list[tuple[str, str]]:
    facts = [("Buyer 采购人", entry.buyer or "—"), ("Region 地区", entry.region or "—"),
             ("Date 日期", f"{entry.published}" if entry.published else "—"),
             ("Type 类型", entry.notice_type_label or entry.notice_type),
             (f"Amount 金额 ({entry.amount_label})", money(entry.amount))]
    if entry.suppliers:
        facts.append(("Supplier 供应商", "、".join(entry.suppliers)))
    if entry.project_code:
        facts.append(("Project 项目编号", entry.project_code))
    if entry.also_on:
        facts.append(("Published on 发布于", ", ".join([entry.source, *entry.also_on])))
    return facts


def _marks(entry: Entry) -> list[str]:
    marks = []
    if entry.update_of:
        marks.append(f"UPDATE of “{entry.update_of.title}” ({entry.update_of.when})")
    if entry.rematched:
        marks.append("NEWLY MATCHED after a watchlist change")
    return marks


def _in_full(digest: Digest) -> tuple[list[tuple[str, list[Entry]]], list[Entry]]:
    """The sections cut to the first ``full_limit`` entries, and the entries left over: a digest of hundreds of
    notices would be a megabyte, and mail readers clip messages past about 100 KB."""
    room = max(0, digest.full_limit)
    shown: list[tuple[str, list[Entry]]] = []
    rest: list[Entry] = []
    for label, entries in digest.sections:
        kept, room = entries[:room], max(0, room - len(entries))
        rest += entries[len(kept):]
        if kept:
            shown.append((label, kept))
    return shown, rest


def _summary_row(entry: Entry) -> tuple[str, ...]:
    return (str(entry.score), f"{entry.published}" if entry.published else "—", entry.title[:60],
            entry.buyer[:30] or "—", entry.region or "—")


def _more(digest: Digest, rest: list[Entry]) -> str:
    return (f"{len(rest)} more notice{'s' * (len(rest) != 1)} 条 in the summary above, not in full"
            + (f": see them all at {digest.search_url}" if digest.search_url else ""))


def plain_text(digest: Digest) -> str:
    lines = [subject(digest), ""]
    if digest.empty:
        lines.append("Nothing new matched this subscription since the last digest. 自上次摘要以来没有新的匹配公告。")
    else:
        lines += ["Summary 摘要 (score · date · title · buyer · region):"]
        lines += ["  " + " · ".join(_summary_row(entry)) for _, entries in digest.sections for entry in entries]
        lines.append("")
    shown, rest = _in_full(digest)
    for label, entries in shown:
        lines += [f"== {label} ({len(entries)}) ==", ""]
        for entry in entries:
            lines.append(f"* [{entry.score}] {entry.title}")
            lines += [f"  ! {mark}" for mark in _marks(entry)]
            lines += [f"  {name}: {value}" for name, value in _facts(entry)]
            for term in entry.terms[:TERMS_SHOWN]:
                lines.append(f"  Term 命中: {term.term} ({term.category}, {term.tier})")
                lines += [f"    … {snippet} …" for snippet in term.snippets]
            if len(entry.terms) > TERMS_SHOWN:
                lines.append(f"  … and {len(entry.terms) - TERMS_SHOWN} more terms")
            if entry.reasons:
                lines.append(f"  Why (score {entry.score}): " + "; ".join(entry.reasons))
            lines.append(f"  Original 原文: {entry.url}")
            if entry.archive_url:
                lines.append(f"  Archive 存档: {entry.archive_url}")
            lines.append("")
    if rest:
        lines += [_more(digest, rest), ""]
    lines.append("— caigou. Each notice is sent once; reply to the operator to change this subscription.")
    return "\n".join(lines) + "\n"


def _link(url: str, text: str) -> str:
    href = _safe_href(url)
    return f'<a href="{escape(href, quote=True)}">{escape(text)}</a>' if href else escape(url)


def html_entry(entry: Entry) -> str:
    out = [f'<div class="entry" id="notice-{entry.notice_id}" style="margin-bottom: 1.5em">',
           f"<h3>[{entry.score}] {_link(entry.archive_url or entry.url, entry.title)}</h3>"]
    out += [f'<p class="mark"><strong>{escape(mark)}</strong></p>' for mark in _marks(entry)]
    out.append("<table>" + "".join(f"<tr><th align=left>{escape(name)}</th><td>{escape(value)}</td></tr>"
                                   for name, value in _facts(entry)) + "</table>")
    if entry.terms:
        out.append('<ul class="terms">')
        for term in entry.terms[:TERMS_SHOWN]:
            snippets = "".join(f"<li><q>{escape(s)}</q></li>" for s in term.snippets)
            out.append(f"<li><b>{escape(term.term)}</b> ({escape(term.category)}, {escape(term.tier)})"
                       + (f"<ul>{snippets}</ul>" if snippets else "") + "</li>")
        if len(entry.terms) > TERMS_SHOWN:
            out.append(f"<li>… and {len(entry.terms) - TERMS_SHOWN} more terms</li>")
        out.append("</ul>")
    if entry.reasons:
        out.append(f"<p>Why (score {entry.score}): " + escape("; ".join(entry.reasons)) + "</p>")
    links = [_link(entry.url, "Original 原文")]
    if entry.archive_url:
        links.append(_link(entry.archive_url, "Archive 存档"))
    out.append("<p>" + " · ".join(links) + "</p></div>")
    return "\n".join(out)


def html_text(digest: Digest) -> str:
    out = ['<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8">',
           f"<title>{escape(subject(digest))}</title></head>",
           '<body style="font-family: sans-serif; max-width: 50em">',
           f"<h1>{escape(subject(digest))}</h1>"]
    if digest.empty:
        out.append("<p>Nothing new matched this subscription since the last digest. "
                   "自上次摘要以来没有新的匹配公告。</p>")
    else:
        out.append('<table id="summary" border="1" cellpadding="3" style="border-collapse: collapse">'
                   "<tr><th>Score</th><th>Date 日期</th><th>Title 标题</th><th>Buyer 采购人</th>"
                   "<th>Region 地区</th></tr>")
        for _, entries in digest.sections:
            for entry in entries:
                score, date, title, buyer, region = (escape(v) for v in _summary_row(entry))
                link = _safe_href(entry.archive_url or entry.url)
                title = f'<a href="{escape(link, quote=True)}">{title}</a>' if link else title
                out.append(f"<tr><td>{score}</td><td>{date}</td><td>{title}</td><td>{buyer}</td><td>{region}</td></tr>")
        out.append("</table>")
    shown, rest = _in_full(digest)
    for label, entries in shown:
        out.append(f"<h2>{escape(label)} ({len(entries)})</h2>")
        out += [html_entry(entry) for entry in entries]
    if rest:
        more = escape(f"{len(rest)} more notice{'s' * (len(rest) != 1)} 条 in the summary above, not in full")
        link = _safe_href(digest.search_url)
        out.append(f'<p id="more"><strong>{more}</strong>'
                   + (f': <a href="{escape(link, quote=True)}">see them all in the archive</a>' if link else "")
                   + "</p>")
    out.append("<hr><p><small>caigou. Each notice is sent once.</small></p></body></html>")
    return "\n".join(out)


def _cell(value: object) -> str:
    return neutralise("" if value is None else str(value))  # a spreadsheet must not run it as a formula


def csv_bytes(digest: Digest) -> bytes:
    """UTF-8 with a BOM, so Excel shows the Chinese; formula-looking cells neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for entry in digest.entries:
        writer.writerow([_cell(v) for v in (
            entry.notice_id, entry.score, band(entry.score), entry.update_of.notice_id if entry.update_of else "",
            "yes" if entry.rematched else "", entry.published or "", entry.title, entry.notice_type, entry.buyer,
            entry.region, entry.amount if entry.amount is not None else "", entry.amount_label,
            "; ".join(entry.suppliers), entry.project_code, "; ".join(t.term for t in entry.terms),
            "; ".join(entry.reasons), entry.source, entry.url, entry.archive_url, "; ".join(entry.also_on))])
    return buffer.getvalue().encode("utf-8-sig")


def email_message(digest: Digest, sender: str, recipient: str, attach_csv: bool) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject(digest)
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = format_datetime(digest.generated_at)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip(">") or "caigou.local")
    message.set_content(plain_text(digest), charset="utf-8")
    message.add_alternative(html_text(digest), subtype="html", charset="utf-8")
    if attach_csv and not digest.empty:
        message.add_attachment(csv_bytes(digest), maintype="text", subtype="csv", params={"charset": "utf-8"},
                               filename=f"caigou-{digest.generated_at:%Y-%m-%d}.csv")
    return message
