"""Dense retrieval quality per encoder backend: SciFact train nDCG@10, computed the same way
for every backend (title + text as the passage, exact cosine top-10, binary qrels)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
from common import Report
from sample import Sample


def load_scifact(folder: Path) -> tuple[list[str], list[str], list[str], list[str], dict[str, set[str]]]:
    doc_ids, docs = [], []
    with open(folder / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            doc_ids.append(d["_id"])
            docs.append(f"{d.get('title', '')}\n{d['text']}".strip())
    qrels: dict[str, set[str]] = {}
    with open(folder / "qrels" / "train.tsv", encoding="utf-8") as f:
        next(f)
        for line in f:
            qid, did, score = line.rstrip("\n").split("\t")
            if int(score) > 0:
                qrels.setdefault(qid, set()).add(did)
    q_ids, queries = [], []
    with open(folder / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            if q["_id"] in qrels:
                q_ids.append(q["_id"])
                queries.append(q["text"])
    return doc_ids, docs, q_ids, queries, qrels


def ndcg_at_10(ranked: list[list[str]], q_ids: list[str], qrels: dict[str, set[str]]) -> float:
    total = 0.0
    for qid, docs in zip(q_ids, ranked, strict=True):
        rel = qrels[qid]
        dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(docs[:10]) if d in rel)
        ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(rel))))
        total += dcg / ideal
    return total / len(q_ids)


def bench_quality(report: Report, sample: Sample, backends: list[str], folder: Path) -> None:
    if not (folder / "corpus.jsonl").exists():
        report.add("quality", "SciFact", "skipped", "", f"{folder} not found (--scifact)")
        return
    doc_ids, docs, q_ids, queries, qrels = load_scifact(folder)
    report.add("quality", "SciFact train", f"{len(docs)} docs, {len(queries)} queries")
    scores: dict[str, float] = {}
    for b in backends:
        emb = sample.embedder(b)
        t0 = time.perf_counter()
        dv = emb.encode(docs)
        rate = len(docs) / (time.perf_counter() - t0)
        qv = emb.encode(queries)
        top = np.argsort(-(qv @ dv.T), axis=1)[:, :10]
        scores[b] = ndcg_at_10([[doc_ids[i] for i in row] for row in top], q_ids, qrels)
        report.add("quality", f"{b}: dense nDCG@10", scores[b], "", "SciFact train, exact search")
        report.add("quality", f"{b}: encoder throughput on SciFact abstracts", rate, "docs/s")
    if "torch" in scores:
        for b, s in scores.items():
            if b != "torch":
                report.add("quality", f"{b} - torch nDCG@10", (s - scores["torch"]) * 100, "points",
                           "target within 1 point")
