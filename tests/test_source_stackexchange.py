"""The stackexchange source on real dump slices (tests/fixtures/stackexchange) and on bad dumps."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from defusedxml.ElementTree import parse

from index.generations import Home, LiveIndex
from index.models import Document, Failure
from index.settings import Settings, SourceSettings
from ingest.pipeline import run_ingest
from ingest.sources.stackexchange import StackExchangeSource
from search.searcher import Searcher
from search.status import index_status

from .conftest import write

FIXTURES = Path(__file__).parent / "fixtures" / "stackexchange"
SITES = {"cardano": "cardano.stackexchange.com", "beer": "beer.stackexchange.com",
         "bicycles-meta": "bicycles.meta.stackexchange.com"}


def source(path: Path, name: str = "cardano", **options: object) -> StackExchangeSource:
    options.setdefault("site", SITES.get(name, "example.stackexchange.com"))
    cfg = SourceSettings(name=name, kind="stackexchange", path=str(path), options=dict(options))
    return StackExchangeSource(cfg, Settings())


def read(src: StackExchangeSource) -> tuple[dict[str, Document], list[Failure]]:
    docs: dict[str, Document] = {}
    failures: list[Failure] = []
    for item in src.iter_documents():
        if isinstance(item, Failure):
            failures.append(item)
        else:
            docs[item.id] = item
    return docs, failures


def rows(path: Path) -> list[dict[str, str]]:
    """The dump's rows, read independently of the source, as the oracle."""
    return [dict(r.attrib) for r in parse(path).getroot().iter("row")]


def test_one_forum_document_per_thread_with_links_and_tags():
    docs, failures = read(source(FIXTURES / "cardano"))
    questions = [p for p in rows(FIXTURES / "cardano/Posts.xml") if p["PostTypeId"] == "1"]
    assert failures == []
    assert sorted(docs) == sorted(f"cardano/{q['Id']}" for q in questions)
    for q in questions:
        doc = docs[f"cardano/{q['Id']}"]
        assert doc.kind == "forum"
        assert doc.title == q["Title"]
        assert doc.url == f"https://cardano.stackexchange.com/q/{q['Id']}"
        assert doc.tags == q["Tags"].strip("<>").split("><")
        answers = [p for p in rows(FIXTURES / "cardano/Posts.xml") if p.get("ParentId") == q["Id"]]
        assert len(doc.sections) == 1 + len(answers)


def test_accepted_answer_comes_first_then_answers_by_score():
    docs, _ = read(source(FIXTURES / "cardano"))
    posts = {p["Id"]: p for p in rows(FIXTURES / "cardano/Posts.xml")}
    for doc in docs.values():
        qid = doc.id.split("/")[1]
        anchors = [s.anchor for s in doc.sections[1:]]
        accepted = posts[qid].get("AcceptedAnswerId")
        if accepted:
            assert anchors[0] == accepted
            anchors = anchors[1:]
        scores = [int(posts[a]["Score"]) for a in anchors]
        assert scores == sorted(scores, reverse=True)
    # thread 10: the accepted answer (score 5) precedes a higher-scored one (score 8)
    assert [s.anchor for s in docs["cardano/10"].sections] == ["", "16", "13"]


def test_every_post_names_and_links_its_author():
    docs, _ = read(source(FIXTURES / "cardano"))
    names = {u["Id"]: u["DisplayName"] for u in rows(FIXTURES / "cardano/Users.xml")}
    posts = {p["Id"]: p for p in rows(FIXTURES / "cardano/Posts.xml")}
    for doc in docs.values():
        for i, s in enumerate(doc.sections):
            post = posts[doc.id.split("/")[1] if i == 0 else s.anchor]
            assert s.author is not None
            assert s.author.name == names[post["OwnerUserId"]]
            assert s.author.profile_url == f"https://cardano.stackexchange.com/users/{post['OwnerUserId']}"
            assert s.author.handles == [f"cardano:{post['OwnerUserId']}"]
            assert names[post["OwnerUserId"]] in s.heading


