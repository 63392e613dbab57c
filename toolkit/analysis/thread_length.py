"""Toxicity and thread length, after Avalle et al., Nature 628 (2024), "Persistent interaction patterns
across social media platforms and over time".

Threads are grouped by size (comments, post excluded) into logarithmic bins (21 by default); the last bin is
widened (merged with the ones below it) until it holds at least 50 threads. Per bin: the mean over threads of
each thread's share of toxic comments (score >= 0.6 by default). Where the paper drew per-bin t-intervals,
the CIs here come from the thread bootstrap. Within the longest threads (the last bin), toxicity is also
profiled by relative position in the thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from toolkit.analysis.common import Frames, assign_bins, ci_methods, gather, with_thread_position
from toolkit.analysis.declare import Analysis, AnalysisContext, applicable, shown
from toolkit.analysis.depth import position_profile
from toolkit.analysis.stats import RankPairs, cluster_bootstrap, grouped_bootstrap_means
from toolkit.outputs import AnalysisOutput, FigureSpec

LENGTH_SCHEMA = {
    "bin": pl.Int64, "size_low": pl.Float64, "size_high": pl.Float64, "min_size": pl.Int64, "max_size": pl.Int64,
    "n_threads": pl.Int64, "n_comments": pl.Int64, "toxic_share": pl.Float64, "share_low": pl.Float64,
    "share_high": pl.Float64, "pooled_share": pl.Float64, "mean_toxicity": pl.Float64, "threshold": pl.Float64,
    "ci_method": pl.String,
}
TREND_SCHEMA = {
    "measure": pl.String, "estimate": pl.Float64, "low": pl.Float64, "high": pl.Float64, "p_value": pl.Float64,
    "n_threads": pl.Int64, "ci_method": pl.String,
}


@dataclass
class ThreadLengthOptions:
    """Avalle et al., Nature 628 (2024): toxic = score >= 0.6, 21 log bins, the last widened to hold
    ``min_threads_last_bin`` threads; ``position_bins`` along the threads of the last bin."""

    threshold: float = 0.6
    n_bins: int = 21
    min_threads_last_bin: int = 50
    min_comments: int = 1
    position_bins: int = 10



def log_size_bins(sizes: np.ndarray, n_bins: int = ThreadLengthOptions.n_bins,
                  min_threads_last_bin: int = ThreadLengthOptions.min_threads_last_bin) -> np.ndarray:
    """Edges of ``n_bins`` logarithmic bins from the smallest to the largest size (last bin closed); the
    last bin is merged with the bins below it until it holds ``min_threads_last_bin`` threads (or is the
    only bin).

    Args:
        sizes: one size (comments) per thread.
        n_bins: logarithmic bins before merging.
        min_threads_last_bin: the fewest threads the last (longest-thread) bin may hold.

    Returns:
        The bin edges, from the smallest to the largest size; ``[1, 1]`` for no threads.

    Example:
        >>> import numpy as np
        >>> log_size_bins(np.array([1, 10, 100, 100]), n_bins=2, min_threads_last_bin=3).tolist()
        [1.0, 10.0, 100.0]
        >>> log_size_bins(np.array([1, 10, 100, 100]), n_bins=2, min_threads_last_bin=4).tolist()  # merged
        [1.0, 100.0]
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    if sizes.size == 0:
        return np.array([1.0, 1.0])
    lo, hi = float(sizes.min()), float(sizes.max())
    if hi <= lo:
        return np.array([lo, hi])
    edges = np.logspace(np.log10(lo), np.log10(hi), n_bins + 1)
    edges[0], edges[-1] = lo, hi  # exact ends (no rounding loss at the extremes)
    while edges.size > 2:
        if (assign_bins(sizes, edges) == edges.size - 2).sum() >= min_threads_last_bin:
            break
        edges = np.delete(edges, edges.size - 2)
    return edges


def thread_toxicity(frame: pl.DataFrame, *, label: str = "toxicity",
                    threshold: float = ThreadLengthOptions.threshold) -> pl.DataFrame:
    """Per thread: size (comments), scored comments, toxic comments and the toxic share among scored ones.

    Returns ``thread_id``, ``size``, ``n_scored``, ``n_toxic``, ``score_sum`` and ``toxic_share``, sorted by
    thread; threads with no scored comment are left out. Toxic: score >= ``threshold`` (0.6).

    Example:
        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> thread_toxicity(frame).select("thread_id", "size", "n_toxic", "toxic_share").rows()
        [('a', 4, 2, 0.5), ('b', 2, 0, 0.0)]
    """
    rows = with_thread_position(frame).with_columns(pl.col(label).fill_nan(None).alias("_s"))
    return (
        rows.group_by("thread_id")
        .agg(
            pl.len().cast(pl.Int64).alias("size"),
            pl.col("_s").is_not_null().sum().cast(pl.Int64).alias("n_scored"),
            (pl.col("_s") >= threshold).sum().cast(pl.Int64).alias("n_toxic"),
            pl.col("_s").sum().alias("score_sum"),
        )
        .filter(pl.col("n_scored") > 0)
        .with_columns((pl.col("n_toxic") / pl.col("n_scored")).alias("toxic_share"))
        .sort("thread_id")
    )


