"""Ingest's encoding on a Ray cluster (``[ray] address``, ``whoknows ingest --ray``).

The driver (``ingest/pipeline.py``) still lists the sources, decides what changed, reads the
embedding cache and alone writes the store, the cache and the new generation. Only the texts
it would have encoded go to Ray: ``ray.data.from_items(...).map_batches(EncoderActor, ...)``
with an actor pool whose actors load the configured encoder once each. Vectors stream back
to the driver and are put back in the driver's order by their row index.

Ray is an optional extra; ``require_ray`` says so in one line when it is missing.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np

from index.embedding import Embedder, load_embedder
from index.settings import ConfigError, RaySettings, Settings
from index.token_vectors import Tokens, token_encoder

EmbedderFactory = Callable[[], Embedder]


class RayMissing(ConfigError):
    """The Ray executor was asked for but the ray extra is not installed."""


def require_ray() -> Any:
    """The ``ray`` module, or ``RayMissing`` naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401  (ray without its [data] part cannot run the stages)
    except ImportError as e:
        raise RayMissing(f"the Ray executor needs the ray extra: pip install -e '.[ray]' ({e})") from None
    return ray


class EncoderActor:
    """One Ray actor: loads the encoder once, then encodes the batches it is given."""

    def __init__(self, factory: EmbedderFactory, with_tokens: bool):
        self.embedder = factory()
        self.with_tokens = with_tokens

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        texts = [str(t) for t in batch["text"]]
        out: dict[str, Any] = {"i": batch["i"]}
        if self.with_tokens:
            enc = token_encoder(self.embedder)
            assert enc is not None  # the driver asked for tokens only when its encoder gives them
            vecs, toks = enc.encode_with_tokens(texts)
            out["tokens"] = [pickle.dumps((t.vectors, t.spans)) for t in toks]
        else:
            vecs = self.embedder.encode(texts)
        out["vec"] = np.asarray(vecs, dtype="float32")
        return out


@dataclass
class RayEmbedder:
    """An ``Embedder`` (and token encoder when the local one is) whose encoding runs on Ray.

    ``local`` is the driver's own encoder: it gives the model id and dimension and says
    whether token vectors can be had; ``factory`` builds the same encoder inside each actor.
    """

    local: Embedder
    factory: EmbedderFactory
    settings: RaySettings
    started: bool = False  # this process started the cluster (address "local"): shut it down
    texts_sent: int = field(default=0)
    executor: str = "ray"  # for the run record

    @property
    def workers(self) -> int:
        return max(1, self.settings.num_workers)

    @property
    def model_id(self) -> str:
        return self.local.model_id

    @property
    def dim(self) -> int:
        return self.local.dim

    @property
    def token_vectors(self) -> bool:
        return token_encoder(self.local) is not None

    def encode(self, texts: list[str]) -> np.ndarray:
        vecs, _ = self._run(texts, with_tokens=False)
        return vecs

    def encode_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[Tokens]]:
        vecs, toks = self._run(texts, with_tokens=True)
        return vecs, [Tokens(v, [tuple(s) for s in spans]) for v, spans in toks]

    def _run(self, texts: list[str], with_tokens: bool) -> tuple[np.ndarray, list[Any]]:
        if not texts:
            return np.zeros((0, self.dim), dtype="float32"), []
        import ray.data

        s = self.settings
        items = ray.data.from_items([{"i": i, "text": t} for i, t in enumerate(texts)])
        pool = ray.data.ActorPoolStrategy(size=max(1, s.num_workers))
        ds = items.map_batches(EncoderActor, fn_constructor_args=(self.factory, with_tokens), compute=pool,
                            batch_size=max(1, s.batch_size), num_cpus=s.cpus_per_worker)
        vecs = np.zeros((len(texts), self.dim), dtype="float32")
        toks: list[Any] = [None] * len(texts) if with_tokens else []
        got = 0
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            idx = np.asarray(batch["i"], dtype="int64")
            vecs[idx] = np.stack(list(batch["vec"])) if batch["vec"].dtype == object else batch["vec"]
            if with_tokens:
                for i, raw in zip(idx, batch["tokens"], strict=True):
                    toks[i] = pickle.loads(raw)
            got += len(idx)
        if got != len(texts):
            raise RuntimeError(f"Ray returned {got} of {len(texts)} vectors")
        self.texts_sent += len(texts)
        return vecs, toks

    def close(self) -> None:
        if self.started:
            import ray

            ray.shutdown()
            self.started = False


def encoder_factory(settings: Settings) -> EmbedderFactory:
    """Builds the configured encoder inside an actor, with as many threads as the actor's CPUs."""
    threads = max(1, int(settings.ray.cpus_per_worker))
    return partial(load_embedder, replace(settings.embedding, threads=threads))


def ray_embedder(local: Embedder, factory: EmbedderFactory, settings: RaySettings,
                 address: str | None = None) -> RayEmbedder:
    """Connect to (or, for "local", start) the Ray cluster and wrap ``local`` for it.

    Raises ``RayMissing`` before anything is written when the extra is not installed.
    """
    ray = require_ray()
    address = address or settings.address or "local"
    started = False
    if not ray.is_initialized():
        if address == "local":
            cpus = max(1, round(settings.num_workers * settings.cpus_per_worker))
            ray.init(address="local", num_cpus=cpus, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=address, log_to_driver=False)
        started = True
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-job plan lines on stderr
    return RayEmbedder(local, factory, settings, started=started)