def test_roles_asker_answerer_accepted_answerer_with_scores_and_sections():
    docs, _ = read(source(FIXTURES / "cardano"))
    posts = {p["Id"]: p for p in rows(FIXTURES / "cardano/Posts.xml")}
    for doc in docs.values():
        q = posts[doc.id.split("/")[1]]
        by_role: dict[str, list] = {}
        for c in doc.contributions:
            by_role.setdefault(c.role, []).append(c)
        (asker,) = by_role["asker"]
        assert asker.person.handles == [f"cardano:{q['OwnerUserId']}"]
        assert (asker.section, asker.score) == (0, int(q["Score"]))
        assert asker.at is not None and asker.at.isoformat().startswith(q["CreationDate"][:19])
        assert len(by_role.get("answerer", [])) == len(doc.sections) - 1
        if q.get("AcceptedAnswerId"):
            (acc,) = by_role["accepted-answerer"]
            answer = posts[q["AcceptedAnswerId"]]
            assert acc.person.handles == [f"cardano:{answer['OwnerUserId']}"]
            assert (acc.section, acc.score) == (1, int(answer["Score"]))
            # the accepted answer's author is also an answerer of that same post
            assert any(a.section == 1 and a.person.handles == acc.person.handles for a in by_role["answerer"])
        else:
            assert "accepted-answerer" not in by_role


def test_comments_follow_their_post_and_credit_commenters():
    docs, _ = read(source(FIXTURES / "cardano"))
    comments = rows(FIXTURES / "cardano/Comments.xml")
    names = {u["Id"]: u["DisplayName"] for u in rows(FIXTURES / "cardano/Users.xml")}
    commenters = [c for d in docs.values() for c in d.contributions if c.role == "commenter"]
    assert len(commenters) == len([c for c in comments if c.get("UserId")])
    doc = docs["cardano/53"]
    on_answer_54 = [c for c in comments if c["PostId"] == "54"]
    section = next(s for s in doc.sections if s.anchor == "54")
    for c in on_answer_54:
        assert f"Comment by {names[c['UserId']]}: {' '.join(c['Text'].split())[:40]}" in section.text
    index = doc.sections.index(section)
    assert sum(1 for c in doc.contributions if c.role == "commenter" and c.section == index) == len(on_answer_54)


def test_comments_can_be_left_out():
    docs, _ = read(source(FIXTURES / "cardano", comments=False))
    assert all(c.role != "commenter" for d in docs.values() for c in d.contributions)
    assert all("Comment by" not in s.text for d in docs.values() for s in d.sections)


def test_html_becomes_text_with_code_blocks_and_paragraphs_kept():
    docs, _ = read(source(FIXTURES / "cardano"))
    text = docs["cardano/282"].text
    assert "<p>" not in text and "&lt;" not in text and "&amp;" not in text
    assert "```" in text
    assert "\n\n" in docs["cardano/4"].sections[0].text


def test_dump_without_users_xml_uses_ids_and_display_names():
    docs, failures = read(source(FIXTURES / "beer", name="beer"))
    assert failures == []
    posts = rows(FIXTURES / "beer/Posts.xml")
    assert len(docs) == sum(1 for p in posts if p["PostTypeId"] == "1")
    q3 = docs["beer/3"]
    assert q3.sections[0].author is not None
    assert q3.sections[0].author.name == "user7"
    assert q3.sections[0].author.profile_url == "https://beer.stackexchange.com/users/7"
    by_name = [p for p in posts if p.get("OwnerDisplayName") and not p.get("OwnerUserId")]
    assert by_name, "the fixture keeps an answer known only by its author's name"
    names = {s.author.name for d in docs.values() for s in d.sections if s.author}
    assert {p["OwnerDisplayName"] for p in by_name} <= names


def test_editors_come_from_post_history_and_never_the_owner():
    docs, _ = read(source(FIXTURES / "bicycles-meta", name="bicycles-meta"))
    names = {u["Id"]: u["DisplayName"] for u in rows(FIXTURES / "bicycles-meta/Users.xml")}
    history = rows(FIXTURES / "bicycles-meta/PostHistory.xml")
    q2 = next(p for p in rows(FIXTURES / "bicycles-meta/Posts.xml") if p["Id"] == "2")
    expected = {h["UserId"] for h in history if h["PostId"] == "2" and h["PostHistoryTypeId"] in ("4", "5", "6")
                and h.get("UserId") not in (q2["OwnerUserId"], "-1")}
    editors = {c.person.handles[0].split(":")[1] for c in docs["bicycles-meta/2"].contributions
               if c.role == "editor" and c.section == 0}
    assert editors == expected and len(expected) >= 2  # PostHistory knows more than LastEditorUserId
    for d in docs.values():
        for c in d.contributions:
            assert c.person.handles != ["bicycles-meta:-1"]  # the Community bot is nobody's expertise
            if c.role == "editor":
                assert c.person.name == names.get(c.person.handles[0].split(":")[1], c.person.name)


