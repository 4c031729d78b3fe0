"""Reading and chunking a source ahead of the encoder.

A producer thread walks the source and prepares each document (people resolved, unchanged
ones recognised, changed ones chunked), handing ``(item, chunks)`` through a bounded queue
to the ingest loop, which spends its time in the encoder. Encoders (PyTorch, ONNX Runtime)
release the GIL while they compute, so reading and chunking overlap with embedding instead
of adding to it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from index.models import Chunk, Document

from .sources import Source

# chunks for a changed document; None for an unchanged one
Prepare = Callable[[Document], list[Chunk] | None]


@dataclass
class _Raised:
    error: BaseException


_END = object()


class ChunkedDocuments:
    """Iterate ``(item, chunks)`` for a source's items, prepared in a background thread.

    Documents go through ``prepare``; other items (failures, "unchanged" notes) come through
    with ``chunks=None``. An exception in the source or in ``prepare`` is re-raised by the
    iterator. Call ``close()`` when abandoning the iteration early.
    """

    def __init__(self, source: Source, prepare: Prepare, depth: int = 64):
        self._source, self._prepare = source, prepare
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="chunker", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        try:
            for item in self._source.iter_documents():
                chunks = self._prepare(item) if isinstance(item, Document) else None
                if not self._put((item, chunks)):
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

    def __iter__(self) -> Iterator[tuple[Any, list[Chunk] | None]]:
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
