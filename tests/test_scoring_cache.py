"""The persistent score cache: hits, misses, key changes, no model load on a full hit, corrupt parts."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from scoring_helpers import detoxify_scorer, record_texts

from toolkit.scoring import DetoxifyScorer, ScoreCache, score_frame, text_hash
from toolkit.scoring.cache import default_cache_dir, identity_key

if TYPE_CHECKING:
    from scoring_fixtures import TinyDetoxify

pytest_plugins = ["scoring_fixtures"]

LABELS = ["toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack"]


def _detoxify(tiny: TinyDetoxify, cache: Path, other: bool = False) -> DetoxifyScorer:
    return detoxify_scorer(checkpoint=tiny.other_checkpoint if other else tiny.checkpoint, cache_dir=cache)


def test_second_run_hits_and_loads_nothing(
    tiny_detoxify: TinyDetoxify, comments: pl.DataFrame, tmp_path: Path
) -> None:
    first = score_frame(comments, _detoxify(tiny_detoxify, tmp_path), cache_dir=tmp_path)
    assert (first.report.cache_hits, first.report.cache_misses, first.report.model_loaded) == (0, 4, True)

    again = _detoxify(tiny_detoxify, tmp_path)
    second = score_frame(comments, again, cache_dir=tmp_path)
    assert (second.report.cache_hits, second.report.cache_misses) == (4, 0)
    assert second.report.model_loaded is False
    assert again.model is None and again.loads == 0
    assert second.frame.equals(first.frame)


def test_partial_hit_scores_only_new_texts(
    tiny_detoxify: TinyDetoxify, comments: pl.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    score_frame(comments, _detoxify(tiny_detoxify, tmp_path), cache_dir=tmp_path)
    scorer = _detoxify(tiny_detoxify, tmp_path)
    seen = record_texts(scorer, monkeypatch)
    more = pl.concat([comments, pl.DataFrame({"comment_id": ["new"], "text": ["a brand new comment"]})])
    result = score_frame(more, scorer, cache_dir=tmp_path)
    assert seen == ["a brand new comment"]
    assert (result.report.cache_hits, result.report.cache_misses) == (4, 1)
    assert result.frame["toxicity"][-1] is not None


def test_key_changes_with_the_weights(
    tiny_detoxify: TinyDetoxify, comments: pl.DataFrame, tmp_path: Path
) -> None:
    first = score_frame(comments, _detoxify(tiny_detoxify, tmp_path), cache_dir=tmp_path)
    other = score_frame(comments, _detoxify(tiny_detoxify, tmp_path, other=True), cache_dir=tmp_path)
    assert other.report.cache_misses == 4 and other.report.model_loaded
    assert other.report.extra["cache_key"] != first.report.extra["cache_key"]
    assert other.report.identity["weights"] != first.report.identity["weights"]
    assert other.frame["toxicity"].to_list() != first.frame["toxicity"].to_list()
    keys = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert keys == sorted([first.report.extra["cache_key"], other.report.extra["cache_key"]])


def test_layout_and_identity_file(
    tiny_detoxify: TinyDetoxify, comments: pl.DataFrame, tmp_path: Path
) -> None:
    result = score_frame(comments, _detoxify(tiny_detoxify, tmp_path), cache_dir=tmp_path)
    key_dir = tmp_path / result.report.extra["cache_key"]
    parts = list(key_dir.glob("part-*.parquet"))
    assert len(parts) == 1 and not list(key_dir.glob(".*"))  # no temporary files left behind
    table = pl.read_parquet(parts[0])
    assert table.columns == ["text_hash", *LABELS]
    assert sorted(table["text_hash"]) == sorted(
        text_hash(t) for t in ["hello world", "you are an idiot", "", "fine"]
    )
    identity = json.loads((key_dir / "identity.json").read_text())
    assert identity["identity"] == result.report.identity and identity["labels"] == LABELS
    assert identity["key"] == identity_key(result.report.identity) == key_dir.name


def test_corrupt_part_is_quarantined_and_rescored(
    tiny_detoxify: TinyDetoxify, comments: pl.DataFrame, tmp_path: Path
) -> None:
    first = score_frame(comments, _detoxify(tiny_detoxify, tmp_path), cache_dir=tmp_path)
    key_dir = tmp_path / first.report.extra["cache_key"]
    (part,) = key_dir.glob("part-*.parquet")
    data = part.read_bytes()
    part.write_bytes(data[: len(data) // 2])  # a truncated file, as after a crash without atomic rename

    with pytest.warns(RuntimeWarning, match="unreadable part file"):
        second = score_frame(comments, _detoxify(tiny_detoxify, tmp_path), cache_dir=tmp_path)
    assert (second.report.cache_hits, second.report.cache_misses) == (0, 4)
    assert len(second.report.extra["quarantined"]) == 1
    assert [p.name.split(".")[0] for p in (key_dir / "quarantine").iterdir()] == [part.stem]
    assert second.frame.equals(first.frame)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = score_frame(comments, _detoxify(tiny_detoxify, tmp_path), cache_dir=tmp_path)
    assert third.report.cache_hits == 4


def test_part_missing_a_label_is_quarantined(tmp_path: Path) -> None:
    cache = ScoreCache(tmp_path, {"name": "x", "model": "m"}, ["toxicity", "insult"])
    cache.dir.mkdir(parents=True)
    pl.DataFrame({"text_hash": ["h"], "toxicity": [0.5]}).write_parquet(cache.dir / "part-old.parquet")
    with pytest.warns(RuntimeWarning, match="missing columns"):
        assert cache.lookup(["h"]).height == 0


def test_cache_roundtrip_and_duplicates_across_parts(tmp_path: Path) -> None:
    cache = ScoreCache(tmp_path, {"name": "x", "model": "m", "weights": "w"}, ["toxicity"])
    assert cache.lookup(["a"]).height == 0  # no directory yet
    cache.write(pl.DataFrame({"text_hash": ["a", "b"], "toxicity": [0.1, 0.2]}))
    cache.write(pl.DataFrame({"text_hash": ["b", "c"], "toxicity": [0.2, 0.3]}))  # a concurrent writer
    found = cache.lookup(["a", "b", "zzz"]).sort("text_hash")
    assert found.to_dict(as_series=False) == {"text_hash": ["a", "b"], "toxicity": [0.1, 0.2]}
    assert cache.write(pl.DataFrame({"text_hash": [], "toxicity": []})) is None


def test_use_cache_false_writes_nothing(
    tiny_detoxify: TinyDetoxify, comments: pl.DataFrame, tmp_path: Path
) -> None:
    cache_dir = tmp_path / "cache"
    result = score_frame(
        comments, "detoxify", checkpoint=tiny_detoxify.checkpoint, cache_dir=cache_dir, use_cache=False
    )
    assert result.report.cache_misses == 4 and result.report.extra["cache_key"] is None
    assert not cache_dir.exists()  # not even the checkpoint-hash memo


def test_default_cache_dir_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    monkeypatch.delenv("TOOLKIT_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "toolkit" / "scores"


def test_cached_rerun_imports_no_model_code(tiny_detoxify: TinyDetoxify, tmp_path: Path) -> None:
    """A fully cached run never imports torch/transformers/detoxify (fast reruns)."""
    frame = pl.DataFrame({"text": ["hello world", None, "fine"]})
    frame.write_parquet(tmp_path / "frame.parquet")
    score_frame(frame, "detoxify", checkpoint=tiny_detoxify.checkpoint, cache_dir=tmp_path / "c")
    program = textwrap.dedent(
        f"""
        import sys
        import polars as pl
        from toolkit.scoring import score_frame
        frame = pl.read_parquet({str(tmp_path / "frame.parquet")!r})
        result = score_frame(frame, "detoxify", checkpoint={str(tiny_detoxify.checkpoint)!r},
                             cache_dir={str(tmp_path / "c")!r})
        assert result.report.cache_hits == 2 and not result.report.model_loaded, result.report
        heavy = sorted(m for m in ("torch", "transformers", "detoxify", "profanity_check") if m in sys.modules)
        print("HEAVY", heavy)
        """
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"model": "unbiased"}, "detoxify-unbiased-fa8d750363970a1d"),
        ({"long_text": "chunk", "chunk_overlap": 32}, "detoxify-original-301b7dc9b520cb01"),
        ({"model": "multilingual", "precision": "bf16", "batch_size": 8}, "detoxify-multilingual-1c37bb60d8e692d2"),
    ],
)
def test_cache_keys_are_stable(options: dict[str, object], key: str, tmp_path: Path) -> None:
    """Keys written by earlier versions: a user's existing cache must keep hitting (batching is not in them)."""
    assert identity_key(detoxify_scorer(cache_dir=tmp_path, **options).identity()) == key
