"""Derailment (after Zhang et al. 2018, "Conversations Gone Awry"): do the first k comments of a thread
foretell a later removed or toxic comment? Per-strategy log odds and a cross-validated thread-level model.

Threads are the unit: each is one row with the markers of its first k comments (by time, else page order)
and whether a later comment is removed / scores >= threshold.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from toolkit.analysis.civility import NO_STRATEGIES, compare_groups, strategy_columns, uses
from toolkit.analysis.common import (
    Frames,
    columns_of,
    comments_only,
    each_bucket,
    gather,
    with_thread_position,
)
from toolkit.analysis.declare import Analysis, AnalysisContext, forest, shown
from toolkit.analysis.stats import RankedScores, bootstrap_replicates, percentile_ci
from toolkit.errors import ConfigError
from toolkit.outputs import AnalysisOutput

OUTCOMES = ("removed", "toxic", "either")
SAMPLE_SCHEMA = {"step": pl.String, "threads": pl.Int64}
PREDICTION_SCHEMA = {
    "model": pl.String, "features": pl.String, "n_threads": pl.Int64, "n_derailed": pl.Int64, "folds": pl.Int64,
    "roc_auc": pl.Float64, "roc_low": pl.Float64, "roc_high": pl.Float64, "ci_method": pl.String,
}


@dataclass
class DerailmentOptions:
    """A thread derails when, after its first ``k`` comments (by time, else page order), it holds a comment
    that is ``outcome``: removed | toxic (score >= ``threshold``; null: analysis.threshold) | either.
    Shorter threads are left out and counted; with ``require_civil_start`` (Zhang et al. 2018) so are threads
    whose first k comments already hold the outcome. Skipped below ``min_threads``; ``folds``-fold CV."""

    strategies: list[str] | None = None
    score: str = "politeness"
    k: int = 2
    outcome: str = "either"
    threshold: float | None = None
    require_civil_start: bool = True
    folds: int = 5
    min_threads: int = 20



def _outcome_expr(outcome: str, label: str, threshold: float, has_label: bool) -> pl.Expr:
    """Per comment: does it count as derailing (removed, score >= threshold, or either)?"""
    if outcome not in OUTCOMES:
        raise ConfigError("analysis.params.derailment.outcome", f"{outcome!r}: give one of {', '.join(OUTCOMES)}")
    removed = pl.col("removed").fill_null(False)
    toxic = (pl.col(label).fill_nan(None) >= threshold).fill_null(False) if has_label else pl.lit(False)
    return {"removed": removed, "toxic": toxic, "either": removed | toxic}[outcome]


def derailment_threads(
    frame: Frames,
    strategies: Sequence[str],
    *,
    k: int = 2,
    outcome: str = "either",
    label: str = "toxicity",
    threshold: float = 0.5,
    require_civil_start: bool = True,
    score: str | None = "politeness",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One row per thread kept: ``thread_id``, ``derails`` and the mean over its first ``k`` comments of each
    strategy's use flag (count > 0), of ``score`` and of ``label`` (where present); and the counts of threads
    left out (fewer than k+1 comments; with ``require_civil_start``, outcome already among the first k).

    >>> from toolkit.analysis.synthetic import make_frame
    >>> f = make_frame([{"thread": "t", "id": "t"}] + [{"thread": "t", "id": f"c{i}", "parent": "t",
    ...                 "score": s, "hedges": h, "minute": i} for i, (s, h) in enumerate([(0.1, 1), (0.2, 0),
    ...                 (0.9, 0)])])
    >>> threads, sample = derailment_threads(f, ["hedges"], k=2)
    >>> threads.select("derails", "hedges", "toxicity").row(0)
    (True, 0.5, 0.15000000000000002)
    """
    if k < 1:
        raise ConfigError("analysis.params.derailment.k", f"{k}: the early comments must be at least 1")
    columns = columns_of(frame).columns
    out = _outcome_expr(outcome, label, threshold, label in columns).alias("_out")
    early = pl.col("position") < k
    flags = [uses(c).filter(early).mean() for c in strategies]
    extra = [pl.col(c).cast(pl.Float64).fill_nan(None).filter(early).mean().alias(c)
             for c in dict.fromkeys((score, label)) if c and c in columns]
    per_thread = gather(frame, lambda bucket: with_thread_position(bucket).with_columns(out).group_by("thread_id").agg(
        pl.len().alias("n_comments"), pl.col("_out").filter(early).any().alias("_early"),
        pl.col("_out").filter(~early).any().alias("derails"), *flags, *extra,
    )).sort("thread_id")
    long_enough = per_thread.filter(pl.col("n_comments") > k)
    kept = long_enough.filter(~pl.col("_early")) if require_civil_start else long_enough
    sample = pl.DataFrame({"step": [
        "threads with comments", f"left out: fewer than {k + 1} comments",
        f"left out: outcome ({outcome}) already in the first {k} comments", "threads analysed",
        "of which derail"], "threads": [
        per_thread.height, per_thread.height - long_enough.height, long_enough.height - kept.height, kept.height,
        int(kept["derails"].sum())]}, schema=SAMPLE_SCHEMA)
    return kept.drop("_early"), sample


