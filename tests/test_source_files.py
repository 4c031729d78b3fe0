"""The ``files`` source: every format it reads, authors from metadata, and bad files."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.models import Document, Failure
from index.settings import ChunkingSettings, Settings, SourceSettings
from ingest.chunking import Chunker
from ingest.pipeline import run_ingest
from ingest.readers import Unreadable
from ingest.readers.isolation import IsolatedCalls, ReaderCrashed, ReaderTimeout
from ingest.sources import make_source
from search.status import index_status

from . import doc_fixtures as fx
from .conftest import REPO, write


def read_folder(tmp_path: Path, folder: Path, **kw: object) -> tuple[dict[str, Document], dict[str, str]]:
    options = {"isolate": False, **kw.pop("options", {})}  # type: ignore[dict-item]
    cfg = SourceSettings(name="docs", kind="files", path=str(folder), options=options, **kw)  # type: ignore[arg-type]
    items = list(make_source(cfg, Settings(home=tmp_path / "home", sources=[cfg])).iter_documents())
    docs = {d.id.split("/", 1)[1]: d for d in items if isinstance(d, Document)}
    return docs, {f.item: f.reason for f in items if isinstance(f, Failure)}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    fx.write_docx(root / "policy.docx")
    fx.write_pptx(root / "deck.pptx")
    fx.write_xlsx(root / "budget.xlsx")
    fx.write_eml(root / "notice.eml")
    fx.write_odt(root / "security.odt")
    fx.write_epub(root / "guide.epub")
    write(root / "memo.rtf", fx.RTF)
    write(root / "manual.pdf", fx.pdf_bytes([["Chapter one", "Backups run nightly at two."],
                                             ["Chapter two", "Restores take an hour."]],
                                            author="Lee Operator", title="Operations manual"))
    write(root / "notes/onboarding.md", "---\nauthor: Mo Mentor <mo@corp.example>\n---\n# Onboarding\n\n"
                                        "## First week\n\nMeet your buddy.\n")
    write(root / "notes/guide.rst", "Style guide\n===========\n\nIntro.\n\nCommas\n------\n\nUse serial commas.\n")
    write(root / "notes/plan.org", "#+TITLE: Roadmap\n* Q1\nShip search.\n** Details\nFast.\n")
    write(root / "tables/teams.csv", "team,lead\nsupport,Ana\nsales,Ben\n")
    write(root / "tables/config.json", '{"service": {"name": "search", "owner": "Ana"}}')
    write(root / "page.html", "<html><head><title>Intranet</title><meta name='author' content='Pat Web'>"
                              "<script>var secret = 'tracking';</script></head><body><h1>Welcome</h1>"
                              "<p>The cafeteria opens at eight in the morning.</p></body></html>")
    write(root / "utf16.txt", "Grüße aus Zürich: the Swiss office.".encode("utf-16"))
    return root


def test_each_format_gives_text_title_and_authors(tmp_path, folder):
    docs, failures = read_folder(tmp_path, folder)
    assert failures == {}
    expect = {  # file: (title, authors with roles, a phrase of its text)
        "policy.docx": ("Travel policy", [("Dana Writer", "author"), ("Eve Editor", "editor")], "travel desk"),
        "deck.pptx": ("Quarterly review", [("Gus Presenter", "author")], "four support engineers"),
        "budget.xlsx": ("budget", [("Hana Analyst", "author")], "Team: Support; Budget: 120000"),
        "notice.eml": ("Office closed on Friday", [("Frank Sender", "author")], "closed on Friday"),
        "security.odt": ("Security", [("Ivy Author", "author")], "Lock your screen when you leave"),
        "guide.epub": ("Field guide", [("Jo Naturalist", "author")], "Herons wait motionless"),
        "memo.rtf": ("Expense memo", [("Kim Rich", "author")], "Café meals"),
        "manual.pdf": ("Operations manual", [("Lee Operator", "author")], "Restores take an hour"),
        "notes/onboarding.md": ("Onboarding", [("Mo Mentor", "author")], "Meet your buddy"),
        "notes/guide.rst": ("Style guide", [], "## Commas"),
        "notes/plan.org": ("Roadmap", [], "## Details"),
        "tables/teams.csv": ("teams", [], "team: sales; lead: Ben"),
        "tables/config.json": ("config", [], "service.owner: Ana"),
        "page.html": ("Intranet", [("Pat Web", "author")], "cafeteria opens at eight"),
        "utf16.txt": ("utf16", [], "Grüße aus Zürich"),
    }
    assert set(docs) == set(expect)
    for name, (title, authors, phrase) in expect.items():
        d = docs[name]
        assert d.title == title, name
        assert [(c.person.name, c.role) for c in d.contributions] == authors, name
        assert phrase in d.text, name
        assert d.kind == "document" and d.id == f"docs/{name}"
    assert docs["notice.eml"].contributions[0].person.emails == ["frank@corp.example"]
    assert "tracking" not in docs["page.html"].text  # scripts are not text


def test_titles_become_heading_paths_in_chunks(tmp_path, folder):
    docs, _ = read_folder(tmp_path, folder)
    chunker = Chunker(ChunkingSettings())
    by_heading = {c.heading: c.text for c in chunker.chunk(docs["policy.docx"])}
    assert "Trains are preferred" in by_heading["Booking trains"]
    assert "Trip | Mode\nParis | Train" in by_heading["Booking trains"]
    pdf_chunks = chunker.chunk(docs["manual.pdf"])
    assert [(c.heading, c.anchor) for c in pdf_chunks] == [("Page 1", "page=1"), ("Page 2", "page=2")]
    slides = {c.heading for c in chunker.chunk(docs["deck.pptx"])}
    assert "Hiring plan" in slides


def test_bad_files_are_reported_with_a_reason(tmp_path):
    from pypdf import PdfReader, PdfWriter

    root = tmp_path / "bad"
    root.mkdir()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(fx.pdf_bytes([["secret"]]))))
    writer.encrypt(user_password="hunter2", algorithm="AES-128")
    with (root / "locked.pdf").open("wb") as fh:
        writer.write(fh)
    write(root / "corrupt.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage")
    write(root / "junk.txt", os.urandom(3000) + b"\x00" * 50)
    write(root / "empty.md", b"")
    write(root / "big.txt", "big text " * 20000)
    write(root / "image.png", b"\x89PNG\r\n\x1a\n")
    write(root / "old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    write(root / "locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    write(root / "broken.json", '{"a": [1, 2')
    write(root / "fake.pptx", b"this is not a zip file")
    write(root / "evil.xml", '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    write(tmp_path / "outside.txt", "private text outside the folder")
    (root / "link.txt").symlink_to(tmp_path / "outside.txt")
    docs, failures = read_folder(tmp_path, root, max_file_mb=0.1)
    assert docs == {}
    assert failures == {
        "locked.pdf": "encrypted PDF (needs a password)",
        "corrupt.pdf": failures["corrupt.pdf"],
        "junk.txt": "binary data, not text",
        "empty.md": "empty file",
        "big.txt": "larger than max_file_mb (0.2 MB > 0.1 MB)",
        "image.png": "unsupported format .png",
        "old.doc": "doc: needs LibreOffice (apt install libreoffice-core), or save it as docx",
        "locked.docx": "docx: encrypted (password-protected Office file)",
        "broken.json": "invalid JSON: Expecting ',' delimiter at line 1",
        "fake.pptx": "pptx: corrupt file (not a zip package)",
        "evil.xml": "XML rejected: DTDForbidden (DTDs and entities are not allowed)",
    }  # and link.txt, which points outside the folder, is not read at all
    assert failures["corrupt.pdf"].startswith(("corrupt PDF", "PDF has no text layer"))


def test_a_hanging_or_crashing_parser_only_costs_its_file():
    with IsolatedCalls(timeout_s=2) as calls:
        assert calls.call(abs, -1) == 1
        t0 = time.monotonic()
        with pytest.raises(ReaderTimeout, match="gave up after 2 s"):
            calls.call(time.sleep, 30)
        assert time.monotonic() - t0 < 15
        assert calls.call(abs, -3) == 3  # a fresh worker takes the next file
        with pytest.raises(ReaderCrashed):
            calls.call(os._exit, 1)
        with pytest.raises(Unreadable, match="ZeroDivisionError"):
            calls.call(divmod, 1, 0)
        assert calls.call(max, 1, 2) == 2


def test_isolated_reading_end_to_end(tmp_path):
    root = tmp_path / "docs"
    write(root / "a.txt", "Plain notes about the release process.")
    write(root / "b.csv", "name,role\nAna,lead\n")
    docs, failures = read_folder(tmp_path, root, options={"isolate": True, "timeout_s": 60})
    assert failures == {} and set(docs) == {"a.txt", "b.csv"}


def test_failures_show_in_status_and_the_run_goes_on(tmp_path, folder, fake_embedder):
    write(folder / "image.png", b"\x89PNG")
    cfg = SourceSettings(name="docs", kind="files", path=str(folder), options={"isolate": False})
    settings = Settings(home=tmp_path / "home", sources=[cfg])
    rec = run_ingest(settings, fake_embedder)
    assert rec.status == "ok" and rec.sources["docs"].added == 15
    st = index_status(settings)
    assert {(f["item"], f["reason"]) for f in st.failures} == {("image.png", "unsupported format .png")}



def test_a_rerun_reads_only_changed_files_and_keeps_reporting_failures(tmp_path, folder, fake_embedder,
                                                                        monkeypatch):
    from ingest.sources.files import FilesSource

    write(folder / "image.png", b"\x89PNG")
    cfg = SourceSettings(name="docs", kind="files", path=str(folder), options={"isolate": False})
    settings = Settings(home=tmp_path / "home", sources=[cfg])
    run_ingest(settings, fake_embedder)
    read: list[str] = []
    original = FilesSource.read

    def counting_read(self, path, rel, calls=None):  # type: ignore[no-untyped-def]
        read.append(rel)
        return original(self, path, rel, calls)

    monkeypatch.setattr(FilesSource, "read", counting_read)
    again = run_ingest(settings, fake_embedder)
    assert read == [] and not again.changed and again.sources["docs"].unchanged == 15
    assert again.sources["docs"].failed == 1  # the unreadable file, still reported, not read again
    page = folder / "notes.md"
    write(page, "# Notes\n\nThe new notes page about travel.\n")
    os.utime(folder / "image.png", (time.time() + 5, time.time() + 5))  # touched: tried again
    rec = run_ingest(settings, fake_embedder)
    assert sorted(read) == ["image.png", "notes.md"] and rec.sources["docs"].added == 1
    assert {(f["item"], f["reason"]) for f in index_status(settings).failures} == {
        ("image.png", "unsupported format .png")}


OFFLINE = """
import socket, urllib.request
attempts = []
def refuse(*a, **k):
    attempts.append(a)
    raise OSError("network is unreachable (test)")
