"""Analyses over a corpus store's buckets: the same tables as over the whole frame (bootstrap bounds included),
sums worked out by hand, and the collected analyses reading only the columns they name."""

from __future__ import annotations

import math

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from toolkit.analysis.civility import compare_groups
from toolkit.analysis.common import Corpus, unit_sums
from toolkit.analysis.declare import AnalysisContext
from toolkit.analysis.distribution import score_distribution
from toolkit.analysis.registry import ANALYSES, columns_for
from toolkit.analysis.summary import thread_summary
from toolkit.analysis.synthetic import make_frame, random_threads
from toolkit.analysis.thread_tables import largest_thread
from toolkit.store import bucket_of

BUCKETED = sorted(name for name, a in ANALYSES.items() if a.bucketed)
COLLECTED = sorted(name for name, a in ANALYSES.items() if not a.bucketed)


@pytest.fixture(scope="module")
def corpus() -> pl.DataFrame:
    return random_threads(30, seed=3)


def split(frame: pl.DataFrame, n: int = 3):
    """The frame as a store holds it: ``n`` buckets of whole threads (crc32 of the thread id)."""
    parts = frame.with_columns(bucket_of(frame["thread_id"], n).alias("_b")).partition_by("_b", maintain_order=True)
    assert len(parts) == n  # every bucket holds threads: the test really crosses buckets
    return Corpus(tuple(p.drop("_b") for p in parts))


def same(a: pl.DataFrame, b: pl.DataFrame) -> None:
    assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", BUCKETED)
def test_bucketed_analysis_gives_the_whole_frames_tables(corpus, name) -> None:
    """Over buckets holding only the columns the analysis declares it reads (as a run hands them out)."""
    ctx = AnalysisContext(n_boot=200, labels=["toxicity"])
    ctx.params.derailment.min_threads, ctx.params.derailment.folds = 10, 2  # 19 threads, 4 of them civil
    buckets = split(corpus).select(columns_for([name], corpus.schema, ctx.params))
    whole, buckets = ANALYSES[name](corpus, ctx), ANALYSES[name](buckets, ctx)
    assert whole.skipped == buckets.skipped and (whole.figures or whole.skipped)
    assert sorted(whole.tables) == sorted(buckets.tables)
    for table in whole.tables:
        same(whole.tables[table], buckets.tables[table])
    assert [s for s, _ in whole.figures] == [s for s, _ in buckets.figures]
    for (_, a), (_, b) in zip(whole.figures, buckets.figures, strict=True):
        same(a, b)


@pytest.mark.parametrize("name", ["escalation", "civility_profile", "thread_summary"])
def test_one_thread_resamples_comments_across_buckets(corpus, name) -> None:
    """One thread with data, the other buckets empty of it: the comment bootstrap, the same draws."""
    one = corpus.filter(pl.col("thread_id") == corpus["thread_id"].max())
    empty = [corpus.head(0), corpus.head(0)]
    ctx = AnalysisContext(n_boot=100)
    whole, buckets = ANALYSES[name](one, ctx), ANALYSES[name](Corpus((empty[0], one, empty[1])), ctx)
    for table in whole.tables:
        same(whole.tables[table], buckets.tables[table])


def test_every_analysis_declares_what_it_reads_and_writes() -> None:
    """Each declaration names its canonical columns and at least one table or figure; the analyses that need
    every row at once (ROC curves, regressions, matching, a sample) are among the collected ones."""
    for name, analysis in ANALYSES.items():
        assert analysis.name == name and analysis.reads and (analysis.tables or analysis.figures)
    assert {"removal_context", "removal_prediction", "scorer_agreement", "scorer_validation"} <= set(COLLECTED)


@pytest.mark.parametrize("name", COLLECTED)
def test_collected_analysis_reads_only_its_columns(corpus, name) -> None:
    """The frame a run collects (the canonical columns the analysis declares, plus scores, markers and labels)
    gives the tables of the full frame."""
    ctx = AnalysisContext(n_boot=50, labels=["toxicity", "other"])
    ctx.params.scorer_validation.truth = "toxic"
    columns = columns_for([name], corpus.schema, ctx.params)
    declared = set(ANALYSES[name].reads)  # text and other string columns come only when declared
    assert all(c in declared for c in ("text", "author", "removal_reason") if c in columns)
    whole, narrow = ANALYSES[name](corpus, ctx), ANALYSES[name](corpus.select(columns), ctx)
    assert whole.skipped == narrow.skipped
    assert whole.tables.keys() == narrow.tables.keys()
    assert whole.tables or whole.skipped  # one that cannot apply to these threads says why (its own test has data)
    for table in whole.tables:
        same(whole.tables[table], narrow.tables[table])


