"""An attachment's bytes → its type and its text, within limits. No database, no network: bytes in, result out.

The type comes from the bytes (magic numbers), never from the name or the server's Content-Type: a "招标文件.pdf"
on these portals is as often an HTML error page, a Word file or a ZIP of both. Archives are opened member by member
under caps (members, total uncompressed size, compression ratio, nesting depth), so a zip bomb costs nothing; text
is cut at a page and a character cap. Every failure is a status with a message in words (see
``models.notices.EXTRACTION_STATUSES``) — ``extract`` never raises for a bad file.
"""
from __future__ import annotations

import codecs
import io
import logging
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from caigou.pipelines.text import drop_controls

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
# Members smaller than this are not judged by their compression ratio: small XML compresses very well.
RATIO_FLOOR = MIB
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Other types recognised only to be named in the status ("unsupported: rar") rather than called unknown.
OTHER_MAGIC = ((b"Rar!\x1a\x07", "rar"), (b"7z\xbc\xaf\x27\x1c", "7z"), (b"\x1f\x8b", "gzip"),
               (b"\x89PNG", "image"), (b"\xff\xd8\xff", "image"), (b"GIF8", "image"), (b"II*\x00", "image"),
               (b"MM\x00*", "image"), (b"BM", "image"))
CONVERTERS = ("antiword", "catdoc", "soffice")


@dataclass(frozen=True)
class Limits:
    """Caps on the work one attachment may cause (Scrapy settings ``CAIGOU_ATTACHMENT_*``)."""

    max_pages: int = 300             # PDF pages read
    max_chars: int = 500_000         # characters of text kept per attachment
    max_rows: int = 100_000          # spreadsheet rows read, all sheets together
    max_uncompressed: int = 100 * MIB  # an archive's members together, nested archives included
    max_members: int = 500           # files in one archive
    max_ratio: int = 100             # uncompressed / compressed size of one member (over RATIO_FLOOR)
    max_depth: int = 2               # archives inside archives
    converters: tuple[str, ...] = CONVERTERS  # for legacy .doc and .rtf, tried in order
    converter_timeout: float = 120.0


@dataclass
class Extraction:
    content_type: str       # sniffed: pdf, docx, xlsx, doc, xls, zip, html, text, rtf, … or unknown
    status: str             # models.notices.EXTRACTION_STATUSES
    text: str = ""
    message: str = ""       # why, in words, when the status is not plain ok
    members: list[dict[str, Any]] = field(default_factory=list)  # an archive's members, nested ones as a/b.pdf


class _Budget:
    """Uncompressed bytes an attachment's archives may still expand to (shared by nested archives)."""

    def __init__(self, remaining: int) -> None:
        self.remaining = remaining


