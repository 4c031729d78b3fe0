"""The ``mediawiki`` source on a tiny export written here, plus broken and hostile XML."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest

from index.models import Document, Failure
from index.settings import Settings, SourceSettings
from ingest.pipeline import run_ingest
from ingest.sources import make_source
from ingest.sources.wikitext import wikitext_to_markdown
from search.status import index_status

from .conftest import write

HEAD = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">
  <siteinfo>
    <sitename>Corp Wiki</sitename>
    <base>https://wiki.corp.example/index.php?title=Main_Page</base>
  </siteinfo>
"""


def rev(user: str, day: int, text: str, parent: bool = True, ip: bool = False) -> str:
    who = f"<ip>{user}</ip>" if ip else f"<username>{user}</username><id>7</id>"
    body = text.replace("&", "&amp;").replace("<", "&lt;")
    return (f"<revision><id>{day}</id>{'<parentid>1</parentid>' if parent else ''}"
            f"<timestamp>2024-02-{day:02d}T10:00:00Z</timestamp><contributor>{who}</contributor>"
            f'<text xml:space="preserve" bytes="{len(text.encode())}">{body}</text></revision>')


def page(title: str, ns: int, *revisions: str, redirect: str = "") -> str:
    red = f'<redirect title="{redirect}" />' if redirect else ""
    body = "".join(revisions)
    return f"<page><title>{title}</title><ns>{ns}</ns><id>{len(title)}</id>{red}{body}</page>"


LONG = "The expense policy covers travel, meals and home office equipment. " * 15
EXPORT = HEAD + page(
    "Expense policy", 0,
    rev("Ada", 1, f"== Overview ==\n{LONG}\n[[Category:Finance]]", parent=False),
    rev("Bob", 2, f"== Overview ==\n{LONG}\nSubmit receipts.\n[[Category:Finance]]"),
    rev("10.0.0.1", 3, f"== Overview ==\n{LONG}\nSubmit receipts!\n[[Category:Finance]]", ip=True),
    rev("Ada", 4, f"== Overview ==\n{LONG}\nSubmit receipts!\n== Travel ==\nBook trains under four hours."
                  "\n{{Navbox|Finance}}\n[[Category:Finance]]"),
) + page("Expenses", 0, rev("Bob", 5, "#REDIRECT [[Expense policy]]"), redirect="Expense policy") + page(
    "Talk:Expense policy", 1, rev("Bob", 6, "Is the limit per year?", parent=False),
) + page(
    "Laptop refresh", 0, rev("Carol", 7, "Laptops are replaced every '''three''' years. {{KEY|F1}} opens help."),
) + page("Old stub", 0, rev("Carol", 8, "<noinclude>[[Category:Pages to delete]]</noinclude>")) + "</mediawiki>\n"


def read(tmp_path: Path, path: Path, **options: object) -> tuple[dict[str, Document], list[Failure]]:
    cfg = SourceSettings(name="cw", kind="mediawiki", path=str(path), options=dict(options))
    items = list(make_source(cfg, Settings(home=tmp_path / "home", sources=[cfg])).iter_documents())
    return ({d.id: d for d in items if isinstance(d, Document)},
            [f for f in items if isinstance(f, Failure)])


def test_pages_with_contributors_by_bytes_added(tmp_path):
    docs, failures = read(tmp_path, write(tmp_path / "export.xml", EXPORT))
    assert set(docs) == {"cw/Expense_policy", "cw/Laptop_refresh"}  # no redirect, no talk page
    assert [(f.item, f.reason) for f in failures] == [
        ("Old stub", "no text (only templates, links or categories)")]
    policy = docs["cw/Expense_policy"]
    assert policy.url == "https://wiki.corp.example/index.php?title=Expense_policy"
    assert policy.markdown and policy.tags == ["Finance"]
    assert "## Travel" in policy.text and "Navbox" not in policy.text and "Category" not in policy.text
    by_name = {c.person.name: c for c in policy.contributions}
    assert set(by_name) == {"Ada", "Bob"}  # the anonymous edit is credited to no one
    assert by_name["Ada"].role == "author" and by_name["Bob"].role == "editor"
    assert by_name["Ada"].weight > 0.8 > 0.2 > by_name["Bob"].weight
    assert policy.created_at.day == 1 and policy.updated_at.day == 4
    laptop = docs["cw/Laptop_refresh"]
    assert "replaced every three years. F1 opens help." in laptop.text
    (c,) = laptop.contributions  # only the last revision: its editor, as editor
    assert (c.person.name, c.role, c.weight) == ("Carol", "editor", 0.5)
    assert laptop.created_at is None


