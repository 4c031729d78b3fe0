"""The in-memory chunk → document map agrees with the store it was read from."""

from __future__ import annotations

from collections import Counter

from index.doc_map import DocMap
from index.models import Chunk, Document, Section
from index.store import Store
from ingest.pipeline import run_ingest


def test_doc_map_agrees_with_the_store(settings, wiki, fake_embedder):
    from index.settings import AclRule

    from .conftest import write

    write(wiki / "hr/bands.md",
          "---\nauthor: Harriet Secret\n---\n# Salary bands\n\nEvery level's band, for HR only.\n")
    settings.sources[0].acl = [AclRule(path="hr/*", visible_to=["hr"])]
    run_ingest(settings, fake_embedder)
    from index.generations import Home
    reader = Home(settings.home).open_reader()
    docs = reader.docs()
    store_ids = [r[0] for r in reader.store.db.execute("SELECT id FROM documents")]
    assert sorted(docs.doc_ids) == sorted(store_ids)
    assert docs.chunks_of(store_ids) == reader.store.chunk_ids_of(store_ids)  # reading order too
    asked = ["no/such/doc", *reversed(store_ids), store_ids[0]]
    kept, ids, counts = docs.chunk_runs(asked)  # the same, as arrays, unknown documents left out
    by_doc = reader.store.chunk_ids_of(store_ids)
    assert kept == asked[1:] and counts.tolist() == [len(by_doc[d]) for d in kept]
    assert ids.tolist() == [c for d in kept for c in by_doc[d]]
    assert [len(x) for x in docs.chunk_runs(["no/such/doc"])] == [0, 0, 0]
    facts = [f for d in asked if (f := docs.facts(d)) is not None]
    counted = docs.fact_counts(asked)  # facet counts, ties in order of first appearance
    for name, i in (("source", 0), ("kind", 1)):
        assert list(counted[name].items()) == list(Counter(f[i] for f in facts).items())
    assert list(counted["year"].items()) == list(Counter(str(f[2]) for f in facts if f[2]).items())
    every = [r[0] for r in reader.store.db.execute("SELECT id FROM chunks")]
    rows = reader.store.chunks_by_ids(every)
    assert docs.doc_of(every + [-1, 10**9]) == {c: ch.doc_id for c, ch in rows.items()}
    # what expert attribution reads of a passage instead of its row
    assert docs.passages(every + [-1, 10**9]) == {c: (ch.doc_id, ch.section, ch.visible_to) for c, ch in rows.items()}
    assert {tuple(a) for _, _, a in docs.passages(every).values()} == {("everyone",), ("hr",)}
    for ch in rows.values():
        source, kind, year = docs.facts(ch.doc_id)
        assert (source, kind) == (ch.source, ch.kind)
        assert year == (ch.updated_at.year if ch.updated_at else None)
    assert docs.authors_of(store_ids) == reader.store.authors_of(store_ids)  # strongest first
    assert any(docs.authors_of(store_ids).values())
    # experts read contributions without joining documents: audience and source from the map
    joined = reader.store.contributions_to(store_ids)
    mapped = reader.store.contributions_to(store_ids, docs.audience_and_source)
    assert joined and sorted(map(repr, mapped)) == sorted(map(repr, joined))
    assert {tuple(c.visible_to) for c in mapped if c.doc_id.endswith("hr/bands.md")} == {("hr",)}
    assert docs.audience_and_source("no/such/doc") is None
    assert docs.facts("no/such/doc") is None and docs.chunks_of(["no/such/doc"]) == {"no/such/doc": []}
    assert reader.docs() is docs  # read once per generation
    reader.close()


def test_doc_map_of_removed_and_rewritten_documents(tmp_path):
    s = Store.open_write(tmp_path / "store.sqlite")
    for i in range(3):
        doc = Document(id=f"d/{i}", source="s", kind="wiki", title=f"t{i}", sections=[Section("x")])
        s.put_document(doc, [Chunk(doc_id=doc.id, position=p, text=f"{i}-{p}") for p in range(3)])
    s.delete_document("d/1")
    doc = Document(id="d/0", source="other", kind="forum", title="t0", sections=[Section("q"), Section("a")],
                   visible_to=["eng", "hr"])
    s.put_document(doc, [Chunk(doc_id="d/0", position=p, text=f"new-{p}", section=p) for p in range(2)])
    m = DocMap(s)
    first, second = s.chunk_ids_of(["d/0"])["d/0"]
    assert m.passages([first, second, 1]) == {first: ("d/0", 0, ["eng", "hr"]), second: ("d/0", 1, ["eng", "hr"])}
    assert set(m.doc_ids) == {"d/0", "d/2"} and len(m) == 5
    assert m.chunks_of(["d/0", "d/1"]) == {"d/0": s.chunk_ids_of(["d/0"])["d/0"], "d/1": []}
    assert m.facts("d/0") == ("other", "forum", None)
    assert m.doc_of(range(1, 4)) == {}  # the first document's old chunks and d/1's are gone
    s.close()
    empty = Store.open_write(tmp_path / "empty.sqlite")
    assert DocMap(empty).doc_of([1]) == {} and len(DocMap(empty)) == 0
    empty.close()


def test_author_counts_count_documents_per_name(settings, fake_embedder):
    from collections import Counter

    from index.generations import Home
    run_ingest(settings, fake_embedder)
    reader = Home(settings.home).open_reader()
    docs = reader.docs()
    ids = list(docs.doc_ids)
    expected: Counter[str] = Counter()
    for d in ids:  # the plain way: each document's distinct names
        expected.update({p.name for p in reader.store.authors_of([d])[d]})
    got = docs.author_counts(ids + ["no/such/doc"])
    assert got == expected and sum(got.values()) > 0
    first_names = [p.name for p in reader.store.authors_of([ids[-1]])[ids[-1]]]
    assert docs.author_counts([ids[-1]]) == Counter(set(first_names))
    assert docs.author_counts([]) == Counter()
    reader.close()