def test_question_without_owner_id_keeps_the_display_name():
    docs, _ = read(source(FIXTURES / "bicycles-meta", name="bicycles-meta"))
    q = docs["bicycles-meta/121"].sections[0]
    assert q.author is not None and q.author.name == "user313" and q.author.profile_url == ""


def test_site_host_may_come_from_the_url_template(tmp_path):
    cfg = SourceSettings(name="cardano", kind="stackexchange", path=str(FIXTURES / "cardano"),
                         url="https://cardano.stackexchange.com/questions/{id}")
    src = StackExchangeSource(cfg, Settings())
    docs, _ = read(src)
    assert docs["cardano/4"].url == "https://cardano.stackexchange.com/questions/4"
    assert docs["cardano/4"].sections[0].author.profile_url.startswith("https://cardano.stackexchange.com/users/")
    with pytest.raises(ValueError, match="options.site"):
        StackExchangeSource(SourceSettings(name="x", kind="stackexchange", path=str(tmp_path)), Settings())
    for bad in ("javascript:alert(1)//", "evil.example/<script>", "a b.example"):
        with pytest.raises(ValueError, match="must be a host name"):
            StackExchangeSource(SourceSettings(name="x", kind="stackexchange", path=str(tmp_path),
                                               options={"site": bad}), Settings())


# ---- bad input -----------------------------------------------------------------------


def dump(tmp_path: Path, body: str | bytes, name: str = "Posts.xml") -> Path:
    folder = tmp_path / "dump"
    write(folder / name, body)
    return folder


def q(pid: int, body: str = "&lt;p&gt;question text&lt;/p&gt;", **attrs: str) -> str:
    extra = " ".join(f'{k}="{v}"' for k, v in attrs.items())
    return (f'<row Id="{pid}" PostTypeId="1" CreationDate="2021-05-01T10:00:00.000" Score="1" '
            f'Title="Question {pid}" Tags="&lt;t&gt;" OwnerUserId="{pid}0" Body="{body}" {extra}/>')


def a(pid: int, parent: int, body: str = "&lt;p&gt;answer text&lt;/p&gt;", owner: str = 'OwnerUserId="9"') -> str:
    return (f'<row Id="{pid}" PostTypeId="2" ParentId="{parent}" CreationDate="2021-05-02T10:00:00.000" '
            f'Score="2" {owner} Body="{body}"/>')


def test_truncated_posts_keep_the_threads_before_the_break(tmp_path):
    whole = (FIXTURES / "cardano/Posts.xml").read_bytes()
    cut = whole[: int(len(whole) * 0.6)]
    folder = tmp_path / "cut"
    shutil.copytree(FIXTURES / "cardano", folder)
    (folder / "Posts.xml").write_bytes(cut)
    docs, failures = read(source(folder))
    text = cut.decode("utf-8", "ignore")
    complete = [p for p in rows(FIXTURES / "cardano/Posts.xml") if p["PostTypeId"] == "1"
                and "/>" in text[text.find(f'<row Id="{p["Id"]}" ') :] and f'<row Id="{p["Id"]}" ' in text]
    assert docs and len(docs) == len(complete)
    (broken,) = [f for f in failures if f.item.startswith("Posts.xml line")]
    assert "the file ends inside the XML" in broken.reason


def test_xml_bomb_is_rejected_without_expanding(tmp_path):
    bomb = ('<?xml version="1.0"?>\n<!DOCTYPE posts [\n<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">\n'
            + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">\n' for i in range(9))
            + ']>\n<posts>' + q(1, body="&j;") + "</posts>")
    t0 = time.monotonic()
    docs, failures = read(source(dump(tmp_path, bomb)))
    assert time.monotonic() - t0 < 2
    assert docs == {}
    assert "EntitiesForbidden" in failures[0].reason


