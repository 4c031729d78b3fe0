"""Encoder backends: selection, model ids per backend, and the ONNX exports of the real model."""

from __future__ import annotations

import numpy as np
import pytest

from index.embedding import EMBEDDING_BACKENDS, load_embedder, load_query_embedder, model_id_for, query_backend
from index.settings import EmbeddingSettings


def test_backends_with_the_same_vectors_share_a_model_id():
    ids = {b: model_id_for(EmbeddingSettings(backend=b)) for b in EMBEDDING_BACKENDS}
    assert set(ids) == {"torch", "onnx", "onnx-int8"}
    # indexes built by torch before onnx was the default stay valid, and a torch fallback too
    assert ids["torch"] == ids["onnx"] == "all-MiniLM-L6-v2"
    assert ids["onnx-int8"] == "all-MiniLM-L6-v2+onnx-int8"
    assert EmbeddingSettings().backend == "onnx"
    assert model_id_for(EmbeddingSettings(model="/models/my-model", backend="onnx-int8")) == "my-model+onnx-int8"


class _Fake:
    """A torch backend that loads instantly."""

    model_id, dim = "fake", 3

    def encode(self, texts):
        return np.ones((len(texts), 3), dtype="float32")


def test_onnx_that_cannot_load_falls_back_to_torch_with_a_warning(monkeypatch, caplog):
    def no_export(settings):
        raise RuntimeError("the ONNX export failed")

    monkeypatch.setitem(EMBEDDING_BACKENDS, "torch", lambda settings: _Fake())
    monkeypatch.setitem(EMBEDDING_BACKENDS, "onnx", no_export)
    monkeypatch.setitem(EMBEDDING_BACKENDS, "onnx-int8", no_export)
    emb = load_embedder(EmbeddingSettings(cache_dir="/fallback-test"))
    assert isinstance(emb, _Fake)
    assert any("using torch" in r.message and "export failed" in r.message for r in caplog.records)
    with pytest.raises(RuntimeError, match="export failed"):  # int8 has other vectors: no silent swap
        load_embedder(EmbeddingSettings(backend="onnx-int8", cache_dir="/fallback-test"))


def test_unknown_backend_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="onnx-int8"):
        load_embedder(EmbeddingSettings(backend="tensorrt"))


def test_queries_use_onnx_only_where_it_gives_the_index_vectors():
    assert query_backend(EmbeddingSettings()) == "onnx"  # a torch index: the same vectors, faster
    assert query_backend(EmbeddingSettings(backend="onnx")) == "onnx"
    assert query_backend(EmbeddingSettings(backend="onnx-int8")) == "onnx-int8"
    assert query_backend(EmbeddingSettings(query_backend="torch")) == "torch"
    with pytest.raises(ValueError, match="only torch and onnx"):
        query_backend(EmbeddingSettings(query_backend="onnx-int8"))  # int8 vectors, fp32 index
    with pytest.raises(ValueError, match="query_backend 'gpu'"):
        query_backend(EmbeddingSettings(query_backend="gpu"))


def test_query_encoder_falls_back_to_the_index_backend(monkeypatch, tmp_path):
    def no_onnx(settings):
        raise RuntimeError("onnxruntime is not installed")

    monkeypatch.setitem(EMBEDDING_BACKENDS, "torch", lambda settings: _Fake())
    monkeypatch.setitem(EMBEDDING_BACKENDS, "onnx", no_onnx)
    emb = load_query_embedder(EmbeddingSettings(backend="torch", cache_dir=str(tmp_path)))
    assert isinstance(getattr(emb, "inner", emb), _Fake)


@pytest.mark.model
@pytest.mark.parametrize("backend, floor", [("onnx", 0.9999), ("onnx-int8", 0.97)])
def test_onnx_backends_export_locally_and_agree_with_torch(tmp_path, backend, floor):
    texts = ["You can expense a desk and a chair for your home office.",
             "Report phishing e-mails to the security team.",
             "The summer barbecue is in July at the lake. " * 30]  # longer than 256 tokens
    torch_vecs = load_embedder(EmbeddingSettings(backend="torch")).encode(texts)
    emb = load_embedder(EmbeddingSettings(backend=backend, cache_dir=str(tmp_path)))
    assert emb.model_id == ("all-MiniLM-L6-v2" if backend == "onnx" else "all-MiniLM-L6-v2+onnx-int8")
    assert emb.dim == 384
    export = tmp_path / f"all-MiniLM-L6-v2-{backend}"
    assert (export / "model.onnx").exists() and (export / "export.json").exists()
    vecs = emb.encode(texts)
    assert vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(vecs * torch_vecs, axis=1)) > floor
    # order is kept although texts are sorted by length inside
    assert np.allclose(emb.encode(texts[::-1]), vecs[::-1], atol=1e-5)
    assert emb.encode([]).shape == (0, 384)
    if backend == "onnx":  # the default query encoder of a torch index
        query = load_query_embedder(EmbeddingSettings(backend="torch", cache_dir=str(tmp_path)))
        assert query.model_id == "all-MiniLM-L6-v2"
        assert np.min(np.sum(query.encode(texts) * torch_vecs, axis=1)) > floor
    # a second use finds the export and does not redo it
    from index.embedding import bundled_model_path
    from index.onnx_encoder import ensure_export

    before = (export / "model.onnx").stat().st_mtime_ns
    assert ensure_export(bundled_model_path(), backend, tmp_path, "all-MiniLM-L6-v2") == export
    assert (export / "model.onnx").stat().st_mtime_ns == before
