"""Typed settings for a run. The Hydra app registers these dataclasses in the ConfigStore (so configs are
type-checked with clear errors) and converts the composed config into them; the library sees plain objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DatasetSettings:
    """Where the threads come from. ``options`` go to the loader (e.g. ``post_lines``, ``encoding``)."""

    name: str = "seed_thread"
    path: str = "data/seed_thread.txt"
    format: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    strict: bool = False


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


@dataclass
class AnalysisSettings:
    """Which analyses run, on which score column, with which statistical settings."""

    run: list[str] = field(
        default_factory=lambda: ["depth_profile", "removal_context", "score_distribution", "thread_view"]
    )
    label: str = "toxicity"
    threshold: float = 0.5
    n_boot: int = 1000
    seed: int = 0
    # per-analysis options, e.g. {depth_profile: {depth_bins: [1, 2, 4]}, thread_view: {thread_id: abc}}
    params: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class PlotSettings:
    """How figures look: a shipped style name or a matplotlib style path, width, formats, resolution."""

    style: str = "paper"
    width: str = "single"
    formats: list[str] = field(default_factory=lambda: ["png", "pdf"])
    dpi: int = 300


@dataclass
class RunSettings:
    """A whole experiment."""

    experiment: str = "demo"
    dataset: DatasetSettings = field(default_factory=DatasetSettings)
    scorer: ScorerSettings = field(default_factory=ScorerSettings)
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    plot: PlotSettings = field(default_factory=PlotSettings)
