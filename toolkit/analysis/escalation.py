"""Escalation: does a toxic comment draw toxic replies? Parent→reply correlation and conditional rates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from toolkit.analysis.common import (
    PARENT_BINS,
    Frames,
    assign_bins,
    binned_profile,
    ci_methods,
    edge_labels,
    gather,
    replies,
)
from toolkit.analysis.declare import Analysis, AnalysisContext, shown
from toolkit.analysis.stats import RankPairs, cluster_bootstrap, replicate_sums, summarize
from toolkit.outputs import AnalysisOutput, FigureSpec
from toolkit.schema import scored

ESCALATION_SCHEMA = {
    "measure": pl.String, "estimate": pl.Float64, "low": pl.Float64, "high": pl.Float64, "p_value": pl.Float64,
    "n": pl.Int64, "n_threads": pl.Int64, "ci_method": pl.String, "note": pl.String,
}


@dataclass
class EscalationOptions:
    """Parent->reply pairs; replies to the post count only with ``include_post_parent``."""

    include_post_parent: bool = False
    parent_bins: tuple[float, ...] = PARENT_BINS


def reply_pairs(frame: pl.DataFrame, *, label: str = "toxicity",
                include_post_parent: bool = EscalationOptions.include_post_parent) -> pl.DataFrame:
    """One row per reply whose parent is in the data, both scored: ``thread_id, comment_id, parent_score,
    reply_score`` (reply links needed: flat threads give none; replies to the post only if asked).

    Example:
        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> reply_pairs(frame).rows()
        [('a', 'a2', 0.9, 0.8), ('a', 'a3', 0.9, 0.2), ('b', 'b2', 0.2, 0.5)]
    """
    rows = replies(frame, label, include_post_parent, scored("parent_score"), scored(label))
    return rows.select("thread_id", "comment_id", "parent_score", pl.col(label).alias("reply_score"))


def escalation(
    frame: Frames,
    *,
    label: str = "toxicity",
    threshold: float = 0.5,
    include_post_parent: bool = EscalationOptions.include_post_parent,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Parent→reply Spearman and Pearson correlation, P(toxic reply | toxic parent), P(toxic reply | non-toxic
    parent), their difference and ratio; thread-bootstrap CIs and bootstrap p-values (null 0, or 1 for the
    ratio). Replies to the post are left out unless ``include_post_parent``.

    Args:
        frame: a scored comment frame with reply links, or a store's buckets: each is reduced to its reply
            pairs (two scores and a thread id per reply; Spearman's rho ranks all pairs at once).
        label: the score column.
        threshold: the "toxic" cut for parents and replies.
        include_post_parent: count replies to the post (as parents with the post's score).
        n_boot, seed: bootstrap replicates and random seed.

    Returns:
        Six rows (``measure``): Spearman rho, Pearson r, the two conditional rates, risk difference and
        risk ratio; columns ``estimate``, ``low``, ``high`` (95% thread-bootstrap percentile CI),
        ``p_value`` (NaN for the rates), ``n`` (pairs behind the estimate), ``n_threads``, ``ci_method``
        and ``note``.

    Example:
        Pairs (parent, reply): (0.9, 0.8) and (0.9, 0.2) in ``a``, (0.2, 0.5) in ``b``:

        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> escalation(frame, n_boot=50).select("measure", pl.col("estimate").round(3), "n").rows()[2:]
        [('P(reply >= 0.5 | parent >= 0.5)', 0.5, 2), ('P(reply >= 0.5 | parent < 0.5)', 1.0, 1),
         ('risk difference (toxic - non-toxic parent)', -0.5, 3),
         ('risk ratio (toxic / non-toxic parent)', 0.5, 3)]
    """
    pairs = gather(frame, lambda b: reply_pairs(b, label=label, include_post_parent=include_post_parent))
    return pair_escalation(pairs, threshold=threshold, n_boot=n_boot, seed=seed)


def pair_escalation(pairs: pl.DataFrame, *, threshold: float, n_boot: int, seed: int) -> pl.DataFrame:
    """:func:`escalation` of reply pairs (every bucket's :func:`reply_pairs`, concatenated)."""
    x, y = pairs["parent_score"].to_numpy(), pairs["reply_score"].to_numpy()
    threads = pairs["thread_id"]
    toxic_parent, toxic_reply = x >= threshold, (y >= threshold).astype(np.float64)
    n_tp = int(toxic_parent.sum())
    rho = cluster_bootstrap(RankPairs(x, y).spearman, threads, n_boot=n_boot, seed=seed)
    # everything else is a function of per-thread sums: one matrix product for all replicates
    tp = toxic_parent.astype(np.float64)
    cols = np.column_stack([np.ones_like(x), x, y, x * x, y * y, x * y, tp, tp * toxic_reply, toxic_reply])
    totals, reps, n_threads, method = replicate_sums(cols, threads, n_boot=n_boot, seed=seed)

    def stats(t: np.ndarray) -> np.ndarray:
        n, sx, sy, sxx, syy, sxy, ntp, ytp, yall = (t[..., j] for j in range(9))
        with np.errstate(invalid="ignore", divide="ignore"):
            cov, vx, vy = sxy - sx * sy / n, sxx - sx * sx / n, syy - sy * sy / n
            r = np.where((vx > 1e-12 * n) & (vy > 1e-12 * n), cov / np.sqrt(np.abs(vx * vy)), np.nan)
            p_toxic, p_clean = ytp / ntp, (yall - ytp) / (n - ntp)
            ratio = np.where(p_clean > 0, p_toxic / p_clean, np.nan)
        return np.stack([r, p_toxic, p_clean, p_toxic - p_clean, ratio], axis=-1)

    est, rep = stats(totals), stats(reps)
    res = [rho, *(summarize(est[j], rep[:, j], pairs.height, n_threads, method, null=1.0 if j == 4 else 0.0)
                  for j in range(5))]
    rate = "a rate, not a test"  # no p-value
    measures = (("spearman rho (parent, reply)", pairs.height, "p-value vs 0"),
                ("pearson r (parent, reply)", pairs.height, "p-value vs 0"),
                (f"P(reply >= {threshold:g} | parent >= {threshold:g})", n_tp, rate),
                (f"P(reply >= {threshold:g} | parent < {threshold:g})", pairs.height - n_tp, rate),
                ("risk difference (toxic - non-toxic parent)", pairs.height, "p-value vs 0"),
                ("risk ratio (toxic / non-toxic parent)", pairs.height, "p-value vs 1"))
    return pl.DataFrame([{"measure": m, "estimate": r.estimate, "low": r.low, "high": r.high,
                          "p_value": float("nan") if note == rate else r.p_value, "n": n,
                          "n_threads": r.n_clusters, "ci_method": r.method, "note": note}
                         for (m, n, note), r in zip(measures, res, strict=True)], schema=ESCALATION_SCHEMA)


