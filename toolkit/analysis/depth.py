"""Toxicity by reply depth, by position in the thread and by thread size: mean and share above a
threshold, each with thread-bootstrap CIs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from toolkit.analysis.common import (
    Frames,
    assign_bins,
    binned_profile,
    ci_methods,
    edge_labels,
    with_thread_position,
)
from toolkit.analysis.declare import Analysis, AnalysisContext, applicable, count_threads, shown
from toolkit.outputs import AnalysisOutput, FigureSpec
from toolkit.schema import is_comment


@dataclass
class DepthProfileOptions:
    """``depth_bins``: null = one row per depth, e.g. [1, 2, 3, 5] -> 1, 2, 3-4, 5+; ``position_bins``:
    equal-width bins of relative position; ``size_edges``: thread-size bin starts (null: 1, 2, 5, 10, ...)."""

    depth_bins: list[int] | None = None
    position_bins: int = 10
    size_edges: list[int] | None = None



def depth_bin_expr(depth_bins: Sequence[int] | None) -> pl.Expr:
    """Label for each row's depth: the depth itself, or ``"a-b"`` / ``"a+"`` ranges from bin edges.

    Example:
        >>> import polars as pl
        >>> depths = pl.DataFrame({"reply_depth": [0, 1, 2, 3, 5]})
        >>> depths.select(depth_bin_expr([1, 2, 4]))["depth_bin"].to_list()
        ['<1', '1', '2-3', '2-3', '4+']
    """
    depth = pl.col("reply_depth")
    return (_range_bins(depth, depth_bins)[0] if depth_bins else depth.cast(pl.String)).alias("depth_bin")


def _range_bins(value: pl.Expr, starts: Sequence[int]) -> tuple[pl.Expr, pl.Expr]:
    """The bin label (``<a``, ``a``, ``a-b``, ``z+``) and lower bound of each integer ``value`` for bin
    ``starts`` (the last open-ended; values below the first get ``<a`` and 0)."""
    edges = sorted(set(int(e) for e in starts))
    label = pl.when(value < edges[0]).then(pl.lit(f"<{edges[0]}"))
    low = pl.when(value < edges[0]).then(pl.lit(0))
    for lo, hi in zip(edges, edges[1:], strict=False):
        label = label.when(value < hi).then(pl.lit(str(lo) if hi - lo == 1 else f"{lo}-{hi - 1}"))
        low = low.when(value < hi).then(pl.lit(lo))
    return label.otherwise(pl.lit(f"{edges[-1]}+")), low.otherwise(pl.lit(edges[-1]))


def depth_profile(
    frame: Frames,
    *,
    label: str = "toxicity",
    threshold: float = 0.5,
    depth_bins: Sequence[int] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    include_post: bool = False,
) -> pl.DataFrame:
    """One row per depth (or depth bin): n, threads, mean score and share above ``threshold``, with CIs.

    Rows with a null score (no text) or unknown depth are left out and counted in ``n_unscored``.

    Args:
        frame: a scored comment frame (``toolkit.score``) with ``reply_depth``, or a corpus store's buckets.
        label: the score column.
        threshold: the "toxic" cut for ``share_above``.
        depth_bins: bin edges (``[1, 2, 4]`` gives ``<1``, ``1``, ``2-3``, ``4+``); None = one row per depth.
        n_boot, seed: bootstrap replicates and random seed.
        include_post: count the post (depth 0) too.

    Returns:
        One row per depth bin, shallowest first: ``depth_bin`` (text), ``min_depth``,
        ``n`` (scored comments), ``n_unscored`` (null score), ``n_threads``, ``mean``, ``mean_low``,
        ``mean_high``, ``share_above``, ``share_low``, ``share_high`` (share of scores >= ``threshold``),
        ``threshold`` and ``ci_method`` (95% percentile CIs from one thread bootstrap; none for a bin held by
        a single thread).

    Example:
        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> table = depth_profile(frame, n_boot=50)
        >>> table.select("depth_bin", "n", "n_threads", pl.col("mean", "share_above").round(3)).rows()
        [('1', 3, 2, 0.4, 0.333), ('2', 3, 2, 0.5, 0.667)]
    """
    def rows(part: pl.DataFrame) -> pl.DataFrame:
        part = part if include_post else part.filter(is_comment())
        return part.filter(pl.col("reply_depth").is_not_null()).with_columns(depth_bin_expr(depth_bins))

    table = binned_profile(frame, bin_col="depth_bin", order_col="reply_depth", label=label, threshold=threshold,
                           n_boot=n_boot, seed=seed, prepare=rows)
    return table.rename({"bin": "depth_bin", "bin_order": "min_depth"}).with_columns(pl.col("min_depth").cast(pl.Int64))


def position_profile(
    frame: Frames,
    *,
    label: str = "toxicity",
    threshold: float = 0.5,
    n_bins: int = DepthProfileOptions.position_bins,
    n_boot: int = 1000,
    seed: int = 0,
    min_size: float = 0,
) -> pl.DataFrame:
    """Toxicity by relative position in the thread (0 = first comment, 1 = last, by time then page order),
    in ``n_bins`` equal-width bins, with thread-bootstrap CIs. Threads of one comment sit at position 0.

    Args:
        frame: a scored comment frame, or a corpus store's buckets.
        label: the score column.
        threshold: the "toxic" cut for ``share_above``.
        n_bins: equal-width bins over [0, 1].
        n_boot, seed: bootstrap replicates and random seed.
        min_size: only threads of at least this many comments.

    Returns:
        One row per bin: ``position_bin`` (``[0, 0.5)``, ...), ``position_low``,
        ``n`` (scored comments), ``n_unscored`` (null score), ``n_threads``, ``mean``, ``mean_low``,
        ``mean_high``, ``share_above``, ``share_low``, ``share_high`` (share of scores >= ``threshold``),
        ``threshold`` and ``ci_method`` (95% percentile CIs from one thread bootstrap; none for a bin held by
        a single thread).

    Example:
        Thread ``a``'s comments sit at 0, 1/3, 2/3 and 1, thread ``b``'s at 0 and 1:

        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> table = position_profile(frame, n_bins=2, n_boot=50)
        >>> table.select("position_bin", "n", pl.col("mean").round(3)).rows()
        [('[0, 0.5)', 3, 0.633), ('[0.5, 1]', 3, 0.267)]
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    names = pl.Series(edge_labels(edges, fmt="{:.2g}"), dtype=pl.String)

    def rows(part: pl.DataFrame) -> pl.DataFrame:
        part = with_thread_position(part).filter(pl.col("thread_size") >= min_size)
        idx = assign_bins(part["relative_position"].to_numpy(), edges)
        return part.with_columns(names.gather(idx).alias("bin"), pl.Series("bin_order", edges[idx], pl.Float64))

    return binned_profile(frame, bin_col="bin", order_col="bin_order", label=label, threshold=threshold,
                          n_boot=n_boot, seed=seed, prepare=rows).rename({"bin": "position_bin",
                                                                          "bin_order": "position_low"})