class _Text:
    """Collects text up to ``limit`` characters; remembers whether it had to stop."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size, self.full = limit, 0, False
        self.parts: list[str] = []

    def add(self, piece: str) -> bool:
        """Add ``piece``; False once the cap is reached (callers stop reading)."""
        if self.full:
            return False
        room = self.limit - self.size
        if len(piece) > room:
            piece, self.full = piece[:room], True
        self.parts.append(piece)
        self.size += len(piece)
        return not self.full

    @property
    def text(self) -> str:
        return tidy("".join(self.parts))


def tidy(text: str) -> str:
    """Trailing spaces off, runs of blank lines to one; a form feed (a PDF's page break) ends a line, and other
    control characters go (``drop_controls``), as from a notice's own text."""
    text = drop_controls(text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n"))
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# ------------------------------------------------------------------------------------------------ sniffing

def sniff(data: bytes) -> str:
    """The file type from its first bytes (and, for ZIP and OLE2 containers, what they contain)."""
    head = data[:1024]
    if b"%PDF-" in head:  # the spec lets junk precede the header
        return "pdf"
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(data)
    if data.startswith(OLE2):
        return _ole_kind(data)
    if data.startswith(b"{\\rtf"):
        return "rtf"
    for magic, kind in OTHER_MAGIC:
        if data.startswith(magic):
            return kind
    text = _decode(data[:4096], strict=True)
    if text is None:
        return "unknown"
    lowered = text.lstrip("\ufeff \t\r\n").lower()
    if lowered.startswith(("<!doctype html", "<html", "<head", "<body", "<meta", "<title")) or (
            lowered.startswith("<") and re.search(r"<(html|body|div|table|p)[\s>]", lowered)):
        return "html"
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    return "text" if text and controls / len(text) < 0.01 else "unknown"


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return "zip"  # extraction says how it is broken
    if "[Content_Types].xml" in names:
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
        if "ppt/presentation.xml" in names:
            return "pptx"
        return "ooxml"
    if "mimetype" in names and "content.xml" in names:
        return "opendocument"
    return "zip"


def _ole_kind(data: bytes) -> str:
    """OLE2 compound files hold .doc, .xls, .ppt — and password-protected OOXML. The directory's stream names
    (UTF-16) tell them apart without parsing the container."""
    def has(name: str) -> bool:
        return name.encode("utf-16-le") in data

    if has("EncryptedPackage"):
        return "encrypted-ooxml"
    if has("WordDocument"):
        return "doc"
    if has("Workbook") or has("Book"):
        return "xls"
    if has("PowerPoint Document"):
        return "ppt"
    return "ole"


def _decode(data: bytes, strict: bool = False) -> str | None:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of a sniffed prefix is not an error.
            if exc.start >= len(data) - 3 and encoding == "utf-8-sig":
                return data[:exc.start].decode(encoding)
    return None if strict else data.decode("utf-8", errors="replace")


# ------------------------------------------------------------------------------------------------ extraction

def extract(data: bytes, limits: Limits | None = None) -> Extraction:
    """Type and text of one attachment's bytes. Never raises for a bad file: the status says what happened."""
    limits = limits or Limits()
    return _extract(data, limits, depth=0, budget=_Budget(limits.max_uncompressed))


def _extract(data: bytes, limits: Limits, depth: int, budget: _Budget) -> Extraction:
    kind = sniff(data)
    if not data:
        return Extraction(kind, "no_text", message="empty file")
    handler = _HANDLERS.get(kind)
    if handler is None:
        return Extraction(kind, "unsupported", message=_UNSUPPORTED.get(kind, f"{kind}: no text extraction"))
    try:
        return handler(data, kind, limits, depth, budget)
    except Exception as exc:  # a library choking on a malformed file is a status, not a crash
        logger.info("could not extract a %s: %s: %s", kind, type(exc).__name__, exc)
        return Extraction(kind, "corrupt", message=f"{kind} could not be read: {type(exc).__name__}: {exc}"[:500])


def _finish(kind: str, collected: _Text, note: str = "", empty: str = "no text found") -> Extraction:
    text = collected.text
    if collected.full:
        return Extraction(kind, "truncated", text, f"text cut at {collected.limit} characters"
                          + (f"; {note}" if note else ""))
    if note:
        return Extraction(kind, "truncated", text, note)
    if not text:
        return Extraction(kind, "no_text", "", empty)
    return Extraction(kind, "ok", text)


def _pdf(data: bytes, kind: str, limits: Limits, depth: int, budget: _Budget) -> Extraction:
    from pypdf import PasswordType, PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")  # many "protected" PDFs only restrict printing: no user password
        except Exception:  # an unsupported cipher is as closed as a wrong password
            opened = PasswordType.NOT_DECRYPTED
        if not opened:
            return Extraction(kind, "encrypted", message="encrypted PDF: it needs a password")
    pages = len(reader.pages)
    collected = _Text(limits.max_chars)
    for number, page in enumerate(reader.pages):
        if number >= limits.max_pages:
            break
        if not collected.add((page.extract_text() or "") + "\n"):
            break
    note = f"first {limits.max_pages} of {pages} pages read" if pages > limits.max_pages else ""
    return _finish(kind, collected, note, empty=f"no text layer in {pages} page(s): a scan? (no OCR here)")


def _docx(data: bytes, kind: str, limits: Limits, depth: int, budget: _Budget) -> Extraction:
    refused = _guard_archive(data, kind, limits, budget)
    if refused:
        return refused
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(data))
    collected = _Text(limits.max_chars)
    # Body order, tables included: equipment lists are usually tables.
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            line = Paragraph(child, document).text
        elif tag == "tbl":
            rows = []
            for row in Table(child, document).rows:
                cells: list[str] = []
                for cell in row.cells:
                    value = cell.text.strip()
                    if not cells or cells[-1] != value:  # merged cells repeat their text
                        cells.append(value)
                rows.append(" | ".join(cells))
            line = "\n".join(rows)
        else:
            continue
        if not collected.add(line + "\n"):
            break
    return _finish(kind, collected)


def _xlsx(data: bytes, kind: str, limits: Limits, depth: int, budget: _Budget) -> Extraction:
    refused = _guard_archive(data, kind, limits, budget)
    if refused:
        return refused
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheets = [(sheet.title, sheet.iter_rows(values_only=True)) for sheet in workbook.worksheets]
        return _sheets(kind, sheets, limits)
    finally:
        workbook.close()


def _xls(data: bytes, kind: str, limits: Limits, depth: int, budget: _Budget) -> Extraction:
    import xlrd

    try:
        workbook = xlrd.open_workbook(file_contents=data, on_demand=True)
    except xlrd.XLRDError as exc:
        if "encrypt" in str(exc).lower():
            return Extraction(kind, "encrypted", message="encrypted .xls: it needs a password")
        raise
    try:
        sheets = []
        for index in range(workbook.nsheets):
            sheet = workbook.sheet_by_index(index)
            sheets.append((sheet.name, (sheet.row_values(r) for r in range(sheet.nrows))))
        return _sheets(kind, sheets, limits)
    finally:
        workbook.release_resources()


def _sheets(kind: str, sheets: list[tuple[str, Any]], limits: Limits) -> Extraction:
    collected = _Text(limits.max_chars)
    rows_read = 0
    note = ""
    for title, rows in sheets:
        if not collected.add(f"【{title}】\n"):
            break
        for row in rows:
            rows_read += 1
            if rows_read > limits.max_rows:
                note = f"first {limits.max_rows} rows read"
                break
            cells = [_cell(value) for value in row if value not in (None, "")]
            if cells and not collected.add(" | ".join(cells) + "\n"):
                break
        if note or collected.full:
            break
    return _finish(kind, collected, note)


def _cell(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # xlrd gives every number as float: 2.0 台 reads as 2 台
    return str(value).strip()


def _encrypted(data: bytes, kind: str, limits: Limits, depth: int, budget: _Budget) -> Extraction:
    return Extraction(kind, "encrypted", message="encrypted Office file: it needs a password")


# HTML and plain text are read as a stream: decoded and parsed a chunk at a time, into text only (no tree), and
# no further than the text cap. A 33 MB HTML table once took 1.5 GB as a parsed tree; now the bytes and the capped
# text are all there is.
_CHUNK = 64 * 1024
_BLOCKS = {"p", "div", "br", "tr", "li", "table", "h1", "h2", "h3", "h4", "h5", "h6", "section", "ul", "ol", "dd",
           "dt", "blockquote", "pre", "title", "caption", "thead", "tbody", "tfoot", "article", "header", "footer"}
_CELLS = {"td", "th"}
_NOT_TEXT = {"script", "style", "noscript", "template"}


def _encoding(data: bytes, declared: str | None = None) -> str:
    """The encoding to read ``data`` with: a declared one Python knows, else UTF-8 or GB18030 as the start of
    the file reads (as ``_decode`` decides for a whole file), else UTF-8 with replacement."""
    if declared:
        try:
            return codecs.lookup(declared).name
        except LookupError:
            pass
    head = data[:_CHUNK]
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            head.decode(encoding)
            return encoding
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 3 and len(data) > len(head):
                return encoding  # a character cut at the end of the sample
    return "utf-8"


def _chunks(data: bytes, encoding: str) -> Iterator[str]:
    """``data`` decoded a chunk at a time (bad bytes replaced)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    view = memoryview(data)
    for start in range(0, len(data), _CHUNK):
        yield decoder.decode(view[start:start + _CHUNK], final=start + _CHUNK >= len(data))


class _HtmlText:
    """An lxml parser target: visible text into ``collected``, a line per block element, a space between cells;
    scripts and styles skipped. lxml calls it while parsing and builds no tree, so memory stays flat."""

    def __init__(self, collected: _Text) -> None:
        self.collected, self.hidden = collected, 0

    def start(self, tag: str, attrib: Any) -> None:
        if tag in _NOT_TEXT:
            self.hidden += 1
        elif tag in _BLOCKS:
            self.collected.add("\n")

    def end(self, tag: str) -> None:
        if tag in _NOT_TEXT:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS:
            self.collected.add("\n")
        elif tag in _CELLS:
            self.collected.add(" ")

    def data(self, text: str) -> None:
        if not self.hidden:
            self.collected.add(text)

    def comment(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def _html(data: bytes, kind: str, limits: Limits, depth: int, budget: _Budget) -> Extraction:
    from lxml import etree

    declared = re.search(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", data[:4096], re.I)
    encoding = _encoding(data, declared.group(1).decode("ascii") if declared else None)
    collected = _Text(limits.max_chars)
    parser = etree.HTMLParser(target=_HtmlText(collected), recover=True, no_network=True)
    for chunk in _chunks(data, encoding):
        parser.feed(chunk)
        if collected.full:
            break  # the cap is reached: the rest is not read at all
    parser.close()
    return _finish(kind, collected)


def _text(data: bytes, kind: str, limits: Limits, depth: int, budget: _Budget) -> Extraction:
    collected = _Text(limits.max_chars)
    for chunk in _chunks(data, _encoding(data)):
        if not collected.add(chunk):
            break
    return _finish(kind, collected)


def _converted(data: bytes, kind: str, limits: Limits, depth: int, budget: _Budget) -> Extraction:
    """Legacy Word and RTF through the first converter installed: antiword, catdoc, LibreOffice."""
    able = {"doc": {"antiword", "catdoc", "soffice"}, "rtf": {"soffice"}}[kind]
    usable = [(name, path) for name in limits.converters if name in able and (path := shutil.which(name))]
    if not usable:
        wanted = "antiword, catdoc or LibreOffice" if kind == "doc" else "LibreOffice"
        return Extraction(kind, "no_converter", message=f"not extracted: no converter for .{kind} (install {wanted})")
    failures = []
    with tempfile.TemporaryDirectory(prefix="caigou-convert-") as folder:
        source = Path(folder) / f"attachment.{kind}"
        source.write_bytes(data)
        for name, path in usable:
            try:
                text = _run_converter(name, path, source, Path(folder), limits.converter_timeout)
            except (subprocess.SubprocessError, OSError) as exc:
                failures.append(f"{name}: {type(exc).__name__}")
                continue
            if text is not None:
                collected = _Text(limits.max_chars)
                collected.add(text)
                result = _finish(kind, collected)
                result.message = "; ".join(filter(None, [result.message, f"converted by {name}"]))
                return result
            failures.append(f"{name} failed")
    return Extraction(kind, "corrupt", message=f".{kind} could not be converted ({', '.join(failures)})")


def _run_converter(name: str, path: str, source: Path, folder: Path, timeout: float) -> str | None:
    if name == "antiword":
        command = [path, "-m", "UTF-8.txt", "-w", "0", str(source)]
    elif name == "catdoc":
        command = [path, "-d", "utf-8", "-w", str(source)]
    else:
        # A profile of its own: a LibreOffice already running for the user would otherwise take the job.
        command = [path, f"-env:UserInstallation=file://{folder}/profile", "--headless", "--convert-to",
                   "txt:Text (encoded):UTF8", "--outdir", str(folder / "out"), str(source)]
    done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    if name == "soffice":
        output = folder / "out" / f"{source.stem}.txt"
        return output.read_bytes().decode("utf-8-sig", errors="replace") if output.is_file() else None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", errors="replace")


# ------------------------------------------------------------------------------------------------ archives

def _member_name(info: zipfile.ZipInfo) -> str:
    """Chinese archives are usually made on Windows with GBK names and no UTF-8 flag; zipfile reads those as
    cp437 mojibake."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _guard_archive(data: bytes, kind: str, limits: Limits, budget: _Budget) -> Extraction | None:
    """Refuse an archive (ZIP, DOCX, XLSX) whose declared sizes break a cap, before anything is inflated.
    zipfile never inflates a member past its declared size, so the declared sizes bound the work."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
    if len(infos) > limits.max_members:
        return Extraction(kind, "too_large", message=f"{len(infos)} files in the archive (cap {limits.max_members})")
    total = sum(info.file_size for info in infos)
    if total > budget.remaining:
        return Extraction(kind, "too_large", message=f"expands to {total} bytes (cap {limits.max_uncompressed} "
                                                     "for the whole attachment)")
    for info in infos:
        if info.file_size > RATIO_FLOOR and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            return Extraction(kind, "zip_bomb", message=f"zip bomb: {_member_name(info)} expands {ratio}:1 "
                                                        f"(cap {limits.max_ratio}:1)")
    budget.remaining -= total
    return None


def _zip(data: bytes, kind: str, limits: Limits, depth: int, budget: _Budget) -> Extraction:
    refused = _guard_archive(data, kind, limits, budget)
    if refused:
        return refused
    collected = _Text(limits.max_chars)
    members: list[dict[str, Any]] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = _member_name(info)
            if info.flag_bits & 0x1:
                members.append({"name": name, "type": "", "status": "encrypted",
                                "message": "encrypted member: it needs a password"})
                continue
            try:
                content = archive.read(info)
            except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, EOFError) as exc:
                members.append({"name": name, "type": "", "status": "corrupt", "message": f"{exc}"[:300]})
                continue
            if sniff(content) in {"zip"} and depth + 1 >= limits.max_depth:
                members.append({"name": name, "type": "zip", "status": "zip_bomb",
                                "message": f"archive nested more than {limits.max_depth} deep: not opened"})
                continue
            inner = _extract(content, limits, depth + 1, budget)
            entry: dict[str, Any] = {"name": name, "type": inner.content_type, "status": inner.status,
                                     "chars": len(inner.text)}
            if inner.message:
                entry["message"] = inner.message
            members.append(entry)
            members += [{**nested, "name": f"{name}/{nested['name']}"} for nested in inner.members]
            if inner.text and not collected.add(f"【{name}】\n{inner.text}\n\n"):
                break
    extracted = sum(1 for m in members if m.get("chars"))
    summary = f"{len(members)} file(s), text from {extracted}"
    if collected.full:
        return Extraction(kind, "truncated", collected.text, f"{summary}; text cut at {limits.max_chars} characters",
                          members)
    if extracted:
        return Extraction(kind, "ok", collected.text, summary, members)
    statuses = {m["status"] for m in members}
    status = statuses.pop() if len(statuses) == 1 else "no_text"
    return Extraction(kind, status, "", f"{summary}: " + ", ".join(f"{m['name']} {m['status']}" for m in members)
                      if members else "empty archive", members)


_HANDLERS: dict[str, Any] = {
    "pdf": _pdf, "docx": _docx, "xlsx": _xlsx, "xls": _xls, "doc": _converted, "rtf": _converted, "zip": _zip,
    "html": _html, "text": _text, "encrypted-ooxml": _encrypted,
}
_UNSUPPORTED = {
    "image": "an image: no OCR here",
    "rar": "RAR archive: not opened (no RAR reader)",
    "7z": "7-Zip archive: not opened",
    "pptx": "PowerPoint: not extracted",
    "ppt": "PowerPoint: not extracted",
    "opendocument": "OpenDocument file: not extracted",
    "unknown": "unknown file type",
}
