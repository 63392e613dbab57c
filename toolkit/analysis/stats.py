"""Cluster (thread) bootstrap: comments in a thread are not independent, so CIs resample whole threads.

One core serves every interval here: :func:`cluster_codes` picks the resampling units (threads, or comments
when there is one thread), :func:`weight_blocks` draws the replicates (same seed, same draws everywhere),
:func:`percentile_ci` and :func:`bootstrap_pvalue` summarise them into a :class:`BootResult`. Statistics of
sums use :func:`replicate_sums`, any other statistic of row weights :func:`bootstrap_replicates`; per-group
means come as :class:`GroupIntervals` (:func:`grouped_bootstrap_means`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

THREAD_BOOTSTRAP = "thread bootstrap"
COMMENT_BOOTSTRAP = "comment bootstrap (single thread: threads cannot be resampled)"
ONE_THREAD = "thread bootstrap (one thread in this group: no CI)"
BLOCK_ENTRIES = 1 << 22  # weights generated per block (32 MB): memory stays flat for a million units
REPLICATE_ENTRIES = 1 << 24  # replicate sums held at once by cell_means (128 MB): more cells take more passes


@dataclass(frozen=True)
class BootResult:
    """A statistic with its cluster-bootstrap percentile CI and a two-sided bootstrap p-value vs ``null``;
    ``n`` rows, ``n_clusters`` threads, ``method`` the CI method."""

    estimate: float
    low: float
    high: float
    p_value: float
    n: int
    n_clusters: int
    method: str


# ------------------------------------------ the bootstrap core -------------------------------------------


def dense_codes(clusters: pl.Series | np.ndarray | list) -> tuple[np.ndarray, int]:
    """0-based codes of the cluster labels in sorted label order (as ``np.unique``), and how many labels;
    computed by Polars (fast for string ids). Nulls form one label of their own.

    Args:
        clusters: one label per row (thread ids); compared as text.

    Returns:
        ``(codes, n_labels)``: an int64 array with one code per row, and the number of distinct labels.

    Example:
        >>> codes, n = dense_codes(["b", "a", "b", None])  # null sorts first, as ""
        >>> codes.tolist(), n
        ([2, 1, 2, 0], 3)
    """
    codes = pl.Series(clusters).cast(pl.String).fill_null("").rank("dense").to_numpy().astype(np.int64) - 1
    return codes, int(codes.max(initial=-1)) + 1  # none: 0 labels


def cluster_codes(clusters: pl.Series | np.ndarray | list) -> tuple[np.ndarray, int, int, str]:
    """Integer codes of the resampling units: threads, or rows when there is only one thread (the one
    place the single-thread fallback is decided).

    Args:
        clusters: one thread id per row.

    Returns:
        ``(codes, n_units, n_threads, method)``.

    Example:
        >>> codes, n_units, n_threads, method = cluster_codes(["b", "a", "b"])
        >>> codes.tolist(), n_units, n_threads, method
        ([1, 0, 1], 2, 2, 'thread bootstrap')
        >>> cluster_codes(["a", "a", "a"])[0].tolist()  # one thread: every row is its own unit
        [0, 1, 2]
    """
    codes, n_labels = dense_codes(clusters)  # none: 0 threads, 0 units (a thread bootstrap of nothing)
    if n_labels == 1:
        return np.arange(codes.size, dtype=np.int64), int(codes.size), 1, COMMENT_BOOTSTRAP
    return codes, n_labels, n_labels, THREAD_BOOTSTRAP


def weight_blocks(n_clusters: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Multinomial resampling weights, one row per bootstrap replicate (how often each unit is drawn),
    in blocks of rows; the concatenated blocks are the same for any block size (same seed, same draws).

    Args:
        n_clusters: resampling units (threads) per replicate.
        n_boot: replicates in all.
        seed: the random seed.

    Returns:
        An iterator of float arrays of shape ``(rows, n_clusters)``; every row sums to ``n_clusters``.

    Example:
        >>> block = next(weight_blocks(3, 4, seed=0))
        >>> block.shape, block.sum(axis=1).tolist()
        ((4, 3), [3.0, 3.0, 3.0, 3.0])
    """
    rng = np.random.default_rng(seed)
    p = np.full(n_clusters, 1.0 / n_clusters)
    step = max(1, BLOCK_ENTRIES // max(n_clusters, 1))
    for start in range(0, n_boot, step):
        yield rng.multinomial(n_clusters, p, size=min(step, n_boot - start)).astype(np.float64)


def replicate_products(matrix: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """``W @ matrix`` for the bootstrap weights W (n_boot x units) of ``seed``, block by block:
    per-unit sums in, per-replicate sums out (n_boot x columns).

    Args:
        matrix: per-unit sums, shape ``(units,)`` or ``(units, columns)``.
        n_boot: replicates.
        seed: the random seed (same seed, same weights as every other function here).

    Returns:
        Shape ``(n_boot,)`` or ``(n_boot, columns)``: each replicate's weighted sums.

    Example:
        >>> import numpy as np
        >>> replicate_products(np.ones(3), 4, seed=0).tolist()  # each replicate draws 3 units in all
        [3.0, 3.0, 3.0, 3.0]
    """
    m = np.asarray(matrix, dtype=np.float64)
    m2 = m[:, None] if m.ndim == 1 else m
    out = np.vstack([block @ m2 for block in weight_blocks(m2.shape[0], n_boot, seed)])
    return out[:, 0] if m.ndim == 1 else out


def percentile_ci(replicates: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over the first axis, NaN replicates ignored (NaN where none are left).

    Args:
        replicates: shape ``(n_boot, ...)``.
        level: the interval's coverage.

    Returns:
        ``(low, high)``, each of shape ``replicates.shape[1:]``.

    Example:
        >>> import numpy as np
        >>> [round(float(x), 6) for x in percentile_ci(np.arange(101.0))]
        [2.5, 97.5]
    """
    reps = np.asarray(replicates, dtype=np.float64)
    alpha = (1 - level) / 2
    if reps.shape[0] == 0 or np.isnan(reps).all(axis=0).all():
        nan = np.full(reps.shape[1:], np.nan)
        return (nan, nan.copy()) if nan.ndim else (np.float64(np.nan), np.float64(np.nan))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanquantile(reps, [alpha, 1 - alpha], axis=0)
    return low, high


def bootstrap_pvalue(replicates: np.ndarray, null: float) -> float:
    """Two-sided percentile-bootstrap p-value: twice the share of replicates on the far side of ``null``.

    Args:
        replicates: the statistic on each replicate (NaN ignored).
        null: the value under the null hypothesis (0 for a difference, 1 for a ratio).

    Returns:
        The p-value in [0, 1]; NaN without replicates.

    Example:
        >>> import numpy as np
        >>> bootstrap_pvalue(np.array([0.1, 0.2, -0.1, 0.3]), 0.0)  # 2 x 1/4 below zero
        0.5
    """
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[~np.isnan(reps)]
    if reps.size == 0:
        return float("nan")
    return float(min(1.0, 2 * min((reps <= null).mean(), (reps >= null).mean())))


def summarize(estimate: float, replicates: np.ndarray, n: int, n_threads: int, method: str, *,
              null: float = 0.0, level: float = 0.95) -> BootResult:
    """A BootResult from an estimate and its replicates (NaN replicates ignored).

    Args:
        estimate: the statistic on the data.
        replicates: the statistic on each replicate.
        n, n_threads, method: carried into the result.
        null: the p-value's null value.
        level: the CI's coverage.

    Returns:
        A :class:`BootResult` with a percentile CI and a two-sided bootstrap p-value.

    Example:
        >>> import numpy as np
        >>> r = summarize(2.5, np.array([1.5, 2.5, 2.5, 3.5]), 4, 2, THREAD_BOOTSTRAP)
        >>> r.estimate, round(r.low, 3), round(r.high, 3), r.p_value  # no replicate <= 0
        (2.5, 1.575, 3.425, 0.0)
    """
    low, high = percentile_ci(np.asarray(replicates, dtype=np.float64), level)
    return BootResult(float(estimate), float(low), float(high), bootstrap_pvalue(replicates, null), int(n),
                      int(n_threads), method)


def unit_replicates(per_unit: np.ndarray, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Column sums of per-unit sums (units x m, in the order the weights are drawn) on the data and on each
    bootstrap replicate; without units, zeros and NaN replicates.

    >>> totals, reps = unit_replicates(np.array([[1.0], [2.0]]), 3, seed=0)
    >>> totals.tolist(), reps.shape
    ([3.0], (3, 1))
    """
    if per_unit.shape[0] == 0:
        return np.zeros(per_unit.shape[1]), np.full((n_boot, per_unit.shape[1]), np.nan)
    return per_unit.sum(axis=0), replicate_products(per_unit, n_boot, seed)


def replicate_sums(
    columns: np.ndarray, clusters: pl.Series | np.ndarray | list, *, n_boot: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, int, str]:
    """Column sums of ``columns`` (rows x m) on the data and on each thread-bootstrap replicate.

    Statistics that are functions of sums (means, rates, ratios, moments) then need no per-replicate pass
    over the rows.

    Args:
        columns: rows x m numbers (or one column).
        clusters: one thread id per row.
        n_boot, seed: replicates and random seed.

    Returns:
        ``(totals (m,), replicates (n_boot x m), n_threads, method)``.

    Example:
        >>> import numpy as np
        >>> cols = np.column_stack([np.ones(4), [1.0, 2, 3, 4]])  # (count, value): a mean is their ratio
        >>> totals, reps, n_threads, method = replicate_sums(cols, ["a", "a", "b", "b"], n_boot=50)
        >>> totals.tolist(), reps.shape, sorted(set((reps[:, 1] / reps[:, 0]).tolist()))
        ([4.0, 10.0], (50, 2), [1.5, 2.5, 3.5])
    """
    cols = np.asarray(columns, dtype=np.float64)
    cols = cols[:, None] if cols.ndim == 1 else cols
    codes, n_units, n_threads, method = cluster_codes(clusters)
    per_unit = np.column_stack([np.bincount(codes, weights=cols[:, j], minlength=n_units)
                                for j in range(cols.shape[1])])
    return (*unit_replicates(per_unit, n_boot, seed), n_threads, method)


def bootstrap_replicates(
    stat: Callable[[np.ndarray], float | np.ndarray],
    clusters: pl.Series | np.ndarray | list,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, int, str]:
    """``stat(row_weights)`` on the data (all weights 1) and on ``n_boot`` thread-resampled replicates.

    Resampling whole threads with replacement is the same as giving every row of thread t the weight
    "how many times t was drawn", so one code path serves means, AUCs, rank correlations and curves.

    Args:
        stat: the statistic of per-row frequency weights (a row of a thread drawn twice weighs 2).
        clusters: one thread id per row.
        n_boot, seed: replicates and random seed.

    Returns:
        ``(estimate, replicates, n_threads, method)``; replicates has shape ``(n_boot, ...)``.

    Example:
        >>> import numpy as np
        >>> v = np.array([1.0, 2, 3, 4])
        >>> threads = ["a", "a", "b", "b"]
        >>> est, reps, n_threads, _ = bootstrap_replicates(lambda w: weighted_mean(v, w), threads, n_boot=50)
        >>> float(est), reps.shape, n_threads, sorted(set(reps.tolist()))
        (2.5, (50,), 2, [1.5, 2.5, 3.5])
    """
    codes, n_units, n_threads, method = cluster_codes(clusters)
    estimate = np.asarray(stat(np.ones(codes.size)), dtype=np.float64)
    if n_units == 0:
        return estimate, np.full((0, *estimate.shape), np.nan), 0, method
    reps = np.stack([np.asarray(stat(row[codes]), dtype=np.float64)
                     for block in weight_blocks(n_units, n_boot, seed) for row in block])
    return estimate, reps, n_threads, method


# ---------------------------------------- entry points on rows -------------------------------------------


def cluster_bootstrap(
    stat: Callable[[np.ndarray], float],
    clusters: pl.Series | np.ndarray | list,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    null: float = 0.0,
) -> BootResult:
    """A scalar statistic of weighted rows with a thread-bootstrap percentile CI and p-value vs ``null``.

    Args:
        stat: the statistic of per-row frequency weights (all ones = the data as it is).
        clusters: one thread id per row; with a single thread, rows are resampled.
        n_boot, seed, level: replicates, random seed and CI coverage.
        null: the value the p-value tests against.

    Returns:
        A :class:`BootResult` (estimate, low, high, p_value, n rows, n_clusters threads, method).

    Example:
        >>> import numpy as np
        >>> v = np.array([1.0, 2, 3, 4])
        >>> r = cluster_bootstrap(lambda w: weighted_mean(v, w), ["a", "a", "b", "b"], n_boot=50)
        >>> r.estimate, r.low, r.high, r.p_value, r.n, r.n_clusters
        (2.5, 1.5, 3.5, 0.0, 4, 2)
    """
    estimate, reps, n_threads, method = bootstrap_replicates(stat, clusters, n_boot=n_boot, seed=seed)
    return summarize(estimate, reps, len(clusters), n_threads, method, null=null, level=level)


def _with_values(values: pl.Series | np.ndarray, clusters: pl.Series | np.ndarray, *others: np.ndarray
                 ) -> tuple[np.ndarray, pl.Series, tuple[np.ndarray, ...]]:
    """The rows of ``values`` that hold a number (nulls and NaN left out), their clusters and ``others``."""
    v = np.asarray(pl.Series(values).cast(pl.Float64).fill_null(np.nan).to_numpy(), dtype=np.float64)
    keep = ~np.isnan(v)
    return v[keep], pl.Series(clusters).filter(pl.Series(keep)), tuple(o[keep] for o in others)


def bootstrap_mean(
    values: pl.Series | np.ndarray,
    clusters: pl.Series | np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> BootResult:
    """Mean of ``values`` with a percentile CI from resampling whole clusters (nulls/NaN ignored).

    With a single cluster, threads cannot be resampled: the CI falls back to resampling comments and
    says so in ``method``. With no values, every number is NaN.

    Args:
        values: one number per row (comment scores).
        clusters: one thread id per row.
        n_boot: bootstrap replicates.
        seed: the random seed.
        level: the CI's coverage.

    Returns:
        A :class:`BootResult`: ``estimate`` (the mean), ``low``/``high`` (percentile CI), ``p_value`` (vs 0),
        ``n`` (rows with a value), ``n_clusters`` (threads) and ``method`` (``"thread bootstrap"`` or the
        comment fallback).

    Example:
        Thread ``a`` averages 1.5 and ``b`` 3.5, so every replicate is 1.5, 2.5 or 3.5:

        >>> r = bootstrap_mean([1.0, 2.0, 3.0, 4.0], ["a", "a", "b", "b"], n_boot=50)
        >>> r.estimate, r.low, r.high, r.n, r.n_clusters, r.method
        (2.5, 1.5, 3.5, 4, 2, 'thread bootstrap')
        >>> bootstrap_mean([1.0, 2.0], ["a", "a"], n_boot=50).method
        'comment bootstrap (single thread: threads cannot be resampled)'
    """
    v, threads, _ = _with_values(values, clusters)
    _, reps, n_threads, method = replicate_sums(np.column_stack([v, np.ones_like(v)]), threads,
                                                n_boot=n_boot, seed=seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = reps[:, 0] / reps[:, 1]
    return summarize(v.mean() if v.size else np.nan, ratio, v.size, n_threads, method, level=level)


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

    Args:
        values: one number per row (NaN/null rows left out).
        group: one boolean per row (null counts as False).
        clusters: one thread id per row; with a single thread, comments are resampled.
        n_boot, seed, level: replicates, random seed and CI coverage.

    Returns:
        A dict: ``n_true``, ``n_false`` (rows per side), ``difference``, ``low``, ``high`` (percentile CI)
        and ``p_value``; all NaN but the counts when a side is empty.

    Example:
        In both threads the True row is 1 below the False row, so every replicate is -1:

        >>> bootstrap_difference([1.0, 2, 3, 4], [True, False, True, False], ["a", "a", "b", "b"], n_boot=50)
        {'n_true': 2, 'n_false': 2, 'difference': -1.0, 'low': -1.0, 'high': -1.0, 'p_value': 0.0}
    """
    g = np.asarray(pl.Series(group).cast(pl.Boolean).fill_null(False).to_numpy())
    v, threads, (g,) = _with_values(values, clusters, g)
    out = {"n_true": int(g.sum()), "n_false": int((~g).sum()), "difference": np.nan, "low": np.nan,
           "high": np.nan, "p_value": np.nan}
    if out["n_true"] == 0 or out["n_false"] == 0:
        return out
    columns = np.column_stack([v * g, g.astype(float), v * ~g, (~g).astype(float)])
    _, prod, n_threads, method = replicate_sums(columns, threads, n_boot=n_boot, seed=seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = prod[:, 0] / prod[:, 1] - prod[:, 2] / prod[:, 3]
    r = summarize(v[g].mean() - v[~g].mean(), reps, v.size, n_threads, method, level=level)
    return out | {"difference": r.estimate, "low": r.low, "high": r.high, "p_value": r.p_value}


def naive_mean_ci(values: pl.Series | np.ndarray, *, level: float = 0.95) -> tuple[float, float]:
    """The normal-approximation CI that treats comments as independent (for comparison only).

    Args:
        values: the numbers (nulls and NaN dropped).
        level: the CI's coverage.

    Returns:
        ``(low, high)`` = mean -/+ z * SD / sqrt(n); NaN with fewer than two values.

    Example:
        >>> [round(x, 2) for x in naive_mean_ci([1.0, 2, 3, 4, 5])]  # 3 -/+ 1.96 * sqrt(2.5 / 5)
        [1.61, 4.39]
    """
    from scipy import stats

    v = pl.Series(values).cast(pl.Float64).drop_nulls().drop_nans().to_numpy()
    if v.size < 2:
        return (np.nan, np.nan)
    half = stats.norm.ppf(1 - (1 - level) / 2) * v.std(ddof=1) / np.sqrt(v.size)
    return (float(v.mean() - half), float(v.mean() + half))


# ------------------------------------------ per-group means ----------------------------------------------


@dataclass(frozen=True)
class GroupIntervals:
    """Per-group means of one or more value columns with thread-bootstrap CIs (arrays: group x column);
    ``n`` counts non-NaN rows, ``n_clusters`` threads per group, ``method`` the CI method per group."""

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: np.ndarray  # rows per group and column (non-NaN values)
    n_clusters: np.ndarray  # threads per group
    method: list[str]  # per group

def grouped_bootstrap_means(
    values: np.ndarray,
    clusters: pl.Series | np.ndarray | list,
    groups: np.ndarray,
    n_groups: int,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> GroupIntervals:
    """Means of ``values`` (rows x columns, NaN ignored) per group (0..n_groups-1), all from *one* resampling
    of the data's threads: each replicate draws the threads of the whole data set with replacement, and
    every group's mean is recomputed from the threads drawn. A group held by a single thread gets no CI
    (NaN, said in ``method``); a data set of one thread resamples comments instead (said too).

    Args:
        values: rows x columns (or one column), NaN = no value.
        clusters: one thread id per row.
        groups: the group (0..n_groups-1) of each row, e.g. a depth bin.
        n_groups: how many groups (empty ones get NaN).
        n_boot, seed, level: replicates, random seed and CI coverage.

    Returns:
        A :class:`GroupIntervals` with arrays of shape ``(n_groups, columns)``.

    Example:
        >>> import numpy as np
        >>> ci = grouped_bootstrap_means(np.array([1.0, 2, 3, 4, 5, 6]), ["a", "a", "b", "b", "c", "c"],
        ...                              np.array([0, 1, 0, 1, 0, 1]), 2, n_boot=50)
        >>> ci.estimate[:, 0].tolist(), ci.n[:, 0].tolist(), ci.n_clusters.tolist(), ci.method[0]
        ([3.0, 4.0], [3, 3], [3, 3], 'thread bootstrap')
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[:, None] if v.ndim == 1 else v
    codes, n_units, _, method = cluster_codes(clusters)
    cells = unit_cells(v, codes, np.asarray(groups, dtype=np.int64))
    return cell_means(cells, n_units, n_groups, method, n_boot=n_boot, seed=seed, level=level)

def unit_cells(values: np.ndarray, units: np.ndarray, groups: np.ndarray) -> pl.DataFrame:
    """The sufficient statistics of per-group means: one row per (unit, group) present, with the sum
    ``s<j>`` and count ``c<j>`` of each value column's non-NaN entries and the rows ``n`` (NaN included).

    >>> unit_cells(np.array([[1.0], [np.nan], [3.0]]), np.array([0, 0, 1]), np.array([0, 0, 0])).rows()
    [(0, 0, 2, 1.0, 1.0), (1, 0, 1, 3.0, 1.0)]
    """
    ok, k = ~np.isnan(values), values.shape[1]
    columns = {"unit": units, "group": groups}
    for j in range(k):
        columns[f"s{j}"] = np.where(ok[:, j], values[:, j], 0.0)
        columns[f"c{j}"] = ok[:, j].astype(np.float64)
    return (pl.DataFrame(columns).group_by("unit", "group")
            .agg(pl.len().cast(pl.Int64).alias("n"), *(pl.col(f"{x}{j}").sum() for j in range(k) for x in "sc"))
            .sort("unit", "group"))

def cell_means(cells: pl.DataFrame, n_units: int, n_groups: int, method: str, *, n_boot: int = 1000,
               seed: int = 0, level: float = 0.95) -> GroupIntervals:
    """:func:`grouped_bootstrap_means` from its sufficient statistics (:func:`unit_cells`; units coded
    0..n_units-1 in the order the weights are drawn). The replicate sums are a sparse product, so time and
    memory grow with the cells present, not units x groups."""
    from scipy import sparse

    k = sum(1 for c in cells.columns if c.startswith("s"))
    unit, group = cells["unit"].to_numpy(), cells["group"].to_numpy()
    sums, counts = (cells.select(f"{x}{j}" for j in range(k)).to_numpy() for x in "sc")
    n = np.stack([np.bincount(group, weights=counts[:, j], minlength=n_groups) for j in range(k)], axis=1)
    total = np.stack([np.bincount(group, weights=sums[:, j], minlength=n_groups) for j in range(k)], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = total / n
    per_group = np.bincount(group[counts.sum(axis=1) > 0], minlength=n_groups)  # units with a value
    per_group_threads = per_group if method == THREAD_BOOTSTRAP else (per_group > 0).astype(np.int64)
    low, high = np.full((n_groups, k), np.nan), np.full((n_groups, k), np.nan)
    if n_units:
        half = n_groups * k
        col = group[:, None] * k + np.arange(k)[None, :]
        matrix = sparse.csr_matrix(
            (np.concatenate([sums.ravel(), counts.ravel()]),
             (np.concatenate([np.repeat(unit, k)] * 2), np.concatenate([col.ravel(), half + col.ravel()]))),
            shape=(n_units, 2 * half)).T.tocsr()
        low, high = low.ravel(), high.ravel()
        step = max(1, REPLICATE_ENTRIES // (2 * max(n_boot, 1)))  # (group, column) cells per pass
        for start in range(0, half, step):  # the replicates of many cells (deep depths x markers) in bounded passes
            cells = np.arange(start, min(start + step, half))
            part = matrix[np.concatenate([cells, half + cells])]
            prod = np.vstack([(part @ block.T).T for block in weight_blocks(n_units, n_boot, seed)])
            with np.errstate(invalid="ignore", divide="ignore"):
                reps = prod[:, :cells.size] / prod[:, cells.size:]
            low[cells], high[cells] = percentile_ci(reps, level)
        low, high = low.reshape(n_groups, k), high.reshape(n_groups, k)
    one = (per_group_threads == 1) & (method == THREAD_BOOTSTRAP)  # a group held by one thread: no CI
    low[one], high[one] = np.nan, np.nan
    return GroupIntervals(estimate, low, high, n.astype(np.int64), per_group_threads.astype(np.int64),
                          [ONE_THREAD if o else method for o in one])





PERMUTATION_WORK = 20_000_000  # rows x draws per permutation test (at least 199 draws)


def permutation_draws(n_rows: int, n_boot: int) -> int:
    """How many permutations to draw: ``n_boot``, fewer for big data (at least 199), so a test on a
    million comments costs seconds, not minutes. The p-value's floor is ``1 / (1 + draws)``.

    Example:
        >>> permutation_draws(1_000, 1000), permutation_draws(1_000_000, 1000)
        (1000, 199)
    """
    return int(min(n_boot, max(199, PERMUTATION_WORK // max(n_rows, 1))))


def stratified_permutation_pvalue(
    stat: Callable[[np.ndarray], float],
    group: np.ndarray,
    strata: np.ndarray | None = None,
    *,
    n_perm: int = 1000,
    seed: int = 0,
    null: float = 0.0,
) -> float:
    """Two-sided permutation p-value: ``group`` shuffled within ``strata`` (threads, thread x depth, ...).

    ``stat(group)`` is the test statistic; p = (1 + #{|T* - null| >= |T - null|}) / (1 + n_perm).

    Args:
        stat: the test statistic of a (permuted) group array.
        group: the labels to shuffle (e.g. removed or not).
        strata: shuffle only within these (None: one stratum).
        n_perm: permutations drawn (see :func:`permutation_draws`).
        seed: the random seed.
        null: the statistic's value under the null hypothesis.

    Returns:
        The p-value in (0, 1]; NaN when the statistic is NaN or ``n_perm`` is 0.

    Example:
        Three high values all in one group: 2 of the 20 splits are as extreme, so p is near 0.1.

        >>> import numpy as np
        >>> v = np.array([1.0, 2, 3, 10, 11, 12])
        >>> p = stratified_permutation_pvalue(lambda g: v[g].mean() - v[~g].mean(), v > 5, n_perm=199)
        >>> 0.03 < p < 0.2
        True
    """
    group = np.asarray(group)
    observed = stat(group)
    if np.isnan(observed) or n_perm <= 0:
        return float("nan")
    strata = np.zeros(group.size, dtype=np.int64) if strata is None else np.asarray(strata)
    codes = np.unique(strata, return_inverse=True)[1].astype(np.float64)
    rng = np.random.default_rng(seed)
    base = np.argsort(codes, kind="stable")
    hits, valid = 0, 0
    tol = 1e-12 * max(1.0, abs(observed - null))
    for _ in range(n_perm):
        # integer stratum code + a uniform draw in [0, 1): sorting groups by stratum, shuffled within it
        shuffled = np.argsort(codes + rng.random(group.size))
        permuted = np.empty_like(group)
        permuted[base] = group[shuffled]
        t = stat(permuted)
        if np.isnan(t):
            continue
        valid += 1
        hits += abs(t - null) >= abs(observed - null) - tol
    return float((1 + hits) / (1 + valid))


# ----------------------------------------- weighted statistics -------------------------------------------


def weighted_mean(values: np.ndarray, w: np.ndarray) -> float:
    """Σ w·v / Σ w (NaN when the weights sum to zero).

    Example:
        >>> import numpy as np
        >>> weighted_mean(np.array([1.0, 2, 3]), np.array([1.0, 0, 1]))
        2.0
    """
    total = w.sum()
    return float((w * values).sum() / total) if total > 0 else float("nan")


def cohen_d(a: np.ndarray, b: np.ndarray) -> float:
    """Standardised mean difference (mean a - mean b) / pooled SD; NaN when it is undefined.

    Example:
        >>> cohen_d([1.0, 2, 3], [0.0, 1, 2])  # means 2 and 1, both variances 1
        1.0
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        return float("nan")
    pooled = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2)
    return float((a.mean() - b.mean()) / np.sqrt(pooled)) if pooled > 0 else float("nan")


def _tie_groups(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stable ascending sort order of ``v`` and each sorted value's tie group (0, 1, ...)."""
    order = np.argsort(v, kind="stable")
    s = v[order]
    return order, np.cumsum(np.r_[True, s[1:] != s[:-1]]) - 1 if v.size else np.zeros(0, np.int64)


class RankedScores:
    """Scores sorted once (descending) with their tie groups, so weighted AUC/AP/curves are O(n) per call.

    Weighted versions equal the unweighted statistic on the sample with row i repeated ``w[i]`` times,
    which is what a thread-bootstrap replicate is.

    Example:
        Positives score 0.9 and 0.4, negatives 0.8 and 0.1: 3 of the 4 pairs are ranked right.

        >>> import numpy as np
        >>> ranked = RankedScores(np.array([True, False, True, False]), np.array([0.9, 0.8, 0.4, 0.1]))
        >>> ranked.auc(np.ones(4))
        0.75
        >>> ranked.with_labels(np.array([True, True, False, False])).auc(np.ones(4))
        1.0
        >>> [round(float(x), 3) for x in ranked.summary(np.ones(4), np.array([0.5]))[:2]]  # AUC, AP
        [0.75, 0.833]
    """

    def __init__(self, y: np.ndarray, scores: np.ndarray):
        self.order, self.group = _tie_groups(-np.asarray(scores, dtype=np.float64))  # descending scores
        self.y = np.asarray(y, dtype=bool)[self.order]

    def with_labels(self, y: np.ndarray) -> RankedScores:
        """The same ranking with other outcomes (for permutation tests): no re-sorting."""
        other = object.__new__(RankedScores)
        other.order, other.group = self.order, self.group
        other.y = np.asarray(y, dtype=bool)[self.order]
        return other

    def _cum(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ws = np.asarray(w, dtype=np.float64)[self.order]
        tp = np.bincount(self.group, weights=ws * self.y)
        fp = np.bincount(self.group, weights=ws * ~self.y)
        return tp, fp

    def auc(self, w: np.ndarray) -> float:
        """ROC AUC: P(score of a positive > score of a negative) + ½ P(tie), weighted."""
        tp, fp = self._cum(w)
        pos, neg = tp.sum(), fp.sum()
        if pos <= 0 or neg <= 0:
            return float("nan")
        neg_below = neg - np.cumsum(fp)  # negatives strictly below each (descending) tie group
        return float((tp * (neg_below + 0.5 * fp)).sum() / (pos * neg))

    def summary(self, w: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """``[auc, average precision, TPR at each FPR of grid..., precision at each recall of grid...]``
        from one pass over the data (what a bootstrap replicate needs)."""
        tp, fp = self._cum(w)
        pos, neg = tp.sum(), fp.sum()
        out = np.full(2 + 2 * grid.size, np.nan)
        if pos <= 0:
            return out
        ctp, cfp = np.cumsum(tp), np.cumsum(fp)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(ctp + cfp > 0, ctp / (ctp + cfp), 0.0)
        out[1] = (tp / pos * precision).sum()
        recall = ctp / pos
        best = np.maximum.accumulate(precision[::-1])[::-1]
        idx = np.searchsorted(recall, grid, side="left")
        out[2 + grid.size:] = np.where(idx < recall.size, best[np.minimum(idx, recall.size - 1)], 0.0)
        if neg > 0:
            out[0] = (tp * (neg - cfp + 0.5 * fp)).sum() / (pos * neg)
            out[2:2 + grid.size] = np.interp(grid, np.r_[0.0, cfp / neg], np.r_[0.0, ctp / pos])
        return out


def _weighted_midranks(w: np.ndarray, order: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Midranks of the values sorted by ``order`` into tie groups ``group``, in the sample where row i appears
    ``w[i]`` times (ties share the mean rank)."""
    gw = np.bincount(group, weights=w[order])
    before = np.cumsum(gw) - gw
    ranks_sorted = before[group] + (gw[group] + 1) / 2
    ranks = np.empty_like(ranks_sorted)
    ranks[order] = ranks_sorted
    return ranks


class RankPairs:
    """Two score columns prepared once for weighted Spearman correlation (sort orders and tie groups).

    Example:
        >>> import numpy as np
        >>> pairs = RankPairs(np.array([1.0, 2, 3, 4]), np.array([1.0, 3, 2, 4]))
        >>> round(pairs.spearman(np.ones(4)), 3)  # 1 - 6 * 2 / (4 * 15)
        0.8
    """

    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.x, self.y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        self.ox, self.gx = _tie_groups(self.x)
        self.oy, self.gy = _tie_groups(self.y)

    def spearman(self, w: np.ndarray) -> float:
        """Spearman's rho of the weighted (frequency-expanded) sample."""
        w = np.asarray(w, dtype=np.float64)
        if w.sum() < 2:
            return float("nan")
        rx = _weighted_midranks(w, self.ox, self.gx)
        ry = _weighted_midranks(w, self.oy, self.gy)
        return weighted_pearson(rx, ry, w)

def weighted_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Pearson correlation with frequency weights (NaN when either side is constant).

    Example:
        >>> import numpy as np
        >>> weighted_pearson(np.array([1.0, 2, 3]), np.array([2.0, 4, 6]), np.ones(3))
        1.0
    """
    total = w.sum()
    if total <= 0:
        return float("nan")
    mx, my = (w * x).sum() / total, (w * y).sum() / total
    dx, dy = x - mx, y - my
    sxx, syy, sxy = (w * dx * dx).sum(), (w * dy * dy).sum(), (w * dx * dy).sum()
    return float(sxy / np.sqrt(sxx * syy)) if sxx > 1e-15 * total and syy > 1e-15 * total else float("nan")
