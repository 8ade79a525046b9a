"""Parsing helpers every portal shares: visible text, labelled tables, header tables, links."""
from __future__ import annotations

from urllib.parse import urljoin

from bs4 import BeautifulSoup, Comment, Doctype, NavigableString, Tag

from pipelines.normalise import clean_text, label_key


class ParseError(ValueError):
    """A page that is not the notice it should be (a block page, an empty template): recorded, never stored."""


BLOCK_TAGS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "section",
              "blockquote", "thead", "tbody"}
CELL_TAGS = {"td", "th"}
SKIPPED_TAGS = {"script", "style", "noscript", "template", "head"}


def soup_of(html: str | bytes) -> BeautifulSoup:
    if isinstance(html, bytes):
        html = html.decode("utf-8", errors="replace")
    return BeautifulSoup(html, "lxml")


def text_of(node: Tag | None) -> str:
    """Visible text, scripts, styles and hidden blocks dropped, one line per block element, white space folded.

    Walks the tree once without copying it (re-parsing a copy cost more than the rest of a page's parse)."""
    if node is None:
        return ""
    lines: list[str] = []
    current: list[str] = []

    def walk(element: Tag) -> None:
        for child in element.children:
            if isinstance(child, Tag):
                if child.name in SKIPPED_TAGS or "display:none" in (child.get("style") or "").replace(" ", ""):
                    continue
                block = child.name in BLOCK_TAGS
                if block and current:
                    lines.append("".join(current))
                    current.clear()
                walk(child)
                if child.name in CELL_TAGS:
                    current.append(" ")
                elif block and current:
                    lines.append("".join(current))
                    current.clear()
            elif isinstance(child, NavigableString) and not isinstance(child, (Comment, Doctype)):
                current.append(str(child))

    walk(node)
    if current:
        lines.append("".join(current))
    cleaned = (clean_text(line) for line in lines)
    return "\n".join(line for line in cleaned if line)


def cell_text(node: Tag | None) -> str:
    return clean_text(node.get_text(" ")) if node is not None else ""


def labelled_cells(table: Tag | None, label_class: str = "title") -> dict[str, str]:
    """A summary table of label cells (``td.title``) each followed by its value cell, several pairs to a row
    allowed (行政区域 | 贵州省 | 公告时间 | …). Labels are normalised, so ``总中标金 额`` reads ``总中标金额``.
    The first occurrence of a label wins."""
    values: dict[str, str] = {}
    if table is None:
        return values
    for row in table.find_all("tr"):
        cells = row.find_all(["td", "th"], recursive=False)
        for index, cell in enumerate(cells[:-1]):
            if label_class in (cell.get("class") or []):
                label = label_key(cell.get_text(" "))
                if label and label not in values:
                    values[label] = cell_text(cells[index + 1])
    return values


def table_rows(table: Tag | None) -> list[dict[str, str]]:
    """A table with a header row, as one dict per data row keyed by the (normalised) header labels."""
    if table is None:
        return []
    rows = [row.find_all(["td", "th"]) for row in table.find_all("tr")]
    rows = [row for row in rows if row]
    if len(rows) < 2:
        return []
    header = [label_key(cell.get_text(" ")) for cell in rows[0]]
    return [{header[i]: cell_text(cell) for i, cell in enumerate(row) if i < len(header) and header[i]}
            for row in rows[1:] if len(row) == len(header)]


def links(nodes: list[Tag], base_url: str) -> list[tuple[str, str]]:
    """(absolute URL, visible name) of the ``<a href>`` among ``nodes``, in order, each URL once."""
    seen: set[str] = set()
    found: list[tuple[str, str]] = []
    for node in nodes:
        href = (node.get("href") or "").strip()
        if not href or href.startswith(("javascript:", "#", "mailto:")):
            continue
        url = urljoin(base_url, href)
        if url not in seen:
            seen.add(url)
            found.append((url, cell_text(node)))
    return found