def test_external_entity_is_rejected(tmp_path):
    secret = write(tmp_path / "secret.txt", "TOP-SECRET-CONTENT")
    xxe = (f'<?xml version="1.0"?>\n<!DOCTYPE posts [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
           f'<posts>{q(1, body="&xxe;")}</posts>')
    docs, failures = read(source(dump(tmp_path, xxe)))
    assert docs == {}
    assert "rejected unsafe XML" in failures[0].reason
    assert "TOP-SECRET" not in repr(failures)


def test_scripts_and_styles_are_dropped(tmp_path):
    body = "&lt;p&gt;Use the CLI.&lt;/p&gt;&lt;script&gt;steal()&lt;/script&gt;&lt;style&gt;p{color:red}&lt;/style&gt;"
    docs, _ = read(source(dump(tmp_path, f"<posts>{q(1, body=body)}</posts>")))
    text = docs["cardano/1"].text
    assert "Use the CLI." in text and "steal" not in text and "color" not in text


def test_missing_owner_keeps_the_post_and_credits_no_one(tmp_path):
    docs, failures = read(source(dump(tmp_path, f"<posts>{q(1)}{a(2, 1, owner='')}</posts>")))
    assert failures == []
    answer = docs["cardano/1"].sections[1]
    assert answer.author is None and answer.heading == "Answer" and "answer text" in answer.text
    assert [c.role for c in docs["cardano/1"].contributions] == ["asker"]


def test_wrong_encoding_costs_only_the_bad_row(tmp_path):
    good = f'<?xml version="1.0" encoding="utf-8"?>\n<posts>{q(1)}\n{q(2)}\n'.encode()
    bad = q(3, body="caf\xe9").encode("latin-1")
    docs, failures = read(source(dump(tmp_path, good + bad + f"\n{q(4)}\n</posts>".encode())))
    assert sorted(docs) == ["cardano/1", "cardano/2", "cardano/4"]
    assert [f.item for f in failures] == ["Posts.xml line 4"]
    assert "malformed XML at line 4" in failures[0].reason


def test_a_broken_row_mid_file_costs_that_row_only(tmp_path):
    lines = (FIXTURES / "cardano/Posts.xml").read_text(encoding="utf-8").splitlines()
    broken_at = next(i for i, line in enumerate(lines) if 'Id="10"' in line)
    lines[broken_at] = lines[broken_at].replace("Score=", "Score=&#x1;", 1)  # an illegal character
    docs, failures = read(source(dump(tmp_path, "\n".join(lines))))
    posts = rows(FIXTURES / "cardano/Posts.xml")
    orphans = [f"a/{p['Id']}" for p in posts if p.get("ParentId") == "10"]  # their question was lost
    assert [f.item for f in failures] == [f"Posts.xml line {broken_at + 1}", *orphans]
    questions = [p["Id"] for p in posts if p["PostTypeId"] == "1"]
    assert sorted(docs) == sorted(f"cardano/{i}" for i in questions if i != "10")


def test_declared_latin1_is_read_correctly(tmp_path):
    row = q(1, body="caf&#233; cr\xe8me")
    body = f'<?xml version="1.0" encoding="ISO-8859-1"?>\n<posts>{row}</posts>'
    docs, failures = read(source(dump(tmp_path, body.encode("latin-1"))))
    assert failures == [] and "café crème" in docs["cardano/1"].text


def test_orphan_answers_are_reported_with_a_reason(tmp_path):
    xml = f'<posts>{q(1)}{a(2, 1)}{a(3, 99)}<row Id="4" PostTypeId="2" Body="x"/><row Body="no id"/></posts>'
    docs, failures = read(source(dump(tmp_path, xml)))
    assert list(docs) == ["cardano/1"]
    reasons = {f.item: f.reason for f in failures}
    assert "question 99, which is not in Posts.xml" in reasons["a/3"]
    assert "without a ParentId" in reasons["a/4"]
    assert "without a numeric Id" in reasons["Posts.xml row 5"]


def test_broken_comments_file_keeps_the_threads(tmp_path):
    folder = tmp_path / "c"
    shutil.copytree(FIXTURES / "cardano", folder)
    (folder / "Comments.xml").write_bytes((folder / "Comments.xml").read_bytes()[:3000])
    docs, failures = read(source(folder))
    assert len(docs) == 5
    assert [f.item.split(" line")[0] for f in failures] == ["Comments.xml"]


