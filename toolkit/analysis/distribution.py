"""Score distribution: a histogram table per label (the thread view and tree tables are in
:mod:`toolkit.analysis.thread_tables`; imported here too, where they used to live)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from toolkit.analysis.common import Frames, gather
from toolkit.analysis.declare import Analysis, AnalysisContext, shown
from toolkit.outputs import AnalysisOutput, FigureSpec
from toolkit.schema import is_comment, scored

COUNT_SCHEMA = {"bin_low": pl.Float64, "bin_high": pl.Float64, "count": pl.Int64}


@dataclass
class ScoreDistributionOptions:
    bins: int = 20


def score_distribution(frame: Frames, *, label: str = "toxicity",
                       bins: int = ScoreDistributionOptions.bins) -> pl.DataFrame:
    """Counts of comments per score bin over [0, 1] (post and unscored rows left out).

    Args:
        frame: a scored comment frame, or a store's buckets (their counts add up).
        label: the score column (values outside [0, 1] are counted in the end bins).
        bins: equal-width bins.

    Returns:
        ``bin_low``, ``bin_high`` and ``count``, one row per bin (the last bin includes 1.0).

    Example:
        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> score_distribution(frame, bins=2).rows()
        [(0.0, 0.5, 3), (0.5, 1.0, 3)]
    """
    return add_counts(gather(frame, lambda bucket: bin_counts(bucket, label, bins)))


def bin_counts(bucket: pl.DataFrame, label: str, bins: int) -> pl.DataFrame:
    """A bucket's scored comments per score bin (see :func:`score_distribution`)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = np.histogram(np.clip(bucket.filter(is_comment() & scored(label))[label].to_numpy(), 0.0, 1.0),
                          bins=edges)[0]
    return pl.DataFrame({"bin_low": edges[:-1], "bin_high": edges[1:], "count": counts.astype(np.int64)},
                        schema=COUNT_SCHEMA)


def add_counts(parts: pl.DataFrame) -> pl.DataFrame:
    """Every bucket's :func:`bin_counts` added up, bin by bin."""
    return parts.group_by("bin_low", "bin_high", maintain_order=True).agg(pl.col("count").sum())


def run_score_distribution(parts: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    """Histogram of the score column (from every bucket's :func:`bin_counts`)."""
    table = add_counts(parts)
    if table["count"].sum() == 0:
        return AnalysisOutput(skipped="no scored comment")
    spec = FigureSpec("score_distribution", "histogram", "Score distribution",
                      ctx.caption(shown(int(table["count"].sum()))), {"label": ctx.label, "threshold": ctx.threshold})
    return AnalysisOutput({"score_distribution": table}, [(spec, table)])


DECLARED = (
    Analysis("score_distribution", run_score_distribution, ScoreDistributionOptions,
             per_bucket=lambda bucket, ctx: bin_counts(bucket, ctx.label, ctx.params.score_distribution.bins),
             reads=("thread_id", "is_post"), tables=("score_distribution",), figures=("score_distribution",)),
)
