"""Scorer validation against human labels: ROC AUC, PR AUC, threshold metrics and calibration.

The truth is a boolean column (e.g. ``toxic``: the majority of annotators said toxic). Where comments come
from threads, CIs resample threads; where each comment is its own thread this is the ordinary bootstrap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from toolkit.analysis.annotation import krippendorff_alpha, majority, read_annotations
from toolkit.analysis.common import ci_methods, labelled_rows, require_truth, score_columns
from toolkit.analysis.declare import Analysis, AnalysisContext, shown
from toolkit.analysis.prediction import classification_tables
from toolkit.analysis.stats import grouped_bootstrap_means, percentile_ci, replicate_sums
from toolkit.errors import ConfigError
from toolkit.outputs import AnalysisOutput, FigureSpec

CALIBRATION_SCHEMA = {
    "label": pl.String, "bin_low": pl.Float64, "bin_high": pl.Float64, "n": pl.Int64, "mean_predicted": pl.Float64,
    "observed": pl.Float64, "observed_low": pl.Float64, "observed_high": pl.Float64, "ci_method": pl.String,
}
THRESHOLD_SCHEMA = {
    "label": pl.String, "threshold": pl.Float64, "precision": pl.Float64, "precision_low": pl.Float64,
    "precision_high": pl.Float64, "recall": pl.Float64, "recall_low": pl.Float64, "recall_high": pl.Float64,
    "f1": pl.Float64, "brier": pl.Float64, "ece": pl.Float64, "ece_low": pl.Float64, "ece_high": pl.Float64,
}


TRUTH_KEY = "analysis.params.scorer_validation.truth"


@dataclass
class ScorerValidationOptions:
    """``truth``: boolean column of human labels; ``labels``: null = every label of the scorer; ``weight``: a
    column of inverse-probability weights; ``annotations``: the ``annotation/`` directory of an annotation_sample
    run with its sheet filled in: the majority label becomes ``truth`` and the key's weights ``weight``."""

    truth: str = "toxic"
    labels: list[str] | None = None
    calibration_bins: int = 10
    curve_grid: int = 101
    weight: str | None = None  # inverse-probability weights column: estimates for the corpus a sample came from
    annotations: str | None = None  # an annotation_sample directory with the labels filled in (sets truth, weight)



