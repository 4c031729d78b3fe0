"""Tiny synthetic documents of each format, written by the tests themselves."""

from __future__ import annotations

import zipfile
from email.message import EmailMessage
from pathlib import Path


def pdf_bytes(pages: list[list[str]], author: str = "", title: str = "") -> bytes:
    """A minimal valid PDF with one Helvetica text block per page and an /Info dictionary."""
    n_pages = len(pages)
    objs: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    font_id = 3 + 2 * n_pages
    for i, lines in enumerate(pages):
        text = " ".join("(" + ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '"
                        for ln in lines)
        stream = f"BT /F1 12 Tf 72 720 Td 14 TL {text} ET".encode("latin-1")
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
                    f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode())
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objs.append(f"<< /Author ({author}) /Title ({title}) >>".encode("latin-1"))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1, len(objs), xref)
    return bytes(out)


def write_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.core_properties.author = "Dana Writer"
    d.core_properties.last_modified_by = "Eve Editor"
    d.core_properties.title = "Travel policy"
    d.add_heading("Travel policy", 1)
    d.add_paragraph("Everyone books travel through the travel desk at least two weeks ahead.")
    d.add_heading("Booking trains", 2)
    d.add_paragraph("Trains are preferred over flights for trips shorter than four hours.")
    table = d.add_table(rows=2, cols=2)
    for (r, c), text in {(0, 0): "Trip", (0, 1): "Mode", (1, 0): "Paris", (1, 1): "Train"}.items():
        table.cell(r, c).text = text
    d.save(str(path))
    return path


def write_pptx(path: Path) -> Path:
    from pptx import Presentation

    prs = Presentation()
    prs.core_properties.author = "Gus Presenter"
    prs.core_properties.last_modified_by = "Gus Presenter"
    for title, body in [("Quarterly review", "Revenue grew in every region."),
                        ("Hiring plan", "We will hire four support engineers.")]:
        slide = prs.slides.add_slide(prs.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    prs.save(str(path))
    return path


def write_xlsx(path: Path) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    wb.properties.creator = "Hana Analyst"
    ws = wb.active
    ws.title = "Budget"
    ws.append(["Team", "Budget"])
    ws.append(["Support", 120000])
    ws.append(["Sales", 90000])
    wb.save(str(path))
    return path


def write_eml(path: Path) -> Path:
    msg = EmailMessage()
    msg["From"] = "Frank Sender <Frank@Corp.Example>"
    msg["To"] = "team@corp.example"
    msg["Subject"] = "Office closed on Friday"
    msg["Date"] = "Tue, 05 Mar 2024 10:00:00 +0000"
    msg.set_content("The office is closed on Friday for maintenance. Work from home.")
    path.write_bytes(bytes(msg))
    return path


def write_odt(path: Path) -> Path:
    t = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    content = (f'<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               f'xmlns:text="{t}"><office:body><office:text>'
               '<text:h text:outline-level="1">Security policy</text:h>'
               "<text:p>Lock your screen<text:s/>when you leave your desk.</text:p>"
               '<text:list><text:list-item><text:p>Use a password manager</text:p></text:list-item></text:list>'
               "</office:text></office:body></office:document-content>")
    meta = ('<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><office:meta>'
            "<meta:initial-creator>Ivy Author</meta:initial-creator><dc:title>Security</dc:title>"
            "</office:meta></office:document-meta>")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        z.writestr("content.xml", content)
        z.writestr("meta.xml", meta)
    return path


def write_epub(path: Path) -> Path:
    opf = ('<package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata '
           'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Field guide</dc:title>'
           "<dc:creator>Jo Naturalist</dc:creator></metadata><manifest>"
           '<item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/></manifest>'
           '<spine><itemref idref="c1"/></spine></package>')
    chapter = ("<html><body><h1>Birds of the marsh</h1><p>Herons wait motionless in shallow water "
               "for fish to pass by.</p></body></html>")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
        z.writestr("META-INF/container.xml",
                   '<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                   '<rootfile full-path="OEBPS/book.opf"/></rootfiles></container>')
        z.writestr("OEBPS/book.opf", opf)
        z.writestr("OEBPS/c1.xhtml", chapter)
    return path


RTF = (r"{\rtf1\ansi{\info{\author Kim Rich}{\title Expense memo}}"
       r"\pard Receipts are due within thirty days.\par Caf\'e9 meals are covered.\par}")
