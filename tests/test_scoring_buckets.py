"""score_buckets: one look-up of the cache for all buckets, each text scored once, counts exact over buckets.

The store (3 buckets) and the cache are small enough to work out by hand. ``LengthScorer`` scores a text
as its length / 10 and records what it is asked, so "scored once" is counted, not assumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest

from toolkit.errors import ScorerUnavailableError
from toolkit.scoring import ProfanityScorer, ScoreCache, ScorerFallbackWarning, buckets, text_hash
from toolkit.scoring.base import BaseScorer
from toolkit.scoring.buckets import score_buckets
from toolkit.scoring.resolve import SCORERS
from toolkit.settings import ScorerSettings

# distinct texts: apple be cat door xylophone eel fig (7); apple and xylophone are cached beforehand;
# be (buckets 0, 1) and cat (buckets 0, 2) are new and repeated: scored once each all the same.
BUCKETS = [["apple", "be", None, "cat", "apple"], ["be", "door", "door", "xylophone"],
           ["apple", "eel", "cat", "fig", None]]
CACHED = {"apple": 0.9, "xylophone": 0.8}  # not length / 10: a hit is told apart from a fresh score
SCORED = {"be": 0.2, "cat": 0.3, "door": 0.4, "eel": 0.3, "fig": 0.3}
# shard_of(text_hash(t), 2): apple 0, be 1, cat 1, door 0, xylophone 0, eel 1, fig 1


class LengthScorer(BaseScorer):
    """``toxicity`` = len(text) / 10; every text asked for is appended to ``asked``."""

    name = "length"
    asked: list[str] = []  # noqa: RUF012 - reset by the fixture, shared by the instances score_buckets builds

    def __init__(self, settings: ScorerSettings | None = None) -> None:
        self.loads = 0

    def identity(self) -> dict[str, str]:
        return {"name": self.name, "model": "len/10"}

    def labels(self) -> list[str]:
        return ["toxicity"]

    def predict(self, texts: Sequence[str]) -> dict[str, list[float]]:
        self.loads = 1
        LengthScorer.asked.extend(texts)
        return {"toxicity": [len(t) / 10 for t in texts]}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The 3 bucket files, the ``length`` scorer registered, ``apple`` and ``xylophone`` in its cache."""
    monkeypatch.setitem(SCORERS, "length", LengthScorer)
    monkeypatch.setattr(LengthScorer, "asked", [])
    paths = []
    for b, texts in enumerate(BUCKETS):
        path = tmp_path / "store" / f"bucket={b}" / "data.parquet"
        path.parent.mkdir(parents=True)
        pl.DataFrame({"text": texts}, schema={"text": pl.String}).write_parquet(path)
        paths.append(path)
    cache = ScoreCache(tmp_path / "cache", LengthScorer().identity(), ["toxicity"])
    cache.write(pl.DataFrame({"text_hash": [text_hash("apple")], "toxicity": [CACHED["apple"]]}))
    cache.write(pl.DataFrame({"text_hash": [text_hash("xylophone")], "toxicity": [CACHED["xylophone"]]}))
    return paths


def _scores(paths: list[Path]) -> list[list[float | None]]:
    return [pl.read_parquet(p)["toxicity"].to_list() for p in paths]


def _expected(scores: dict[str, float]) -> list[list[float | None]]:
    return [[None if t is None else scores.get(t) for t in texts] for texts in BUCKETS]


@pytest.mark.parametrize("partition_rows", [1_000_000, 2])  # 2: 16 rows (14 bucket rows + 2 cached) -> 8 partitions
def test_each_text_is_scored_once_and_counted_once(store: list[Path], tmp_path: Path, partition_rows: int) -> None:
    settings = ScorerSettings(name="length", cache_dir=str(tmp_path / "cache"), flush_every=2)
    paths, [report] = score_buckets(store, [settings], tmp_path / "out", partition_rows=partition_rows)

    assert [p.name for p in paths] == ["bucket=0.parquet", "bucket=1.parquet", "bucket=2.parquet"]
    assert _scores(paths) == _expected({**CACHED, **SCORED})
    assert sorted(LengthScorer.asked) == ["be", "cat", "door", "eel", "fig"]  # be, cat: once each
    assert (report.n_texts, report.n_unique, report.cache_hits, report.cache_misses) == (12, 7, 2, 5)
    assert report.model_loaded and report.extra["buckets"] == 3 and report.extra["n_null"] == 2
    assert not list((tmp_path / "out").glob(".lookup-*"))  # the scratch of the look-up is gone

    LengthScorer.asked.clear()  # a second run: everything is cached now, the model is not loaded
    paths, [again] = score_buckets(store, [settings], tmp_path / "again", partition_rows=partition_rows)
    assert _scores(paths) == _expected({**CACHED, **SCORED}) and LengthScorer.asked == []
    assert (again.n_unique, again.cache_hits, again.cache_misses, again.model_loaded) == (7, 7, 0, False)