def calibration_table(
    frame: pl.DataFrame,
    *,
    truth: str = ScorerValidationOptions.truth,
    labels: Sequence[str] | None = None,
    n_bins: int = ScorerValidationOptions.calibration_bins,
    n_boot: int = 1000,
    seed: int = 0,
    weight: str | None = None,
) -> pl.DataFrame:
    """Reliability diagram data: per equal-width score bin, n, mean predicted score and observed share of
    ``truth`` with a thread-bootstrap CI.

    Args:
        frame: a scored comment frame with the ``truth`` column (human labels).
        truth: the boolean truth column.
        labels: score columns; None = every known label in the frame.
        n_bins: equal-width score bins over [0, 1].
        n_boot, seed: bootstrap replicates and random seed.
        weight: a column of inverse-probability weights: weighted means per bin (the population's); None: 1.

    Returns:
        One row per label and bin: ``label``, ``bin_low``, ``bin_high``, ``n``, ``mean_predicted``,
        ``observed`` (share true), ``observed_low``, ``observed_high`` (95% thread-bootstrap percentile CI)
        and ``ci_method``.

    Raises:
        ConfigError: a named label is not in the frame.
        ValueError: ``truth`` is missing or not boolean.

    Example:
        Any boolean column can be the truth; ``removed`` stands in for human labels here:

        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> table = calibration_table(frame, truth="removed", n_bins=2, n_boot=50)
        >>> table.select("bin_low", "n", pl.col("mean_predicted", "observed").round(3)).rows()
        [(0.0, 3, 0.167, 0.0), (0.5, 3, 0.733, 0.667)]
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    parts = [pl.DataFrame(schema=CALIBRATION_SCHEMA)]
    for label in score_columns(frame, labels):
        rows = labelled_rows(frame, truth, label, key=TRUTH_KEY, weight=weight)
        s = rows[label].to_numpy().astype(np.float64)
        idx = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, n_bins - 1)
        y = rows[truth].cast(pl.Float64).to_numpy()
        if weight is None:
            ci = grouped_bootstrap_means(y, rows["thread_id"], idx, n_bins, n_boot=n_boot, seed=seed)
            estimate, low, high, methods = ci.estimate[:, 0], ci.low[:, 0], ci.high[:, 0], ci.method
            predicted = [float(s[idx == b].mean()) if (idx == b).any() else float("nan") for b in range(n_bins)]
        else:
            # the weighted share true and weighted mean score per bin, with thread-bootstrap CIs of the share
            w = rows[weight].cast(pl.Float64).to_numpy()
            onehot = np.eye(n_bins)[idx]
            cols = np.column_stack([onehot * w[:, None], onehot * (w * y)[:, None], onehot * (w * s)[:, None]])
            totals, reps, _, method = replicate_sums(cols, rows["thread_id"], n_boot=n_boot, seed=seed)
            with np.errstate(invalid="ignore", divide="ignore"):
                estimate = np.where(totals[:n_bins] > 0, totals[n_bins:2 * n_bins] / totals[:n_bins], np.nan)
                rep_share = reps[:, n_bins:2 * n_bins] / reps[:, :n_bins]
                predicted = np.where(totals[:n_bins] > 0, totals[2 * n_bins:] / totals[:n_bins], np.nan)
            low, high = percentile_ci(rep_share)
            methods = [f"{method}, inverse-probability weighted"] * n_bins
        parts.append(pl.DataFrame({
            "label": label, "bin_low": edges[:-1], "bin_high": edges[1:],
            "n": np.bincount(idx, minlength=n_bins), "mean_predicted": predicted, "observed": estimate,
            "observed_low": low, "observed_high": high, "ci_method": methods}, schema=CALIBRATION_SCHEMA))
    return pl.concat(parts)


def threshold_metrics(
    frame: pl.DataFrame,
    *,
    truth: str = ScorerValidationOptions.truth,
    labels: Sequence[str] | None = None,
    threshold: float = 0.5,
    n_bins: int = ScorerValidationOptions.calibration_bins,
    n_boot: int = 1000,
    seed: int = 0,
    weight: str | None = None,
) -> pl.DataFrame:
    """Precision, recall and F1 at ``threshold``, Brier score and expected calibration error (``n_bins``
    bins), with thread-bootstrap CIs for precision, recall and ECE.

    Args:
        frame: a scored comment frame with the ``truth`` column.
        truth: the boolean truth column.
        labels: score columns; None = every known label in the frame.
        threshold: a score >= threshold predicts true.
        n_bins: equal-width bins for the ECE.
        n_boot, seed: bootstrap replicates and random seed.
        weight: a column of inverse-probability weights: every sum weighted (the population's metrics).

    Returns:
        One row per label: ``label``, ``threshold``, ``precision``, ``precision_low``, ``precision_high``,
        ``recall``, ``recall_low``, ``recall_high``, ``f1``, ``brier``, ``ece``, ``ece_low``, ``ece_high``
        (95% thread-bootstrap percentile CIs).

    Raises:
        ConfigError: a named label is not in the frame.
        ValueError: ``truth`` is missing or not boolean.

    Example:
        Predicted (>= 0.5): 0.9 and 0.5 (removed) and 0.8 (kept): precision 2/3, recall 2/2:

        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> table = threshold_metrics(frame, truth="removed", n_boot=50)
        >>> table.select(pl.col("precision", "recall", "f1", "brier").round(3)).rows()
        [(0.667, 1.0, 0.8, 0.165)]
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    out = []
    for label in score_columns(frame, labels):
        rows = labelled_rows(frame, truth, label, key=TRUTH_KEY, weight=weight)
        s = rows[label].to_numpy().astype(np.float64)
        y = rows[truth].cast(pl.Boolean).to_numpy().astype(bool)
        w = np.ones(rows.height) if weight is None else rows[weight].cast(pl.Float64).to_numpy()
        pred = s >= threshold
        idx = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, n_bins - 1)

        # precision, recall and ECE are functions of per-thread sums: one product for all replicates
        onehot = np.eye(n_bins)[idx]
        cols = np.column_stack([pred & y, pred & ~y, ~pred & y, onehot, onehot * s[:, None],
                                onehot * y[:, None]]).astype(np.float64) * w[:, None]  # w: 1 when unweighted
        totals, reps, _, _ = replicate_sums(cols, rows["thread_id"], n_boot=n_boot, seed=seed)

        def stats(t: np.ndarray) -> np.ndarray:
            tp, fp, fn = t[..., 0], t[..., 1], t[..., 2]
            cnt, ps, ys = (t[..., 3 + j * n_bins:3 + (j + 1) * n_bins] for j in range(3))
            with np.errstate(invalid="ignore", divide="ignore"):
                precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
                recall = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
                total = cnt.sum(axis=-1)
                ece = np.where(total > 0, np.abs(ps - ys).sum(axis=-1) / total, np.nan)
            return np.stack([precision, recall, ece], axis=-1)

        low, high = percentile_ci(stats(reps))
        precision, recall, ece = (float(v) for v in stats(totals))
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else float("nan")
        bounds = {f"{m}_{side}": float(b[j]) for j, m in enumerate(("precision", "recall", "ece"))
                  for side, b in (("low", low), ("high", high))}
        out.append({"label": label, "threshold": float(threshold), "precision": precision, "recall": recall,
                    "f1": f1, "brier": float((w * (s - y) ** 2).sum() / w.sum()) if s.size else float("nan"),
                    "ece": ece, **bounds})
    return pl.DataFrame(out, schema=THRESHOLD_SCHEMA)


