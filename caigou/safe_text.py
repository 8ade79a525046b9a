"""Stored text leaving caigou: only http(s) links, no control characters in XML, no escape sequences on a terminal.

Portal pages are hostile, and text stored before control characters were removed at normalisation may still hold
them: every way out cleans again (defence in depth). One place, so the web page, the e-mail, the feed and the
command line agree on what a link and a printable character are.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import click

# C0 controls but tab and new line, DEL, C1 controls (U+009B is a one-character CSI), and the bidirectional
# overrides and isolates, which make a terminal show text in another order than it is.
_TERMINAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# What XML 1.0 cannot carry at all, and the controls it could carry but no reader wants.
_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def http_url(value: str | None) -> str | None:
    """``value`` if it is an http(s) address, else None: a scraped ``JavaScript:alert(1)`` (any case, leading
    blanks or control characters, which browsers skip) is shown as text, never rendered as a link."""
    url = (value or "").strip(" \t\r\n\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f")
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc or any(ord(c) < 32 for c in url):
        return None
    return url


def xml_text(value: str) -> str:
    """``value`` without the characters that would make an XML document not well-formed (or hide in it)."""
    return _XML.sub("", value)


def for_terminal(value: str) -> str:
    """``value`` with every control character but tab and new line shown as its ``\\uXXXX`` code, so an ESC in a
    stored title is seen, never obeyed by the terminal (it also reads as the same character inside JSON)."""
    return _TERMINAL.sub(lambda found: f"\\u{ord(found.group()):04x}", value)


def echo(message: Any = None, **options: Any) -> None:
    """``click.echo`` for lines that hold stored text."""
    click.echo(None if message is None else for_terminal(str(message)), **options)
