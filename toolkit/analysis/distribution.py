"""Score distribution: a histogram table per label (the thread view and tree tables are in
:mod:`toolkit.analysis.thread_tables`; imported here too, where they used to live)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from toolkit.analysis.common import Frames, each_bucket
from toolkit.analysis.declare import Analysis, AnalysisContext, shown
from toolkit.outputs import AnalysisOutput, FigureSpec
from toolkit.schema import is_comment, scored


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
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = sum(np.histogram(np.clip(part.filter(is_comment() & scored(label))[label].to_numpy(), 0.0, 1.0),
                              bins=edges)[0] for part in each_bucket(frame))
    return pl.DataFrame(
        {"bin_low": edges[:-1], "bin_high": edges[1:], "count": counts.astype(np.int64)},
        schema={"bin_low": pl.Float64, "bin_high": pl.Float64, "count": pl.Int64},
    )
def run_score_distribution(frame: Frames, ctx: AnalysisContext) -> AnalysisOutput:
    """Histogram of the score column."""
    table = score_distribution(frame, label=ctx.label, bins=ctx.params.score_distribution.bins)
    if table["count"].sum() == 0:
        return AnalysisOutput(skipped="no scored comment")
    spec = FigureSpec("score_distribution", "histogram", "Score distribution",
                      ctx.caption(shown(int(table["count"].sum()))), {"label": ctx.label, "threshold": ctx.threshold})
    return AnalysisOutput({"score_distribution": table}, [(spec, table)])


DECLARED = (
    Analysis("score_distribution", run_score_distribution, ScoreDistributionOptions, bucketed=True,
             reads=("thread_id", "is_post"), tables=("score_distribution",), figures=("score_distribution",)),
)
