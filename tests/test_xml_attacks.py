"""Every XML a reader parses, inside Office and ODF/EPUB packages too, refuses entity bombs and
external entities: nothing is expanded, nothing outside the file is read."""

from __future__ import annotations

import re
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.readers import Unreadable, read_file

from . import doc_fixtures as fx

SENTINEL = "SENTINEL-XXE-7f3a"
LOLS = "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(2, 10))
BOMB = f'<!ENTITY lol1 "lollollollol">{LOLS}'

# (writer, member of the package, text in that member that becomes an entity reference)
PACKAGES: list[tuple[str, Callable[[Path], Path], str, str]] = [
    (".docx", fx.write_docx, "word/document.xml", "Everyone"),
    (".docx", fx.write_docx, "docProps/core.xml", "Dana Writer"),
    (".pptx", fx.write_pptx, "ppt/slides/slide1.xml", "Revenue"),
    (".pptx", fx.write_pptx, "docProps/core.xml", "Gus Presenter"),
    (".xlsx", fx.write_xlsx, "xl/sharedStrings.xml", "Support"),
    (".xlsx", fx.write_xlsx, "docProps/core.xml", "Hana Analyst"),
    (".odt", fx.write_odt, "content.xml", "Lock your"),
    (".odt", fx.write_odt, "meta.xml", "Ivy Author"),
    (".epub", fx.write_epub, "OEBPS/c1.xhtml", "Herons"),
    (".epub", fx.write_epub, "OEBPS/book.opf", "Field guide"),
]


def with_doctype(xml: str, entities: str, text: str, ref: str) -> str:
    """``xml`` with an internal DTD declaring ``entities`` and ``text`` replaced by ``&ref;``."""
    assert text in xml, f"{text!r} not in the fixture"
    xml = xml.replace(text, f"&{ref};", 1)
    decl = re.match(r"\s*<\?xml[^>]*\?>", xml)
    root = re.search(r"<([A-Za-z][\w:.-]*)", xml[decl.end() if decl else 0:]).group(1)
    doctype = f"<!DOCTYPE {root} [{entities}]>"
    return (xml[: decl.end()] + doctype + xml[decl.end():]) if decl else doctype + xml


def repack(src: Path, dest: Path, member: str, rewrite: Callable[[str], str]) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == member:
                data = rewrite(data.decode("utf-8")).encode("utf-8")
            zout.writestr(info, data)
    return dest


def outcome(path: Path) -> str:
    """Everything the reader took from the file, or the reason it refused it."""
    t0 = time.monotonic()
    try:
        parsed = read_file(path)
    except Unreadable as e:
        text = f"refused: {e}"
    else:
        text = " ".join([parsed.text, parsed.title or "", *(a.name for a in parsed.authors)])
    assert time.monotonic() - t0 < 10, f"{path.name}: took too long (expanding?)"
    return text


@pytest.fixture(scope="module", autouse=True)
def warm_readers(tmp_path_factory):
    """The first partition in a process loads unstructured and spaCy (seconds on a busy
    machine); load them before anything is timed."""
    tmp = tmp_path_factory.mktemp("warm")
    read_file(fx.write_docx(tmp / "w.docx"))
    read_file(fx.write_epub(tmp / "w.epub"))


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    p = tmp_path / "outside" / "secret.txt"
    p.parent.mkdir()
    p.write_text(SENTINEL)
    return p


@pytest.mark.parametrize("suffix,writer,member,text", PACKAGES, ids=[f"{p[0]}:{p[2]}" for p in PACKAGES])
def test_external_entity_in_a_package_is_not_resolved(tmp_path, secret, suffix, writer, member, text):
    clean = writer(tmp_path / f"clean{suffix}")
    entity = f'<!ENTITY xxe SYSTEM "{secret.as_uri()}">'
    evil = repack(clean, tmp_path / f"evil{suffix}", member, lambda x: with_doctype(x, entity, text, "xxe"))
    assert SENTINEL not in outcome(evil)


@pytest.mark.parametrize("suffix,writer,member,text", PACKAGES, ids=[f"{p[0]}:{p[2]}" for p in PACKAGES])
def test_entity_bomb_in_a_package_is_not_expanded(tmp_path, suffix, writer, member, text):
    clean = writer(tmp_path / f"clean{suffix}")
    evil = repack(clean, tmp_path / f"bomb{suffix}", member, lambda x: with_doctype(x, BOMB, text, "lol9"))
    result = outcome(evil)
    assert result.count("lol") < 1000, f"{member}: {len(result)} characters"


def test_plain_xml_file_bomb_and_external_entity(tmp_path, secret):
    bomb = tmp_path / "bomb.xml"
    bomb.write_text(f'<?xml version="1.0"?><!DOCTYPE r [{BOMB}]><r>&lol9;</r>')
    xxe = tmp_path / "xxe.xml"
    xxe.write_text(f'<!DOCTYPE r [<!ENTITY e SYSTEM "{secret.as_uri()}">]><r>&e;</r>')
    for path in (bomb, xxe):
        assert outcome(path) == "refused: XML rejected: DTDForbidden (DTDs and entities are not allowed)"
