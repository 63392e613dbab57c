"""Civility profile: politeness strategies (Danescu-Niculescu-Mizil et al. 2013) by reply depth, removed vs
kept comments and replies to toxic vs non-toxic parents, with thread-bootstrap CIs.

The strategy columns are markers a politeness scorer adds to the frame (counts or 0/1 flags, null where a
comment has no text); a strategy's *rate* is the share of comments using it (count > 0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from toolkit.analysis.common import (
    Frames,
    bin_means,
    columns_of,
    comments_only,
    gather_cells,
    named_columns,
    unit_sums,
    value_cells,
)
from toolkit.analysis.declare import Analysis, AnalysisContext, applicable, count_threads, forest, shown
from toolkit.analysis.depth import depth_bin_expr
from toolkit.analysis.escalation import reply_pairs
from toolkit.analysis.stats import bootstrap_pvalue, percentile_ci, unit_replicates
from toolkit.outputs import AnalysisOutput, FigureSpec
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


@dataclass
class CivilityProfileOptions:
    """``strategies``: politeness marker columns (null: every column named as a known strategy, prefixed or
    not); ``score``: the politeness score column (used where present); ``depth_bins`` as depth_profile's."""

    strategies: list[str] | None = None
    score: str = "politeness"
    depth_bins: list[int] | None = None



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


def _values(columns: pl.DataFrame, strategies: Sequence[str], score: str | None) -> dict[str, pl.Expr]:
    """Per strategy its 0/1 use flag, then the ``score`` column when ``columns`` has it; null = no value."""
    values = {c: uses(c) for c in strategies}
    if score and score in columns.columns:
        values[score] = pl.col(score).cast(pl.Float64).fill_nan(None).alias(score)
    return values


