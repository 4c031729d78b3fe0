"""``ivf-sq8``: inverted lists over 8-bit scalar-quantised vectors, for large corpora.

A vector costs its 384 one-byte codes plus its 8-byte id (~400 bytes a chunk with the
centroids), against 1.5 KB for the flat index. The lists are trained on the corpus itself and
``nprobe`` is chosen by measuring recall@10 against exact search on query-like probes. IVF
indexes remove ids natively, so chunk removal works as with the flat index.

Reading vectors back (``reconstruct``, ``scores``: the exact-dense second stage asks for a
thousand or two a search) goes through a copy of every code in one array (``CodeTable``),
built when a generation is opened (``warm``) and dropped when the index changes. FAISS's own
``reconstruct_batch`` finds and decodes one vector at a time: 4.4 ms for 1,000 vectors of a
1M-chunk index, against 0.4 ms for a gather and one product with the codes (2026-11-27). The
copy costs the codes' size again in memory: 384 bytes a chunk, 384 MB at a million chunks.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import faiss
import numpy as np

from .settings import VectorSettings

NPROBE_STEPS = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
TRAIN_PER_LIST = 40  # k-means training points per list (faiss asks for at least 39)
PROBES = 200  # query-like probes for tuning nprobe
PLATEAU_FROM, PLATEAU_GAIN = 32, 0.003  # see tune_nprobe
PROBE_NOISE = 0.8  # noise norm added to a unit-length probe (see query_like)


def lists_for(n: int) -> int:
    """About 2*sqrt(n) lists, a power of two, at least 16."""
    target = 2 * math.sqrt(max(n, 1))
    return max(16, 2 ** round(math.log2(target)))


def planned_lists(n: int, settings: VectorSettings) -> int:
    """Lists for ``n`` vectors: configured or automatic, never more than training allows."""
    return min(settings.ivf_lists or lists_for(n), max(1, n // TRAIN_PER_LIST))


class IvfSq8Vectors:
    kind = "ivf-sq8"

    def __init__(self, index: faiss.IndexIVF):
        self.index = index
        self.dim = index.d
        self._table: CodeTable | None = None
        self._table_lock = threading.Lock()

    @classmethod
    def wrap(cls, index: faiss.Index) -> IvfSq8Vectors:
        return cls(index)  # type: ignore[arg-type]

    @classmethod
    def build(cls, ids: np.ndarray, vectors: np.ndarray, settings: VectorSettings,
              seed: int = 0) -> IvfSq8Vectors:
        vectors = np.ascontiguousarray(vectors, dtype="float32")
        n, dim = vectors.shape
        nlist = planned_lists(n, settings)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 12
        index.cp.seed = seed
        rng = np.random.default_rng(seed)
        sample = rng.choice(n, size=min(n, nlist * TRAIN_PER_LIST), replace=False)
        index.train(vectors[np.sort(sample)])
        ids = np.asarray(ids, dtype="int64")
        for start in range(0, n, 65536):
            index.add_with_ids(vectors[start : start + 65536], ids[start : start + 65536])
        out = cls(index)
        index.nprobe = settings.nprobe or out.tune_nprobe(ids, vectors, settings.target_recall, rng)
        return out

    def tune_nprobe(self, ids: np.ndarray, vectors: np.ndarray, target: float,
                    rng: np.random.Generator) -> int:
        """Smallest nprobe whose recall@10 against exact search reaches ``target``."""
        probes = query_like(vectors, min(PROBES, len(vectors)), rng)
        exact_ids = ids[exact_top_k(vectors, probes, 10)]
        nlist = self.index.nlist
        previous = 0.0
        for nprobe in (*[s for s in NPROBE_STEPS if s < nlist], nlist):
            self.index.nprobe = nprobe
            _, found = self.index.search(probes, 10)
            recall = recall_at_k(found, exact_ids)
            # 8-bit codes cap recall a little below 1: stop where more lists stop helping
            if recall >= target or (nprobe >= PLATEAU_FROM and recall - previous < PLATEAU_GAIN):
                return nprobe
            previous = recall
        return nlist

    def outgrown(self, n: int, settings: VectorSettings) -> bool:
        """Lists trained for a corpus a quarter of this size or less: retrain."""
        return planned_lists(n, settings) >= 2 * self.index.nlist

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._table = None
            self.index.add_with_ids(
                np.ascontiguousarray(vectors, dtype="float32"), np.asarray(ids, dtype="int64")
            )

    def remove(self, ids: list[int]) -> None:
        if ids:
            self._table = None
            self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype="int64")))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids); ``allowed`` limits the ids that may be returned."""
        q = np.ascontiguousarray(query.reshape(-1, self.dim), dtype="float32")
        if allowed is None:
            k = max(1, min(k, max(1, self.index.ntotal)))
            return self.index.search(q, k)
        k = max(1, min(k, len(allowed)))
        ivf = faiss.extract_index_ivf(self.index)
        params = faiss.SearchParametersIVF(  # type: ignore[call-arg]
            sel=faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype="int64")), nprobe=ivf.nprobe)
        return self.index.search(q, k, params=params)  # type: ignore[call-arg]

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        """Decoded (8-bit, so approximate) vectors, as FAISS decodes them; KeyError for an
        id the index does not hold."""
        if not ids:
            return np.zeros((0, self.dim), dtype="float32")
        return self._codes().decode(np.asarray(ids, dtype="int64"))

    def scores(self, ids: list[int], query: np.ndarray) -> np.ndarray:
        """Inner product of ``query`` with the decoded vector of each of ``ids`` (KeyError for
        an id the index does not hold), without decoding them one by one."""
        if not ids:
            return np.zeros(0, dtype="float32")
        return self._codes().scores(np.asarray(ids, dtype="int64"), np.asarray(query, dtype="float32").reshape(-1))

    def warm(self) -> None:
        """Build the code table now (1.3 s at a million chunks), not in the first search."""
        self._codes()

    def _codes(self) -> CodeTable:
        table = self._table
        if table is None:
            with self._table_lock:
                if self._table is None:
                    self._table = CodeTable(self.index)
                table = self._table
        return table

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        faiss.write_index(self.index, str(tmp))
        tmp.replace(path)

    def ids(self) -> set[int]:
        lists = self.index.invlists
        assert lists is not None
        out: set[int] = set()
        for li in range(self.index.nlist):
            size = lists.list_size(li)
            if size:
                out.update(int(i) for i in faiss.rev_swig_ptr(lists.get_ids(li), size))
        return out

    def __len__(self) -> int:
        return int(self.index.ntotal)


