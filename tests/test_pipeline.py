"""Ingest runs: generations, incremental re-runs, deletions, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.generations import Home
from index.runs import RunLog
from ingest.pipeline import IngestOptions, run_ingest
from search.status import index_status

from .conftest import write


def test_first_run_indexes_documents_chunks_and_people(settings, fake_embedder):
    rec = run_ingest(settings, fake_embedder)
    assert rec.status == "ok"
    s = rec.sources["wiki"]
    assert (s.added, s.updated, s.deleted, s.failed) == (3, 0, 0, 0)
    st = index_status(settings)
    assert st.generation == rec.generation
    assert st.counts["documents"] == 3
    assert st.counts["chunks"] >= 4
    assert st.counts["people"] == 3  # Ada, Bob, Carol


def test_unchanged_rerun_embeds_nothing_and_keeps_the_current_generation(settings, fake_embedder):
    """A scheduled re-run that finds nothing new publishes nothing: the server keeps its open
    generation and warm caches, and no copy of the index is left behind."""
    first = run_ingest(settings, fake_embedder)
    fake_embedder.encoded.clear()
    second = run_ingest(settings, fake_embedder)
    assert fake_embedder.encoded == []
    assert second.status == "ok" and second.sources["wiki"].unchanged == 3
    assert (second.generation, second.changed) == (first.generation, False)
    home = Home(settings.home)
    assert home.current() == first.generation
    assert sorted(p.name for p in home.generations.iterdir()) == [first.generation]
    assert RunLog(home.path / "state.sqlite").last(1)[0].changed is False


def test_rerun_publishes_when_only_failures_or_settings_changed(settings, wiki, fake_embedder):
    """Nothing indexed changed, but what the admin sees or what search uses did: a newly
    unreadable file, other BM25 column weights, another activity half-life."""
    first = run_ingest(settings, fake_embedder)
    write(wiki / "empty.md", "")
    second = run_ingest(settings, fake_embedder)
    assert second.changed and second.generation != first.generation
    assert [f["item"] for f in index_status(settings).failures] == ["empty.md"]
    assert not run_ingest(settings, fake_embedder).changed  # the same failure again
    (wiki / "empty.md").unlink()
    assert run_ingest(settings, fake_embedder).changed  # and its going
    settings.search.bm25_weights = [2.0, 1.0, 1.0]
    assert run_ingest(settings, fake_embedder).changed
    settings.experts.activity_half_life_days = 3.0
    last = run_ingest(settings, fake_embedder)
    assert last.changed and Home(settings.home).current() == last.generation


def test_editing_one_page_reembeds_only_its_new_chunks(settings, wiki, fake_embedder):
    run_ingest(settings, fake_embedder)
    fake_embedder.encoded.clear()
    page = wiki / "engineering/deploys.md"
    page.write_text(page.read_text() + "\nFreeze deploys during the holidays.\n")
    rec = run_ingest(settings, fake_embedder)
    assert rec.sources["wiki"].updated == 1
    assert rec.sources["wiki"].unchanged == 2
    # the changed chunk, then its one new sentence (sentence evidence); its other sentences are cached
    assert len(fake_embedder.encoded) == 2
    assert "Freeze deploys" in fake_embedder.encoded[0]
    assert fake_embedder.encoded[1] == "Freeze deploys during the holidays."
    assert rec.chunks_embedded == rec.sources["wiki"].chunks_embedded == 1  # the run record says so
    assert rec.sentences_embedded == 1
    assert index_status(settings).runs[0]["chunks_embedded"] == 1


def test_renamed_file_costs_no_embedding(settings, wiki, fake_embedder):
    run_ingest(settings, fake_embedder)
    fake_embedder.encoded.clear()
    (wiki / "engineering/deploys.md").rename(wiki / "engineering/shipping.md")
    rec = run_ingest(settings, fake_embedder)
    assert (rec.sources["wiki"].added, rec.sources["wiki"].deleted) == (1, 1)
    assert fake_embedder.encoded == []
    assert rec.chunks_embedded == 0 and rec.sources["wiki"].chunks_cached >= 1


def test_deleted_page_leaves_search_and_people(settings, wiki, fake_embedder):
    from index.generations import LiveIndex
    from search.searcher import Searcher

    write(wiki / "onboarding/badge.md", "---\nauthor: Carol Chen <carol@corp.example>\n---\n# Badges\n\n"
          "Your office badge is at the front desk.\n")
    write(wiki / "onboarding/monitor.md", "---\nauthor: Dan Doe\n---\n# Monitors\n\nAsk IT for a monitor.\n")
    run_ingest(settings, fake_embedder)
    searcher = Searcher(LiveIndex(Home(settings.home), check_every=0.0), fake_embedder, settings.search)
    query = "new hires receive a laptop on their first day"
    assert searcher.search(query).hits[0].doc_id == "wiki/onboarding/laptop.md"
    (wiki / "onboarding/laptop.md").unlink()
    (wiki / "onboarding/monitor.md").unlink()
    rec = run_ingest(settings, fake_embedder)
    assert rec.sources["wiki"].deleted == 2
    assert "wiki/onboarding/laptop.md" not in {h.doc_id for h in searcher.search(query, k=50).hits}
    reader = Home(settings.home).open_reader()
    assert reader.store.document("wiki/onboarding/laptop.md") is None
    people = {p.name: p.id for p in reader.store.all_people()}
    assert "Dan Doe" not in people  # no contributions left: gone from people and counts
    carol = reader.store.contributions_of([people["Carol Chen"]])
    assert {c.doc_id for c in carol} == {"wiki/onboarding/badge.md"}  # she keeps her other page
    assert reader.store.contributions_to(["wiki/onboarding/laptop.md"]) == []
    assert reader.vectors.ids() == set(reader.store.chunk_hashes())


def test_bad_files_are_reported_and_do_not_stop_the_run(settings, wiki, fake_embedder):
    write(wiki / "latin1.md", "# Caf\xe9\n\nna\xefve text".encode("latin-1"))
    write(wiki / "empty.md", "")
    write(wiki / "blank.md", "   \n\n")
    write(wiki / "badfront.md", "---\ntitle: [unclosed\n---\n# Still a page\n\nWith text.\n")
    rec = run_ingest(settings, fake_embedder)
    assert rec.status == "ok"
    assert rec.sources["wiki"].added == 4  # 3 good + the page with broken front matter
    failures = {f["item"]: f["reason"] for f in index_status(settings).failures}
    assert "UTF-8" in failures["latin1.md"]
    assert failures["empty.md"] == "empty file"
    assert failures["blank.md"] == "empty file"


def test_mass_deletion_guard_keeps_the_source(settings, wiki, fake_embedder):
    run_ingest(settings, fake_embedder)
    for p in list(wiki.rglob("*.md"))[:2]:
        p.unlink()
    rec = run_ingest(settings, fake_embedder)
    assert "MassDeletion" in rec.sources["wiki"].error
    assert index_status(settings).counts["documents"] == 3
    rec = run_ingest(settings, fake_embedder, IngestOptions(allow_mass_delete=True))
    assert index_status(settings).counts["documents"] == 1


def test_missing_source_folder_fails_that_source_only(settings, tmp_path, fake_embedder):
    from index.settings import SourceSettings

    settings.sources.append(SourceSettings(name="gone", kind="markdown", path=str(tmp_path / "x")))
    rec = run_ingest(settings, fake_embedder)
    assert rec.status == "ok"
    assert "not found" in rec.sources["gone"].error
    assert rec.sources["wiki"].added == 3


def test_source_removed_from_config_leaves_index(settings, fake_embedder):
    run_ingest(settings, fake_embedder)
    settings.sources = []
    run_ingest(settings, fake_embedder)
    assert index_status(settings).counts["documents"] == 0


def test_second_run_while_locked_is_refused(settings, fake_embedder):
    from index.generations import RunInProgress

    home = Home(settings.home)
    with home.lock(), pytest.raises(RunInProgress):
        run_ingest(settings, fake_embedder)


def test_abandoned_generation_is_removed_by_next_run(settings, fake_embedder):
    rec = run_ingest(settings, fake_embedder)
    home = Home(settings.home)
    junk = home.generations / f"g{int(rec.generation[1:]) + 1:06d}"
    junk.mkdir()
    (junk / "store.sqlite").write_bytes(b"half written")
    rec2 = run_ingest(settings, fake_embedder)
    assert home.current() == rec2.generation
    assert Path(home.generations / rec2.generation / "store.sqlite").stat().st_size > 100


def test_unchanged_files_are_not_read_again(settings, wiki, fake_embedder, monkeypatch):
    from ingest.sources.markdown import MarkdownSource

    run_ingest(settings, fake_embedder)
    read: list[str] = []
    original = MarkdownSource.read

    def counting_read(self, path, rel, *calls):  # type: ignore[no-untyped-def]
        read.append(rel)
        return original(self, path, rel, *calls)

    monkeypatch.setattr(MarkdownSource, "read", counting_read)
    page = wiki / "engineering/deploys.md"
    page.write_text(page.read_text() + "\nMore text.\n")
    rec = run_ingest(settings, fake_embedder)
    assert read == ["engineering/deploys.md"]
    assert (rec.sources["wiki"].unchanged, rec.sources["wiki"].updated) == (2, 1)


def test_changed_acl_rule_rereads_everything(settings, wiki, fake_embedder):
    from index.settings import AclRule

    run_ingest(settings, fake_embedder)
    settings.sources[0].acl = [AclRule(path="onboarding/*", visible_to=["hr"])]
    rec = run_ingest(settings, fake_embedder)
    assert rec.sources["wiki"].updated == 1  # the page whose visibility changed
    reader = Home(settings.home).open_reader()
    assert reader.store.document("wiki/onboarding/laptop.md").visible_to == ["hr"]


def test_changed_chunking_rechunks_unchanged_pages(settings, fake_embedder):
    run_ingest(settings, fake_embedder)
    settings.chunking.size = 120
    settings.chunking.overlap = 0
    rec = run_ingest(settings, fake_embedder)
    assert rec.sources["wiki"].updated == 3


def test_model_change_rebuilds_into_new_generation_while_the_old_one_serves(settings, fake_embedder):
    from index.generations import LiveIndex
    from search.searcher import Searcher

    from .conftest import FakeEmbedder

    first = run_ingest(settings, fake_embedder)
    searcher = Searcher(LiveIndex(Home(settings.home), check_every=0.0), fake_embedder, settings.search)
    during: list[tuple[str, str]] = []

    class OtherModel(FakeEmbedder):
        model_id = "other-model"
        dim = 32

        def encode(self, texts):  # type: ignore[no-untyped-def]
            hits = searcher.search("expense a desk for the home office").hits  # mid-rebuild
            during.append((searcher.index.get().generation, hits[0].doc_id))
            return super().encode(texts)

    other = OtherModel()
    rec = run_ingest(settings, other)
    assert during and set(during) == {(first.generation, "wiki/expenses.md")}  # the old one served
    assert rec.sources["wiki"].added == 3  # nothing reused from the old model's generation
    assert len(other.encoded) >= 4
    reader = Home(settings.home).open_reader()
    assert reader.model_id == "other-model" and reader.vectors.dim == 32
    assert rec.generation != first.generation


def test_requests_keep_the_old_generation_while_a_new_one_is_being_opened(settings, wiki, fake_embedder,
                                                                          monkeypatch):
    import threading

    from index.generations import IndexReader, LiveIndex

    first = run_ingest(settings, fake_embedder)
    live = LiveIndex(Home(settings.home), check_every=0.0)
    assert live.get().generation == first.generation
    write(wiki / "new.md", "# New\n\nA new page about llamas.\n")
    second = run_ingest(settings, fake_embedder)
    opening, release = threading.Event(), threading.Event()
    docs = IndexReader.docs

    def slow_docs(self):  # type: ignore[no-untyped-def]  # reading a big generation's document map
        opening.set()
        assert release.wait(10)
        return docs(self)

    monkeypatch.setattr(IndexReader, "docs", slow_docs)
    swapper = threading.Thread(target=live.get)
    swapper.start()
    assert opening.wait(10)
    assert live.get().generation == first.generation  # answered at once, not after the open
    release.set()
    swapper.join(10)
    monkeypatch.setattr(IndexReader, "docs", docs)
    assert live.get().generation == second.generation
    live.close()


def test_bm25_impacts_are_rebuilt_only_when_the_text_changed(settings, wiki, fake_embedder, monkeypatch):
    """An unchanged re-run keeps the stored impacts (at 1M chunks they take ~100 s to
    compute); an edit rebuilds them, so keyword search finds the new words at once."""
    import index.impacts
    from index.generations import LiveIndex
    from search.searcher import Searcher

    builds: list[int] = []
    real = index.impacts.refresh
    monkeypatch.setattr(index.impacts, "refresh", lambda db, w: (builds.append(1), real(db, w)))
    run_ingest(settings, fake_embedder)
    assert len(builds) == 1
    run_ingest(settings, fake_embedder)
    assert len(builds) == 1  # nothing written: the copied impacts stand
    page = wiki / "engineering/deploys.md"
    page.write_text(page.read_text() + "\nFreeze deploys during the zeppelinfest holidays.\n")
    run_ingest(settings, fake_embedder)
    assert len(builds) == 2
    searcher = Searcher(LiveIndex(Home(settings.home)), fake_embedder, settings.search)
    reader = searcher.index.get()
    assert reader.store.impact_info("chunks_fts") is not None
    hits = searcher.keyword.retrieve(reader.store, "zeppelinfest", 10)
    assert len(hits) == 1 and reader.store.chunks_by_ids([hits[0][0]])[hits[0][0]].doc_id.endswith("deploys.md")
    # other column weights in the config: rebuilt with them
    settings.search.bm25_weights = [2.0, 1.0, 1.0]
    run_ingest(settings, fake_embedder)
    assert len(builds) == 3