socket.socket.connect = refuse
socket.create_connection = refuse
urllib.request.urlopen = refuse
import sys
if sys.argv[1] == "patched":
    import ingest.unstructured_offline
from unstructured.partition.html import partition_html
try:
    els = partition_html(text="<h1>Hello</h1><p>This paragraph is long enough to be narrative text.</p>")
    print("ok", len(els), len(attempts))
except Exception as e:
    print("failed", type(e).__name__, len(attempts))
"""


@pytest.mark.parametrize("mode", ["patched", "unpatched"])
def test_unstructured_partitions_with_the_network_unreachable(mode):
    env = {**os.environ, "PYTHONPATH": str(REPO), "DO_NOT_TRACK": "1", "UNSTRUCTURED_DISABLE_NOTICE": "1"}
    out = subprocess.run([sys.executable, "-c", OFFLINE, mode], capture_output=True, text=True, env=env,
                         cwd=REPO, timeout=300).stdout.split()
    if mode == "patched":
        assert out[:3] == ["ok", "2", "0"]  # both elements, and not one connection attempted
    else:  # without the patch unstructured tries to download en_core_web_sm and fails
        assert out[0] == "failed" and int(out[-1]) > 0


def test_tool_default_authors_and_ignored_names_credit_no_one(tmp_path):
    from pptx import Presentation

    root = tmp_path / "docs"
    root.mkdir()
    deck = Presentation()  # python-pptx writes "Steve Canny" as last modified by
    deck.core_properties.author = "Gus Presenter"
    deck.slides.add_slide(deck.slide_layouts[1]).shapes.title.text = "Roadmap"
    deck.save(str(root / "deck.pptx"))
    fx.write_docx(root / "policy.docx")  # Dana Writer, edited by Eve Editor
    docs, _ = read_folder(tmp_path, root)
    assert [(c.person.name, c.role) for c in docs["deck.pptx"].contributions] == [("Gus Presenter", "author")]
    docs, _ = read_folder(tmp_path, root, options={"ignore_authors": ["Eve Editor"]})
    assert [c.person.name for c in docs["policy.docx"].contributions] == ["Dana Writer"]