class CodeTable:
    """Every vector's 8-bit codes in one array, rows in id order, with the list each came
    from (its centroid is added back when the codes are residuals)."""

    def __init__(self, index: faiss.IndexIVF):
        ivf: faiss.IndexIVFScalarQuantizer = faiss.downcast_index(faiss.extract_index_ivf(index))  # type: ignore[assignment]
        lists, n, size = ivf.invlists, int(ivf.ntotal), int(ivf.code_size)
        assert lists is not None
        sizes = [lists.list_size(li) for li in range(ivf.nlist)]
        ids = np.empty(n, dtype=np.int64)
        at = 0
        for li, m in enumerate(sizes):
            if m:
                ids[at : at + m] = faiss.rev_swig_ptr(lists.get_ids(li), m)
            at += m
        order = np.argsort(ids, kind="stable")
        row = np.empty(n, dtype=np.int64)  # where each vector, in list order, goes
        row[order] = np.arange(n)
        self.ids = ids[order]
        self.list_of = np.repeat(np.arange(ivf.nlist, dtype=np.int32), sizes)[order]
        # row of each id by direct lookup when the ids are dense enough (chunk ids are SQLite
        # rowids: 4 bytes an id up to the largest; a binary search per id otherwise)
        top = int(self.ids[-1]) + 1 if n else 0
        self.row_of: np.ndarray | None = None
        if n and self.ids[0] >= 0 and top <= 4 * n + 1024:
            self.row_of = np.full(top, -1, dtype=np.int32 if n < 2**31 else np.int64)
            self.row_of[self.ids] = np.arange(n)
        self.codes = np.empty((n, size), dtype=np.uint8)  # filled in place: one copy of the codes at a time
        at = 0
        for li, m in enumerate(sizes):
            if m:
                self.codes[row[at : at + m]] = faiss.rev_swig_ptr(lists.get_codes(li), m * size).reshape(m, size)
            at += m
        self.sq = ivf.sq
        self.range = faiss.vector_to_array(ivf.sq.trained).reshape(2, -1)  # vmin, vdiff (8-bit codes)
        self.centroids = ivf.quantizer.reconstruct_n(0, ivf.nlist) if ivf.by_residual else None

    def rows(self, ids: np.ndarray) -> np.ndarray:
        if self.row_of is not None:
            inside = (ids >= 0) & (ids < len(self.row_of))
            rows = self.row_of[np.where(inside, ids, 0)]
            bad = ~inside | (rows < 0)
            if bad.any():
                raise KeyError(f"not in the vector index: {ids[bad][:5].tolist()}")
            return rows
        rows = np.searchsorted(self.ids, ids)
        bad = rows >= len(self.ids)
        bad[~bad] = self.ids[rows[~bad]] != ids[~bad]
        if bad.any():
            raise KeyError(f"not in the vector index: {ids[bad][:5].tolist()}")
        return rows

    def decode(self, ids: np.ndarray) -> np.ndarray:
        rows = self.rows(ids)
        out: np.ndarray = self.sq.decode(self.codes[rows])
        if self.centroids is not None:
            out += self.centroids[self.list_of[rows]]
        return out

    def scores(self, ids: np.ndarray, query: np.ndarray) -> np.ndarray:
        """``decode(ids) @ query`` without the decoded vectors. 8-bit codes decode as
        FAISS's ``Codec8bit`` does, each component ``vmin + vdiff * (code + 0.5) / 255``, so
        the product is one of the codes with ``vdiff * query / 255`` plus constants."""
        if self.sq.qtype != faiss.ScalarQuantizer.QT_8bit:
            return self.decode(ids) @ query
        rows = self.rows(ids)
        vmin, vdiff = self.range
        out: np.ndarray = self.codes[rows] @ (vdiff * query / 255).astype(np.float32)
        out += float((vmin + vdiff * (0.5 / 255)) @ query)
        if self.centroids is not None:
            out += (self.centroids @ query)[self.list_of[rows]]
        return out