def toxicity_by_thread_length(
    frame: Frames,
    *,
    label: str = "toxicity",
    threshold: float = ThreadLengthOptions.threshold,
    n_bins: int = ThreadLengthOptions.n_bins,
    min_threads_last_bin: int = ThreadLengthOptions.min_threads_last_bin,
    min_comments: int = ThreadLengthOptions.min_comments,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[pl.DataFrame, pl.DataFrame, np.ndarray]:
    """Toxic share by thread-size bin (see the module docstring), the size-toxicity trend, and the bin edges.

    The trend is Spearman's rho between thread size and the thread's toxic share over threads, with a
    bootstrap CI and p-value (threads resampled). Threads with fewer than ``min_comments`` comments, or none
    scored, are left out.

    Args:
        frame: a scored comment frame, or a corpus store's buckets (each reduced to its threads' counts).
        label: the score column.
        threshold: the "toxic" cut (0.6 in the paper).
        n_bins, min_threads_last_bin: see :func:`log_size_bins`.
        min_comments: the smallest thread counted.
        n_boot, seed: bootstrap replicates and random seed.

    Returns:
        ``(table, trend, edges)``. ``table``: one row per non-empty size bin: ``bin``, ``size_low``,
        ``size_high`` (edges), ``min_size``, ``max_size``, ``n_threads``, ``n_comments``, ``toxic_share``
        (mean over threads of their toxic share), ``share_low``, ``share_high`` (95% thread-bootstrap
        percentile CI), ``pooled_share`` (toxic / scored comments of the bin), ``mean_toxicity``,
        ``threshold`` and ``ci_method``. ``trend``: one row, ``measure``, ``estimate``, ``low``, ``high``,
        ``p_value``, ``n_threads``, ``ci_method``. ``edges``: the bin edges.

    Example:
        Thread ``b`` (2 comments) has no comment >= 0.6, thread ``a`` (4) has two:

        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> table, trend, edges = toxicity_by_thread_length(frame, n_bins=2, min_threads_last_bin=1,
        ...                                                 n_boot=50)
        >>> table.select("bin", "min_size", "max_size", "n_threads", "toxic_share").rows()
        [(0, 2, 2, 1, 0.0), (1, 4, 4, 1, 0.5)]
        >>> trend["estimate"].to_list(), edges.round(2).tolist()
        ([1.0], [2.0, 2.83, 4.0])
    """
    threads = gather(frame, lambda b: thread_toxicity(b, label=label, threshold=threshold)).sort("thread_id").filter(
        pl.col("size") >= min_comments)
    sizes = threads["size"].to_numpy()
    edges = log_size_bins(sizes, n_bins, min_threads_last_bin)
    idx = assign_bins(sizes, edges)
    ci = grouped_bootstrap_means(threads["toxic_share"].to_numpy(), threads["thread_id"], idx,
                                 max(edges.size - 1, 1), n_boot=n_boot, seed=seed)
    out = []
    for b in range(edges.size - 1):
        part = threads.filter(pl.Series(idx == b, dtype=pl.Boolean))
        if part.height == 0:
            continue
        out.append({
            "bin": b, "size_low": float(edges[b]), "size_high": float(edges[b + 1]),
            "min_size": int(part["size"].min()), "max_size": int(part["size"].max()), "n_threads": part.height,
            "n_comments": int(part["size"].sum()), "toxic_share": float(ci.estimate[b, 0]),
            "share_low": float(ci.low[b, 0]), "share_high": float(ci.high[b, 0]),
            "pooled_share": float(part["n_toxic"].sum() / part["n_scored"].sum()),
            "mean_toxicity": float(part["score_sum"].sum() / part["n_scored"].sum()), "threshold": float(threshold),
            "ci_method": ci.method[b],
        })
    ranks = RankPairs(np.log(np.maximum(sizes, 1)).astype(np.float64), threads["toxic_share"].to_numpy())
    trend = cluster_bootstrap(ranks.spearman, threads["thread_id"], n_boot=n_boot, seed=seed)
    trend_table = pl.DataFrame([{
        "measure": "spearman rho (thread size, toxic share)", "estimate": trend.estimate, "low": trend.low,
        "high": trend.high, "p_value": trend.p_value, "n_threads": threads.height,
        "ci_method": "bootstrap over threads",
    }], schema=TREND_SCHEMA)
    return pl.DataFrame(out, schema=LENGTH_SCHEMA), trend_table, edges


def toxicity_by_relative_position(
    frame: Frames,
    *,
    label: str = "toxicity",
    threshold: float = ThreadLengthOptions.threshold,
    min_size: float = 0,
    n_bins: int = ThreadLengthOptions.position_bins,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Within threads of at least ``min_size`` comments: mean score and toxic share by relative position
    (0 = first comment, 1 = last, by time then page order) in ``n_bins`` bins, thread-bootstrap CIs.

    Args:
        frame: a scored comment frame, or a corpus store's buckets.
        label: the score column.
        threshold: the "toxic" cut for ``share_above``.
        min_size: the smallest thread counted (the paper: the last size bin's lower edge).
        n_bins: equal-width position bins over [0, 1].
        n_boot, seed: bootstrap replicates and random seed.

    Returns:
        One row per bin: ``position_bin``, ``position_low``,
        ``n`` (scored comments), ``n_unscored`` (null score), ``n_threads``, ``mean``, ``mean_low``,
        ``mean_high``, ``share_above``, ``share_low``, ``share_high`` (share of scores >= ``threshold``),
        ``threshold`` and ``ci_method`` (95% percentile CIs from one thread bootstrap; none for a bin held by
        a single thread), and ``min_thread_size``.

    Example:
        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> table = toxicity_by_relative_position(frame, threshold=0.5, n_bins=2, n_boot=50)
        >>> table.select("position_bin", "n", pl.col("mean", "share_above").round(3)).rows()
        [('[0, 0.5)', 3, 0.633, 0.667), ('[0.5, 1]', 3, 0.267, 0.333)]
    """
    table = position_profile(frame, label=label, threshold=threshold, n_bins=n_bins, n_boot=n_boot, seed=seed,
                             min_size=min_size)
    return table.with_columns(pl.lit(float(min_size)).alias("min_thread_size"))


def run_thread_length(frame: Frames, ctx: AnalysisContext) -> AnalysisOutput:
    """Toxic share by thread size (Avalle et al. 2024) and toxicity along the longest threads."""
    o = ctx.params.thread_length
    threshold = o.threshold
    table, trend, edges = toxicity_by_thread_length(
        frame, label=ctx.label, threshold=threshold, n_bins=o.n_bins, min_threads_last_bin=o.min_threads_last_bin,
        min_comments=o.min_comments, **ctx.boot)
    if table.height == 0:
        return AnalysisOutput(skipped=f"no thread with at least {o.min_comments} comment(s) and a scored comment")
    min_size = float(edges[-2])  # the last bin's lower edge (the smallest size when there is one bin)
    position = toxicity_by_relative_position(frame, label=ctx.label, threshold=threshold, min_size=min_size,
                                             n_bins=o.position_bins, **ctx.boot)
    method = (f"95% CI: thread bootstrap ({ctx.n_boot} replicates, seed {ctx.seed}), where Avalle et al. (2024) "
              "used per-bin t-intervals")
    bins_note = (f"{o.n_bins} log bins, last widened to ≥ {o.min_threads_last_bin} threads "
                 f"({table.height} non-empty)")
    n_threads = int(table["n_threads"].sum())
    figures = [
        (FigureSpec("thread_length", "thread_length", "Toxicity and thread length",
                    ctx.caption(shown(int(table["n_comments"].sum()), n_threads), f"toxic: {ctx.label} ≥ {threshold:g}",
                                bins_note, method),
                    {"label": ctx.label, "threshold": threshold}), table),
        (FigureSpec("thread_length_position", "profile", "Toxicity along the longest threads",
                    ctx.caption(shown(int(position["n"].sum()), int(position["n_threads"].max() or 0)
                                       if position.height else 0), f"threads of ≥ {min_size:.0f} comments (last bin)",
                                ctx.ci_note(ci_methods(position))),
                    {"label": ctx.label, "threshold": threshold, "x": "position_bin", "series": ["share_above"],
                     "xlabel": "relative position in thread", "ylabel": f"share toxic (≥ {threshold:g})"}), position),
    ]
    tables = {"thread_length": table, "thread_length_trend": trend, "thread_length_position": position}
    empty = {"thread_length_position": f"no scored comment in the threads of ≥ {min_size:.0f} comments"}
    return applicable(tables, figures, empty if position["n"].sum() == 0 else {})


DECLARED = (
    Analysis("thread_length", run_thread_length, ThreadLengthOptions, bucketed=True,
             reads=("thread_id", "comment_id", "parent_id", "is_post", "reply_depth", "structure", "created_at", "source_position"),
             tables=("thread_length", "thread_length_trend", "thread_length_position"),
             figures=("thread_length", "thread_length_position")),
)
