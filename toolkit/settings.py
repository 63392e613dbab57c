"""Typed settings for a run. The Hydra app registers these dataclasses in the ConfigStore (so configs are
type-checked with clear errors) and converts the composed config into them; the library sees plain objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from toolkit.analysis.registry import AnalysisParams
from toolkit.errors import ConfigError


@dataclass
class FetchSettings:
    """What to fetch and how: ``url`` (a Lemmy post, comment, community or user, a Bluesky post, a Mastodon
    status or a Hacker News item; None: fetch nothing), politeness (rate, retries, backoff, concurrency),
    paging and the API version (Lemmy), the service to ask (Bluesky's AppView, the HN API), where the token
    is (never the token itself)."""

    url: str | None = None
    rate: float = 1.0  # requests per second at most; 0 = no wait
    api: str = "v3"  # "v3" = Lemmy 0.19, "v4" = Lemmy 1.0
    limit: int = 50  # items per page (Lemmy's maximum is 50)
    modlog: bool = True  # also fetch the community's (or user's) removals and bans
    retries: int = 5  # further tries after a 429, 5xx or dropped connection
    backoff: float = 1.0  # seconds before the first retry, doubled each time
    max_wait: float = 300.0  # cap on any one wait (backoff or Retry-After)
    timeout: float = 30.0  # seconds per request
    token_env: str | None = None  # environment variable holding a token (None: LEMMY_JWT, MASTODON_TOKEN)
    service: str | None = None  # Bluesky AppView / HN API base URL (None: the public one)
    concurrency: int = 4  # requests in flight at once where a fetcher asks many (Hacker News items)

    def __post_init__(self) -> None:
        if self.api not in ("v3", "v4"):
            raise ConfigError("fetch.api", f"unknown Lemmy API version {self.api!r}; use 'v3' (0.19) or 'v4' (1.0)")
        if not 1 <= self.limit <= 50:
            raise ConfigError("fetch.limit", f"{self.limit} items per page: Lemmy serves 1 to 50")
        if self.concurrency < 1:
            raise ConfigError("fetch.concurrency", f"must be at least 1, got {self.concurrency}")
        if self.rate < 0 or self.retries < 0:
            raise ConfigError("fetch.rate" if self.rate < 0 else "fetch.retries", "must be 0 or more (rate 0 = no wait)")


@dataclass
class DatasetSettings:
    """Where the threads come from. ``options`` go to the loader (e.g. ``post_lines``, ``encoding``).
    ``bucket_mb``: raw input per bucket of the corpus store (whole threads per bucket; memory ~ one bucket);
    ``buckets``: the number of buckets instead (null: from ``bucket_mb`` and the input size)."""

    name: str = "seed_thread"
    path: str = "data/seed_thread.txt"  # a file, a folder or a glob pattern ("archive/comments-*.json")
    format: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    strict: bool = False
    bucket_mb: int = 64
    buckets: int | None = None
    # Download first (resumable: only what is missing), into ``path``: dataset.fetch.url=https://lemmy.world/post/1
    fetch: FetchSettings = field(default_factory=FetchSettings)


@dataclass
class ScorerSettings:
    """Which scorer, and how. ``auto`` = Detoxify when its weights are available, else the embedded scorer.

    ``model``: a Detoxify model name, or for ``hf`` the local model directory. Engine (detoxify, hf):
    ``device`` auto|cpu|cuda|mps, ``precision`` fp32|bf16|fp16|int8, ``batch_size`` (max texts per batch),
    ``token_budget`` (max padded tokens per batch), ``threads``, ``long_text`` truncate|chunk with
    ``chunk_overlap`` tokens and ``chunk_aggregate`` max|mean, ``progress`` (null: only on a terminal).
    ``activation`` (hf): auto|sigmoid|softmax|none. ``columns`` (column): {label: source column}.
    ``flush_every``: texts per cache part file while scoring. ``shard``/``num_shards``: score one slice of
    the texts into the cache and skip the analyses (a later run without a shard merges from the cache).
    ``calibration``: a calibration file (``+experiment=calibrate_scorer`` writes ``calibration/<label>.json``)
    applied after the cache: the label's column becomes the calibrated score, ``<label>_raw`` keeps the raw one.

    LLM judge (``llm``): ``base_url`` of an OpenAI-compatible server (``.../v1``), ``model`` as it serves it,
    ``prompt`` (a bundled prompt's name or a file), ``labels`` (one yes/no question each; ``questions``
    overrides the bundled ones), ``concurrency`` (requests in flight), ``api_key_env`` (the environment
    variable holding the key: the key itself is never in a setting), ``allow_parsed`` (accept a parsed yes/no
    as 0/1 where the server gives no log-probabilities), ``seed``, ``top_logprobs``, and the client's
    ``timeout`` (seconds per request), ``retries`` and ``backoff`` / ``max_wait`` (seconds).

    The one definition of every scorer option: ``toolkit.scoring`` takes it whole (``score_frame``,
    ``make_scorer``, the backends); its values are checked where they are used (``scorer.<field>`` errors).

    >>> ScorerSettings(name="detoxify", precision="bf16").batch_size
    256
    """

    name: str = "auto"
    model: str = "original"
    checkpoint: str | None = None
    hf_config_path: str | None = None
    device: str = "auto"
    precision: str = "fp32"
    batch_size: int = 256
    token_budget: int = 8192
    threads: int | None = None
    long_text: str = "truncate"
    chunk_overlap: int = 64
    chunk_aggregate: str = "max"
    activation: str = "auto"
    columns: dict[str, str] = field(default_factory=dict)
    progress: bool | None = None
    flush_every: int = 1024
    shard: int | None = None
    num_shards: int | None = None
    cache_dir: str | None = None
    use_cache: bool = True
    base_url: str | None = None
    prompt: str = "judge"
    labels: list[str] = field(default_factory=lambda: ["toxicity"])
    questions: dict[str, str] = field(default_factory=dict)
    concurrency: int = 8
    api_key_env: str = "OPENAI_API_KEY"
    allow_parsed: bool = False
    seed: int = 0
    top_logprobs: int = 20
    timeout: float = 60.0
    retries: int = 5
    backoff: float = 0.5
    max_wait: float = 60.0
    calibration: str | None = None


@dataclass
class AnalysisSettings:
    """Which analyses run, on which score column, with which statistical settings and options."""

    run: list[str] = field(
        default_factory=lambda: ["depth_profile", "removal_context", "score_distribution", "thread_view"]
    )
    label: str = "toxicity"
    threshold: float = 0.5
    n_boot: int = 1000
    seed: int = 0
    params: AnalysisParams = field(default_factory=AnalysisParams)


@dataclass
class PlotSettings:
    """How figures look: a shipped style name or a matplotlib style path, width, formats, resolution."""

    style: str = "paper"
    width: str = "single"
    formats: list[str] = field(default_factory=lambda: ["png", "pdf"])
    dpi: int = 300


@dataclass
class MapSettings:
    """One map step of a corpus run, for a Hydra multirun (joblib locally, SLURM on a cluster): job ``part``
    of ``parts`` does every ``parts``-th unit of the step. ``step=ingest``: read input paths (a glob's files)
    into the corpus store; ``step=buckets``: build the threads of store buckets and score them into the cache;
    ``step=all`` (default): whatever is left, then the analyses (the reduce run: it scores only what no map
    job scored).

    >>> MapSettings(step="buckets", part=1, parts=4).mine(10)
    [1, 5, 9]
    """

    step: str = "all"
    part: int = 0
    parts: int = 1

    def mine(self, n: int) -> list[int]:
        """The units (of ``n``) this job does."""
        return list(range(self.part, n, self.parts))


@dataclass
class RunSettings:
    """A whole experiment."""

    experiment: str = "demo"
    dataset: DatasetSettings = field(default_factory=DatasetSettings)
    scorer: ScorerSettings = field(default_factory=ScorerSettings)
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    plot: PlotSettings = field(default_factory=PlotSettings)
    map: MapSettings = field(default_factory=MapSettings)
    # Further scorers whose columns join the main scorer's in the same frame, e.g. [politeness] for civility
    # analyses beside toxicity; each a name or {name: ..., model: ...}. They share scorer.cache_dir, use_cache
    # and the shard settings; a label already written by an earlier scorer is an error.
    extra_scorers: list[Any] = field(default_factory=list)
