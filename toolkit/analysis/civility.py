"""Civility profile: politeness strategies (Danescu-Niculescu-Mizil et al. 2013) by reply depth, removed vs
kept comments and replies to toxic vs non-toxic parents, with thread-bootstrap CIs.

The strategy columns are markers a politeness scorer adds to the frame (counts or 0/1 flags, null where a
comment has no text); a strategy's *rate* is the share of comments using it (count > 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from toolkit.analysis.common import comments_only, named_columns
from toolkit.analysis.depth import depth_bin_expr
from toolkit.analysis.escalation import reply_pairs
from toolkit.analysis.stats import bootstrap_pvalue, grouped_bootstrap_means, percentile_ci, replicate_sums
from toolkit.schema import POLITENESS_STRATEGIES

NO_STRATEGIES = "no politeness strategy columns: run with scorer=politeness"
SHARE, MEAN = "share using", "mean score"

DEPTH_SCHEMA = {
    "strategy": pl.String, "measure": pl.String, "depth_bin": pl.String, "min_depth": pl.Int64, "n": pl.Int64,
    "n_threads": pl.Int64, "rate": pl.Float64, "rate_low": pl.Float64, "rate_high": pl.Float64,
    "mean_count": pl.Float64, "ci_method": pl.String,
}
COMPARE_SCHEMA = {
    "comparison": pl.String, "strategy": pl.String, "measure": pl.String, "n_a": pl.Int64, "n_b": pl.Int64,
    "n_threads": pl.Int64, "rate_a": pl.Float64, "rate_b": pl.Float64, "difference": pl.Float64,
    "diff_low": pl.Float64, "diff_high": pl.Float64, "p_value": pl.Float64, "log_odds": pl.Float64,
    "lo_low": pl.Float64, "lo_high": pl.Float64, "ci_method": pl.String,
}


def strategy_columns(frame: pl.DataFrame, strategies: Sequence[str] | None = None) -> list[str]:
    """The strategy marker columns: ``strategies`` as given (checked), else every column whose name (or the
    part after its last ``.``, for prefixed columns) is a known strategy.

    >>> strategy_columns(pl.DataFrame({"text": ["a"], "hedges": [1], "politeness.please": [0]}))
    ['hedges', 'politeness.please']
    """
    if strategies:
        return named_columns(frame, strategies, "strategies", "strategy columns", "the politeness scorer")
    return [c for c in frame.columns if c.rsplit(".", 1)[-1] in POLITENESS_STRATEGIES]


def uses(strategy: str) -> pl.Expr:
    """1.0 where a comment uses ``strategy`` (its count > 0), 0.0 where not, null where it has no markers.

    >>> pl.DataFrame({"hedges": [2, 0, None]}).select(uses("hedges"))["hedges"].to_list()
    [1.0, 0.0, None]
    """
    return (pl.col(strategy) > 0).cast(pl.Float64).alias(strategy)


def _values(rows: pl.DataFrame, strategies: Sequence[str], score: str | None) -> dict[str, np.ndarray]:
    """Per strategy its 0/1 use flag, then the ``score`` column when present; NaN where null."""
    exprs = [uses(c) for c in strategies]
    if score and score in rows.columns:
        exprs.append(pl.col(score).cast(pl.Float64).alias(score))
    values = rows.select(exprs).fill_nan(None).fill_null(np.nan)
    return {c: values[c].to_numpy() for c in values.columns}


def civility_by_depth(
    frame: pl.DataFrame,
    strategies: Sequence[str],
    *,
    score: str | None = "politeness",
    depth_bins: Sequence[int] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Per reply depth (or depth bin) and strategy: share of comments using it with a thread-bootstrap CI and
    the mean count; the ``score`` column's mean likewise (``measure`` = mean score). Long format.

    >>> from toolkit.analysis.synthetic import make_frame
    >>> f = make_frame([{"thread": "t", "id": "t"}, {"thread": "t", "id": "a", "parent": "t", "score": 0.1,
    ...                  "hedges": 2}, {"thread": "t", "id": "b", "parent": "a", "score": 0.1, "hedges": 0}])
    >>> civility_by_depth(f, ["hedges"], n_boot=10).select("depth_bin", "rate", "mean_count").rows()
    [('1', 1.0, 2.0), ('2', 0.0, 0.0)]
    """
    rows = comments_only(frame).filter(pl.col("reply_depth").is_not_null()).with_columns(depth_bin_expr(depth_bins))
    keys = rows.group_by("depth_bin").agg(pl.col("reply_depth").min().alias("min_depth")).sort("min_depth")
    if keys.height == 0:
        return pl.DataFrame(schema=DEPTH_SCHEMA)
    index = {b: i for i, b in enumerate(keys["depth_bin"])}
    groups = rows["depth_bin"].replace_strict(index, return_dtype=pl.Int64).to_numpy()
    values = _values(rows, strategies, score)
    ci = grouped_bootstrap_means(np.column_stack(list(values.values())), rows["thread_id"], groups, keys.height,
                                 n_boot=n_boot, seed=seed)
    counts = rows.group_by("depth_bin").agg(pl.col(c).cast(pl.Float64).mean() for c in strategies)
    counts = dict(zip(counts["depth_bin"], counts.drop("depth_bin").rows(), strict=True))
    out = []
    for j, name in enumerate(values):
        for i, (depth_bin, min_depth) in enumerate(keys.iter_rows()):
            out.append({"strategy": name, "measure": SHARE if j < len(strategies) else MEAN, "depth_bin": depth_bin,
                        "min_depth": min_depth, "n": int(ci.n[i, j]), "n_threads": int(ci.n_clusters[i]),
                        "rate": ci.estimate[i, j], "rate_low": ci.low[i, j], "rate_high": ci.high[i, j],
                        "mean_count": counts[depth_bin][j] if j < len(strategies) else None,
                        "ci_method": ci.method[i]})
    return pl.DataFrame(out, schema=DEPTH_SCHEMA)