def test_talk_pages_when_asked_and_url_template(tmp_path):
    path = write(tmp_path / "export.xml", EXPORT)
    cfg = SourceSettings(name="cw", kind="mediawiki", path=str(path), url="https://w.example/wiki/{path}",
                         options={"namespaces": [0, 1]})
    docs = [d for d in make_source(cfg, Settings(home=tmp_path)).iter_documents() if isinstance(d, Document)]
    urls = {d.url for d in docs}
    assert "https://w.example/wiki/Talk:Expense_policy" in urls


def test_compressed_exports_in_a_folder(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a.xml.gz").write_bytes(gzip.compress(EXPORT.encode()))
    docs, _ = read(tmp_path, folder)
    assert len(docs) == 2


def test_truncated_export_keeps_pages_read_before_the_break(tmp_path):
    cut = EXPORT.index("<page><title>Laptop refresh")
    docs, failures = read(tmp_path, write(tmp_path / "cut.xml", EXPORT[: cut + 60]))
    assert set(docs) == {"cw/Expense_policy"}
    assert failures[-1].item == "cut.xml"
    assert failures[-1].reason.startswith("malformed XML") and "stopped after" in failures[-1].reason


def test_unreadable_export_fails_the_source_not_the_run(tmp_path, fake_embedder, wiki):
    write(tmp_path / "junk.xml", b"\x00\x01 not xml at all")
    settings = Settings(home=tmp_path / "home", sources=[
        SourceSettings(name="cw", kind="mediawiki", path=str(tmp_path / "junk.xml")),
        SourceSettings(name="wiki", kind="markdown", path=str(wiki)),
    ])
    rec = run_ingest(settings, fake_embedder)
    assert "malformed XML" in rec.sources["cw"].error
    assert rec.sources["wiki"].added == 3
    assert index_status(settings).counts["documents"] == 3


BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">]>
<mediawiki><page><title>Bomb</title><ns>0</ns><id>1</id><revision><timestamp>2024-01-01T00:00:00Z</timestamp>
<contributor><username>X</username></contributor><text>&lol9;</text></revision></page></mediawiki>
"""


@pytest.mark.parametrize("doc", [
    BOMB,
    '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<mediawiki><page><title>XXE</title><ns>0</ns><id>1</id><revision><timestamp>2024-01-01T00:00:00Z"
    "</timestamp><contributor><username>X</username></contributor><text>&xxe;</text></revision></page></mediawiki>",
], ids=["billion-laughs", "external-entity"])
def test_entities_are_rejected_without_expanding(tmp_path, doc):
    path = write(tmp_path / "evil.xml", doc)
    cfg = SourceSettings(name="cw", kind="mediawiki", path=str(path))
    t0 = time.monotonic()
    with pytest.raises(ValueError, match="XML rejected"):
        list(make_source(cfg, Settings(home=tmp_path)).iter_documents())
    assert time.monotonic() - t0 < 2


def test_wikitext_tables_links_refs_and_headings():
    text = wikitext_to_markdown(
        "Intro with [[Arch Module|arch]] and [[File:x.png|thumb|a picture]]<ref>a citation</ref>.\n"
        "=== Options ===\n{| class=wikitable\n! Key !! Meaning\n|-\n| W || wall\n|}\n"
        "* first [http://x.example label]\n<!-- hidden -->[[fr:Page]] __NOTOC__"
    ).text
    assert text.splitlines() == ["Intro with arch and .", "", "### Options", "", "Key | Meaning",
                                 "W | wall", "", "- first label"]
