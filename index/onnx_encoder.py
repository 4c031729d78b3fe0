"""The ONNX Runtime encoder backends: ``onnx`` (fp32) and ``onnx-int8`` (dynamically quantised).

The ONNX files are exported locally from the sentence-transformers model folder the first time
a backend is used and kept in a cache folder; nothing is downloaded. The export is a torch
trace of the Transformer with its pooling in the graph; ``onnx-int8`` then quantises the weights
of every MatMul with a constant operand (per channel, int8), as
``sentence_transformers.backend.export_dynamic_quantized_onnx_model`` does through optimum.
optimum is not used because its ONNX package pins transformers < 4.58.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .token_vectors import Tokens, trimmed

# bump when the export recipe changes: old exports are then rebuilt (2: token vectors as an output)
EXPORT_VERSION = 2
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "whoknows" / "models"


def _require_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as e:
        raise RuntimeError(
            "the onnx backends need ONNX Runtime: pip install onnxruntime==1.32.0 onnx==1.23.2 "
            "(or set [embedding] backend = \"torch\")"
        ) from e
    return onnxruntime


def _pooling_mode(model_dir: Path) -> str:
    """'mean' or 'cls', from the sentence-transformers pooling config."""
    modules = model_dir / "modules.json"
    if modules.exists():
        for m in json.loads(modules.read_text()):
            if m.get("type", "").endswith("Pooling"):
                cfg = json.loads((model_dir / m["path"] / "config.json").read_text())
                if cfg.get("pooling_mode_cls_token"):
                    return "cls"
                if cfg.get("pooling_mode_mean_tokens"):
                    return "mean"
                raise RuntimeError(f"{model_dir}: the onnx backends support mean or CLS pooling only")
    return "mean"


def max_seq_length(model_dir: Path) -> int:
    cfg = model_dir / "sentence_bert_config.json"
    if cfg.exists():
        return int(json.loads(cfg.read_text()).get("max_seq_length") or 512)
    return 512


def _fingerprint(model_dir: Path) -> dict[str, Any]:
    """What the export depends on; a changed model folder or recipe means a new export."""
    files = sorted(p for p in model_dir.iterdir() if p.suffix in (".safetensors", ".bin", ".json"))
    return {"source": str(model_dir.resolve()), "recipe": EXPORT_VERSION,
            "files": {p.name: p.stat().st_size for p in files}}


def _export_fp32(model_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    pooling = _pooling_mode(model_dir)
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))

    class Pooled(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            if pooling == "cls":
                return hidden[:, 0], hidden
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), hidden

    # a padded example, so the traced graph keeps the attention-mask path
    example = tokenizer(["a short one", "a somewhat longer example sentence"], padding=True,
                        return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in _INPUTS}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(model), tuple(example[n] for n in _INPUTS), str(out),
            input_names=list(_INPUTS), output_names=["sentence_embedding", "token_embeddings"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"},
                          "token_embeddings": {0: "batch", 1: "tokens"}},
            opset_version=17, dynamo=False,
        )


def _quantise(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # only weight MatMuls (MatMulConstBOnly): quantising attention's activation x activation
    # products too costs ~0.06 of cosine to fp32 for little speed
    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"], extra_options={"MatMulConstBOnly": True})


def ensure_export(model_dir: Path, backend: str, cache_dir: Path, name: str) -> Path:
    """The folder holding ``model.onnx`` and the tokenizer for ``backend``; exported if missing."""
    _require_onnxruntime()
    target = cache_dir / f"{name}-{backend}"
    wanted = _fingerprint(model_dir)
    stamp = target / "export.json"
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-{backend}-", dir=cache_dir))
    try:
        _export_fp32(model_dir, tmp / "fp32.onnx")
        if backend == "onnx-int8":
            _quantise(tmp / "fp32.onnx", tmp / "model.onnx")
            (tmp / "fp32.onnx").unlink()
        else:
            (tmp / "fp32.onnx").rename(tmp / "model.onnx")
        shutil.copy(model_dir / "tokenizer.json", tmp / "tokenizer.json")
        (tmp / "export.json").write_text(json.dumps(wanted))
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        try:
            tmp.replace(target)
        except OSError:  # another process published the same export meanwhile
            if not (target / "export.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class OnnxEmbedder:
    """sentence-transformers model run by ONNX Runtime on the CPU.

    Texts are tokenised, sorted by token count and batched, so a batch pads to similar lengths.
    """

    def __init__(self, model_dir: Path, backend: str, model_id: str, batch_size: int,
                 threads: int, cache_dir: Path, name: str):
        ort = _require_onnxruntime()
        from tokenizers import Tokenizer

        folder = ensure_export(model_dir, backend, cache_dir, name)
        self.model_id = model_id
        self.batch_size = max(1, batch_size)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_seq_length(model_dir))
        self.tokenizer.no_padding()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or os.cpu_count() or 1
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # idle worker threads sleep instead of spinning: on a small shared machine spinning
        # steals the cores that parsing and other requests need
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(folder / "model.onnx"), opts,
                                            providers=["CPUExecutionProvider"])
        self._wanted = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.encode(["dimension probe"]).shape[1])

    def encode(self, texts: list[str]) -> np.ndarray:
        return self._run(texts, tokens=False)[0]

    def encode_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[Tokens]]:
        """``encode``'s vectors and each text's word-piece vectors, from one run."""
        return self._run(texts, tokens=True)

    def _run(self, texts: list[str], tokens: bool) -> tuple[np.ndarray, list[Tokens]]:
        if not texts:
            return np.zeros((0, getattr(self, "dim", 0)), dtype="float32"), []
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids), reverse=True)
        out: np.ndarray | None = None
        toks: list[Tokens | None] = [None] * len(texts)
        outputs = ["sentence_embedding", "token_embeddings"] if tokens else ["sentence_embedding"]
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            got = self.session.run(outputs, self._feed([encodings[i] for i in rows]))
            if out is None:
                out = np.empty((len(texts), got[0].shape[1]), dtype="float32")
            out[rows] = got[0]
            if tokens:
                for j, i in enumerate(rows):
                    n = len(encodings[i].ids)
                    toks[i] = trimmed(got[1][j, :n], encodings[i].offsets[:n])
        assert out is not None
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12), [t for t in toks if t is not None]

    def _feed(self, encodings: list[Any]) -> dict[str, np.ndarray]:
        width = max(len(e.ids) for e in encodings)
        feed = {n: np.zeros((len(encodings), width), dtype="int64") for n in _INPUTS}
        for row, e in enumerate(encodings):
            n = len(e.ids)
            feed["input_ids"][row, :n] = e.ids
            feed["attention_mask"][row, :n] = 1
            feed["token_type_ids"][row, :n] = e.type_ids
        return {k: v for k, v in feed.items() if k in self._wanted}
