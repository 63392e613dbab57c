"""Cluster (thread) bootstrap: comments in a thread are not independent, so CIs resample whole threads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

THREAD_BOOTSTRAP = "thread bootstrap"
COMMENT_BOOTSTRAP = "comment bootstrap (single thread: threads cannot be resampled)"


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    n: int
    n_clusters: int
    method: str


def _weights(n_clusters: int, n_boot: int, seed: int) -> np.ndarray:
    """Multinomial resampling weights, one row per bootstrap replicate."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=n_boot).astype(np.float64)


def bootstrap_mean(
    values: pl.Series | np.ndarray,
    clusters: pl.Series | np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> Interval:
    """Mean of ``values`` with a percentile CI from resampling whole clusters (nulls/NaN ignored).

    With a single cluster, threads cannot be resampled: the CI falls back to resampling comments and
    says so in ``method``. With no values, every number is NaN.
    """
    v = np.asarray(pl.Series(values).cast(pl.Float64).fill_null(np.nan).to_numpy(), dtype=np.float64)
    c = np.asarray(pl.Series(clusters).cast(pl.String).to_numpy())
    keep = ~np.isnan(v)
    v, c = v[keep], c[keep]
    if v.size == 0:
        return Interval(np.nan, np.nan, np.nan, 0, 0, THREAD_BOOTSTRAP)
    labels, codes = np.unique(c, return_inverse=True)
    method = THREAD_BOOTSTRAP
    if labels.size == 1:
        codes, method = np.arange(v.size), COMMENT_BOOTSTRAP
    n_units = int(codes.max()) + 1
    sums = np.bincount(codes, weights=v, minlength=n_units)
    counts = np.bincount(codes, minlength=n_units).astype(np.float64)
    w = _weights(n_units, n_boot, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (w @ sums) / (w @ counts)
    reps = reps[~np.isnan(reps)]
    alpha = (1 - level) / 2
    low, high = (np.quantile(reps, [alpha, 1 - alpha]) if reps.size else (np.nan, np.nan))
    return Interval(float(v.mean()), float(low), float(high), int(v.size), int(labels.size), method)


def naive_mean_ci(values: pl.Series | np.ndarray, *, level: float = 0.95) -> tuple[float, float]:
    """The normal-approximation CI that treats comments as independent (for comparison only)."""
    from scipy import stats

    v = pl.Series(values).cast(pl.Float64).drop_nulls().drop_nans().to_numpy()
    if v.size < 2:
        return (np.nan, np.nan)
    half = stats.norm.ppf(1 - (1 - level) / 2) * v.std(ddof=1) / np.sqrt(v.size)
    return (float(v.mean() - half), float(v.mean() + half))


def bootstrap_difference(
    values: pl.Series | np.ndarray,
    group: pl.Series | np.ndarray,
    clusters: pl.Series | np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, float]:
    """Mean(group True) - mean(group False) with a thread-bootstrap CI and a two-sided bootstrap p-value.

    The p-value is the share of replicates on the far side of zero, doubled (clipped to 1).
    """
    v = np.asarray(pl.Series(values).cast(pl.Float64).fill_null(np.nan).to_numpy(), dtype=np.float64)
    g = np.asarray(pl.Series(group).cast(pl.Boolean).fill_null(False).to_numpy())
    c = np.asarray(pl.Series(clusters).cast(pl.String).to_numpy())
    keep = ~np.isnan(v)
    v, g, c = v[keep], g[keep], c[keep]
    out = {"n_true": int(g.sum()), "n_false": int((~g).sum()), "difference": np.nan, "low": np.nan,
           "high": np.nan, "p_value": np.nan}
    if out["n_true"] == 0 or out["n_false"] == 0:
        return out
    labels, codes = np.unique(c, return_inverse=True)
    if labels.size == 1:
        codes = np.arange(v.size)
    n_units = int(codes.max()) + 1
    st = np.bincount(codes, weights=v * g, minlength=n_units)
    nt = np.bincount(codes, weights=g.astype(float), minlength=n_units)
    sf = np.bincount(codes, weights=v * ~g, minlength=n_units)
    nf = np.bincount(codes, weights=(~g).astype(float), minlength=n_units)
    w = _weights(n_units, n_boot, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (w @ st) / (w @ nt) - (w @ sf) / (w @ nf)
    reps = reps[~np.isnan(reps)]
    diff = float(v[g].mean() - v[~g].mean())
    alpha = (1 - level) / 2
    if reps.size:
        out["low"], out["high"] = (float(x) for x in np.quantile(reps, [alpha, 1 - alpha]))
        out["p_value"] = float(min(1.0, 2 * min((reps <= 0).mean(), (reps >= 0).mean())))
    out["difference"] = diff
    return out
