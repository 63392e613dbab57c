"""A corpus run split into map steps (``MapSettings``): ingest per input file, build and score per bucket, then
a reduce run that scores nothing and loads no model, with the joblib launcher here (tests/test_slurm.py runs
the same steps on a SLURM cluster).

The two monthly dump files (``helpers.monthly_dumps``) hold 4 threads; thread p1 spans both months and comment a1 has a newer version
in the second month, so a thread is whole only once both files are read, and the older a1 is a reject that
names the file of the newer one.
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
from helpers import REPO, compose_settings, map_overrides, monthly_dumps, reduce_and_single

from toolkit.errors import ConfigError
from toolkit.pipeline import run_experiment
from toolkit.settings import DatasetSettings
from toolkit.store import CorpusSource, bucket_of, open_corpus

if TYPE_CHECKING:
    from scoring_fixtures import TinyDetoxify

pytest_plugins = ["scoring_fixtures"]


def test_units_ingested_apart_give_the_one_process_store(tmp_path: Path) -> None:
    pattern = monthly_dumps(tmp_path / "dumps")
    dataset = DatasetSettings(path=pattern, format="reddit_dump", options={"submissions": None}, buckets=3)
    apart = CorpusSource.of(dataset, Path(pattern), tmp_path / "cache-apart")
    assert [p.name for p in apart.units] == ["RC_2015-01.ndjson", "RC_2015-02.ndjson"]
    with pytest.raises(ConfigError, match=r"input units \[0, 1\] of 2 .* map.step=ingest"):
        apart.build.bucket_numbers()
    apart.ingest(1)  # the jobs may finish in any order
    apart.ingest(0)
    for bucket in apart.build.bucket_numbers():
        apart.finish_bucket(bucket)
    store = apart.store()
    whole = open_corpus(dataset, Path(pattern), tmp_path / "cache-whole")

    assert (store.meta["rows"], store.meta["threads"], store.meta["duplicates"]) == (7, 4, 0)
    assert store.meta["loader_stats"]["duplicates"] == 1 and store.meta["loader_stats"]["rows_kept"] == 7
    assert store.meta["loader_stats"]["files"] == [str(p) for p in apart.units]
    rejects = store.table("rejects")
    assert rejects.select("line", "field").rows() == [(1, "id")]
    assert rejects["file"][0].endswith("RC_2015-01.ndjson")
    assert rejects["reason"][0].endswith("superseded by the newer version at line 2 of RC_2015-02.ndjson")
    frame = store.frame().sort("source_position")
    # one stream: the second file's rows come after the first's (file 1 has 4 lines)
    assert frame["comment_id"].to_list() == ["a2", "b1", "c1", "a3", "a1", "b2", "d1"]
    assert frame["source_position"].n_unique() == 7
    assert frame.filter(pl.col("comment_id") == "a3")["reply_depth"].item() == 3
    assert store.frame().sort("comment_id").equals(whole.frame().sort("comment_id"))
    assert store.table("rejects").equals(whole.table("rejects"))
    assert not apart.build.root.exists()  # sealed: the build was renamed into the store


@pytest.mark.slow
def test_joblib_map_steps_then_reduce_equals_one_run(tiny_detoxify: TinyDetoxify, tmp_path: Path) -> None:
    """``-m hydra/launcher=joblib map.step=ingest`` then ``map.step=buckets`` (2 jobs each), then the reduce
    run: no text scored, no model loaded, the same comments and tables as one process with its own cache."""
    pattern = monthly_dumps(tmp_path / "dumps")
    overrides = map_overrides(tiny_detoxify, pattern)
    cache = tmp_path / "cache"
    env = {**os.environ, "TOOLKIT_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)}
    for step in ("ingest", "buckets"):
        result = subprocess.run(
            [sys.executable, "-m", "toolkit.cli.app", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
             *overrides, f"map.step={step}", "map.parts=2", "map.part=0,1", f"hydra.sweep.dir={tmp_path / step}"],
            capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"map.step={step} part 1 of 2" in result.stdout
    ingested = [json.loads((tmp_path / "ingest" / str(i) / "manifest.json").read_text()) for i in range(2)]
    assert [(m["partial"], m["counts"]["units"], m["counts"]["rows_in"]) for m in ingested] == [
        (True, [0], 4), (True, [1], 4)]
    built = [json.loads((tmp_path / "buckets" / str(i) / "manifest.json").read_text()) for i in range(2)]
    assert sum(m["counts"]["rows"] for m in built) == 7
    assert sum(m["scorer"]["cache_misses"] for m in built) == 7  # 7 distinct texts, each scored once
    assert all(m["scorer"]["model_loaded"] for m in built)

    reduced, single = reduce_and_single(overrides, cache, tmp_path)
    sc = reduced["scorer"]
    assert (sc["cache_hits"], sc["cache_misses"], sc["model_loaded"]) == (7, 0, False)
    assert reduced["counts"]["rows_kept"] == 7 and reduced["counts"]["rows_rejected"] == 1
    assert single["scorer"]["cache_misses"] == 7
    comments = pl.read_parquet(tmp_path / "reduce" / "comments.parquet")
    filled = sorted(set(bucket_of(comments["thread_id"], 3).to_list()))  # the buckets some thread went to
    assert sorted(b for m in built for b in m["counts"]["buckets"]) == filled
    for table in ("depth_profile", "toxicity_by_position"):
        assert pl.read_csv(tmp_path / "reduce" / "tables" / f"{table}.csv").equals(
            pl.read_csv(tmp_path / "single" / "tables" / f"{table}.csv"))


@pytest.mark.slow
def test_map_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="map.step: unknown step 'reduce'"):
        run_experiment(compose_settings(["map.step=reduce"]), tmp_path / "a")
    with pytest.raises(ConfigError, match=r"map.part: must be in 0..map.parts-1 \(map.parts=2\), got 2"):
        run_experiment(compose_settings(["map.step=ingest", "map.part=2", "map.parts=2"]), tmp_path / "b")
    with pytest.raises(ConfigError, match="leave scorer.shard unset"):
        run_experiment(compose_settings(["map.step=buckets", "scorer.shard=0", "scorer.num_shards=2"]), tmp_path / "c")
    with pytest.raises(ConfigError, match="map.step: jobs of a map step would fetch into one archive at once"):
        run_experiment(compose_settings(["map.step=ingest", "dataset.fetch.url=https://lemmy.world/post/1"]), tmp_path / "d")
