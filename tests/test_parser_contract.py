"""The parsers' contract: a parser raises only ``ParseError``, whatever a portal answers — random bytes, JSON of any
shape (``fieldValues`` a string, ``data`` a list of numbers, deep nesting), or a real page cut short or with random
text spliced in. Held for every reader of every portal (``crawler.parsers.readers``), HTML and JSON alike."""
from __future__ import annotations

import html as htmllib
import json
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caigou.crawler import parsers
from caigou.crawler.parsers import PORTALS, SHARED, SHARED_READERS, readers
from caigou.crawler.parsers.common import ParseError

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "caigou" / "demo_data" / "ccgp").glob("*.html")) + \
    sorted((ROOT / "tests" / "data" / "portals").glob("*/*.html"))

# The keys the JSON parsers look for, so random shapes reach past the first lookup.
KEYS = ["code", "msg", "data", "rows", "records", "total", "hits", "_source", "_id", "fieldValues", "f_noticeTime",
        "f_purchaser", "f_budget", "f_agency", "f_noticeTypeName", "f_regionName", "id", "title", "pageurl",
        "htmlpath", "url", "content", "noticeTime", "noticeType", "purchaser", "agency", "regionName", "attchs",
        "fileUrl", "fileName", "name", "budget", "publishDate", "districtName", "articleId", "author", "value",
        "addtime", "addtimeStr", "provinceText", "cityText", "informationTypeText", "publishTime", "projectCode"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
    | st.sampled_from(["200", "0", "2024-06-12 10:30:00", "1718159400000", "/info/2024/a.html", "<p>预算金额：1万元</p>"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), children, max_size=6),
    max_leaves=25)


def json_answer(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", errors="surrogatepass")


@st.composite
def mangled_pages(draw: st.DrawFn) -> bytes:
    """A real page (or a qinghai page around random JSON), cut short and/or with random bytes or text spliced in."""
    if draw(st.booleans()):
        detail = htmllib.escape(json.dumps(draw(json_values), ensure_ascii=False), quote=True)
        page = f'<html><body><input name="articleDetail" value="{detail}"></body></html>'.encode()
    else:
        page = draw(st.sampled_from(PAGES)).read_bytes()
    at = draw(st.integers(0, len(page)))
    splice = draw(st.binary(max_size=40) | st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")))
    page = page[:at] + splice + page[at:]
    return page[:draw(st.integers(0, len(page)))] if draw(st.booleans()) else page


answers = st.binary(max_size=600) | json_values.map(json_answer) | mangled_pages()
deep = st.integers(900, 5000).map(lambda n: b"[" * n + b"]" * n) | st.integers(900, 5000).map(
    lambda n: b'{"data":' * n + b"1" + b"}" * n)

ALL_READERS = [pytest.param(function, id=f"{portal}.{name}") for portal in PORTALS + SHARED_READERS
               for name, function in sorted(readers(__import__(f"caigou.crawler.parsers.{portal}",
                                                               fromlist=["_"])).items())]


def call(function: Callable[..., Any], answer: bytes) -> None:
    """Call a reader with ``answer`` and whatever else it takes (a URL, or the kind of page)."""
    import inspect

    rest = list(inspect.signature(inspect.unwrap(function)).parameters)[1:]
    arguments = ["detail" if name == "kind" else "http://www.example.gov.cn/info/2024/a.html" for name in rest]
    try:
        function(answer, *arguments)
    except ParseError:
        pass  # the contract: the only exception a reader may raise


def test_every_portal_module_is_held_to_the_contract() -> None:
    modules = {m.name for m in pkgutil.iter_modules(parsers.__path__)} - set(SHARED)
    assert modules == set(PORTALS)
    for shared in SHARED_READERS:  # the notice body reader every portal calls holds the contract too
        found = readers(__import__(f"caigou.crawler.parsers.{shared}", fromlist=["_"]))
        assert found and all(getattr(function, "holds_parse_contract", False) for function in found.values()), shared
    for portal in PORTALS:
        found = readers(__import__(f"caigou.crawler.parsers.{portal}", fromlist=["_"]))
        assert any(name.startswith("parse_detail") for name in found), portal
        assert all(getattr(function, "holds_parse_contract", False) for function in found.values()), portal


@pytest.mark.parametrize("reader", ALL_READERS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=answers)
def test_a_reader_raises_only_parse_error(reader: Callable[..., Any], answer: bytes) -> None:
    call(reader, answer)


@pytest.mark.parametrize("reader", ALL_READERS)
@settings(max_examples=5, deadline=None)
@given(answer=deep)
def test_deep_nesting_is_a_parse_error(reader: Callable[..., Any], answer: bytes) -> None:
    call(reader, answer)


def test_an_unexpected_shape_is_named_in_the_parse_error() -> None:
    from caigou.crawler.parsers import xizang

    answer = {"code": "200", "total": 1, "data": [{"id": "1", "pageurl": "/info/2024/a.html", "fieldValues": "x"}]}
    with pytest.raises(ParseError, match=r"unexpected shape \(AttributeError: 'str' object has no attribute") as raised:
        xizang.parse_list(json_answer(answer), "http://www.ccgp-xizang.gov.cn/")
    assert isinstance(raised.value.__cause__, AttributeError)  # kept for whoever fixes the parser
