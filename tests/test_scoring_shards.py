"""Sharded scoring: deterministic slices by text hash, shard runs that only fill the cache, a 2-shard Hydra
multirun with the joblib launcher, and the merge run that finds everything in the cache.

Exactness: scores of one text can differ in the last float bits with the batch it was padded into and the
number of threads. The multirun test pins ``batch_size=1`` and ``threads=1`` in every run so that "the same
scores as a single-process run" can be checked bit for bit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
import torch
from helpers import COMMENTS, REPO, compose_settings, shard_overrides, thread_file

from toolkit.pipeline import run_experiment
from toolkit.scoring import score_frame, shard_of, text_hash

if TYPE_CHECKING:
    from scoring_fixtures import TinyDetoxify

pytest_plugins = ["scoring_fixtures"]

def test_shard_of_is_a_partition() -> None:
    hashes = [text_hash(f"text {i}") for i in range(3000)]
    for n in (1, 2, 5):
        shards = [shard_of(h, n) for h in hashes]
        assert set(shards) == set(range(n))
        counts = [shards.count(i) for i in range(n)]
        assert min(counts) > 0.8 * len(hashes) / n  # evenly spread
    assert [shard_of(h, 5) for h in hashes] == [shard_of(h, 5) for h in hashes]


def test_shard_runs_fill_the_cache_then_merge(tiny_detoxify: TinyDetoxify, tmp_path: Path) -> None:
    frame = pl.DataFrame({"text": [*COMMENTS, None]})
    options = {"checkpoint": tiny_detoxify.checkpoint, "cache_dir": tmp_path}
    distinct = {t for t in COMMENTS}
    runs = [score_frame(frame, "detoxify", shard=i, num_shards=3, **options) for i in range(3)]
    assert sum(r.report.cache_misses for r in runs) == len(distinct)
    for i, run in enumerate(runs):
        mine = {t for t in distinct if shard_of(text_hash(t), 3) == i}
        assert run.report.extra["shard"]["selected"] == len(mine) == run.report.cache_misses
        scored = set(run.frame.filter(pl.col("toxicity").is_not_null())["text"].to_list())
        assert mine <= scored  # and earlier shards' texts, now in the cache
    merged = score_frame(frame, "detoxify", **options)
    assert (merged.report.cache_hits, merged.report.cache_misses, merged.report.model_loaded) == (
        len(distinct), 0, False)
    assert merged.frame["toxicity"].null_count() == 1
    with pytest.raises(ValueError, match="both scorer.shard"):
        score_frame(frame, "detoxify", shard=0, **options)
    with pytest.raises(ValueError, match="must be in 0..num_shards-1"):
        score_frame(frame, "detoxify", shard=2, num_shards=2, **options)


@pytest.mark.slow
def test_joblib_multirun_then_merge_equals_single_run(tiny_detoxify: TinyDetoxify, tmp_path: Path) -> None:
    """``toolkit -m hydra/launcher=joblib scorer.shard=0,1 scorer.num_shards=2``, then a run with no shard:
    exactly the scores of one single-process run (a separate cache)."""
    thread = thread_file(tmp_path)
    overrides = shard_overrides(tiny_detoxify, thread)
    env = {**os.environ, "TOOLKIT_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    sweep = tmp_path / "sweep"
    result = subprocess.run(
        [sys.executable, "-m", "toolkit.cli.app", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
         *overrides, "scorer.shard=0,1", "scorer.num_shards=2", f"hydra.sweep.dir={sweep}"],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    manifests = [json.loads((sweep / str(i) / "manifest.json").read_text()) for i in range(2)]
    distinct = len(set(COMMENTS)) + 1  # and the post (title + body)
    assert sum(m["scorer"]["cache_misses"] for m in manifests) == distinct
    for i, manifest in enumerate(manifests):
        assert manifest["partial"] is True and manifest["scorer"]["extra"]["shard"]["shard"] == i
        assert not (sweep / str(i) / "comments.parquet").exists()  # no analyses on a slice
        assert not (sweep / str(i) / "figures").exists()

    threads = torch.get_num_threads()
    try:
        merge = run_experiment(compose_settings([*overrides, f"scorer.cache_dir={tmp_path / 'cache'}"]), tmp_path / "merge")
        single = run_experiment(compose_settings([*overrides, f"scorer.cache_dir={tmp_path / 'single-cache'}"]),
                                tmp_path / "single")
    finally:
        torch.set_num_threads(threads)
    assert (merge["scorer"]["cache_misses"], merge["scorer"]["model_loaded"]) == (0, False)
    assert merge["scorer"]["cache_hits"] == distinct and "partial" not in merge
    assert single["scorer"]["cache_misses"] == distinct
    merged = pl.read_parquet(tmp_path / "merge" / "comments.parquet")
    alone = pl.read_parquet(tmp_path / "single" / "comments.parquet")
    labels = merge["scorer"]["labels"]
    assert merged.height == len(COMMENTS) + 1
    assert merged.select(labels).equals(alone.select(labels))  # bit for bit
    assert (tmp_path / "merge" / "figures" / "score_distribution.png").exists()
