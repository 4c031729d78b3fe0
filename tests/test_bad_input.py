"""Regressions found by fuzzing ingest: each broken input costs its own item, with a reason
a person can act on, and never the run or the rest of its source."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from index.generations import Home
from index.settings import Settings, SourceSettings
from ingest.pipeline import run_ingest
from ingest.sources.files_common import walk_files

from .conftest import write


def _indexed(settings: Settings) -> tuple[set[str], dict[str, str]]:
    reader = Home(settings.home).open_reader()
    try:
        docs = {r[0] for r in reader.store.db.execute("SELECT id FROM documents")}
        return docs, {f.item: f.reason for f in reader.store.failures()}
    finally:
        reader.close()


def test_named_pipes_are_not_listed_so_reading_never_blocks(wiki: Path):
    os.mkfifo(wiki / "pipe.md")  # reading it would wait forever for a writer
    listed = [p.relative_to(wiki).as_posix() for p in walk_files(wiki, (".md",))]
    assert "pipe.md" not in listed
    assert "expenses.md" in listed


def test_a_symlink_loop_costs_nothing_but_itself(settings: Settings, wiki: Path, fake_embedder):
    (wiki / "loop.md").symlink_to(wiki / "loop.md")  # Python 3.11 resolve() raises RuntimeError
    (wiki / "dangling.md").symlink_to(wiki / "nowhere.md")
    record = run_ingest(settings, fake_embedder)
    assert record.sources["wiki"].error == ""
    docs, _ = _indexed(settings)
    assert docs == {"wiki/expenses.md", "wiki/onboarding/laptop.md", "wiki/engineering/deploys.md"}


def _mw_page(title: str, ns: str, *revisions: tuple[str, str]) -> str:
    revs = "".join(f"<revision><id>{i}</id><timestamp>{at}</timestamp><contributor><username>Ada</username>"
                   f"</contributor><text bytes=\"{len(text)}\">{text}</text></revision>"
                   for i, (at, text) in enumerate(revisions, start=1))
    return f"<page><title>{title}</title><ns>{ns}</ns><id>{len(title)}</id>{revs}</page>"


def test_mediawiki_pages_with_odd_timestamps_or_namespace_cost_only_themselves(tmp_path: Path, fake_embedder):
    body = "The deploy checklist covers rollbacks and the release train. " * 5
    export = write(tmp_path / "wiki.xml", "<mediawiki>" + "".join([
        _mw_page("Good page", "0", ("2024-02-01T10:00:00Z", body)),
        # a revision without a timestamp next to a dated one: naive vs aware sorting raised TypeError
        _mw_page("Undated revision", "0", ("", body), ("2024-02-03T10:00:00Z", body + " More.")),
        _mw_page("No zone", "0", ("2024-02-01T10:00:00", body), ("2024-02-02T10:00:00Z", body + " Later.")),
        _mw_page("Bad time", "0", ("yesterday", body)),
        _mw_page("Bad namespace", "main", ("2024-02-01T10:00:00Z", body)),
        _mw_page("Last page", "0", ("2024-02-05T10:00:00Z", body)),
    ]) + "</mediawiki>")
    settings = Settings(home=tmp_path / "home",
                        sources=[SourceSettings(name="mw", kind="mediawiki", path=str(export))])
    record = run_ingest(settings, fake_embedder)
    assert record.sources["mw"].error == ""
    docs, failures = _indexed(settings)
    assert docs == {"mw/Good_page", "mw/Undated_revision", "mw/No_zone", "mw/Last_page"}
    assert failures == {"Bad time": "unreadable <timestamp> 'yesterday'",
                        "Bad namespace": "unreadable <ns> 'main'"}


def test_a_deeply_nested_beir_line_costs_only_that_line(tmp_path: Path, fake_embedder):
    corpus = write(tmp_path / "corpus" / "corpus.jsonl", "\n".join([
        '{"_id": "a", "title": "Alpha", "text": "first document"}',
        '{"_id": "deep", "text": ' + "[" * 100_000 + "]" * 100_000 + "}",  # RecursionError in json.loads
        '{"_id": "b", "title": "Beta", "text": "second document"}',
    ]) + "\n")
    settings = Settings(home=tmp_path / "home",
                        sources=[SourceSettings(name="bc", kind="beir", path=str(corpus.parent))])
    record = run_ingest(settings, fake_embedder)
    assert record.sources["bc"].error == ""
    docs, failures = _indexed(settings)
    assert docs == {"bc/a", "bc/b"}
    assert failures == {"line 2": "not JSON this reader can take: nested too deeply"}


def test_a_number_too_big_for_sqlite_in_a_dump_row_costs_only_that_value(tmp_path: Path, fake_embedder):
    big = "99999999999999999999999"
    write(tmp_path / "dump" / "Posts.xml", f"""<?xml version="1.0" encoding="utf-8"?>