def test_a_shard_scores_its_slice_once_and_counts_each_text_once(store: list[Path], tmp_path: Path) -> None:
    settings = ScorerSettings(name="length", cache_dir=str(tmp_path / "cache"), shard=1, num_shards=2)
    paths, [report] = score_buckets(store, [settings], tmp_path / "out", partition_rows=2)

    assert _scores(paths) == _expected({**CACHED, **{t: s for t, s in SCORED.items() if t != "door"}})
    assert sorted(LengthScorer.asked) == ["be", "cat", "eel", "fig"]
    assert report.extra["shard"] == {"shard": 1, "num_shards": 2, "selected": 4, "left_to_other_shards": 1}
    assert (report.n_unique, report.cache_hits, report.cache_misses) == (7, 2, 4)


def test_without_a_cache_repeated_texts_are_still_scored_once(store: list[Path], tmp_path: Path) -> None:
    settings = ScorerSettings(name="length", use_cache=False)
    paths, [report] = score_buckets(store, [settings], tmp_path / "out")

    assert _scores(paths) == _expected({"apple": 0.5, "xylophone": 0.9, **SCORED})
    assert sorted(LengthScorer.asked) == ["apple", "be", "cat", "door", "eel", "fig", "xylophone"]
    assert (report.n_unique, report.cache_hits, report.cache_misses) == (7, 0, 7)


def test_a_text_cached_twice_keeps_the_first_part_as_a_lookup_does(store: list[Path], tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Two parts hold ``door`` (two processes scored it at once); parts are read in name order and the
    first row kept, whether the pass reads them in one chunk or one chunk each (SCATTER_ROWS = 1)."""
    cache = ScoreCache(tmp_path / "cache", LengthScorer().identity(), ["toxicity"])
    for name, score in (("part-0.parquet", 0.6), ("part-1.parquet", 0.7)):
        pl.DataFrame({"text_hash": [text_hash("door")], "toxicity": [score]}).write_parquet(cache.dir / name)
    assert cache.lookup([text_hash("door")])["toxicity"].to_list() == [0.6]
    monkeypatch.setattr(buckets, "SCATTER_ROWS", 1)
    monkeypatch.setattr("toolkit.scoring.cache.SCATTER_ROWS", 1)
    settings = ScorerSettings(name="length", cache_dir=str(tmp_path / "cache"))
    paths, [report] = score_buckets(store, [settings], tmp_path / "out", partition_rows=2)

    assert _scores(paths) == _expected({**CACHED, **SCORED, "door": 0.6})
    assert sorted(LengthScorer.asked) == ["be", "cat", "eel", "fig"]
    assert (report.n_unique, report.cache_hits, report.cache_misses) == (7, 3, 4)


class BrokenScorer(LengthScorer):
    """What ``scorer=auto`` resolves to when Detoxify's weights are there but fail to load."""

    name = "broken"

    def predict(self, texts: Sequence[str]) -> dict[str, list[float]]:
        raise ScorerUnavailableError("the weights do not load")


def test_a_fallback_in_the_first_bucket_looks_the_fallback_cache_up_for_the_rest(
        store: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SCORERS, "auto", BrokenScorer)
    monkeypatch.setattr(ProfanityScorer, "predict", LengthScorer.predict)  # profanity, counted, scoring len / 10
    settings = ScorerSettings(name="auto", cache_dir=str(tmp_path / "cache"))
    with pytest.warns(ScorerFallbackWarning, match="the weights do not load"):
        paths, [report] = score_buckets(store, [settings], tmp_path / "out")

    assert _scores(paths) == _expected({"apple": 0.5, "xylophone": 0.9, **SCORED})  # profanity's, none cached
    assert sorted(LengthScorer.asked) == ["apple", "be", "cat", "door", "eel", "fig", "xylophone"]
    assert (report.scorer, report.n_unique, report.cache_hits, report.cache_misses) == ("profanity", 7, 0, 7)
    assert "the weights do not load" in report.fallback_reason
