"""Vector indexes: the IVF-SQ8 backend, switching by corpus size, save/load, removal."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from index.settings import VectorSettings
from index.vectors import FlatVectors, IvfSq8Vectors, fit_vectors, load_vectors
from index.vectors_ivf import exact_top_k, query_like, recall_at_k


def clustered(n: int, dim: int = 32, centres: int = 40, seed: int = 1) -> np.ndarray:
    """Normalised vectors around random centres, like embeddings of related passages."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim))
    v = c[rng.integers(0, centres, n)] + 0.5 * rng.standard_normal((n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype("float32")


def test_ivf_search_reaches_target_recall_against_exact():
    vecs = clustered(6000)
    ids = np.arange(1000, 7000, dtype="int64")  # ids are chunk ids, not positions
    settings = VectorSettings(target_recall=0.95)
    ivf = IvfSq8Vectors.build(ids, vecs, settings)
    assert ivf.index.nlist > 1 and 1 <= ivf.index.nprobe <= ivf.index.nlist
    queries = query_like(vecs, 100, np.random.default_rng(7))
    exact = ids[exact_top_k(vecs, queries, 10)]
    _, found = ivf.search(queries, 10)
    assert recall_at_k(found, exact) >= 0.93  # tuned on other probes: a little slack


def test_ivf_remove_and_add_keep_ids_exact():
    vecs = clustered(3000)
    ids = np.arange(3000, dtype="int64")
    ivf = IvfSq8Vectors.build(ids, vecs, VectorSettings())
    gone = list(range(0, 3000, 3))
    ivf.remove(gone)
    assert len(ivf) == 2000
    assert ivf.ids() == set(range(3000)) - set(gone)
    ivf.add(np.array([99999], dtype="int64"), vecs[:1])
    scores, found = ivf.search(vecs[0], 5)
    assert found[0][0] == 99999  # vector 0 was removed under id 0, re-added as 99999
    assert 0 not in set(found[0].tolist())


def test_save_and_load_keep_kind_and_nprobe(tmp_path):
    vecs = clustered(2000)
    ids = np.arange(2000, dtype="int64")
    ivf = IvfSq8Vectors.build(ids, vecs, VectorSettings(nprobe=5))
    ivf.save(tmp_path / "v.faiss")
    back = load_vectors(tmp_path / "v.faiss")
    assert isinstance(back, IvfSq8Vectors) and back.index.nprobe == 5
    flat = FlatVectors(32)
    flat.add(ids, vecs)
    flat.save(tmp_path / "f.faiss")
    assert isinstance(load_vectors(tmp_path / "f.faiss"), FlatVectors)


def test_fit_switches_to_ivf_above_threshold_and_back_below_half():
    vecs = clustered(2000)
    ids = np.arange(2000, dtype="int64")
    settings = VectorSettings(exact_max_chunks=1500)
    flat = FlatVectors(32)
    flat.add(ids, vecs)
    calls: list[int] = []

    def exact() -> tuple[np.ndarray, np.ndarray]:
        calls.append(1)
        keep = sorted(flat.ids() if not isinstance(current, IvfSq8Vectors) else current.ids())
        return np.array(keep, dtype="int64"), vecs[keep]

    current = flat
    current = fit_vectors(current, settings, exact)
    assert isinstance(current, IvfSq8Vectors) and len(current) == 2000
    assert fit_vectors(current, settings, exact) is current  # no rebuild when nothing changed
    current.remove(list(range(1000)))  # 1000 left: above half the threshold, stays IVF
    assert fit_vectors(current, settings, exact) is current
    current.remove(list(range(1000, 1400)))  # 600 left: back to exact
    current = fit_vectors(current, settings, exact)
    assert isinstance(current, FlatVectors) and current.ids() == set(range(1400, 2000))
    assert len(calls) == 2


def test_ivf_reconstruct_is_close_to_the_original():
    vecs = clustered(1000)
    ivf = IvfSq8Vectors.build(np.arange(1000, dtype="int64"), vecs, VectorSettings())
    back = ivf.reconstruct([3, 500])
    assert np.all(np.sum(back * vecs[[3, 500]], axis=1) > 0.99)


def test_ivf_reconstruct_decodes_as_faiss_does_and_follows_changes():
    vecs = clustered(1200)
    ivf = IvfSq8Vectors.build(np.arange(1000, dtype="int64"), vecs[:1000], VectorSettings())
    ivf.warm()  # as a newly opened generation is, before requests see it
    ids = [999, 3, 500, 3, 0]
    index = ivf.index
    index.set_direct_map_type(faiss.DirectMap.Hashtable)
    expected = index.reconstruct_batch(np.array(ids, dtype="int64"))
    index.set_direct_map_type(faiss.DirectMap.NoMap)
    np.testing.assert_array_equal(ivf.reconstruct(ids), expected)
    q = vecs[7]
    np.testing.assert_allclose(ivf.scores(ids, q), expected @ q, atol=1e-5)
    assert ivf.scores([], q).shape == (0,)
    ivf.remove([3])
    with pytest.raises(KeyError):
        ivf.reconstruct([3])
    ivf.add(np.arange(1000, 1200, dtype="int64"), vecs[1000:])
    back = ivf.reconstruct([1100, 500])
    assert np.all(np.sum(back * vecs[[1100, 500]], axis=1) > 0.99)
    with pytest.raises(KeyError):
        ivf.reconstruct([5000])


@pytest.mark.parametrize("step", [1, 3, 100_000])  # ids dense, with gaps, sparse
def test_ivf_scores_find_each_id_however_the_ids_are_spread(step):
    vecs = clustered(1000)
    ids = np.arange(1000, dtype="int64") * step + 7
    ivf = IvfSq8Vectors.build(ids, vecs, VectorSettings())
    ask = [int(ids[999]), int(ids[0]), int(ids[400]), int(ids[400])]
    q = vecs[11]
    np.testing.assert_allclose(ivf.scores(ask, q), ivf.reconstruct(ask) @ q, atol=1e-5)
    assert np.all(np.sum(ivf.reconstruct(ask) * vecs[[999, 0, 400, 400]], axis=1) > 0.99)
    for absent in ([int(ids[5]) + 1] if step > 1 else []) + [-1, 0, int(ids[-1]) + 1, 2**40]:
        with pytest.raises(KeyError):
            ivf.scores([int(ids[3]), absent], q)


def test_allowed_ids_limit_results_in_both_backends():
    vecs = clustered(3000)
    ids = np.arange(3000, dtype="int64")
    allowed = np.arange(0, 3000, 7, dtype="int64")
    flat = FlatVectors(32)
    flat.add(ids, vecs)
    for index in (flat, IvfSq8Vectors.build(ids, vecs, VectorSettings())):
        _, found = index.search(vecs[:5], 10, allowed=allowed)
        got = {int(i) for i in found.ravel() if i >= 0}
        assert got and got <= set(allowed.tolist())
