"""Ingest's encoding on a Ray cluster (``[ray] address``, ``whoknows ingest --ray``).

The driver (``ingest/pipeline.py``) lists the sources, decides what changed, reads the
embedding cache and alone writes the store, the cache and the new generation. Folder sources
(``files``, ``markdown``) are read, parsed, chunked and encoded on Ray, one Dataset per source
(``ingest/ray_stages.py``); the vectors wait in ``ready`` for the driver's ``encode`` calls.
Sources parsed in a stream on the driver (Stack Exchange dumps, git, MediaWiki, APIs) send
only the texts the driver would have encoded: ``ray.data.from_items(...).map_batches(
EncoderActor, ...)`` with an actor pool whose actors load the configured encoder once each.
The cluster is joined (or started) at the first thing to send, so a run with nothing to read
starts none. Actors Ray restarted after their worker died are counted (``workers_restarted``).

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
        from .ray_stages import _reborn

        self.embedder = factory()
        self.with_tokens = with_tokens
        self.reborn = _reborn()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        texts = [str(t) for t in batch["text"]]
        out: dict[str, Any] = {"i": batch["i"], "reborn": [self.reborn] * len(texts)}
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
    full: Settings | None = None  # the whole config, for sources read on Ray (None: read on the driver)
    address: str = "local"
    started: bool = False  # this process started the cluster (address "local"): shut it down
    texts_sent: int = field(default=0)
    executor: str = "ray"  # for the run record
    ready: dict[str, np.ndarray] = field(default_factory=dict)  # text -> vector from the Ray stages
    ready_tokens: dict[str, Any] = field(default_factory=dict)  # text -> (token vectors, spans)
    restarts: set[tuple[str, int]] = field(default_factory=set)  # (stage, pid) of restarted actors

    @property
    def workers_restarted(self) -> int:
        return len(self.restarts)

    def note_restarts(self, *seen: tuple[str, int]) -> None:
        self.restarts.update(x for x in seen if x[1])

    def ray_reader(self, source: Any, prepare: Any, old: dict[str, str], with_tokens: bool,
                   with_sentences: bool) -> Any:
        """A ``RayReading`` for a folder source when the config is known, else None (the
        driver reads the source and sends only texts to encode)."""
        from .ray_stages import RayReading
        from .sources.files_common import ListedFolder

        if self.full is None or not isinstance(source, ListedFolder):
            return None
        return RayReading(self, source, prepare, old, with_tokens, with_sentences)

    def connect(self) -> Any:
        """The ``ray`` module with this process joined to (or running) the cluster."""
        ray = require_ray()
        if not ray.is_initialized():
            if self.address == "local":
                cpus = max(1, round(self.settings.num_workers * self.settings.cpus_per_worker))
                ray.init(address="local", num_cpus=cpus, include_dashboard=False,
                         log_to_driver=False, configure_logging=False)
            else:
                ray.init(address=self.address, log_to_driver=False)
            self.started = True
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.execution_options.preserve_order = True  # chunk ids in the local path's order
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-job plan lines on stderr
        return ray

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
        """Vectors the Ray stages made already, the others from a Ray job of their own."""
        vecs = np.zeros((len(texts), self.dim), dtype="float32")
        toks: list[Any] = [None] * len(texts) if with_tokens else []
        missing: list[int] = []
        for i, t in enumerate(texts):
            if t in self.ready and (not with_tokens or t in self.ready_tokens):
                vecs[i] = self.ready[t]
                if with_tokens:
                    toks[i] = self.ready_tokens[t]
            else:
                missing.append(i)
        self.texts_sent += len(texts) - len(missing)
        if missing:
            more, more_toks = self._job([texts[i] for i in missing], with_tokens)
            vecs[missing] = more
            for i, tok in zip(missing, more_toks, strict=False):
                toks[i] = tok
        return vecs, toks

    def _job(self, texts: list[str], with_tokens: bool) -> tuple[np.ndarray, list[Any]]:
        ray = self.connect()
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
            self.note_restarts(*(("encode", int(r)) for r in batch["reborn"]))
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
                 address: str | None = None, full: Settings | None = None) -> RayEmbedder:
    """Wrap ``local`` for the Ray cluster at ``address`` (joined, or for "local" started, when
    there is something to send). ``full``: the whole config, so folder sources are read on Ray.

    Raises ``RayMissing`` before anything is written when the extra is not installed.
    """
    require_ray()
    return RayEmbedder(local, factory, settings, full=full, address=address or settings.address or "local")
