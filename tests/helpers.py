"""Helpers shared by several test modules (test modules never import each other): repository paths, the one
way tests compose the Hydra config, and the small corpora of the sharding and map-step tests."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from toolkit.cli.app import CONFIG_DIR, to_settings
from toolkit.settings import RunSettings

if TYPE_CHECKING:
    from scoring_fixtures import TinyDetoxify

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------- Hydra


def compose_config(overrides: Iterable[str] = (), config_dir: str | Path = CONFIG_DIR) -> DictConfig:
    """The app's config as ``toolkit OVERRIDES...`` composes it (``hydra.compose``, no run directory)."""
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def compose_settings(overrides: Iterable[str] = (), config_dir: str | Path = CONFIG_DIR) -> RunSettings:
    """The typed settings of :func:`compose_config`, as the app hands them to the pipeline."""
    return to_settings(compose_config(overrides, config_dir))


#: A fast experiment run: fewer bootstrap replicates, PNG only at low resolution.
FAST = ["analysis.n_boot=200", "plot.formats=[png]", "plot.dpi=60"]


def experiment_settings(experiment: str, *overrides: str) -> RunSettings:
    """An experiment's settings, run fast; where it leaves the scorer to ``auto``, the embedded profanity
    scorer (offline)."""
    cfg = compose_config([f"+experiment={experiment}", *FAST, *overrides])
    if cfg.scorer.name == "auto":
        cfg = compose_config([f"+experiment={experiment}", "scorer=profanity", *FAST, *overrides])
    return to_settings(cfg)


# ---------------------------------------------------------- one thread scored in shards (shards, SLURM)

COMMENTS = [
    "you are an idiot", "what a great point, thanks", "this is wrong and you know it", "lovely day",
    "people like you ruin everything", "I agree with most of this", "source?", "no", "absolutely not",
    "thank you for sharing", "this thread is a mess", "you are an idiot",  # a duplicate
    "nobody asked", "good luck with that", "the study says otherwise", "ok", "stop it", "fair enough",
]


def thread_file(tmp_path: Path) -> Path:
    """A text thread: a title, a post body and :data:`COMMENTS`."""
    path = tmp_path / "thread.txt"
    path.write_text("A title\nThe post body.\n" + "\n".join(COMMENTS) + "\n", encoding="utf-8")
    return path


def shard_overrides(tiny: TinyDetoxify, thread: Path) -> list[str]:
    """The thread scored by the tiny Detoxify with bit-exact settings (batch 1, one thread)."""
    return [
        "scorer=detoxify", f"scorer.checkpoint={tiny.checkpoint}", f"scorer.hf_config_path={tiny.config_dir}",
        f"dataset.path={thread}", "dataset.options.post_lines=2", "scorer.batch_size=1", "scorer.threads=1",
        "analysis.run=[score_distribution]", "plot.formats=[png]",
    ]


# ------------------------------------------------------------- two monthly dumps in map steps (map, SLURM)


def _comment(cid: str, link: str, parent: str | None, body: str, **fields: object) -> str:
    record = {"id": cid, "link_id": f"t3_{link}", "parent_id": parent or f"t3_{link}", "body": body,
              "author": f"user_{cid}", "created_utc": 1_420_070_400 + len(cid) * 60, "score": 1,
              "subreddit": "science", **fields}
    return json.dumps(record) + "\n"


def monthly_dumps(folder: Path) -> str:
    """Two monthly comment dumps; returns their glob pattern.

    They hold 4 threads; thread p1 spans both months and comment a1 has a newer version in the second month,
    so a thread is whole only once both files are read, and the older a1 is a reject that names the file of
    the newer one.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "RC_2015-01.ndjson").write_text(
        _comment("a1", "p1", None, "first in p1", retrieved_on=10) + _comment("a2", "p1", "t1_a1", "a reply")
        + _comment("b1", "p2", None, "p2 opens") + _comment("c1", "p3", None, "p3 opens"))
    (folder / "RC_2015-02.ndjson").write_text(
        _comment("a3", "p1", "t1_a2", "a late reply") + _comment("a1", "p1", None, "first in p1, edited",
                                                                retrieved_on=20)
        + _comment("b2", "p2", "t1_b1", "p2 answered") + _comment("d1", "p4", None, "p4 opens"))
    return str(folder / "RC_2015-*.ndjson")


def map_overrides(tiny: TinyDetoxify, pattern: str) -> list[str]:
    """The dumps, 3 buckets, the tiny Detoxify with bit-exact settings (batch 1, one thread)."""
    return ["dataset=reddit_dump", f"dataset.path={pattern}", "dataset.buckets=3", "scorer=detoxify",
            f"scorer.checkpoint={tiny.checkpoint}", f"scorer.hf_config_path={tiny.config_dir}", "scorer.batch_size=1",
            "scorer.threads=1", "analysis.run=[depth_profile]", "plot.formats=[png]"]


def reduce_and_single(overrides: list[str], cache: Path, tmp_path: Path) -> tuple[dict, dict]:
    """The reduce run on the map steps' cache, and a one-process run with a cache of its own (manifests)."""
    import torch

    from toolkit.pipeline import run_experiment

    threads = torch.get_num_threads()
    try:
        reduced = run_experiment(compose_settings([*overrides, f"scorer.cache_dir={cache}"]), tmp_path / "reduce")
        single = run_experiment(compose_settings([*overrides, f"scorer.cache_dir={tmp_path / 'single-cache'}"]),
                                tmp_path / "single")
    finally:
        torch.set_num_threads(threads)
    assert pl.read_parquet(tmp_path / "reduce" / "comments.parquet").equals(
        pl.read_parquet(tmp_path / "single" / "comments.parquet"))  # scores bit for bit
    return reduced, single