def test_pipeline_indexes_threads_links_answers_and_survives_a_missing_dump(tmp_path, fake_embedder):
    settings = Settings(home=tmp_path / "home", sources=[
        SourceSettings(name="cardano", kind="stackexchange", path=str(FIXTURES / "cardano"),
                       options={"site": "cardano.stackexchange.com"}),
        SourceSettings(name="gone", kind="stackexchange", path=str(tmp_path / "nothing"),
                       options={"site": "x.stackexchange.com"}),
    ])
    rec = run_ingest(settings, fake_embedder)
    assert rec.status == "ok"
    assert rec.sources["cardano"].added == 5
    assert "folder not found" in rec.sources["gone"].error
    assert index_status(settings).sources["cardano"]["documents"] == 5
    answer = rows(FIXTURES / "cardano/Posts.xml")
    accepted = next(p for p in answer if p["Id"] == "47")
    searcher = Searcher(LiveIndex(Home(settings.home)), fake_embedder, settings.search)
    words = " ".join(accepted["Body"].replace("<", " ").replace(">", " ").split()[:30])
    hit = next(h for h in searcher.search(words, k=5).hits if h.doc_id == "cardano/45")
    assert hit.url.startswith("https://cardano.stackexchange.com/q/45")
    assert hit.authors, "a forum hit names its authors"
    fake_embedder.encoded.clear()
    again = run_ingest(settings, fake_embedder)
    assert again.sources["cardano"].unchanged == 5 and fake_embedder.encoded == []


def test_votes_give_a_score_to_rows_without_one(tmp_path):
    no_score = f"<posts>{q(1)}{a(2, 1)}</posts>".replace(' Score="1"', "").replace(' Score="2"', "")
    folder = dump(tmp_path, no_score)
    votes = "".join(f'<row Id="{i}" PostId="2" VoteTypeId="{t}" CreationDate="2021-05-03T00:00:00.000"/>'
                    for i, t in enumerate([2, 2, 2, 3, 1]))
    write(folder / "Votes.xml", f"<votes>{votes}</votes>")
    docs, _ = read(source(folder))
    scores = {c.role: c.score for c in docs["cardano/1"].contributions}
    assert scores == {"asker": None, "answerer": 2}  # 3 up, 1 down; the acceptance vote is no score


def test_unchanged_dump_is_not_parsed_again_and_an_edited_one_is(tmp_path, fake_embedder, monkeypatch):
    from ingest.sources import stackexchange_dump

    folder = tmp_path / "c"
    shutil.copytree(FIXTURES / "cardano", folder)
    posts = (folder / "Posts.xml").read_text(encoding="utf-8")
    (folder / "Posts.xml").write_text(posts.replace("</posts>", '<row Id="9999" PostTypeId="2" ParentId="8888" '
                                                    'Body="orphan"/></posts>'), encoding="utf-8")
    settings = Settings(home=tmp_path / "home", sources=[SourceSettings(
        name="cardano", kind="stackexchange", path=str(folder), options={"site": "cardano.stackexchange.com"})])
    first = run_ingest(settings, fake_embedder)
    assert (first.sources["cardano"].added, first.sources["cardano"].failed) == (5, 1)
    loads: list[int] = []
    original = stackexchange_dump.DumpIndex.load
    monkeypatch.setattr(stackexchange_dump.DumpIndex, "load", lambda *a: loads.append(1) or original(*a))

    again = run_ingest(settings, fake_embedder)
    assert loads == []
    assert (again.sources["cardano"].unchanged, again.sources["cardano"].failed) == (5, 1)
    assert [f["item"] for f in index_status(settings).failures] == ["a/9999"]  # still reported

    row = next(r for r in rows(folder / "Posts.xml") if r.get("Title"))
    (folder / "Posts.xml").write_text(posts.replace(row["Title"], row["Title"] + " (edited)"), encoding="utf-8")
    third = run_ingest(settings, fake_embedder)
    assert loads == [1]
    assert (third.sources["cardano"].updated, third.sources["cardano"].unchanged) == (1, 4)
    assert third.sources["cardano"].failed == 0  # the orphan answer is gone from the new dump
