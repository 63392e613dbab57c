"""Removal context: how toxic are removed comments, and the replies around them, vs kept ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from toolkit.analysis.common import (
    PARENT_BINS,
    Frames,
    assign_bins,
    binned_profile,
    ci_methods,
    comments_only,
    edge_labels,
    gather,
    replies,
)
from toolkit.analysis.declare import Analysis, AnalysisContext, applicable, shown
from toolkit.analysis.stats import (
    THREAD_BOOTSTRAP,
    BootResult,
    bootstrap_difference,
    bootstrap_mean,
    cluster_bootstrap,
    cluster_codes,
    cohen_d,
    dense_codes,
    grouped_bootstrap_means,
    permutation_draws,
    replicate_products,
    replicate_sums,
    stratified_permutation_pvalue,
    summarize,
)
from toolkit.errors import ConfigError
from toolkit.outputs import AnalysisOutput, FigureSpec
from toolkit.schema import is_comment, scored

COMPARISON_SCHEMA = {
    "comparison": pl.String, "group": pl.String, "n": pl.Int64, "n_threads": pl.Int64, "mean": pl.Float64,
    "mean_low": pl.Float64, "mean_high": pl.Float64, "ci_method": pl.String,
}
TEST_SCHEMA = {
    "comparison": pl.String, "n_removed_side": pl.Int64, "n_kept_side": pl.Int64, "difference": pl.Float64,
    "low": pl.Float64, "high": pl.Float64, "p_value": pl.Float64, "roc_auc": pl.Float64,
    "risk_ratio": pl.Float64, "rr_low": pl.Float64, "rr_high": pl.Float64,
}
NAN = float("nan")


@dataclass
class RemovalContextOptions:
    """``include_post_parent``: replies to the post have a parent (its title+body score); ``calm_window``:
    comments before/after each removal (in time); ``calm_scope``: thread | root (the top-level sub-thread)."""

    parent_bins: tuple[float, ...] = PARENT_BINS
    include_post_parent: bool = True
    calm_window: int = 10
    calm_scope: str = "thread"


@dataclass
class RemovalReasonsOptions:
    """``top``: the most frequent stated reasons shown one by one (the rest as "other reasons"), each with at
    least ``min_count`` removals."""

    top: int = 10
    min_count: int = 1



def _compare(rows: pl.DataFrame, flag: str, label: str, name: str, n_boot: int, seed: int) -> tuple[list, dict]:
    rows = rows.filter(pl.col(label).is_not_null() & pl.col(flag).is_not_null())
    groups = []
    for value, group_name in ((True, "removed"), (False, "kept")):
        part = rows.filter(pl.col(flag) == value)
        ci = bootstrap_mean(part[label], part["thread_id"], n_boot=n_boot, seed=seed)
        groups.append({"comparison": name, "group": group_name, "n": ci.n, "n_threads": ci.n_clusters,
                       "mean": ci.estimate, "mean_low": ci.low, "mean_high": ci.high, "ci_method": ci.method})
    test = bootstrap_difference(rows[label], rows[flag], rows["thread_id"], n_boot=n_boot, seed=seed)
    return groups, _test_row(name, test)


def _test_row(comparison: str, diff: dict[str, float], **ratio: float) -> dict[str, Any]:
    """A row of the removal test table from :func:`bootstrap_difference`'s dict (risk ratio given, or NaN)."""
    return {"comparison": comparison, "n_removed_side": diff["n_true"], "n_kept_side": diff["n_false"],
            "difference": diff["difference"], "low": diff["low"], "high": diff["high"],
            "p_value": diff["p_value"], "roc_auc": NAN, "risk_ratio": NAN, "rr_low": NAN, "rr_high": NAN,
            **ratio}


def removal_auc(frame: pl.DataFrame, *, label: str = "toxicity") -> float:
    """ROC AUC of ``label`` as a predictor of ``removed`` among comments that still have a score.

    Args:
        frame: a scored comment frame with ``removed``.
        label: the score column.

    Returns:
        The AUC (0.5 = chance); NaN without both removed and kept scored comments.

    Example:
        Removed 0.9 and 0.5 against kept 0.8, 0.2, 0.2, 0.1: 7 of the 8 pairs are ranked right.

        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> removal_auc(frame)
        0.875
    """
    from sklearn.metrics import roc_auc_score

    rows = frame.filter(is_comment() & scored(label) & pl.col("removed").is_not_null())
    y = rows["removed"].to_numpy()
    if rows.height == 0 or y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, rows[label].to_numpy()))