def compare_groups(
    values: dict[str, np.ndarray],
    group: np.ndarray,
    clusters: pl.Series | np.ndarray,
    *,
    comparison: str,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Per value column: its mean in group a (``group`` True) and b, their difference with a CI and bootstrap
    p-value, and for 0/1 columns the smoothed log odds ratio of using it, a vs b,
    log((a₁+½)(b₀+½) / ((a₀+½)(b₁+½))) with a CI; all from one thread bootstrap (NaN values left out).

    >>> t = compare_groups({"hedges": np.array([1.0, 0, 0, 1])}, np.array([True, True, False, False]),
    ...                    np.array(["x", "y", "z", "w"]), comparison="a vs b", n_boot=10)
    >>> t.select("rate_a", "rate_b", "log_odds").row(0)
    (0.5, 0.5, 0.0)
    """
    g = np.asarray(group, dtype=np.float64)
    cols = []
    for v in values.values():
        ok = ~np.isnan(v)
        vz = np.where(ok, v, 0.0)
        cols += [g * vz, g * ok, (1 - g) * vz, (1 - g) * ok]
    totals, reps, n_threads, method = replicate_sums(np.column_stack(cols), clusters, n_boot=n_boot, seed=seed)

    def stats(t: np.ndarray) -> np.ndarray:
        s = t.reshape(*t.shape[:-1], len(values), 4)
        a1, a, b1, b = (s[..., i] for i in range(4))
        with np.errstate(invalid="ignore", divide="ignore"):
            ra, rb = a1 / a, b1 / b
            log_odds = np.log((a1 + 0.5) * (b - b1 + 0.5) / ((a - a1 + 0.5) * (b1 + 0.5)))
        return np.stack([ra, rb, ra - rb, log_odds], axis=-1)

    est, rep = stats(totals), stats(reps)
    low, high = percentile_ci(rep)
    n = totals.reshape(len(values), 4)
    out = []
    for j, (name, v) in enumerate(values.items()):
        binary = bool(np.isin(v[~np.isnan(v)], (0.0, 1.0)).all())
        out.append({"comparison": comparison, "strategy": name, "measure": SHARE if binary else MEAN,
                    "n_a": int(n[j, 1]), "n_b": int(n[j, 3]), "n_threads": n_threads, "rate_a": est[j, 0],
                    "rate_b": est[j, 1], "difference": est[j, 2], "diff_low": low[j, 2], "diff_high": high[j, 2],
                    "p_value": bootstrap_pvalue(rep[:, j, 2], 0.0),
                    "log_odds": est[j, 3] if binary else np.nan, "lo_low": low[j, 3] if binary else np.nan,
                    "lo_high": high[j, 3] if binary else np.nan, "ci_method": method})
    return pl.DataFrame(out, schema=COMPARE_SCHEMA)


def civility_by_removal(
    frame: pl.DataFrame, strategies: Sequence[str], *, score: str | None = "politeness", n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Removed (a) vs kept (b) comments: each strategy's rate, difference and log odds (see
    :func:`compare_groups`); comments without markers (no text) left out.

    >>> from toolkit.analysis.synthetic import make_frame
    >>> f = make_frame([{"thread": "t", "id": "t"}, {"thread": "t", "id": "a", "parent": "t", "score": 0.1,
    ...                  "removed": True, "hedges": 1}, {"thread": "t", "id": "b", "parent": "t", "score": 0.1,
    ...                  "hedges": 0}])
    >>> round(civility_by_removal(f, ["hedges"], n_boot=10)["log_odds"][0], 3)  # log(1.5 * 1.5 / (0.5 * 0.5))
    2.197
    """
    rows = comments_only(frame)
    return compare_groups(_values(rows, strategies, score), rows["removed"].fill_null(False).to_numpy(),
                          rows["thread_id"], comparison="removed vs kept", n_boot=n_boot, seed=seed)


def civility_by_parent(
    frame: pl.DataFrame, strategies: Sequence[str], *, label: str = "toxicity", threshold: float = 0.5,
    score: str | None = "politeness", n_boot: int = 1000, seed: int = 0,
) -> pl.DataFrame:
    """Replies to toxic (a: parent ``label`` >= ``threshold``) vs non-toxic parents (b), as
    :func:`compare_groups`; the pairs are escalation's (parent comment in the data, both scored).

    >>> from toolkit.analysis.synthetic import make_frame
    >>> f = make_frame([{"thread": "t", "id": "t"}] + [{"thread": "t", "id": i, "parent": p, "score": s, "hedges": h}
    ...                 for i, p, s, h in [("a", "t", 0.9, 0), ("b", "a", 0.1, 1), ("c", "b", 0.1, 0)]])
    >>> civility_by_parent(f, ["hedges"], n_boot=10).select("n_a", "n_b", "rate_a", "rate_b").row(0)
    (1, 1, 1.0, 0.0)
    """
    pairs = reply_pairs(frame, label=label).select("thread_id", "comment_id", "parent_score")
    rows = comments_only(frame).join(pairs, on=["thread_id", "comment_id"], how="inner", maintain_order="left")
    return compare_groups(_values(rows, strategies, score), (rows["parent_score"] >= threshold).to_numpy(),
                          rows["thread_id"], comparison=f"reply to parent {label} >= {threshold:g} vs below",
                          n_boot=n_boot, seed=seed)
