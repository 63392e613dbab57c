"""Score distribution: a histogram table per label (the thread view and tree tables are in
:mod:`toolkit.analysis.thread_tables`; imported here too, where they used to live)."""

from __future__ import annotations

import numpy as np
import polars as pl

from toolkit.analysis.common import Frames, each_bucket
from toolkit.analysis.thread_tables import largest_thread, thread_tree_table, thread_view_table
from toolkit.schema import is_comment, scored
from toolkit.settings import ScoreDistributionOptions

__all__ = ["largest_thread", "score_distribution", "thread_tree_table", "thread_view_table"]


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