def query_like(vectors: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Probes that sit between corpus vectors as real queries do: the normalised sum of two
    random corpus vectors plus noise. Measured on a 1M-chunk synthetic index, their recall
    against nprobe follows that of real questions (0.90/0.94/0.97/0.98 at nprobe 4/8/16/24
    against 0.89/0.95/0.97/0.98), where noisy copies of single vectors were far too easy."""
    pairs = vectors[rng.integers(0, len(vectors), (2, count))]
    base = pairs[0] + pairs[1]
    base /= np.maximum(np.linalg.norm(base, axis=1, keepdims=True), 1e-12)
    noise = rng.standard_normal(base.shape).astype("float32")
    noise *= PROBE_NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
    probes = base + noise
    return np.ascontiguousarray(probes / np.linalg.norm(probes, axis=1, keepdims=True), dtype="float32")


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row positions (not ids) of the exact top-k, by brute force in blocks."""
    best_s = np.full((len(queries), 0), -np.inf, dtype="float32")
    best_i = np.zeros((len(queries), 0), dtype="int64")
    for start in range(0, len(vectors), 262144):
        block = vectors[start : start + 262144]
        s = queries @ block.T
        top = np.argpartition(-s, min(k, s.shape[1] - 1), axis=1)[:, :k]
        best_s = np.hstack([best_s, np.take_along_axis(s, top, 1)])
        best_i = np.hstack([best_i, top + start])
        keep = np.argsort(-best_s, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
    return best_i


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of the exact top-k that ``found`` contains (both as same-kind ids)."""
    hits = sum(len(set(f.tolist()) & set(e.tolist())) for f, e in zip(found, exact, strict=True))
    return hits / exact.size if exact.size else 1.0
