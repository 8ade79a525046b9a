"""docs/develop.md's "Adding a portal, step by step" names real things: every file or folder it names exists, and
every ``module.function``, class, method, class variable, helper and fixture it names resolves (read from the page,
so a rename that leaves the page behind fails here). The new portal's own names (``example``) are left out."""
from __future__ import annotations

import dataclasses
import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "develop.md"


def _section() -> str:
    text = PAGE.read_text(encoding="utf-8")
    return text[text.index("## Adding a portal, step by step"):text.index("## Tests")]


def _spans() -> list[str]:
    spans = (" ".join(span.split()) for span in re.findall(r"`([^`]+)`", _section()))
    return sorted({span for span in spans if "example" not in span})


def _resolve(dotted: str) -> bool:
    for prefix in ("caigou.", "caigou.crawler.parsers.", "caigou.crawler.spiders.", "caigou.pipelines.", ""):
        parts = (prefix + dotted).split(".")
        for cut in range(len(parts), 0, -1):
            try:
                value: object = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            try:
                for name in parts[cut:]:
                    value = getattr(value, name)
            except AttributeError:
                break
            return True
    return False


def _names() -> set[str]:
    """What a bare name in the section may be: the spider pattern's, the parsers' and the tests' helpers'."""
    from caigou.crawler import parsers
    from caigou.crawler.items import NoticeItem
    from caigou.crawler.parsers import common, notice_body, xizang
    from caigou.crawler.spiders import patterns, qinghai
    from caigou.pipelines import store
    from caigou.replay import ReplayServer
    from tests import crawling, portals, test_crawl_portals

    # Reader parameters; fixtures (checked below); a Scrapy spider's own class variables; values.
    names = {"body", "html", "kind", "db", "sqlite_db", "server", "name", "allowed_domains", "None", "page_kind"}
    for holder in (parsers, common, notice_body, notice_body.NoticeBody, xizang, patterns, patterns.JsonListSpider,
                   patterns.ListWindow, patterns.ListQuery, patterns.NoticeSpider, store, qinghai, qinghai.ZcySpider, ReplayServer, crawling,
                   portals, test_crawl_portals):
        names |= set(dir(holder))
    for record in (patterns.ListWindow, patterns.ListQuery, common.ListRow, common.ListPage, NoticeItem):
        names |= {f.name for f in dataclasses.fields(record)}
    return names | set(vars(ReplayServer()))  # its attributes (not started)


def test_the_fixtures_named_exist() -> None:
    conftest = (ROOT / "tests" / "conftest.py").read_text(encoding="utf-8")
    assert "def db(" in conftest and "def sqlite_db(" in conftest
    assert "def server(" in (ROOT / "tests" / "test_crawl_portals.py").read_text(encoding="utf-8")


def _problem(span: str, names: set[str]) -> str | None:
    if re.fullmatch(r"[\w.]*/[\w./<>-]*", span) and not span.startswith("/"):  # a file or folder of the checkout
        return None if (ROOT / span).exists() else f"{span}: no such file or folder"
    call = re.match(r"(?:yield )?(?:self\.)?([A-Za-z_][\w.]*)\(", span)
    name = call.group(1) if call else span
    if not re.fullmatch(r"[A-Za-z_][\w.]*", name):
        return None  # a value, a command line or a heading (`"pages"`, `caigou sources`, `**Domain**`)
    if "." in name and not name.startswith(("window.", "self.", "server.")):
        return None if _resolve(name) else f"{name}: does not resolve"
    return None if name.split(".")[-1] in names else f"{name}: nothing the section points to defines it"


def test_what_the_add_a_portal_steps_name_exists() -> None:
    spans, names = _spans(), _names()
    assert len(spans) > 50  # the section was found and read
    problems = [problem for span in spans if (problem := _problem(span, names))]
    assert problems == [], "docs/develop.md's add-a-portal steps name what is not there"