def removal_context(
    frame: pl.DataFrame, *, label: str = "toxicity", n_boot: int = 1000, seed: int = 0
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two tables: group means with thread-bootstrap CIs, and removed-minus-kept differences.

    Comparisons: replies whose parent was removed vs replies to kept comments (needs reply links);
    removed vs kept comments themselves (needs removed comments that kept their text), with ROC AUC.

    Args:
        frame: a scored comment frame with ``removed`` and ``parent_removed``.
        label: the score column.
        n_boot, seed: bootstrap replicates and random seed.

    Returns:
        ``(groups, tests)``. ``groups``: ``comparison``, ``group`` (removed | kept), ``n``, ``n_threads``,
        ``mean``, ``mean_low``, ``mean_high`` (95% thread-bootstrap percentile CI), ``ci_method``.
        ``tests``: ``comparison``, ``n_removed_side``, ``n_kept_side``, ``difference`` (removed - kept
        mean), ``low``, ``high``, ``p_value`` (bootstrap, vs 0), ``roc_auc`` (removed vs kept only) and
        ``risk_ratio``, ``rr_low``, ``rr_high`` (NaN here; filled by :func:`removal_parent_test`).

    Example:
        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> groups, tests = removal_context(frame, n_boot=50)
        >>> groups.select("comparison", "group", "n", pl.col("mean").round(3)).rows()
        [('replies to removed vs kept', 'removed', 2, 0.5), ('replies to removed vs kept', 'kept', 4, 0.425),
         ('removed vs kept', 'removed', 2, 0.7), ('removed vs kept', 'kept', 4, 0.325)]
        >>> tests.select(pl.col("difference").round(3), "roc_auc").rows()
        [(0.075, nan), (0.375, 0.875)]
    """
    rows = comments_only(frame)
    reply_groups, reply_test = _compare(rows, "parent_removed", label, "replies to removed vs kept", n_boot,
                                        seed)
    own_groups, own_test = _compare(rows, "removed", label, "removed vs kept", n_boot, seed)
    own_test["roc_auc"] = removal_auc(frame, label=label)
    return (pl.DataFrame(reply_groups + own_groups, schema=COMPARISON_SCHEMA),
            pl.DataFrame([reply_test, own_test], schema=TEST_SCHEMA))


# ------------------------------------- matched context ----------------------------------------------------

CONTEXTS = ("self", "parent", "siblings", "replies")
MATCHED_SCHEMA = {
    "context": pl.String, "n_removed": pl.Int64, "n_kept": pl.Int64, "n_strata": pl.Int64, "n_threads": pl.Int64,
    "mean_removed": pl.Float64, "mean_kept": pl.Float64, "difference": pl.Float64, "low": pl.Float64,
    "high": pl.Float64, "cohen_d": pl.Float64, "p_value": pl.Float64, "p_method": pl.String, "ci_method": pl.String,
}


def context_scores(frame: pl.DataFrame, *, label: str = "toxicity") -> pl.DataFrame:
    """Each comment with the ``label`` score of itself, its parent, its siblings (mean over the other
    replies to the same parent) and its direct replies (mean). Null where there is none with a score;
    parent and siblings need reply links (``structure == "tree"``).

    Args:
        frame: a scored comment frame (the post counts as a parent).
        label: the score column.

    Returns:
        One row per comment: ``thread_id``, ``comment_id``, ``reply_depth``, ``removed``, ``self``,
        ``parent``, ``siblings`` and ``replies``.

    Example:
        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> table = context_scores(frame)
        >>> table.select("comment_id", pl.col("self", "parent", "siblings", "replies").round(3)).rows()
        [('a1', 0.9, None, 0.1, 0.5), ('a2', 0.8, 0.9, 0.2, None), ('a3', 0.2, 0.9, 0.8, None),
         ('a4', 0.1, None, 0.9, None), ('b1', 0.2, None, None, 0.5), ('b2', 0.5, 0.2, None, None)]
    """
    has_score = scored(label)
    value = pl.when(has_score).then(pl.col(label)).otherwise(None)
    base = frame.with_columns(value.alias("_v"), has_score.cast(pl.Int64).alias("_k"))
    by_parent = (
        base.filter(pl.col("parent_id").is_not_null() & is_comment())
        .group_by("thread_id", "parent_id")
        .agg(pl.col("_v").sum().alias("_sum"), pl.col("_k").sum().alias("_cnt"))
    )
    parents = base.select(pl.col("thread_id"), pl.col("comment_id").alias("parent_id"), pl.col("_v").alias("parent"))
    replies = by_parent.select(
        pl.col("thread_id"), pl.col("parent_id").alias("comment_id"),
        pl.when(pl.col("_cnt") > 0).then(pl.col("_sum") / pl.col("_cnt")).otherwise(None).alias("replies"),
    )
    tree = pl.col("structure") == "tree"
    out = (
        base.join(parents, on=["thread_id", "parent_id"], how="left", maintain_order="left")
        .join(by_parent, on=["thread_id", "parent_id"], how="left", maintain_order="left")
        .join(replies, on=["thread_id", "comment_id"], how="left", maintain_order="left")
        .with_columns(
            pl.col("_v").alias("self"),
            pl.when(tree).then(pl.col("parent")).otherwise(None).alias("parent"),
            pl.when(tree & (pl.col("_cnt") - pl.col("_k") > 0))
            .then((pl.col("_sum") - pl.col("_v").fill_null(0.0)) / (pl.col("_cnt") - pl.col("_k")))
            .otherwise(None)
            .alias("siblings"),
        )
    )
    return comments_only(out).select(
        "thread_id", "comment_id", "reply_depth", "removed", *CONTEXTS
    )


def _stratum_sums(values: np.ndarray, removed: np.ndarray, strata: np.ndarray, n_strata: int,
                  w: np.ndarray) -> list[np.ndarray]:
    """Per stratum, the weighted count of removed and of kept rows, and the weighted sum of their values."""
    r = removed.astype(np.float64)
    return [np.bincount(strata, weights=w * side, minlength=n_strata)
            for side in (r, 1 - r, r * values, (1 - r) * values)]


def _matched_difference(values: np.ndarray, removed: np.ndarray, strata: np.ndarray, n_strata: int,
                        w: np.ndarray) -> float:
    """Σ_s n_removed,s (mean removed_s - mean kept_s) / Σ_s n_removed,s over strata holding both groups."""
    cr, ck, sr, sk = _stratum_sums(values, removed, strata, n_strata, w)
    ok = (cr > 0) & (ck > 0)
    if not ok.any():
        return float("nan")
    return float((cr[ok] * (sr[ok] / cr[ok] - sk[ok] / ck[ok])).sum() / cr[ok].sum())


def _matched_bootstrap(values: np.ndarray, removed: np.ndarray, strata: np.ndarray, n_strata: int,
                       threads: pl.Series, n_boot: int, seed: int) -> BootResult:
    """Thread-bootstrap CI of the matched difference. Strata lie within threads, so a replicate only
    reweights whole strata: the difference is (W @ A) / (W @ B) with A_t = Σ n_removed,s d_s and
    B_t = Σ n_removed,s over the strata s of thread t (one matrix product, not a loop)."""
    codes, n_units, n_threads, method = cluster_codes(threads)
    if method != THREAD_BOOTSTRAP or values.size == 0:
        return cluster_bootstrap(lambda w: _matched_difference(values, removed, strata, n_strata, w), threads,
                                 n_boot=n_boot, seed=seed)
    estimate = _matched_difference(values, removed, strata, n_strata, np.ones(values.size))
    cr, ck, sr, sk = _stratum_sums(values, removed, strata, n_strata, np.ones(values.size))
    d = sr / cr - sk / ck  # every stratum here holds both groups
    thread_of = np.zeros(n_strata, dtype=np.int64)
    thread_of[strata] = codes
    a = np.bincount(thread_of, weights=cr * d, minlength=n_units)
    b = np.bincount(thread_of, weights=cr, minlength=n_units)
    prod = replicate_products(np.column_stack([a, b]), n_boot, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = prod[:, 0] / prod[:, 1]
    return summarize(estimate, reps, values.size, n_threads, method)


def matched_context(
    frame: pl.DataFrame, *, label: str = "toxicity", n_boot: int = 1000, seed: int = 0
) -> pl.DataFrame:
    """Removed comments vs kept comments of the *same thread and depth*: toxicity of the comment itself,
    its parent, its siblings and its replies.

    Within each (thread, depth) stratum holding both groups, the removed mean minus the kept mean,
    averaged over strata weighted by their removed comments (``difference``; ``mean_kept`` is the
    matched kept mean). CI: thread bootstrap; p: permutation of the removed flag within strata.

    Args:
        frame: a scored comment frame with ``removed`` and reply links.
        label: the score column.
        n_boot, seed: bootstrap replicates (and at most as many permutations) and random seed.

    Returns:
        One row per ``context`` (self, parent, siblings, replies): ``n_removed``, ``n_kept`` (matched rows),
        ``n_strata``, ``n_threads``, ``mean_removed``, ``mean_kept``, ``difference``, ``low``, ``high``
        (95% percentile CI), ``cohen_d``, ``p_value``, ``p_method`` and ``ci_method``.

    Example:
        Only thread ``a`` at depth 1 holds a removed (a1: 0.9) and a kept comment (a4: 0.1); their
        siblings are each other; their parents (the posts) have no score and a4 has no replies:

        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> table = matched_context(frame, n_boot=50)
        >>> table.select("context", "n_removed", "n_kept", pl.col("difference").round(3)).rows()
        [('self', 1, 1, 0.8), ('parent', 0, 0, nan), ('siblings', 1, 1, -0.8), ('replies', 0, 0, nan)]
    """
    ctx = context_scores(frame, label=label)
    out = []
    for context in CONTEXTS:
        rows = ctx.filter(pl.col(context).is_not_null() & pl.col("removed").is_not_null()
                          & pl.col("reply_depth").is_not_null())
        key = rows.select(pl.concat_str(["thread_id", pl.col("reply_depth").cast(pl.String)], separator="\x1f"))
        strata, n_strata = dense_codes(key.to_series())
        removed = rows["removed"].to_numpy().astype(bool)
        values = rows[context].to_numpy().astype(np.float64)
        n_removed, n_kept, _, _ = _stratum_sums(values, removed, strata, n_strata, np.ones(values.size))
        matched = ((n_removed > 0) & (n_kept > 0))[strata]
        rows, values, removed, strata = rows.filter(pl.Series(matched)), values[matched], removed[matched], strata[matched]
        _, strata = np.unique(strata, return_inverse=True)
        n_strata = int(strata.max()) + 1 if strata.size else 0

        boot = _matched_bootstrap(values, removed, strata, n_strata, rows["thread_id"], n_boot, seed)
        draws = permutation_draws(values.size, n_boot)
        p = stratified_permutation_pvalue(
            lambda g, v=values, s=strata, k=n_strata: _matched_difference(v, g, s, k, np.ones(v.size)),
            removed, strata, n_perm=draws, seed=seed,
        )
        mean_removed = float(values[removed].mean()) if removed.any() else float("nan")
        out.append({
            "context": context, "n_removed": int(removed.sum()), "n_kept": int((~removed).sum()),
            "n_strata": n_strata, "n_threads": int(rows["thread_id"].n_unique()),
            "mean_removed": mean_removed, "mean_kept": mean_removed - boot.estimate, "difference": boot.estimate,
            "low": boot.low, "high": boot.high, "cohen_d": cohen_d(values[removed], values[~removed]),
            "p_value": p, "p_method": f"permutation within thread x depth ({draws} draws)", "ci_method": boot.method,
        })
    return pl.DataFrame(out, schema=MATCHED_SCHEMA)


# ------------------------------------- removal rate by parent toxicity ------------------------------------

RATE_SCHEMA = {
    "parent_bin": pl.String, "bin_low": pl.Float64, "n": pl.Int64, "n_threads": pl.Int64, "n_removed": pl.Int64,
    "removal_rate": pl.Float64, "rate_low": pl.Float64, "rate_high": pl.Float64, "ci_method": pl.String,
}


def _parented(frame: pl.DataFrame, label: str, include_post_parent: bool) -> pl.DataFrame:
    """Replies whose parent is in the data, with a known ``removed``."""
    return replies(frame, label, include_post_parent, pl.col("parent_is_post").is_not_null(),
                   pl.col("removed").is_not_null())


def removal_by_parent(
    frame: pl.DataFrame,
    *,
    label: str = "toxicity",
    bins: Sequence[float] = PARENT_BINS,
    include_post_parent: bool = RemovalContextOptions.include_post_parent,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Share of replies removed, by the parent's toxicity bin (thread-bootstrap CIs). Replies whose parent
    has no score (removed/deleted, no text) form their own ``no score`` row.

    Args:
        frame: a scored comment frame with ``removed`` and reply links.
        label: the score column.
        bins: parent-score bin edges (the last bin closed).
        include_post_parent: count replies to the post (its score is the parent's).
        n_boot, seed: bootstrap replicates and random seed.

    Returns:
        One row per bin, then ``no score``: ``parent_bin``, ``bin_low``, ``n``, ``n_threads``, ``n_removed``,
        ``removal_rate``, ``rate_low``, ``rate_high`` (95% thread-bootstrap percentile CI) and ``ci_method``.

    Example:
        The posts have no score, so the replies to them (a1, a4, b1) fall in ``no score``:

        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> table = removal_by_parent(frame, bins=[0, 0.5, 1], n_boot=50)
        >>> table.select("parent_bin", "n", "n_removed", pl.col("removal_rate").round(3)).rows()
        [('[0, 0.5)', 1, 1, 1.0), ('[0.5, 1]', 2, 0, 0.0), ('no score', 3, 1, 0.333)]
    """
    rows = _parented(frame, label, include_post_parent)
    names = [*edge_labels(bins), "no score"]
    idx = assign_bins(rows["parent_score"].fill_null(np.nan).to_numpy(), bins)
    idx[idx < 0] = len(names) - 1  # the "no score" group
    removed = rows["removed"].cast(pl.Float64).to_numpy()
    ci = grouped_bootstrap_means(removed, rows["thread_id"], idx, len(names), n_boot=n_boot, seed=seed)
    n_removed = np.bincount(idx, weights=removed, minlength=len(names))
    return pl.DataFrame({
        "parent_bin": names, "bin_low": [*map(float, bins[:-1]), float("nan")], "n": ci.n[:, 0],
        "n_threads": ci.n_clusters, "n_removed": n_removed.astype(np.int64), "removal_rate": ci.estimate[:, 0],
        "rate_low": ci.low[:, 0], "rate_high": ci.high[:, 0], "ci_method": ci.method,
    }, schema=RATE_SCHEMA)


def removal_parent_test(
    frame: pl.DataFrame,
    *,
    label: str = "toxicity",
    threshold: float = 0.5,
    include_post_parent: bool = RemovalContextOptions.include_post_parent,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Removal rate of replies to a toxic parent (score >= threshold) minus that of replies to a non-toxic
    one: n, risk difference and ratio with thread-bootstrap CIs, bootstrap p-value.

    Args:
        frame: a scored comment frame with ``removed`` and reply links.
        label: the score column.
        threshold: the "toxic" cut for parents.
        include_post_parent: count replies to the post (when the post has a score).
        n_boot, seed: bootstrap replicates and random seed.

    Returns:
        A row of :func:`removal_context`'s test table (a dict): ``comparison``, ``n_removed_side`` (replies
        to toxic parents), ``n_kept_side``, ``difference``, ``low``, ``high``, ``p_value``, ``roc_auc`` (NaN),
        ``risk_ratio``, ``rr_low``, ``rr_high``.

    Example:
        Replies to a1 (0.9): none of 2 removed; replies to b1 (0.2): 1 of 1:

        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> test = removal_parent_test(frame, n_boot=50)
        >>> test["n_removed_side"], test["n_kept_side"], test["difference"], test["risk_ratio"]
        (2, 1, -1.0, 0.0)
    """
    rows = _parented(frame, label, include_post_parent).filter(pl.col("parent_score").is_not_null())
    toxic = (rows["parent_score"] >= threshold).to_numpy()
    y = rows["removed"].to_numpy().astype(np.float64)
    diff = bootstrap_difference(y, toxic, rows["thread_id"], n_boot=n_boot, seed=seed)

    t = toxic.astype(np.float64)
    totals, reps, n_threads, method = replicate_sums(np.column_stack([t, t * y, 1 - t, (1 - t) * y]),
                                                     rows["thread_id"], n_boot=n_boot, seed=seed)

    def ratio(s: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            a, b = s[..., 1] / s[..., 0], s[..., 3] / s[..., 2]
            return np.where(b > 0, a / b, np.nan)

    rr = summarize(ratio(totals), ratio(reps), rows.height, n_threads, method, null=1.0)
    return _test_row(f"replies to toxic (>= {threshold:g}) vs non-toxic parents", diff,
                     risk_ratio=rr.estimate, rr_low=rr.low, rr_high=rr.high)


# ------------------------------------- calm-down after a removal ------------------------------------------

CALM_SCHEMA = {
    "group": pl.String, "n_events": pl.Int64, "n_threads": pl.Int64, "window": pl.Int64, "mean_before": pl.Float64,
    "mean_after": pl.Float64, "change": pl.Float64, "change_low": pl.Float64, "change_high": pl.Float64,
    "p_value": pl.Float64, "ci_method": pl.String,
}


def window_means(frame: pl.DataFrame, *, label: str = "toxicity", window: int = RemovalContextOptions.calm_window,
                 scope: str = RemovalContextOptions.calm_scope) -> pl.DataFrame:
    """For every timed comment: mean score of the ``window`` comments just before it and just after it in
    time, within its thread (``scope="thread"``) or its top-level sub-thread (``scope="root"``).

    Returns ``thread_id``, ``comment_id``, ``removed``, ``mean_before`` and ``mean_after`` (null where no
    scored comment is in the window); raises ConfigError for another ``scope``.

    Example:
        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads, make_frame
        >>> frame = make_frame([{"thread": "t", "id": "t", "minute": 0}] + [  # c3 removed; a comment a minute
        ...     {"thread": "t", "id": f"c{i}", "minute": i, "score": s, "removed": i == 3}
        ...     for i, s in enumerate([0.8, 0.6, 0.9, 0.2, 0.2], start=1)])
        >>> means = window_means(frame, window=1)
        >>> means.select("comment_id", pl.col("mean_before", "mean_after").round(3)).rows()
        [('c1', None, 0.6), ('c2', 0.8, 0.9), ('c3', 0.6, 0.2), ('c4', 0.9, 0.2), ('c5', 0.2, None)]
    """
    if scope not in ("thread", "root"):
        raise ConfigError("analysis.params.removal_context.calm_scope", f"{scope!r}: choose thread or root")
    key = "thread_id" if scope == "thread" else "root_id"
    rows = comments_only(frame).filter(pl.col("created_at").is_not_null() & pl.col(key).is_not_null())
    rows = rows.sort([key, "created_at", "source_position"])
    v = rows[label].fill_nan(None).to_numpy().astype(np.float64) if rows.height else np.zeros(0)
    scored = ~np.isnan(v)
    cs = np.r_[0.0, np.cumsum(np.where(scored, v, 0.0))]
    cc = np.r_[0, np.cumsum(scored)]
    pos = np.arange(rows.height)
    start = pos - rows.select(pl.int_range(pl.len()).over(key)).to_series().to_numpy()  # group's first row
    end = start + rows.select(pl.len().over(key)).to_series().to_numpy()
    b0, b1 = np.maximum(start, pos - window), pos
    a0, a1 = pos + 1, np.minimum(end, pos + 1 + window)
    with np.errstate(invalid="ignore", divide="ignore"):
        before = np.where(cc[b1] - cc[b0] > 0, (cs[b1] - cs[b0]) / (cc[b1] - cc[b0]), np.nan)
        after = np.where(cc[a1] - cc[a0] > 0, (cs[a1] - cs[a0]) / (cc[a1] - cc[a0]), np.nan)
    return rows.select("thread_id", "comment_id", "removed").with_columns(
        pl.Series("mean_before", before).fill_nan(None), pl.Series("mean_after", after).fill_nan(None)
    )


def calm_down(
    frame: pl.DataFrame,
    *,
    label: str = "toxicity",
    window: int = RemovalContextOptions.calm_window,
    scope: str = RemovalContextOptions.calm_scope,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Does the conversation calm down after a removal? For each removed comment with a timestamp, mean
    toxicity of the ``window`` comments after it minus the ``window`` before it; kept comments give the
    baseline. Returns the per-group table and the removed-minus-kept test (a difference in differences).
    Empty when the data has no timestamps.

    Args:
        frame: a scored comment frame with ``created_at`` and ``removed``.
        label: the score column.
        window: comments before and after each comment (in time).
        scope: ``thread`` or ``root`` (the top-level sub-thread).
        n_boot, seed: bootstrap replicates and random seed.

    Returns:
        ``(table, test)``. ``table``: one row per ``group`` (removed | kept): ``n_events``, ``n_threads``,
        ``window``, ``mean_before``, ``mean_after``, ``change`` (after - before), ``change_low``,
        ``change_high`` (95% thread-bootstrap percentile CI), ``p_value`` (vs 0) and ``ci_method``.
        ``test``: a dict as in :func:`removal_parent_test` with ``difference`` = removed - kept change.

    Raises:
        ConfigError: ``scope`` is neither thread nor root.

    Example:
        Around c3 the mean falls from 0.6 to 0.2; around the kept c2 and c4 it moves +0.1 and -0.7
        (c1 and c5 lack a side):

        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads, make_frame
        >>> frame = make_frame([{"thread": "t", "id": "t", "minute": 0}] + [  # c3 removed; a comment a minute
        ...     {"thread": "t", "id": f"c{i}", "minute": i, "score": s, "removed": i == 3}
        ...     for i, s in enumerate([0.8, 0.6, 0.9, 0.2, 0.2], start=1)])
        >>> table, test = calm_down(frame, window=1, n_boot=50)
        >>> table.select("group", "n_events", pl.col("change").round(3)).rows(), round(test["difference"], 3)
        ([('removed', 1, -0.4), ('kept', 2, -0.3)], -0.1)
    """
    w = window_means(frame, label=label, window=window, scope=scope).filter(
        pl.col("mean_before").is_not_null() & pl.col("mean_after").is_not_null() & pl.col("removed").is_not_null()
    ).with_columns((pl.col("mean_after") - pl.col("mean_before")).alias("change"))
    out = []
    for flag, name in ((True, "removed"), (False, "kept")):
        part = w.filter(pl.col("removed") == flag)
        change = part["change"].to_numpy().astype(np.float64)
        totals, reps, n_threads, method = replicate_sums(np.column_stack([np.ones_like(change), change]),
                                                         part["thread_id"], n_boot=n_boot, seed=seed)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = summarize(totals[1] / totals[0] if totals[0] else np.nan, reps[:, 1] / reps[:, 0], part.height,
                             n_threads, method)
        out.append({"group": name, "n_events": part.height, "n_threads": part["thread_id"].n_unique(),
                    "window": int(window), "mean_before": part["mean_before"].mean(),
                    "mean_after": part["mean_after"].mean(), "change": boot.estimate, "change_low": boot.low,
                    "change_high": boot.high, "p_value": boot.p_value, "ci_method": boot.method})
    diff = bootstrap_difference(w["change"], w["removed"], w["thread_id"], n_boot=n_boot, seed=seed)
    return pl.DataFrame(out, schema=CALM_SCHEMA), _test_row(
        f"change after - before ({window} comments), removed vs kept", diff)


OTHER_REASONS = "other reasons"


def removal_reasons(frame: Frames, *, label: str, threshold: float, top: int = 10, min_count: int = 1,
                    n_boot: int = 1000, seed: int = 0) -> pl.DataFrame:
    """Per stated removal reason (``removal_reason``, e.g. from a Lemmy modlog): removed comments, their share
    of all removals with a reason, and their mean ``label`` with a thread-bootstrap CI. The ``top`` most
    frequent reasons with at least ``min_count`` removals get a row each, the rest one ``other reasons`` row.

    >>> frame = pl.DataFrame({"thread_id": ["a", "a", "b", "b"], "is_post": [False] * 4,
    ...     "removed": [True, True, True, False], "removal_reason": ["spam", "rude", "rude", None],
    ...     "toxicity": [0.1, 0.9, 0.7, 0.0]})
    >>> removal_reasons(frame, label="toxicity", threshold=0.5, n_boot=10).select(
    ...     "reason", "n_removed", "share", "mean").rows()
    [('rude', 2, 0.6666666666666666, 0.8), ('spam', 1, 0.3333333333333333, 0.1)]
    """
    rows = gather(frame, stated_removals)
    return reason_profile(rows, label=label, threshold=threshold, top=top, min_count=min_count, n_boot=n_boot,
                          seed=seed)


def stated_removals(bucket: pl.DataFrame) -> pl.DataFrame:
    """A bucket's removed comments with a stated reason (``reason``: ``removal_reason`` stripped); none, and no
    ``reason`` column, when the bucket has no ``removal_reason`` column."""
    if "removal_reason" not in bucket.columns:
        return bucket.head(0)
    return comments_only(bucket).filter(pl.col("removed").fill_null(False)).with_columns(
        reason=pl.col("removal_reason").str.strip_chars()).filter(pl.col("reason").str.len_chars() > 0)


def reason_profile(rows: pl.DataFrame, *, label: str, threshold: float, top: int, min_count: int, n_boot: int,
                   seed: int) -> pl.DataFrame:
    """:func:`removal_reasons` of the stated removals (every bucket's :func:`stated_removals`, concatenated)."""
    counts = rows.group_by("reason").len().sort(["len", "reason"], descending=[True, False])
    shown = counts.filter(pl.col("len") >= min_count).head(top)["reason"].to_list()
    rank = {reason: float(i) for i, reason in enumerate(shown)}
    ranked = rows.with_columns(
        reason=pl.when(pl.col("reason").is_in(shown)).then("reason").otherwise(pl.lit(OTHER_REASONS)),
        _rank=pl.col("reason").replace_strict(rank, default=float(len(shown)), return_dtype=pl.Float64),
    )
    profile = binned_profile(ranked, bin_col="reason", order_col="_rank", label=label, threshold=threshold,
                             n_boot=n_boot, seed=seed)
    n_removed = pl.col("n") + pl.col("n_unscored")
    return profile.select(pl.col("bin").alias("reason"), n_removed.alias("n_removed"),
                          (n_removed / max(int(counts["len"].sum()), 1)).alias("share"),
                          pl.exclude("bin", "bin_order", "n_unscored"))


def run_removal_context(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    """Removed vs kept comments and their context; removal rate by parent toxicity; calm-down after removals."""
    o = ctx.params.removal_context
    removed = comments_only(frame).filter(pl.col("removed").fill_null(False))
    if removed.height == 0:
        return AnalysisOutput(skipped="no comment in the data is removed by a moderator")
    groups, tests = removal_context(frame, label=ctx.label, **ctx.boot)
    matched = matched_context(frame, label=ctx.label, **ctx.boot)
    by_parent = removal_by_parent(frame, label=ctx.label, bins=o.parent_bins,
                                  include_post_parent=o.include_post_parent, **ctx.boot)
    parent_test = removal_parent_test(frame, label=ctx.label, threshold=ctx.threshold,
                                      include_post_parent=o.include_post_parent, **ctx.boot)
    calm, calm_test = calm_down(frame, label=ctx.label, window=o.calm_window, scope=o.calm_scope, **ctx.boot)
    tests = pl.concat([tests, pl.DataFrame([parent_test, calm_test], schema=TEST_SCHEMA)])
    lab = {"label": ctx.label}
    figures = []
    if groups.group_by("comparison").agg(pl.col("n").min()).filter(pl.col("n") > 0).height:
        figures.append((FigureSpec("removal_context", "group_means", "Removed vs kept",
                                   ctx.caption(ctx.ci_note(ci_methods(groups))), lab), groups))
    figures.append((FigureSpec(
        "removal_matched", "matched_context", "Removed vs matched kept comments",
        ctx.caption("matched: same thread and reply depth; difference averaged over (thread, depth) strata",
                    ctx.ci_note(ci_methods(matched)), "p: permutation of the removed flag within strata"),
        lab), matched))
    figures.append((FigureSpec(
        "removal_by_parent", "rate_bars", "Removal rate by parent toxicity",
        ctx.caption(shown(int(by_parent["n"].sum()), None, "replies"), ctx.ci_note(ci_methods(by_parent))),
        {**lab, "x": "parent_bin", "y": "removal_rate", "low": "rate_low", "high": "rate_high",
         "xlabel": f"parent {ctx.label}", "ylabel": "share of replies removed"}), by_parent))
    if calm["n_events"].min() > 0:
        figures.append((FigureSpec(
            "removal_calm_down", "calm_down", "Calm-down after removals",
            ctx.caption(f"window: {o.calm_window} comments before/after in time ({o.calm_scope})",
                        ctx.ci_note(ci_methods(calm))), lab), calm))
    tables = {"removal_context": groups, "removal_tests": tests, "removal_matched": matched,
              "removal_by_parent": by_parent, "removal_calm_down": calm}
    n_scored = removed.filter(scored(ctx.label)).height
    timed = removed["created_at"].is_not_null().any()
    why = {
        "removal_context": (groups["n"].sum() == 0, "no scored comment"),
        "removal_tests": (not (tests["n_removed_side"] * tests["n_kept_side"]).gt(0).any(),
                          f"no comparison has scored comments on both sides ({n_scored} of the {removed.height} "
                          "removed comments have a score)"),
        "removal_matched": (matched["n_removed"].sum() == 0,
                            "no (thread, reply depth) stratum holds both a scored removed and a scored kept comment"),
        "removal_by_parent": (by_parent["n"].sum() == 0,
                              "no comment's parent is in the data (flat threads, or top-level comments whose post "
                              "is missing)"),
        "removal_calm_down": (calm["n_events"].sum() == 0,
                              f"no scored comments within {o.calm_window} before and after a comment in time"
                              if timed else "no removed comment has a timestamp (created_at)"),
    }
    return applicable(tables, figures, {name: reason for name, (empty, reason) in why.items() if empty})


def run_removal_reasons(rows: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    """The moderators' stated reasons (a Lemmy modlog): removals per reason and the removed comments' toxicity
    (from every bucket's :func:`stated_removals`)."""
    if "reason" not in rows.columns:
        return AnalysisOutput(skipped="no removal_reason column (stated reasons come from a Lemmy modlog)")
    o = ctx.params.removal_reasons
    table = reason_profile(rows, label=ctx.label, threshold=ctx.threshold, top=o.top, min_count=o.min_count,
                           **ctx.boot)
    if table.height == 0:
        return AnalysisOutput(skipped="no removed comment has a stated reason")
    spec = FigureSpec(
        "removal_reasons", "rate_bars", "Stated removal reasons",
        ctx.caption(shown(int(table["n_removed"].sum()), None, "removed comments with a stated reason"),
                    ctx.ci_note(ci_methods(table))),
        {"label": ctx.label, "x": "reason", "y": "mean", "low": "mean_low", "high": "mean_high",
         "xlabel": "stated reason", "ylabel": f"mean {ctx.label} of the removed comments"})
    return AnalysisOutput({"removal_reasons": table}, [(spec, table)])


DECLARED = (
    Analysis("removal_context", run_removal_context, RemovalContextOptions,
             reads=("thread_id", "comment_id", "parent_id", "is_post", "reply_depth", "structure", "removed",
                    "parent_removed", "root_id", "created_at", "source_position"),
             tables=("removal_context", "removal_tests", "removal_matched", "removal_by_parent", "removal_calm_down"),
             figures=("removal_context", "removal_matched", "removal_by_parent", "removal_calm_down")),
    Analysis("removal_reasons", run_removal_reasons, RemovalReasonsOptions,
             per_bucket=lambda bucket, ctx: stated_removals(bucket),
             reads=("thread_id", "is_post", "removed", "removal_reason"),
             tables=("removal_reasons",), figures=("removal_reasons",)),
)
