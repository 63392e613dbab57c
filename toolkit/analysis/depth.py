"""Toxicity by reply depth: mean and share above a threshold, with thread-bootstrap CIs."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from toolkit.analysis.stats import bootstrap_mean


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
    frame: pl.DataFrame,
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
    """
    rows = frame if include_post else frame.filter(~pl.col("is_post"))
    rows = rows.filter(pl.col("reply_depth").is_not_null()).with_columns(depth_bin_expr(depth_bins))
    out = []
    for (depth_bin,), group in rows.group_by("depth_bin", maintain_order=True):
        scored = group.filter(pl.col(label).is_not_null())
        mean = bootstrap_mean(scored[label], scored["thread_id"], n_boot=n_boot, seed=seed)
        share = bootstrap_mean(
            (scored[label] >= threshold).cast(pl.Float64), scored["thread_id"], n_boot=n_boot, seed=seed
        )
        out.append(
            {
                "depth_bin": depth_bin,
                "min_depth": int(group["reply_depth"].min()),
                "n": mean.n,
                "n_unscored": group.height - scored.height,
                "n_threads": mean.n_clusters,
                "mean": mean.estimate,
                "mean_low": mean.low,
                "mean_high": mean.high,
                "share_above": share.estimate,
                "share_low": share.low,
                "share_high": share.high,
                "threshold": threshold,
                "ci_method": mean.method,
            }
        )
    schema = {
        "depth_bin": pl.String, "min_depth": pl.Int64, "n": pl.Int64, "n_unscored": pl.Int64,
        "n_threads": pl.Int64, "mean": pl.Float64, "mean_low": pl.Float64, "mean_high": pl.Float64,
        "share_above": pl.Float64, "share_low": pl.Float64, "share_high": pl.Float64,
        "threshold": pl.Float64, "ci_method": pl.String,
    }
    return pl.DataFrame(out, schema=schema).sort("min_depth")
