"""The ingest pipeline's producer thread, vector-index switching and backend changes."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from index.generations import Home, LiveIndex
from index.models import Document, Failure, Section
from index.settings import ChunkingSettings
from index.vectors import IvfSq8Vectors
from ingest.chunking import Chunker
from ingest.overlap import ChunkedDocuments
from ingest.pipeline import IngestOptions, run_ingest
from search.searcher import Searcher

from .conftest import FakeEmbedder, write


class ListSource:
    name = "s"

    def __init__(self, items: list[Document | Failure], fail_after: int | None = None):
        self.items, self.fail_after = items, fail_after
        self.read = 0

    def iter_documents(self) -> Iterator[Document | Failure]:
        for i, item in enumerate(self.items):
            if self.fail_after is not None and i == self.fail_after:
                raise OSError("disk went away")
            self.read += 1
            yield item


def doc(i: int) -> Document:
    return Document(id=f"s/{i}", source="s", kind="wiki", title=f"Page {i}",
                    sections=[Section(f"Text number {i}. " * 40)])


def test_producer_yields_every_item_in_order_and_skips_unchanged():
    docs = [doc(i) for i in range(30)]
    items: list[Document | Failure] = [*docs[:10], Failure("s", "bad.md", "empty file"), *docs[10:]]
    old = {docs[3].id: docs[3].content_hash()}
    chunker = Chunker(ChunkingSettings(size=200, overlap=20))

    def prepare(d: Document) -> list | None:
        return None if old.get(d.id) == d.content_hash() else chunker.chunk(d)

    got = list(ChunkedDocuments(ListSource(items), prepare, depth=4))
    assert [i.id if isinstance(i, Document) else i.item for i, _ in got] == \
        [i.id if isinstance(i, Document) else i.item for i in items]
    by_id = {i.id: c for i, c in got if isinstance(i, Document)}
    assert by_id["s/3"] is None  # unchanged: not chunked
    assert [c.text for c in by_id["s/5"]] == [c.text for c in chunker.chunk(docs[5])]


def test_producer_reraises_the_source_error():
    reader = ChunkedDocuments(ListSource([doc(i) for i in range(5)], fail_after=3), Chunker(ChunkingSettings()).chunk)
    with pytest.raises(OSError, match="disk went away"):
        list(reader)


def test_producer_reads_ahead_boundedly_and_stops_on_close():
    source = ListSource([doc(i) for i in range(200)])
    reader = ChunkedDocuments(source, Chunker(ChunkingSettings()).chunk, depth=8)
    it = iter(reader)
    next(it)
    for _ in range(100):  # let the producer fill the queue
        if source.read >= 9:
            break
        threading.Event().wait(0.01)
    assert 9 <= source.read <= 11  # one taken + a full queue (+ one waiting to be put)
    reader.close()
    assert not reader._thread.is_alive()


def test_backend_change_rebuilds_into_a_new_generation(settings):
    run_ingest(settings, FakeEmbedder())
    other = FakeEmbedder()
    other.model_id = "fake-bow-64+onnx-int8"
    rec = run_ingest(settings, other)
    assert rec.sources["wiki"].added == 3 and rec.sources["wiki"].unchanged == 0
    assert len(other.encoded) >= 4
    assert Home(settings.home).open_reader().model_id == "fake-bow-64+onnx-int8"


def test_large_corpus_gets_an_ivf_index_that_still_removes_chunks(settings, wiki, fake_embedder):
    for i in range(80):
        write(wiki / f"bulk/page{i}.md", f"# Page {i}\n\nTopic number {i} about llamas and goats {i}.\n")
    settings.vectors.exact_max_chunks = 40
    run_ingest(settings, fake_embedder, IngestOptions(embed_batch=16))
    home = Home(settings.home)
    reader = home.open_reader()
    assert isinstance(reader.vectors, IvfSq8Vectors)
    assert reader.vectors.ids() == set(reader.store.chunk_hashes())
    for i in range(10):
        (wiki / f"bulk/page{i}.md").unlink()
    run_ingest(settings, fake_embedder)
    reader = home.open_reader()
    assert isinstance(reader.vectors, IvfSq8Vectors)
    assert reader.vectors.ids() == set(reader.store.chunk_hashes())
    hits = Searcher(LiveIndex(home), fake_embedder, settings.search).search("expense desk home office").hits
    assert hits[0].doc_id == "wiki/expenses.md"


def test_later_sources_are_read_while_earlier_ones_are_embedded(settings, monkeypatch):
    """Read-ahead: the second source is being read while the first one's chunks are encoded."""
    from index.settings import SourceSettings
    from ingest import sources

    second_read = threading.Event()

    class Watched(ListSource):
        def iter_documents(self) -> Iterator[Document | Failure]:
            for item in super().iter_documents():
                second_read.set()
                yield item

    monkeypatch.setitem(sources.SOURCE_KINDS, "watched",
                        lambda cfg, s: Watched([Document(id=f"late/{i}", source="late", kind="wiki",
                                                         title=f"Late {i}", sections=[Section(f"late {i}")])
                                                for i in range(3)]))
    settings.sources.append(SourceSettings(name="late", kind="watched", path="-"))

    class Waiting(FakeEmbedder):
        saw_second: list[bool] = []

        def encode(self, texts):  # type: ignore[no-untyped-def]
            if not self.saw_second:
                self.saw_second.append(second_read.wait(timeout=10))
            return super().encode(texts)

    emb = Waiting()
    rec = run_ingest(settings, emb)
    assert emb.saw_second == [True]  # the first encode call (source "wiki") found "late" being read
    assert rec.sources["wiki"].added == 3 and rec.sources["late"].added == 3