def reply_by_parent_bin(
    frame: Frames,
    *,
    label: str = "toxicity",
    threshold: float = 0.5,
    bins: Sequence[float] = PARENT_BINS,
    include_post_parent: bool = EscalationOptions.include_post_parent,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Mean reply score and share of toxic replies per parent-score bin (thread-bootstrap CIs).

    Args:
        frame: a scored comment frame with reply links, or a store's buckets (each reduced to per-(thread,
            bin) sums).
        label: the score column.
        threshold: the "toxic" cut for ``share_above`` (of replies).
        bins: parent-score bin edges (the last bin closed).
        include_post_parent: count replies to the post.
        n_boot, seed: bootstrap replicates and random seed.

    Returns:
        One row per parent bin: ``parent_bin`` (``[0, 0.5)``, ...), ``parent_low``, then, over the
        replies, ``n`` (scored comments), ``n_unscored`` (null score), ``n_threads``, ``mean``, ``mean_low``,
        ``mean_high``, ``share_above``, ``share_low``, ``share_high`` (share of scores >= ``threshold``),
        ``threshold`` and ``ci_method`` (95% percentile CIs from one thread bootstrap; none for a bin held by
        a single thread).

    Example:
        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> table = reply_by_parent_bin(frame, bins=[0, 0.5, 1], n_boot=50)
        >>> table.select("parent_bin", "n", "mean", "share_above").rows()
        [('[0, 0.5)', 1, 0.5, 1.0), ('[0.5, 1]', 2, 0.5, 0.5)]
    """
    pairs = gather(frame, lambda b: reply_pairs(b, label=label, include_post_parent=include_post_parent))
    return pair_profile(pairs, label=label, threshold=threshold, bins=bins, n_boot=n_boot, seed=seed)


def pair_profile(pairs: pl.DataFrame, *, label: str, threshold: float, bins: Sequence[float], n_boot: int,
                 seed: int) -> pl.DataFrame:
    """:func:`reply_by_parent_bin` of reply pairs (every bucket's :func:`reply_pairs`, concatenated)."""
    names = edge_labels(bins)
    idx = assign_bins(pairs["parent_score"].to_numpy(), bins)
    binned = pairs.filter(pl.Series(idx >= 0)).with_columns(
        pl.Series("parent_bin", [names[i] for i in idx[idx >= 0]], dtype=pl.String),
        pl.Series("bin_low", np.asarray(bins, dtype=np.float64)[idx[idx >= 0]], dtype=pl.Float64),
    )
    return binned_profile(binned, bin_col="parent_bin", order_col="bin_low", label=label, threshold=threshold,
                          n_boot=n_boot, seed=seed, value_col="reply_score").rename(
        {"bin": "parent_bin", "bin_order": "parent_low"})


def run_escalation(pairs: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    """Parent->reply correlation and conditional rates; reply toxicity by parent-toxicity bin (from every
    bucket's :func:`reply_pairs`)."""
    o = ctx.params.escalation
    table = pair_escalation(pairs, threshold=ctx.threshold, **ctx.boot)
    n = int(table["n"][0]) if table.height else 0
    if n == 0:
        return AnalysisOutput(skipped="no reply whose parent comment is in the data with a score (flat threads "
                                      "or no reply links" + ("" if o.include_post_parent else
                                                             "; replies to the post left out") + ")")
    by_bin = pair_profile(pairs, label=ctx.label, threshold=ctx.threshold, bins=o.parent_bins, **ctx.boot)
    spec = FigureSpec("escalation", "profile", "Replies by parent toxicity",
                      ctx.caption(shown(n, None, "parent→reply pairs"), ctx.ci_note(ci_methods(by_bin))),
                      {"label": f"reply {ctx.label}", "threshold": ctx.threshold, "x": "parent_bin",
                       "xlabel": f"parent {ctx.label}", "ylabel": f"reply {ctx.label}"})
    return AnalysisOutput({"escalation": table, "escalation_by_parent": by_bin}, [(spec, by_bin)])


DECLARED = (
    Analysis("escalation", run_escalation, EscalationOptions,
             per_bucket=lambda bucket, ctx: reply_pairs(
                 bucket, label=ctx.label, include_post_parent=ctx.params.escalation.include_post_parent),
             reads=("thread_id", "comment_id", "parent_id", "is_post", "reply_depth", "structure", "created_at",
                    "source_position"),
             tables=("escalation", "escalation_by_parent"), figures=("escalation",)),
)