def scorer_validation(
    frame: pl.DataFrame,
    *,
    truth: str = ScorerValidationOptions.truth,
    labels: Sequence[str] | None = None,
    threshold: float = 0.5,
    n_bins: int = ScorerValidationOptions.calibration_bins,
    grid: int = ScorerValidationOptions.curve_grid,
    with_curves: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    weight: str | None = None,
) -> pl.DataFrame | tuple[pl.DataFrame, pl.DataFrame]:
    """One row per score column: ROC AUC and PR AUC vs ``truth`` (with CIs and a permutation p-value),
    joined with precision/recall/F1 at ``threshold``, Brier score and ECE; with ``with_curves`` also the
    ROC/PR curve table (from the same bootstrap).

    Args:
        frame: a scored comment frame with the ``truth`` column (human labels).
        truth: the boolean truth column.
        labels: score columns; None = every known label in the frame.
        threshold: a score >= threshold predicts true.
        n_bins: equal-width bins for the ECE.
        grid: points per curve.
        with_curves: also return the curves.
        n_boot, seed: bootstrap replicates and random seed.
        weight: a column of inverse-probability weights (e.g. ``annotation_sample``'s ``weight``): AUCs,
            precision, recall, Brier and ECE estimate the population the sample was drawn from; the metrics
            table then says so in ``weighted_by``. None: every row weighs 1.

    Returns:
        The metrics: :func:`toolkit.analysis.classification_metrics`' columns joined with
        :func:`threshold_metrics`' (``threshold`` ... ``ece_high``); with ``with_curves``, ``(metrics,
        curves)`` (:func:`toolkit.analysis.classification_curves`' table).

    Raises:
        ValueError: ``truth`` is missing or not boolean.
        ConfigError: a named label is not in the frame.

    Example:
        Any boolean column can be the truth; ``removed`` stands in for human labels here:

        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> table = scorer_validation(frame, truth="removed", n_boot=50)
        >>> table.select("label", pl.col("roc_auc", "precision", "recall").round(3)).rows()
        [('toxicity', 0.875, 0.667, 1.0)]
        >>> scorer_validation(frame, truth="toxic")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        toolkit.errors.ConfigError: analysis.params.scorer_validation.truth: needs a boolean truth column 'toxic' (e.g. human labels); columns: [...]
    """
    require_truth(frame, truth, TRUTH_KEY)
    if weight is not None and weight not in frame.columns:
        raise ConfigError("analysis.params.scorer_validation.weight", f"no weight column {weight!r} in the data")
    aucs, curves = classification_tables(frame, truth=truth, labels=labels, grid=grid,
                                         curve_labels=None if with_curves else [], n_boot=n_boot, seed=seed,
                                         weight=weight)
    rest = threshold_metrics(frame, truth=truth, labels=labels, threshold=threshold, n_bins=n_bins,
                             n_boot=n_boot, seed=seed, weight=weight)
    metrics = aucs.join(rest, on="label", how="left", maintain_order="left")
    if weight is not None:
        metrics = metrics.with_columns(pl.lit(f"{weight} (inverse inclusion probability)").alias("weighted_by"))
    return (metrics, curves) if with_curves else metrics