<posts>
  <row Id="1" PostTypeId="1" Score="{big}" CreationDate="2024-01-01T00:00:00" Title="How do I stake?"
       Body="&lt;p&gt;Staking question body&lt;/p&gt;" OwnerUserId="5" />
  <row Id="2" PostTypeId="2" ParentId="1" Score="3" CreationDate="2024-01-02T00:00:00"
       Body="&lt;p&gt;Delegate to a pool&lt;/p&gt;" OwnerUserId="6" />
  <row Id="{big}" PostTypeId="1" Title="Huge id" Body="&lt;p&gt;x&lt;/p&gt;" />
  <row Id="3" PostTypeId="1" Score="1" CreationDate="2024-01-03T00:00:00" Title="Wallet backup"
       Body="&lt;p&gt;Where is the seed phrase kept?&lt;/p&gt;" OwnerUserId="6" />
</posts>
""")
    settings = Settings(home=tmp_path / "home", sources=[SourceSettings(
        name="se", kind="stackexchange", path=str(tmp_path / "dump"), options={"site": "se.example"})])
    record = run_ingest(settings, fake_embedder)  # OverflowError from SQLite failed the whole dump
    assert record.sources["se"].error == ""
    docs, failures = _indexed(settings)
    assert docs == {"se/1", "se/3"}
    assert failures == {"Posts.xml row 3": "post row without a numeric Id"}


# 9**7 items here (a real bomb goes deeper): enough to see it expanded, small enough not to hang the suite
BILLION_LAUGHS_FRONT_MATTER = "---\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdef", "bcdefg", strict=True)
) + "tags: *g\ntitle: *g\nauthors: *g\n---\n# Laughs\n\nThe page body is all there is to index.\n"


def test_yaml_aliases_in_front_matter_are_never_expanded(settings: Settings, wiki: Path, fake_embedder):
    write(wiki / "laughs.md", BILLION_LAUGHS_FRONT_MATTER)  # 9 levels: str() of its tags took minutes and gigabytes
    write(wiki / "docs" / "laughs.md", BILLION_LAUGHS_FRONT_MATTER)
    settings.sources.append(SourceSettings(name="docs", kind="files", path=str(wiki / "docs"),
                                           options={"isolate": False}))
    record = run_ingest(settings, fake_embedder)
    assert record.sources["wiki"].error == "" and record.sources["docs"].error == ""
    reader = Home(settings.home).open_reader()
    try:
        rows = {r[0]: (r[1], r[2]) for r in reader.store.db.execute("SELECT id, title, tags FROM documents")}
    finally:
        reader.close()
    assert rows["wiki/laughs.md"] == ("Laughs", "[]")
    assert rows["docs/laughs.md"][0] == "Laughs"


def test_malformed_visible_to_keeps_the_page_out_rather_than_open_to_everyone(settings: Settings, wiki: Path,
                                                                              fake_embedder):
    write(wiki / "secret.md", "---\nvisible_to: {hr: true}\n---\n# Salaries\n\nThe salary bands.\n")
    run_ingest(settings, fake_embedder)
    docs, failures = _indexed(settings)
    assert "wiki/secret.md" not in docs
    assert failures["secret.md"] == "front matter visible_to must be a group or a list of groups"


def test_packages_under_the_wrong_extension_are_named_not_indexed_as_bytes(tmp_path: Path, fake_embedder):
    import io
    import zipfile

    root = tmp_path / "docs"
    write(root / "notes.txt", "The office plants are watered on Fridays.")
    odt = io.BytesIO()
    with zipfile.ZipFile(odt, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        z.writestr("content.xml", "<office:document-content/>")
    write(root / "minutes.docx", odt.getvalue())  # python-docx: KeyError '[Content_Types].xml'
    write(root / "backup.eml", b"PK\x03\x04" + bytes(range(256)) * 8)  # the e-mail parser took the bytes as a body
    settings = Settings(home=tmp_path / "home", sources=[SourceSettings(
        name="docs", kind="files", path=str(root), options={"isolate": False})])
    run_ingest(settings, fake_embedder)
    docs, failures = _indexed(settings)
    assert docs == {"docs/notes.txt"}
    assert failures == {
        "minutes.docx": "docx: not an Office file (a zip package of application/vnd.oasis.opendocument.text "
                        "without [Content_Types].xml; wrong extension?)",
        "backup.eml": "eml: binary data, not text (not an e-mail; wrong extension?)",
    }


def test_a_page_of_headings_only_is_still_searchable(settings: Settings, wiki: Path, fake_embedder):
    write(wiki / "stub.md", "# Quarterly close\n\n## Checklist owners\n")  # the splitter strips headings: 0 chunks
    run_ingest(settings, fake_embedder)
    reader = Home(settings.home).open_reader()
    try:
        texts = [r[0] for r in reader.store.db.execute("SELECT text FROM chunks WHERE doc_id = 'wiki/stub.md'")]
    finally:
        reader.close()
    assert texts == ["Quarterly close\n\nChecklist owners"]


def test_a_pasted_image_or_a_one_token_page_makes_no_chunks_of_noise(settings: Settings, wiki: Path, fake_embedder):
    import base64

    image = base64.b64encode(bytes(range(256)) * 600).decode()  # a 150 KB image, as wiki editors paste them
    write(wiki / "vpn.md", f"# VPN\n\nInstall the client first.\n\n![diagram](data:image/png;base64,{image})\n\n"
                           "Then log in with single sign-on.\n")
    write(wiki / "dump.md", "z" * 2_000_000)  # one 2 MB "word"
    cjk = "新入社員は初日に人事部でノートパソコンを受け取り、" * 100  # prose with no spaces: 2,500 characters
    write(wiki / "onboarding-ja.md", cjk)
    run_ingest(settings, fake_embedder)
    reader = Home(settings.home).open_reader()
    try:
        def chunks(doc: str) -> list[str]:
            return [r[0] for r in reader.store.db.execute(
                "SELECT text FROM chunks WHERE doc_id = ? ORDER BY position", (doc,))]
        vpn, dump, ja = chunks("wiki/vpn.md"), chunks("wiki/dump.md"), chunks("wiki/onboarding-ja.md")
    finally:
        reader.close()
    assert len(vpn) == 1 and "Install the client first." in vpn[0] and "single sign-on" in vpn[0]
    assert "data:image/png;base64,…" in vpn[0] and image[:64] not in vpn[0]
    assert dump == ["…"]  # indexed (its title is searchable), not 2,500 chunks of z
    assert "".join(ja).count("ノートパソコン") >= 100  # text without spaces in other scripts is kept


def test_a_broken_discourse_site_json_names_itself_and_keeps_the_topics(tmp_path: Path, fake_embedder):
    import shutil

    from .conftest import REPO

    forum = tmp_path / "forum"
    shutil.copytree(REPO / "tests" / "fixtures" / "discourse", forum)
    settings = Settings(home=tmp_path / "home", sources=[SourceSettings(
        name="forum", kind="discourse", path=str(forum), options={"base_url": "https://forum.example"})])
    run_ingest(settings, fake_embedder)
    before, _ = _indexed(settings)
    for broken in ('{"categories": [{"id": 1, "slu', '{"categories": "staff-only"}', "[]"):
        write(forum / "site.json", broken)  # was a bare JSONDecodeError/AttributeError, or read as no categories
        record = run_ingest(settings, fake_embedder)
        assert record.sources["forum"].error.startswith("ValueError: site.json is unreadable (")
        assert _indexed(settings)[0] == before


def test_a_topic_with_fields_of_the_wrong_type_says_it_is_not_as_discourse_writes_it(tmp_path: Path, fake_embedder):
    import json
    import shutil

    from .conftest import REPO

    forum = tmp_path / "forum"
    shutil.copytree(REPO / "tests" / "fixtures" / "discourse", forum)
    topic = json.loads((forum / "t" / "101.json").read_text())
    topic["category_id"] = {"id": 3}  # was reported as "TypeError: unhashable type: 'dict'"
    write(forum / "t" / "101.json", json.dumps(topic))
    settings = Settings(home=tmp_path / "home", sources=[SourceSettings(name="forum", kind="discourse",
                                                                        path=str(forum))])
    run_ingest(settings, fake_embedder)
    _, failures = _indexed(settings)
    assert failures == {"t/101.json": "not a Discourse topic as expected (TypeError: unhashable type: 'dict')"}


def test_discourse_topics_without_a_numeric_id_fail_alone_instead_of_overwriting_each_other(
        tmp_path: Path, fake_embedder):
    import json
    import shutil

    from .conftest import REPO

    forum = tmp_path / "forum"
    shutil.copytree(REPO / "tests" / "fixtures" / "discourse", forum)
    for name, tid in (("101", None), ("102", "abc")):  # both were indexed as forum/None
        topic = json.loads((forum / "t" / f"{name}.json").read_text())
        if tid is None:
            del topic["id"]
        else:
            topic["id"] = tid
        write(forum / "t" / f"{name}.json", json.dumps(topic))
    settings = Settings(home=tmp_path / "home", sources=[SourceSettings(name="forum", kind="discourse",
                                                                        path=str(forum))])
    run_ingest(settings, fake_embedder)
    docs, failures = _indexed(settings)
    assert failures == {"t/101.json": "topic id is not a number: 'None'",
                        "t/102.json": "topic id is not a number: 'abc'"}
    assert "forum/None" not in docs and "forum/104" in docs  # the others are read as before


def test_a_mediawiki_page_that_parses_for_ever_is_skipped_after_the_time_limit(tmp_path: Path, fake_embedder):
    import time

    body = "The deploy checklist covers rollbacks and the release train. " * 5
    hostile = "&lt;ref&gt;" * 30_000  # unclosed tags: the parser's time grows with the square of their number
    export = write(tmp_path / "wiki.xml", "<mediawiki>" + "".join([
        _mw_page("Good page", "0", ("2024-02-01T10:00:00Z", body)),
        _mw_page("Refs", "0", ("2024-02-01T10:00:00Z", hostile)),
        _mw_page("Last page", "0", ("2024-02-05T10:00:00Z", body)),
    ]) + "</mediawiki>")
    settings = Settings(home=tmp_path / "home", sources=[SourceSettings(
        name="mw", kind="mediawiki", path=str(export), options={"timeout_s": 2})])
    t0 = time.monotonic()
    record = run_ingest(settings, fake_embedder)
    assert time.monotonic() - t0 < 30  # in-process its parse alone took 60 s (measured on a shared machine)
    assert record.sources["mw"].error == ""
    docs, failures = _indexed(settings)
    assert docs == {"mw/Good_page", "mw/Last_page"}
    assert failures == {"Refs": "wikitext parser gave up after 2 s (options.timeout_s); page skipped"}


def test_unclosed_html_comments_hide_the_rest_quickly():
    import time

    from ingest.html_text import html_to_text

    assert html_to_text("<p>kept</p><!-- closed --><p>also kept</p><!-- never closed <p>hidden</p>") == \
        "kept\n\nalso kept"
    t0 = time.monotonic()
    assert html_to_text("<p>body</p>" + "<!--" * 30_000) == "body"  # html.parser: quadratic, 100 000 took 105 s
    assert time.monotonic() - t0 < 2


def test_post_html_that_html_parser_took_seconds_on_is_read_at_once():
    """Stack Exchange and Discourse bodies are parsed in the run itself: markup the standard
    library's parser needed time quadratic in (unclosed attribute quotes, processing
    instructions, end tags) must not hold the run. html.parser: 2.4 + 5.9 + 7.9 s here."""
    import time

    from ingest.html_text import html_to_text

    t0 = time.monotonic()
    assert html_to_text("<p>kept</p>" + '<a b="' * 4_000) == "kept"
    assert html_to_text("<p>kept</p>" + "<?" * 100_000) == "kept"
    assert html_to_text("<p>kept</p>" + "</" * 100_000) == "kept"
    assert time.monotonic() - t0 < 5


def test_html_with_a_text_run_too_long_for_lxml_says_so(tmp_path: Path):
    from ingest.readers import Unreadable, read_file

    page = write(tmp_path / "dump.html", b"<html><body><p>" + b"word " * 2_100_000 + b"</p></body></html>")
    # was "no text found (empty, or only images)" (or an AttributeError without the <p>)
    with pytest.raises(Unreadable, match="^html: one run of text without markup is over 10 MB, more than the HTML"):
        read_file(page)
    assert "fine" in read_file(write(tmp_path / "ok.html", "<p>" + "fine " * 1000 + "</p>")).text