def test_collected_columns_keep_scores_and_labels() -> None:
    schema = {"thread_id": pl.String, "comment_id": pl.String, "text": pl.String, "author": pl.String,
              "is_post": pl.Boolean, "removed": pl.Boolean, "source_position": pl.Int64, "subreddit": pl.String,
              "toxicity": pl.Float64, "hedges": pl.Int64, "toxic": pl.String}
    assert columns_for(["scorer_validation"], schema) == [
        "thread_id", "is_post", "removed", "source_position", "toxicity", "hedges", "toxic"]
    assert columns_for(["scorer_agreement", "removal_prediction"], schema) == [
        "thread_id", "text", "is_post", "removed", "source_position", "toxicity", "hedges"]


# Three threads, each in its own bucket: x (a: 1, 0; b: 1), y (b: 0, 1), z (a: 1; b: null).
ROWS = pl.DataFrame({"thread_id": ["x", "x", "x", "y", "y", "z", "z"],
                     "a": [True, True, False, False, False, True, False],
                     "v": [1.0, 0.0, 1.0, 0.0, 1.0, 1.0, None]})


def test_unit_sums_by_hand() -> None:
    """Per thread in id order, whatever the bucket order: the sum of v and the rows."""
    buckets = Corpus(tuple(ROWS.filter(pl.col("thread_id") == t) for t in ("z", "x", "y")))
    matrix, n_threads, method = unit_sums(buckets, [pl.col("v").sum(), pl.len()])
    assert matrix.tolist() == [[2.0, 3.0], [1.0, 2.0], [1.0, 2.0]]
    assert (n_threads, method) == (3, "thread bootstrap")


def test_compare_groups_by_hand_over_buckets() -> None:
    """a: 1, 0, 1 (rate 2/3); b: 1, 0, 1 (the null left out; rate 2/3); log odds
    log((2.5)(1.5) / ((1.5)(2.5))) = 0."""
    buckets = Corpus(tuple(ROWS.filter(pl.col("thread_id") == t) for t in ("y", "z", "x")))
    table = compare_groups(buckets, {"v": pl.col("v")}, pl.col("a"), comparison="a vs b", n_boot=100)
    whole = compare_groups(ROWS, {"v": pl.col("v")}, pl.col("a"), comparison="a vs b", n_boot=100)
    row = table.row(0, named=True)
    assert (row["n_a"], row["n_b"], row["n_threads"]) == (3, 3, 3)
    assert row["rate_a"] == pytest.approx(2 / 3) and row["rate_b"] == pytest.approx(2 / 3)
    assert row["log_odds"] == pytest.approx(0.0, abs=1e-12) and row["measure"] == "share using"
    same(table, whole)


def test_score_distribution_counts_add_up_over_buckets() -> None:
    frame = make_frame([{"thread": t, "id": f"{t}{i}" if i else t, "parent": t if i else None, "score": s}
                        for t, scores in (("p", [0.1, 0.7]), ("q", [0.2, 1.0, None])) for i, s in enumerate(scores)])
    buckets = Corpus(tuple(frame.partition_by("thread_id")))
    # the posts p and q left out; comments 0.7 (p) and 1.0, null (q): one in [0.5, 1] each, none below
    assert score_distribution(buckets, bins=2)["count"].to_list() == [0, 2]


def test_largest_thread_and_summary_across_buckets(corpus) -> None:
    buckets = split(corpus)
    sizes = corpus.group_by("thread_id").len().sort(["len", "thread_id"], descending=[True, False])
    assert largest_thread(buckets, ["len"]) == sizes["thread_id"][0]
    summary = thread_summary(buckets)
    assert summary["n_comments"].to_list() == sorted(summary["n_comments"].to_list(), reverse=True)
    assert summary["n_comments"].sum() == corpus.filter(~pl.col("is_post")).height
    assert not math.isnan(summary["mean_toxicity"].mean())


@pytest.mark.slow
def test_run_analyses_over_buckets_writes_the_whole_frames_tables(corpus, tmp_path) -> None:
    """The pipeline's path: collected analyses get their columns back in input order (the matched permutation
    test depends on row order), bucketed ones the buckets; every table file is the same."""
    from toolkit.pipeline import run_analyses
    from toolkit.settings import AnalysisSettings, PlotSettings

    a = AnalysisSettings(run=["removal_context", "escalation", "score_distribution"], n_boot=100)
    plot = PlotSettings(formats=[])
    shuffled = corpus.sample(fraction=1.0, seed=2, shuffle=True).sort("thread_id")  # buckets reorder rows
    for name, data in (("whole", corpus), ("buckets", split(shuffled))):
        run_analyses(data, a, plot, tmp_path / name, "", ["toxicity"])
    tables = sorted(p.name for p in (tmp_path / "whole" / "tables").glob("*.csv"))
    assert "removal_matched.csv" in tables and "escalation.csv" in tables
    for table in tables:
        same(pl.read_csv(tmp_path / "whole" / "tables" / table), pl.read_csv(tmp_path / "buckets" / "tables" / table))
