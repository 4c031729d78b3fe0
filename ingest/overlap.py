"""Reading and chunking a source ahead of the encoder.

A producer thread walks the source, resolves people, hashes each document and chunks the
changed ones, handing ``(document, chunks)`` through a bounded queue to the ingest loop,
which spends its time in the encoder. Encoders (PyTorch, ONNX Runtime) release the GIL while
they compute, so parsing and chunking overlap with embedding instead of adding to it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from index.models import Chunk, Document, Failure
from index.people import PeopleResolver

from .chunking import Chunker
from .sources import Source

# unchanged documents come through with chunks=None (they are not chunked)
Item = tuple[Document, list[Chunk] | None] | tuple[Failure, None]


@dataclass
class _Raised:
    error: BaseException


_END = object()


def resolve_people(doc: Document, resolver: PeopleResolver) -> None:
    for c in doc.contributions:
        resolver.resolve(c.person)
        c.doc_id = doc.id
    for s in doc.sections:
        if s.author is not None:
            resolver.resolve(s.author)


class ChunkedDocuments:
    """Iterate a source's items, read and chunked in a background thread.

    ``old`` maps document ids to their stored content hashes; documents with the same hash
    are yielded unchunked. An exception in the source is re-raised by the iterator.
    Call ``close()`` when abandoning the iteration early.
    """

    def __init__(self, source: Source, resolver: PeopleResolver, chunker: Chunker,
                 old: dict[str, str], depth: int = 64):
        self._source, self._resolver, self._chunker, self._old = source, resolver, chunker, old
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="chunker", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        try:
            for item in self._source.iter_documents():
                if isinstance(item, Failure):
                    out: Item = (item, None)
                else:
                    resolve_people(item, self._resolver)
                    unchanged = self._old.get(item.id) == item.content_hash()
                    out = (item, None if unchanged else self._chunker.chunk(item))
                if not self._put(out):
                    return
        except BaseException as e:  # handed to the consumer, which re-raises it
            self._put(_Raised(e))
        finally:
            self._put(_END)

    def _put(self, obj: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(obj, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Item]:
        while True:
            obj = self._queue.get()
            if obj is _END:
                return
            if isinstance(obj, _Raised):
                raise obj.error
            yield obj  # type: ignore[misc]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