DEFAULT_SIZE_EDGES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


def thread_size_profile(
    frame: Frames,
    *,
    label: str = "toxicity",
    threshold: float = 0.5,
    size_edges: Sequence[int] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Toxicity by thread size (comments in the thread, post excluded) in bins starting at ``size_edges``
    (the last open-ended), with thread-bootstrap CIs.

    Args:
        frame: a scored comment frame, or a corpus store's buckets.
        label: the score column.
        threshold: the "toxic" cut for ``share_above``.
        size_edges: bin starts (``[1, 3]`` gives ``1-2`` and ``3+``); None = 1, 2, 5, 10, 20, 50, ... 5000.
        n_boot, seed: bootstrap replicates and random seed.

    Returns:
        One row per size bin, smallest first: ``size_bin``, ``size_low``,
        ``n`` (scored comments), ``n_unscored`` (null score), ``n_threads``, ``mean``, ``mean_low``,
        ``mean_high``, ``share_above``, ``share_low``, ``share_high`` (share of scores >= ``threshold``),
        ``threshold`` and ``ci_method`` (95% percentile CIs from one thread bootstrap; none for a bin held by
        a single thread).

    Example:
        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> table = thread_size_profile(frame, size_edges=[1, 3], n_boot=50)
        >>> table.select("size_bin", "n", "n_threads", "mean").rows()  # b: 2 comments, a: 4
        [('1-2', 2, 1, 0.35), ('3+', 4, 1, 0.5)]
    """
    size_bin, size_low = _range_bins(pl.col("thread_size"), size_edges or DEFAULT_SIZE_EDGES)
    columns = (size_bin.alias("size_bin"), size_low.cast(pl.Float64).alias("size_low"))
    return binned_profile(frame, bin_col="size_bin", order_col="size_low", label=label, threshold=threshold,
                          n_boot=n_boot, seed=seed, prepare=lambda part: with_thread_position(part).with_columns(
                              *columns)).rename({"bin": "size_bin", "bin_order": "size_low"})


def run_depth_profile(frame: Frames, ctx: AnalysisContext) -> AnalysisOutput:
    """Toxicity by reply depth, by relative position in the thread and by thread size (a frame, or a store's
    buckets: threads never span two, so their counts add up)."""
    o = ctx.params.depth_profile
    common = {"label": ctx.label, "threshold": ctx.threshold, **ctx.boot}
    n_threads = count_threads(frame)
    tables = {"depth_profile": depth_profile(frame, depth_bins=o.depth_bins, **common),
              "toxicity_by_position": position_profile(frame, n_bins=o.position_bins, **common),
              "toxicity_by_thread_size": thread_size_profile(frame, size_edges=o.size_edges, **common)}
    figures = []
    for name, title, x, xlabel in (
        ("depth_profile", "Toxicity by reply depth", "depth_bin", "reply depth"),
        ("toxicity_by_position", "Toxicity by position in the thread", "position_bin",
         "relative position (0 = first comment, 1 = last)"),
        ("toxicity_by_thread_size", "Toxicity by thread size", "size_bin", "thread size (comments)"),
    ):
        table = tables[name]
        caption = ctx.caption(shown(int(table["n"].sum()), n_threads), ctx.ci_note(ci_methods(table)))
        options = {"label": ctx.label, "threshold": ctx.threshold, "x": x, "xlabel": xlabel}
        figures.append((FigureSpec(name, "profile", title, caption, options), table))
    empty = {name: f"no scored comment{' with a known reply depth' if name == 'depth_profile' else ''}"
             for name, table in tables.items() if table["n"].sum() == 0}
    return applicable(tables, figures, empty)


DECLARED = (
    Analysis("depth_profile", run_depth_profile, DepthProfileOptions, bucketed=True,
             reads=("thread_id", "comment_id", "is_post", "reply_depth", "created_at", "source_position"),
             tables=("depth_profile", "toxicity_by_position", "toxicity_by_thread_size"),
             figures=("depth_profile", "toxicity_by_position", "toxicity_by_thread_size")),
)