def civility_by_depth(
    frame: Frames,
    strategies: Sequence[str],
    *,
    score: str | None = "politeness",
    depth_bins: Sequence[int] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Per reply depth (or depth bin) and strategy: share of comments using it with a thread-bootstrap CI and
    the mean count; the ``score`` column's mean likewise (``measure`` = mean score). Long format. ``frame``
    may be a store's buckets: each is reduced to per-(thread, depth bin) sums.

    >>> from toolkit.analysis.synthetic import make_frame
    >>> f = make_frame([{"thread": "t", "id": "t"}, {"thread": "t", "id": "a", "parent": "t", "score": 0.1,
    ...                  "hedges": 2}, {"thread": "t", "id": "b", "parent": "a", "score": 0.1, "hedges": 0}])
    >>> civility_by_depth(f, ["hedges"], n_boot=10).select("depth_bin", "rate", "mean_count").rows()
    [('1', 1.0, 2.0), ('2', 0.0, 0.0)]
    """
    values = _values(columns_of(frame), strategies, score)
    counts = [pl.col(c).cast(pl.Float64) for c in strategies]  # after the values: their sums give mean_count

    def cells(bucket: pl.DataFrame, by_row: bool) -> pl.DataFrame:
        rows = comments_only(bucket).filter(pl.col("reply_depth").is_not_null()).with_columns(
            depth_bin_expr(depth_bins))
        return value_cells(rows, bin_col="depth_bin", order_col="reply_depth", values=[*values.values(), *counts],
                           by_row=by_row)

    found, method = gather_cells(frame, cells)
    if found.height == 0:
        return pl.DataFrame(schema=DEPTH_SCHEMA)
    k = len(values)
    keys, coded, ci = bin_means(found, method, k, n_boot=n_boot, seed=seed)
    raw = coded.group_by("group").agg(pl.col(f"{x}{k + j}").sum() for j in range(len(strategies)) for x in "sc")
    raw = {g: r for g, *r in raw.rows()}
    out = []
    for j, name in enumerate(values):
        for i, (_, depth_bin, min_depth) in enumerate(keys.iter_rows()):
            total, n = raw[i][2 * j: 2 * j + 2] if j < len(strategies) else (None, 0)
            out.append({"strategy": name, "measure": SHARE if j < len(strategies) else MEAN, "depth_bin": depth_bin,
                        "min_depth": int(min_depth), "n": int(ci.n[i, j]), "n_threads": int(ci.n_clusters[i]),
                        "rate": ci.estimate[i, j], "rate_low": ci.low[i, j], "rate_high": ci.high[i, j],
                        "mean_count": total / n if n else None, "ci_method": ci.method[i]})
    return pl.DataFrame(out, schema=DEPTH_SCHEMA)


def compare_groups(
    frame: Frames,
    values: dict[str, pl.Expr],
    group: pl.Expr,
    *,
    comparison: str,
    n_boot: int = 1000,
    seed: int = 0,
    prepare: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """Per value (name -> expression; null or NaN = no value): its mean in group a (``group`` true) and b,
    their difference with a CI and bootstrap p-value, and for 0/1 values the smoothed log odds ratio of using
    it, a vs b, log((a₁+½)(b₀+½) / ((a₀+½)(b₁+½))) with a CI; all from one thread bootstrap of the rows
    ``prepare(frame)`` (``frame`` may be a store's buckets: each is reduced to per-thread sums).

    >>> rows = pl.DataFrame({"thread_id": ["x", "y", "z", "w"], "a": [True, True, False, False],
    ...                      "hedges": [1.0, 0, 0, 1]})
    >>> t = compare_groups(rows, {"hedges": pl.col("hedges")}, pl.col("a"), comparison="a vs b", n_boot=10)
    >>> t.select("rate_a", "rate_b", "log_odds").row(0)
    (0.5, 0.5, 0.0)
    """
    g = group.cast(pl.Float64)
    sums, odd = [], []
    for v in values.values():
        v = v.cast(pl.Float64).fill_nan(None)
        ok, vz = v.is_not_null().cast(pl.Float64), v.fill_null(0.0)
        sums += [(g * vz).sum(), (g * ok).sum(), ((1 - g) * vz).sum(), ((1 - g) * ok).sum()]
        odd.append((v.is_not_null() & ~v.is_in([0.0, 1.0])).sum())  # a value other than 0/1: not a rate
    per_unit, n_threads, method = unit_sums(frame, [*sums, *odd], prepare)
    totals, reps = unit_replicates(per_unit[:, :len(sums)], n_boot, seed)
    binary = per_unit[:, len(sums):].sum(axis=0) == 0

    def stats(t: np.ndarray) -> np.ndarray:
        s = t.reshape(*t.shape[:-1], len(values), 4)
        a1, a, b1, b = (s[..., i] for i in range(4))
        with np.errstate(invalid="ignore", divide="ignore"):
            ra, rb = a1 / a, b1 / b
            log_odds = np.log((a1 + 0.5) * (b - b1 + 0.5) / ((a - a1 + 0.5) * (b1 + 0.5)))
        return np.stack([ra, rb, ra - rb, log_odds], axis=-1)

    est, rep = stats(totals), stats(reps)
    low, high = percentile_ci(rep)
    n = totals.reshape(len(values), 4).astype(np.int64)
    return pl.DataFrame({
        "comparison": comparison, "strategy": list(values), "measure": [SHARE if b else MEAN for b in binary],
        "n_a": n[:, 1], "n_b": n[:, 3], "n_threads": n_threads, "rate_a": est[:, 0], "rate_b": est[:, 1],
        "difference": est[:, 2], "diff_low": low[:, 2], "diff_high": high[:, 2],
        "p_value": [bootstrap_pvalue(rep[:, j, 2], 0.0) for j in range(len(values))],
        "log_odds": np.where(binary, est[:, 3], np.nan), "lo_low": np.where(binary, low[:, 3], np.nan),
        "lo_high": np.where(binary, high[:, 3], np.nan), "ci_method": method,
    }, schema=COMPARE_SCHEMA)


def civility_by_removal(
    frame: Frames, strategies: Sequence[str], *, score: str | None = "politeness", n_boot: int = 1000,
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
    return compare_groups(frame, _values(columns_of(frame), strategies, score), pl.col("removed").fill_null(False),
                          comparison="removed vs kept", n_boot=n_boot, seed=seed, prepare=comments_only)


def civility_by_parent(
    frame: Frames, strategies: Sequence[str], *, label: str = "toxicity", threshold: float = 0.5,
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
    def replies(bucket: pl.DataFrame) -> pl.DataFrame:
        pairs = reply_pairs(bucket, label=label).select("thread_id", "comment_id", "parent_score")
        return comments_only(bucket).join(pairs, on=["thread_id", "comment_id"], how="inner", maintain_order="left")

    return compare_groups(frame, _values(columns_of(frame), strategies, score), pl.col("parent_score") >= threshold,
                          comparison=f"reply to parent {label} >= {threshold:g} vs below", n_boot=n_boot, seed=seed,
                          prepare=replies)


def run_civility_profile(frame: Frames, ctx: AnalysisContext) -> AnalysisOutput:
    """Politeness strategies' rates by reply depth, removed vs kept, and replies to toxic vs non-toxic parents."""
    o = ctx.params.civility_profile
    strategies = strategy_columns(columns_of(frame), o.strategies)
    if not strategies:
        return AnalysisOutput(skipped=NO_STRATEGIES)
    common = {"score": o.score, **ctx.boot}
    depth = civility_by_depth(frame, strategies, depth_bins=o.depth_bins, **common)
    removal = civility_by_removal(frame, strategies, **common)
    parent = civility_by_parent(frame, strategies, label=ctx.label, threshold=ctx.threshold, **common)
    n = int(depth.filter(pl.col("strategy") == strategies[0])["n"].sum())
    figures = [
        (FigureSpec("civility_by_depth", "strategy_heatmap", "Politeness strategies by reply depth",
                    ctx.caption(shown(n, count_threads(frame)),
                                "colour: share of comments using each strategy (the score: its mean)")), depth),
        forest("civility_removal_log_odds", "Strategies of removed vs kept comments", removal, ctx,
                shown(int(removal["n_a"].max() or 0), None, "removed comments with markers")),
    ]
    tables = {"civility_by_depth": depth, "civility_by_removal": removal, "civility_by_parent": parent}
    empty = {"civility_by_depth": (depth["n"].sum() == 0, "no comment with markers and a known reply depth"),
             "civility_by_removal": ((removal["n_a"].min() or 0) * (removal["n_b"].min() or 0) == 0,
                                     "needs removed and kept comments with markers (removed comments' text kept)"),
             "civility_by_parent": ((parent["n_a"].min() or 0) * (parent["n_b"].min() or 0) == 0,
                                    f"needs replies to parents both >= and < {ctx.threshold:g} in {ctx.label}")}
    return applicable(tables, figures, {name: why for name, (gone, why) in empty.items() if gone})


DECLARED = (
    Analysis("civility_profile", run_civility_profile, CivilityProfileOptions, bucketed=True,
             reads=("thread_id", "comment_id", "parent_id", "is_post", "reply_depth", "structure", "created_at", "source_position", "removed"),
             tables=("civility_by_depth", "civility_by_removal", "civility_by_parent"),
             figures=("civility_by_depth", "civility_removal_log_odds")),
)
