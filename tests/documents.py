"""Real attachment files made in the tests: PDF (hand-written, with a ToUnicode map so Chinese text extracts),
DOCX (python-docx), XLSX (openpyxl), ZIP archives, a zip bomb, and an HTML page named .pdf."""
from __future__ import annotations

import io
import zipfile


def pdf(pages: list[list[str]]) -> bytes:
    """A PDF whose pages show ``pages`` (lines of text, Chinese included), written by hand.

    The font is a Type0 font with Identity-H encoding whose character codes are the characters' UTF-16 units, and a
    ToUnicode CMap that maps them back: what a text extractor needs (the font itself is not embedded)."""
    characters = {ord(ch) for page in pages for line in page for ch in line}
    blocks = sorted({code >> 8 for code in characters})
    ranges = "\n".join(f"<{b:02X}00> <{b:02X}FF> <{b:02X}00>" for b in blocks)
    cmap = ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            f"{len(blocks)} beginbfrange\n{ranges}\nendbfrange\n"
            "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n").encode("ascii")

    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(data: bytes, extra: str = "") -> bytes:
        return f"<< /Length {len(data)}{extra} >>\nstream\n".encode() + data + b"\nendstream"

    catalog = add(b"")  # filled in below, once the page tree's number is known
    pages_id = add(b"")
    descriptor = add(b"<< /Type /FontDescriptor /FontName /SimSun /Flags 4 /FontBBox [0 -120 1000 880] "
                     b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 700 /StemV 80 >>")
    cid_font = add(f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /SimSun /CIDSystemInfo << /Registry (Adobe) "
                   f"/Ordering (Identity) /Supplement 0 >> /FontDescriptor {descriptor} 0 R /DW 1000 >>".encode())
    to_unicode = add(stream(cmap))
    font = add(f"<< /Type /Font /Subtype /Type0 /BaseFont /SimSun /Encoding /Identity-H "
               f"/DescendantFonts [{cid_font} 0 R] /ToUnicode {to_unicode} 0 R >>".encode())
    page_ids = []
    for lines in pages:
        shown = " ".join(f"<{line.encode('utf-16-be').hex().upper()}> Tj T*" for line in lines)
        content = add(stream(f"BT /F1 12 Tf 16 TL 50 800 Td {shown} ET".encode("ascii")))
        page_ids.append(add(f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 595 842] "
                            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {content} 0 R >>".encode()))
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_id} 0 R >>".encode()
    kids = " ".join(f"{number} 0 R" for number in page_ids)
    objects[pages_id - 1] = f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode()

    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    out.write("".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def encrypted_pdf(pages: list[list[str]], password: str = "secret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf(pages))))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    import docx as python_docx

    document = python_docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx(rows: list[list[object]], title: str = "设备清单") -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def zip_of(members: dict[str, bytes], gbk_names: bool = False) -> bytes:
    """A ZIP of ``members``; with ``gbk_names`` the names are GBK without the UTF-8 flag, as Windows tools write."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = (_GbkName(name.encode("gbk").decode("cp437"), date_time=(2024, 6, 5, 12, 0, 0)) if gbk_names
                    else zipfile.ZipInfo(name, date_time=(2024, 6, 5, 12, 0, 0)))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


class _GbkName(zipfile.ZipInfo):
    """zipfile writes any non-ASCII name as UTF-8 with the flag set; this writes the GBK bytes, flag off."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # zipfile's name
        return self.filename.encode("cp437"), self.flag_bits


def zip_bomb(megabytes: int = 64) -> bytes:
    """One member of ``megabytes`` MiB of zeros: about 1000:1."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("清单.txt", "w") as member:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(megabytes):
                member.write(chunk)
    return out.getvalue()


def html_named_pdf() -> bytes:
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>附件</title></head><body>"
            "<h1>采购需求</h1><p>GlobalFiler 试剂盒 20盒</p><script>var x = 'Identifiler';</script>"
            "</body></html>").encode()
