"""HTML → items, as pure functions: no network, no database. One module per portal, shared helpers in common,
the reader of notice bodies every portal calls in notice_body.

**The parsers' contract: a parser raises only ``ParseError``.** A portal's answer is hostile input (a firewall's
page, a changed template, ``fieldValues`` a string where an object was expected), and a spider records a ParseError
with the page as evidence. The contract is held here, in one place, when the package is imported: every portal
module's readers — its public functions whose first parameter is the answer (``body`` or ``html``) — are wrapped
so that any other exception becomes a ParseError naming it (``holds_parse_contract``). A new portal module is
listed in ``PORTALS``; tests/test_parser_contract.py fuzzes every reader of every portal.
"""
from __future__ import annotations

import functools
import importlib
import inspect
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar, cast

from caigou.crawler.parsers.common import ParseError

logger = logging.getLogger(__name__)

PORTALS = ("ccgp", "ggzy", "qinghai", "sichuan", "xizang")
# Not portals: ``common`` (helpers) and ``notice_body``, the notice body reader every portal calls, whose reader
# holds the contract too, also under the name a portal imported it by (``ccgp``'s ``parse_body``).
SHARED = ("common", "notice_body")
SHARED_READERS = ("notice_body",)
ANSWER_PARAMETERS = ("body", "html")

F = TypeVar("F", bound=Callable[..., Any])


def holds_parse_contract(function: F) -> F:
    """``function`` raising ParseError for whatever else it would raise (AttributeError, TypeError, KeyError,
    RecursionError on deep nesting …), the original exception kept as its cause."""
    if getattr(function, "holds_parse_contract", False):
        return function

    @functools.wraps(function)
    def reader(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ParseError:
            raise
        except Exception as exc:  # the contract: whatever an answer does to a parser is a ParseError
            logger.debug("%s.%s tripped over an answer", function.__module__, function.__name__, exc_info=exc)
            detail = str(exc).splitlines()[0][:200] if str(exc) else ""
            raise ParseError(f"an answer of an unexpected shape ({type(exc).__name__}"
                             f"{': ' + detail if detail else ''})") from exc

    reader.holds_parse_contract = True  # type: ignore[attr-defined]  # a marker on the function object
    return cast(F, reader)  # functools.wraps keeps the signature


def readers(module: ModuleType) -> dict[str, Callable[..., Any]]:
    """A portal module's readers: its own public functions whose first parameter is the answer."""
    found: dict[str, Callable[..., Any]] = {}
    for name, function in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(function):
            continue
        original = inspect.unwrap(function)
        if original.__module__ != module.__name__:
            continue
        parameters = list(inspect.signature(original).parameters)
        if parameters and parameters[0] in ANSWER_PARAMETERS:
            found[name] = function
    return found


def _hold_contract() -> None:
    wrapped: dict[int, Callable[..., Any]] = {}
    for shared in SHARED_READERS:
        module = importlib.import_module(f"{__name__}.{shared}")
        for name, function in readers(module).items():
            wrapped[id(function)] = holds_parse_contract(function)
            setattr(module, name, wrapped[id(function)])
    for portal in PORTALS:
        module = importlib.import_module(f"{__name__}.{portal}")
        for name, function in readers(module).items():
            setattr(module, name, holds_parse_contract(function))
        for name, value in list(vars(module).items()):  # a shared reader under the portal's name
            if id(value) in wrapped:
                setattr(module, name, wrapped[id(value)])


_hold_contract()
