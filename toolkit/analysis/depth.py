"""Toxicity by reply depth, by position in the thread and by thread size: mean and share above a
threshold, each with thread-bootstrap CIs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from toolkit.analysis.common import Frames, assign_bins, binned_profile, edge_labels, with_thread_position
from toolkit.settings import DepthProfileOptions


def depth_bin_expr(depth_bins: Sequence[int] | None) -> pl.Expr:
    """Label for each row's depth: the depth itself, or ``"a-b"`` / ``"a+"`` ranges from bin edges."""
    depth = pl.col("reply_depth")
    if not depth_bins:
        return depth.cast(pl.String).alias("depth_bin")
    edges = sorted(set(int(e) for e in depth_bins))
    expr = pl.when(depth < edges[0]).then(pl.lit(f"<{edges[0]}"))
    for lo, hi in zip(edges, edges[1:], strict=False):
        label = str(lo) if hi - lo == 1 else f"{lo}-{hi - 1}"
        expr = expr.when(depth < hi).then(pl.lit(label))
    return expr.otherwise(pl.lit(f"{edges[-1]}+")).alias("depth_bin")


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
    ``frame``: a frame, or a store's buckets.
    """
    def rows(part: pl.DataFrame) -> pl.DataFrame:
        part = part if include_post else part.filter(~pl.col("is_post"))
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
    in ``n_bins`` equal-width bins, with thread-bootstrap CIs; threads of ``min_size`` comments or more
    (a frame, or a store's buckets). Threads of one comment sit at position 0."""
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
    (the last open-ended), with thread-bootstrap CIs (a frame, or a store's buckets)."""
    edges = sorted(set(int(e) for e in (size_edges or DEFAULT_SIZE_EDGES)))
    size = pl.col("thread_size")
    expr = pl.when(size < edges[0]).then(pl.lit(f"<{edges[0]}"))
    low = pl.when(size < edges[0]).then(pl.lit(0))
    for lo, hi in zip(edges, edges[1:], strict=False):
        expr = expr.when(size < hi).then(pl.lit(str(lo) if hi - lo == 1 else f"{lo}-{hi - 1}"))
        low = low.when(size < hi).then(pl.lit(lo))
    columns = (expr.otherwise(pl.lit(f"{edges[-1]}+")).alias("size_bin"),
               low.otherwise(pl.lit(edges[-1])).cast(pl.Float64).alias("size_low"))
    return binned_profile(frame, bin_col="size_bin", order_col="size_low", label=label, threshold=threshold,
                          n_boot=n_boot, seed=seed, prepare=lambda part: with_thread_position(part).with_columns(
                              *columns)).rename({"bin": "size_bin", "bin_order": "size_low"})
