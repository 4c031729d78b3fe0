"""Synthetic generations of 100k / 1M chunks for query-latency and memory figures.

The store holds random text (words drawn from the sample corpus, so FTS5 has real terms) in
documents of 10 chunks with one author each, inserted in bulk. The vectors are drawn around
real chunk embeddings of the sample: each is normalise(e_i + r * e_j + noise) for two random
real chunk vectors e_i, e_j, r ~ U(0, 0.7) and Gaussian noise of norm 0.8, so they cluster
like real passages do without being copies. Each chunk has ``TOKENS_PER_CHUNK`` word-piece
rows of random sign bits in ``chunk_tokens`` and ``SENTENCES_PER_CHUNK`` rows of random 8-bit
codes in ``chunk_sentences``, so a hybrid search pays for late interaction and sentence
evidence as on a real index (what they cost, not what they find). Built indexes are kept in the work folder and
reused by later runs with the same parameters.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from index.generations import STORE_FILE, VECTORS_FILE
from index.pace import activity_paces, source_clocks
from index.settings import ExpertSettings, SearchSettings, VectorSettings
from index.store import Store
from index.token_vectors import row_bytes
from index.vectors import FlatVectors, IvfSq8Vectors, VectorIndex

RECIPE = 7  # bump when the way synthetic data is made changes
IVF_RECIPE = 3  # bump when the IVF build or its nprobe tuning changes
CHUNKS_PER_DOC = 10
BLOCK = 100_000
TOKENS_PER_CHUNK = 80  # word pieces of a 60-word chunk
SENTENCES_PER_CHUNK = 4  # SciFact: 41,287 sentences in 11,523 chunks


@dataclass
class SyntheticIndex:
    home: Path
    chunks: int
    kind: str
    store_seconds: float
    index_seconds: float
    index_bytes: int
    store_bytes: int
    nprobe: int
    reused: bool = False


def synthetic_vectors(real: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype="float32")
    for start in range(0, n, BLOCK):
        m = min(BLOCK, n - start)
        a = real[rng.integers(0, len(real), m)]
        b = real[rng.integers(0, len(real), m)]
        noise = rng.standard_normal(a.shape).astype("float32")
        noise *= 0.8 / np.linalg.norm(noise, axis=1, keepdims=True)
        v = a + rng.uniform(0, 0.7, (m, 1)).astype("float32") * b + noise
        out[start : start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def _fill_store(path: Path, n: int, words: list[str], model_id: str, dim: int, seed: int) -> None:
    Store.open_write(path).close()  # the real schema, through the migrations
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    rng = np.random.default_rng(seed + 1)
    vocab = np.array(words)
    db.execute("BEGIN")
    people = [(f"p{i:011d}", f"Person {i}") for i in range(1000)]
    db.executemany("INSERT INTO people(id, name) VALUES (?,?)", people)
    n_docs = (n + CHUNKS_PER_DOC - 1) // CHUNKS_PER_DOC
    for start in range(0, n_docs, BLOCK // CHUNKS_PER_DOC):
        ids = range(start, min(n_docs, start + BLOCK // CHUNKS_PER_DOC))
        db.executemany(
            "INSERT INTO documents(id, source, kind, title, url, updated_at, content_hash) "
            "VALUES (?,?,?,?,?,?,?)",
            [(f"syn/{d}", "syn", "wiki", f"Synthetic page {d}", f"https://wiki.example/{d}",
              "2024-01-01T00:00:00+00:00", str(d)) for d in ids])
        db.executemany("INSERT INTO contributions(doc_id, person_id, role) VALUES (?,?,?)",
                       [(f"syn/{d}", people[d % 1000][0], "author") for d in ids])
    for start in range(0, n, BLOCK):
        m = min(BLOCK, n - start)
        picks = vocab[rng.integers(0, len(vocab), (m, 60))]
        rows = [(start + i + 1, f"syn/{(start + i) // CHUNKS_PER_DOC}", (start + i) % CHUNKS_PER_DOC,
                 " ".join(picks[i]), str(start + i)) for i in range(m)]
        db.executemany("INSERT INTO chunks(id, doc_id, position, text, text_hash) VALUES (?,?,?,?,?)", rows)
        db.executemany("INSERT INTO chunks_fts(rowid, title, heading, text) VALUES (?,?,?,?)",
                       [(r[0], f"Synthetic page {r[1][4:]}", "", r[3]) for r in rows])
        bits = rng.integers(0, 256, (m, TOKENS_PER_CHUNK * row_bytes(dim)), dtype=np.uint8)
        db.executemany("INSERT INTO chunk_tokens(chunk_id, bits) VALUES (?,?)",
                       ((start + i + 1, bits[i].tobytes()) for i in range(m)))
        codes = rng.integers(-127, 128, (m, SENTENCES_PER_CHUNK * dim), dtype=np.int8)
        db.executemany("INSERT INTO chunk_sentences(chunk_id, codes) VALUES (?,?)",
                       ((start + i + 1, codes[i].tobytes()) for i in range(m)))
    # whole-document keyword search (documents_fts): each page's title and chunk text
    db.execute("INSERT INTO documents_fts(rowid, title, text) SELECT d.rowid, d.title, "
               "(SELECT group_concat(c.text, ' ') FROM chunks c WHERE c.doc_id = d.id) FROM documents d")
    db.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?,?)",
                   [("model_id", json.dumps(model_id)), ("dim", json.dumps(dim)),
                    ("finished_at", json.dumps(time.time()))])
    db.execute("COMMIT")
    db.close()
    store = Store.open_write(path)  # as a finished generation: the common terms counted
    store.refresh_impacts(tuple(SearchSettings().bm25_weights))
    p = ExpertSettings()
    store.refresh_activity(p.activity_half_life_days, datetime.now(UTC),
                           activity_paces(source_clocks(store, p.pace_posts), p.activity_half_life_posts))
    store.close()


def build_synthetic(work: Path, n: int, real: np.ndarray, texts: list[str], model_id: str,
                    settings: VectorSettings, seed: int = 0) -> SyntheticIndex:
    """A published home with ``n`` synthetic chunks (reused when already built)."""
    store_key = {"recipe": RECIPE, "n": n, "model_id": model_id, "seed": seed}
    key = {**store_key, "real": len(real), "settings": asdict(settings), "ivf": IVF_RECIPE}
    home = work / f"synthetic-{n}-{model_id}"
    stamp = home / "build.json"
    gen = home / "generations" / "g000001"
    saved = json.loads(stamp.read_text()) if stamp.exists() else {}
    if saved.get("key") == key:
        return SyntheticIndex(**{**saved["result"], "home": home, "reused": True})
    if saved.get("store_key") == store_key and (gen / STORE_FILE).exists():
        store_seconds = saved["result"]["store_seconds"]  # only the vector index is rebuilt
    else:
        shutil.rmtree(home, ignore_errors=True)
        gen.mkdir(parents=True)
        words = sorted({w for t in texts for w in re.findall(r"[a-z]{3,}", t.lower())})
        t0 = time.perf_counter()
        _fill_store(gen / STORE_FILE, n, words, model_id, real.shape[1], seed)
        store_seconds = time.perf_counter() - t0
    vectors = synthetic_vectors(real, n, seed)
    ids = np.arange(1, n + 1, dtype="int64")
    t0 = time.perf_counter()
    index: VectorIndex
    if n > settings.exact_max_chunks:
        index = IvfSq8Vectors.build(ids, vectors, settings)
    else:
        index = FlatVectors(real.shape[1])
        index.add(ids, vectors)
    index.save(gen / VECTORS_FILE)
    index_seconds = time.perf_counter() - t0
    (home / "CURRENT").write_text("g000001\n")
    result = SyntheticIndex(
        home=home, chunks=n, kind=index.kind, store_seconds=store_seconds, index_seconds=index_seconds,
        index_bytes=(gen / VECTORS_FILE).stat().st_size, store_bytes=(gen / STORE_FILE).stat().st_size,
        nprobe=int(getattr(getattr(index, "index", None), "nprobe", 0)) if index.kind != "flat" else 0,
    )
    saved_result = {k: v for k, v in asdict(result).items() if k not in ("home", "reused")}
    stamp.write_text(json.dumps({"key": key, "store_key": store_key, "result": saved_result}))
    return result
