"""Thread summary: one row per thread with its size, depth, removal share and toxicity."""

from __future__ import annotations

import polars as pl

from toolkit.analysis.common import Frames, comments_only, gather
from toolkit.analysis.declare import Analysis, AnalysisContext, shown
from toolkit.outputs import AnalysisOutput, FigureSpec

SUMMARY_SCHEMA = {
    "thread_id": pl.String, "structure": pl.String, "n_comments": pl.Int64, "n_scored": pl.Int64,
    "max_depth": pl.Int64, "mean_depth": pl.Float64, "removed_share": pl.Float64, "deleted_share": pl.Float64,
    "toxic_share": pl.Float64, "mean_toxicity": pl.Float64, "max_toxicity": pl.Float64,
    "duration_hours": pl.Float64, "threshold": pl.Float64,
}


def thread_summary(frame: Frames, *, label: str = "toxicity", threshold: float = 0.5) -> pl.DataFrame:
    """Per thread (post excluded from the counts): comments, scored comments, max and mean reply depth,
    removed and deleted shares, share of scored comments >= ``threshold``, mean and max score, and the
    time from first to last comment (hours; null without timestamps). Largest threads first.

    Args:
        frame: a scored comment frame, or a store's buckets (threads never span two: each is summarised alone).
        label: the score column.
        threshold: the "toxic" cut for ``toxic_share``.

    Returns:
        ``thread_id``, ``structure`` (tree | flat), ``n_comments``, ``n_scored``, ``max_depth``,
        ``mean_depth``, ``removed_share``, ``deleted_share``, ``toxic_share``, ``mean_toxicity``,
        ``max_toxicity``, ``duration_hours`` and ``threshold``.

    Example:
        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> table = thread_summary(frame)
        >>> table.select("thread_id", "n_comments", "max_depth", "removed_share", "toxic_share",
        ...              "mean_toxicity").rows()
        [('a', 4, 2, 0.25, 0.5, 0.5), ('b', 2, 2, 0.5, 0.5, 0.35)]
    """
    return largest_first(gather(frame, lambda bucket: thread_rows(bucket, label, threshold)))


def thread_rows(bucket: pl.DataFrame, label: str = "toxicity", threshold: float = 0.5) -> pl.DataFrame:
    """The summary rows of a bucket's threads (see :func:`thread_summary`), in no particular order."""
    rows = comments_only(bucket).with_columns(pl.col(label).fill_nan(None).alias("_s"))
    return rows.group_by("thread_id").agg(
        pl.col("structure").cast(pl.String).mode().sort().first().alias("structure"),
        pl.len().cast(pl.Int64).alias("n_comments"),
        pl.col("_s").is_not_null().sum().cast(pl.Int64).alias("n_scored"),
        pl.col("reply_depth").max().cast(pl.Int64).alias("max_depth"),
        pl.col("reply_depth").cast(pl.Float64).mean().alias("mean_depth"),
        pl.col("removed").fill_null(False).cast(pl.Float64).mean().alias("removed_share"),
        pl.col("deleted").fill_null(False).cast(pl.Float64).mean().alias("deleted_share"),
        (pl.col("_s") >= threshold).cast(pl.Float64).mean().alias("toxic_share"),
        pl.col("_s").mean().alias("mean_toxicity"),
        pl.col("_s").max().alias("max_toxicity"),
        ((pl.col("created_at").max() - pl.col("created_at").min()).dt.total_seconds() / 3600)
        .alias("duration_hours"),
    ).with_columns(pl.lit(float(threshold)).alias("threshold")).select(list(SUMMARY_SCHEMA)).cast(SUMMARY_SCHEMA)


def largest_first(rows: pl.DataFrame) -> pl.DataFrame:
    """Summary rows, largest threads first (then by id)."""
    return rows.sort(["n_comments", "thread_id"], descending=[True, False])


def run_thread_summary(rows: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    """One row per thread: size, depth, removal share and toxicity (from every bucket's :func:`thread_rows`)."""
    table = largest_first(rows)
    if table.height == 0:
        return AnalysisOutput(skipped="no comments in the data")
    spec = FigureSpec("thread_summary", "thread_scatter", "Threads: size, toxicity and removals",
                      ctx.caption(shown(table.height, None, "threads")),
                      {"label": ctx.label, "threshold": ctx.threshold})
    return AnalysisOutput({"thread_summary": table}, [(spec, table)])


DECLARED = (
    Analysis("thread_summary", run_thread_summary,
             per_bucket=lambda bucket, ctx: thread_rows(bucket, ctx.label, ctx.threshold),
             reads=("thread_id", "comment_id", "parent_id", "is_post", "reply_depth", "structure", "created_at",
                    "source_position", "removed", "deleted"),
             tables=("thread_summary",), figures=("thread_summary",)),
)