def run_scorer_validation(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    """Score columns against human labels: ROC/PR AUC, metrics at the threshold, calibration."""
    o = ctx.params.scorer_validation
    truth, weight, extra, note = o.truth, o.weight, {}, ""
    if o.annotations:
        frame, agreement, note = with_annotations(frame, o.annotations, truth, ctx)
        weight = ANNOTATION_WEIGHT
        extra = {"annotator_agreement": agreement} if agreement is not None else {}
    if truth not in frame.columns:
        return AnalysisOutput(skipped=f"no truth column {truth!r} in the data (the human labels; set "
                                      "analysis.params.scorer_validation.truth)")
    labels = score_columns(frame, o.labels or ctx.labels or None)
    metrics, curves = scorer_validation(frame, truth=truth, labels=labels, threshold=ctx.threshold,
                                        n_bins=o.calibration_bins, grid=o.curve_grid, with_curves=True,
                                        weight=weight, **ctx.boot)
    n = int(metrics["n"].max() or 0) if metrics.height else 0
    if n == 0:
        return AnalysisOutput(skipped=f"no scored comment with a {truth!r} label")
    calibration = calibration_table(frame, truth=truth, labels=labels, n_bins=o.calibration_bins, weight=weight,
                                    **ctx.boot)
    weighted = f"weighted by {weight} (inverse inclusion probability)" if weight else ""
    figures = [
        (FigureSpec("validation_roc_pr", "roc_pr", f"Scorer vs human labels ({truth})",
                    ctx.caption(note, weighted, ctx.ci_note(ci_methods(metrics)) + " (bands)"),
                    {"label": ctx.label, "truth": truth, "min_width": "double"}), curves),
        (FigureSpec("validation_calibration", "calibration", "Calibration against human labels",
                    ctx.caption(shown(n), note, weighted, ctx.ci_note(ci_methods(calibration))), {"truth": truth}),
         calibration),
    ]
    return AnalysisOutput({"scorer_validation": metrics, "validation_calibration": calibration,
                           "validation_curves": curves, **extra}, figures)


ANNOTATION_WEIGHT = "annotation_weight"


def with_annotations(frame: pl.DataFrame, directory: str, truth: str,
                     ctx: AnalysisContext) -> tuple[pl.DataFrame, pl.DataFrame | None, str]:
    """``frame`` with the hand labels of an annotation directory (:func:`toolkit.analysis.annotation.
    read_annotations`) as ``truth`` (the annotators' majority; replacing a column of that name) and the key's
    inverse-probability weights as ``annotation_weight``, joined by comment id; Krippendorff's alpha between
    the annotators (None with one); and a caption note. A key naming comments not in the data is an error."""
    labelled, annotators = read_annotations(directory)
    labelled = majority(labelled, annotators, truth)
    joined = labelled.select(pl.col("comment_id").cast(pl.String), pl.col(truth),
                             pl.col("weight").cast(pl.Float64).alias(ANNOTATION_WEIGHT))
    missing = joined.join(frame.select(pl.col("comment_id").cast(pl.String)), on="comment_id", how="anti")
    if missing.height:
        raise ConfigError("analysis.params.scorer_validation.annotations",
                          f"{missing.height} of the key's {joined.height} comments are not in this run's data (e.g. "
                          f"{missing['comment_id'][0]!r}): validate on the data the sample was drawn from")
    frame = frame.drop([c for c in (truth, ANNOTATION_WEIGHT) if c in frame.columns]).join(
        joined, on="comment_id", how="left", maintain_order="left")
    agreement = krippendorff_alpha(labelled, annotators, **ctx.boot) if len(annotators) >= 2 else None
    decided = int(labelled[truth].is_not_null().sum())
    note = (f"truth: majority of {len(annotators)} annotator{'s' if len(annotators) > 1 else ''} on "
            f"{decided:,} of {labelled.height:,} sampled items (ties and unlabelled left out)")
    return frame, agreement, note


DECLARED = (
    Analysis("scorer_validation", run_scorer_validation, ScorerValidationOptions,
             reads=("thread_id", "is_post", "removed"),  # + comment_id only to join hand labels (annotations)
             named=lambda o: [o.truth, *(o.labels or ()), *([o.weight] if o.weight else []),
                              *(["comment_id"] if o.annotations else [])],
             tables=("scorer_validation", "validation_calibration", "validation_curves", "annotator_agreement"),
             figures=("validation_roc_pr", "validation_calibration")),
)
