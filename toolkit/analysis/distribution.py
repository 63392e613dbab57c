"""Score distribution: a histogram table per label, plus the share above the threshold."""

from __future__ import annotations

import numpy as np
import polars as pl


def score_distribution(frame: pl.DataFrame, *, label: str = "toxicity", bins: int = 20) -> pl.DataFrame:
    """Counts of comments per score bin over [0, 1] (post and unscored rows left out)."""
    values = frame.filter(~pl.col("is_post"))[label].drop_nulls().to_numpy()
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts, _ = np.histogram(np.clip(values, 0.0, 1.0), bins=edges)
    return pl.DataFrame(
        {"bin_low": edges[:-1], "bin_high": edges[1:], "count": counts.astype(np.int64)},
        schema={"bin_low": pl.Float64, "bin_high": pl.Float64, "count": pl.Int64},
    )


def thread_view_table(frame: pl.DataFrame, *, label: str = "toxicity", thread_id: str | None = None) -> pl.DataFrame:
    """The rows a thread-view figure draws: one thread in page order with depth, score and flags."""
    if thread_id is None:
        sizes = frame.group_by("thread_id").len().sort(["len", "thread_id"], descending=[True, False])
        if sizes.height == 0:
            return frame.head(0).select("thread_id", "comment_id", "parent_id", "source_position")
        thread_id = sizes["thread_id"][0]
    return (
        frame.filter(pl.col("thread_id") == thread_id)
        .sort("source_position")
        .select(
            "thread_id", "comment_id", "parent_id", "is_post", "source_position", "reply_depth", "structure",
            pl.col(label).alias("score"), "removed", "deleted",
            pl.col("text").str.slice(0, 80).str.replace_all(r"\s+", " ").alias("snippet"),
        )
    )