def derailment_log_odds(
    threads: pl.DataFrame, strategies: Sequence[str], *, n_boot: int = 1000, seed: int = 0,
) -> pl.DataFrame:
    """Per strategy: share of derailing (a) vs civil (b) threads whose first comments use it, difference and
    smoothed log odds ratio with thread-bootstrap CIs (:func:`~toolkit.analysis.civility.compare_groups`); the
    other feature columns (mean scores of the first comments) as differences in means.

    >>> threads = pl.DataFrame({"thread_id": ["x", "y", "z"], "derails": [True, True, False], "hedges": [1.0, 0, 0]})
    >>> round(derailment_log_odds(threads, ["hedges"], n_boot=10)["log_odds"][0], 3)  # log(1.5 * 1.5 / (1.5 * 0.5))
    1.099
    """
    columns = [c for c in threads.columns if c not in ("thread_id", "n_comments", "derails")]
    values = {c: pl.col(c).cast(pl.Float64).fill_nan(None) for c in columns}
    values |= {c: (values[c] > 0).cast(pl.Float64) for c in strategies}
    return compare_groups(threads, values, pl.col("derails"), comparison="threads that derail vs not", n_boot=n_boot,
                          seed=seed)


def derailment_prediction(
    threads: pl.DataFrame,
    feature_sets: dict[str, Sequence[str]],
    *,
    folds: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Cross-validated logistic regression (scikit-learn) of ``derails`` on each feature set: stratified
    ``folds``-fold (seeded; one row per thread), ROC AUC of the out-of-fold predictions with a thread-bootstrap
    CI. Missing feature values are imputed by the column mean.

    >>> threads = pl.DataFrame({"thread_id": [f"t{i}" for i in range(20)], "derails": [i % 2 == 0 for i in range(20)],
    ...                         "hedges": [float(i % 2 == 0) for i in range(20)]})
    >>> derailment_prediction(threads, {"hedges only": ["hedges"]}, folds=2, n_boot=10)["roc_auc"].to_list()
    [1.0]
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    if folds < 2:
        raise ConfigError("analysis.params.derailment.folds", f"{folds}: cross-validation needs at least 2 folds")
    y = threads["derails"].to_numpy().astype(bool)
    out = []
    for model, features in feature_sets.items():
        x = threads.select(pl.col(c).cast(pl.Float64).fill_null(pl.col(c).mean()).fill_null(0.0)
                           for c in features).to_numpy()
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = cross_val_predict(LogisticRegression(max_iter=1000), x, y, cv=cv, method="predict_proba")[:, 1]
        ranked = RankedScores(y, p)
        est, reps, _, method = bootstrap_replicates(ranked.auc, threads["thread_id"], n_boot=n_boot, seed=seed)
        low, high = percentile_ci(reps)
        out.append({"model": model, "features": ", ".join(features), "n_threads": y.size, "n_derailed": int(y.sum()),
                    "folds": folds, "roc_auc": float(est), "roc_low": float(low), "roc_high": float(high),
                    "ci_method": method})
    return pl.DataFrame(out, schema=PREDICTION_SCHEMA)


def run_derailment(frame: Frames, ctx: AnalysisContext) -> AnalysisOutput:
    """Do the first k comments' politeness strategies foretell a later removed/toxic comment (Zhang et al. 2018)?"""
    o = ctx.params.derailment
    strategies = strategy_columns(columns_of(frame), o.strategies)
    if not strategies:
        return AnalysisOutput(skipped=NO_STRATEGIES)
    has_removed = any(comments_only(part)["removed"].fill_null(False).any() for part in each_bucket(frame))
    has_label = ctx.label in columns_of(frame).columns and any(
        part[ctx.label].fill_nan(None).drop_nulls().len() > 0 for part in each_bucket(frame))
    available = {"removed": (has_removed, "removed comments"), "toxic": (has_label, f"{ctx.label} scores"),
                 "either": (has_removed or has_label, f"removed comments or {ctx.label} scores")}
    if not available.get(o.outcome, (True, ""))[0]:
        return AnalysisOutput(skipped=f"outcome {o.outcome!r} needs {available[o.outcome][1]}; the data has none")
    threshold = ctx.threshold if o.threshold is None else o.threshold
    threads, sample = derailment_threads(frame, strategies, k=o.k, outcome=o.outcome, label=ctx.label,
                                         threshold=threshold, require_civil_start=o.require_civil_start, score=o.score)
    counts = dict(sample.iter_rows())
    left_out = ", ".join(f"{n:,} {step.removeprefix('left out: ')}" for step, n in counts.items()
                         if step.startswith("left out"))
    toxic = "" if o.outcome == "removed" else f" ({ctx.label} >= {threshold:g})"
    what = (f"outcome: {o.outcome}{toxic} after the first {o.k} comments; "
            f"{counts['of which derail']:,} of {threads.height:,} threads derail; left out: {left_out}")
    if threads.height < o.min_threads:
        return AnalysisOutput(skipped=f"{threads.height} thread(s) to analyse, fewer than min_threads="
                                      f"{o.min_threads} ({what})")
    log_odds = derailment_log_odds(threads, strategies, **ctx.boot)
    tables = {"derailment_sample": sample, "derailment_log_odds": log_odds}
    figures = [forest("derailment_log_odds", f"Early strategies of threads that derail ({o.outcome})", log_odds,
                       ctx, shown(threads.height, None, "threads"), what)]
    n_derailed = int(threads["derails"].sum())
    if min(n_derailed, threads.height - n_derailed) < o.folds:
        return AnalysisOutput(tables, figures, f"derailment_prediction not written: {n_derailed} of {threads.height} "
                                               f"threads derail; {o.folds}-fold CV needs {o.folds} of each")
    base = ["strategies", *([o.score] if o.score in threads.columns else [])]
    sets = {" + ".join(base): [*strategies, *base[1:]]}
    if ctx.label in threads.columns and ctx.label != o.score:
        sets[" + ".join([*base, ctx.label])] = [*strategies, *base[1:], ctx.label]
    tables["derailment_prediction"] = derailment_prediction(threads, sets, folds=o.folds, **ctx.boot)
    return AnalysisOutput(tables, figures)


DECLARED = (
    Analysis("derailment", run_derailment, DerailmentOptions, bucketed=True,
             reads=("thread_id", "comment_id", "parent_id", "is_post", "reply_depth", "structure", "created_at", "source_position", "removed"),
             tables=("derailment_sample", "derailment_log_odds", "derailment_prediction"),
             figures=("derailment_log_odds",)),
)
