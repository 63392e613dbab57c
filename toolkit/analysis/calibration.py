"""Calibrating a scorer to human labels: a monotone map from score to the probability of the label.

A raw score is a model's output, not a probability of what *these* annotators call toxic. The map is fitted by
isotonic regression (or Platt scaling: a logistic curve on the score's log-odds), cross-fitted: each fold's
calibrated scores come from a map fitted on the other folds (folds of whole threads, stratified by the label),
so the Brier score and expected calibration error (ECE) after calibration are honest out-of-sample numbers.
The map written to ``calibration/<label>.json`` is fitted on all rows; ``scorer.calibration=PATH`` applies it
(``toolkit.scoring.calibration``, which also holds the one rule for evaluating a map).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from toolkit.analysis import common
from toolkit.analysis.common import ci_methods
from toolkit.analysis.declare import Analysis, AnalysisContext, shown
from toolkit.analysis.stats import cluster_codes
from toolkit.analysis.validation import (
    ANNOTATION_WEIGHT,
    calibration_table,
    threshold_metrics,
    with_annotations,
)
from toolkit.errors import ConfigError
from toolkit.outputs import AnalysisOutput, FigureSpec

METHODS = ("isotonic", "platt")
PLATT_C = 1e6  # effectively unpenalised logistic regression (scikit-learn's default C=1 would shrink it)
MAP_GRID = 101  # points of the calibration_map table

METRICS_SCHEMA = {
    "stage": pl.String, "label": pl.String, "method": pl.String, "folds": pl.Int64, "n": pl.Int64,
    "n_positive": pl.Int64, "brier": pl.Float64, "ece": pl.Float64, "ece_low": pl.Float64, "ece_high": pl.Float64,
    "threshold": pl.Float64, "precision": pl.Float64, "recall": pl.Float64, "f1": pl.Float64,
}


@dataclass
class CalibrateScorerOptions:
    """``truth``: boolean column of human labels; ``label``: the score to calibrate (null: analysis.label);
    ``method``: isotonic | platt; ``folds``: cross-fitting folds; ``bins``: equal-width bins of the ECE;
    ``weight``: a column of inverse-probability weights; ``annotations``: a labelled annotation_sample directory
    (the annotators' majority as ``truth``, the key's weights), as scorer_validation's."""

    truth: str = "toxic"
    label: str | None = None
    method: str = "isotonic"
    folds: int = 5
    bins: int = 10
    weight: str | None = None  # inverse-probability weights (a sample drawn with known probabilities)
    annotations: str | None = None  # an annotation_sample directory, labelled: its majority and weights


def fit_map(scores: np.ndarray, truth: np.ndarray, method: str = "isotonic",
            weights: np.ndarray | None = None) -> dict[str, Any]:
    """A monotone map from ``scores`` to P(``truth``) as plain data (see
    :func:`toolkit.scoring.calibration.map_scores`): isotonic regression's steps (scikit-learn's
    IsotonicRegression, clipped to [0, 1]) or Platt's logistic curve on the log-odds; ``weights``: sample
    weights (inverse inclusion probabilities: the fit is the population's).

    Pool-adjacent-violators pools the out-of-order 1, 0 into 0.5, 0.5:

    >>> m = fit_map(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1]))
    >>> m["method"], m["x"], m["y"]
    ('isotonic', [0.1, 0.2, 0.3, 0.4], [0.0, 0.5, 0.5, 1.0])
    """
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    from toolkit.scoring.calibration import logit

    s, y = np.asarray(scores, np.float64), np.asarray(truth, np.float64)
    if method == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(
            s, y, sample_weight=weights)
        return {"method": "isotonic", "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
    if method == "platt":
        model = LogisticRegression(C=PLATT_C, max_iter=1000).fit(logit(s)[:, None], y.astype(int),
                                                                 sample_weight=weights)
        return {"method": "platt", "coef": float(model.coef_[0, 0]), "intercept": float(model.intercept_[0]),
                "input": "log-odds of the score clipped to [1e-6, 1 - 1e-6]"}
    raise ConfigError("analysis.params.calibrate_scorer.method",
                      f"unknown method {method!r}; known: {', '.join(METHODS)}")


def fold_of(truth: np.ndarray, units: pl.Series, folds: int, seed: int) -> np.ndarray:
    """Each row's cross-fitting fold (0..folds-1): whole threads per fold, stratified by ``truth`` (scikit-
    learn's StratifiedGroupKFold, shuffled with ``seed``); a corpus of fewer threads than folds (e.g. one flat
    "thread" of independent comments) splits comments instead.

    >>> fold_of(np.array([0, 1, 0, 1]), pl.Series(["a", "a", "b", "b"]), 2, 0).tolist()  # a thread stays whole
    [1, 1, 0, 0]
    """
    from sklearn.model_selection import StratifiedGroupKFold

    codes, n_units, _, _ = cluster_codes(units)
    groups = codes if n_units >= folds else np.arange(truth.size)
    out = np.zeros(truth.size, dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (_, held) in enumerate(splitter.split(np.zeros(truth.size), truth.astype(int), groups)):
        out[held] = k
    return out


def cross_fitted(scores: np.ndarray, truth: np.ndarray, fold: np.ndarray, method: str,
                 weights: np.ndarray | None = None) -> np.ndarray:
    """Each row's calibrated score from the map fitted on the other folds.

    Fold 1's map (0.2 -> 0, 0.8 -> 1) clips fold 0's 0.1 and 0.9; fold 0's (0.1 -> 0, 0.9 -> 1) interpolates:

    >>> s, y = np.array([0.1, 0.9, 0.2, 0.8]), np.array([0, 1, 0, 1])
    >>> cross_fitted(s, y, np.array([0, 0, 1, 1]), "isotonic").round(3).tolist()
    [0.0, 1.0, 0.125, 0.875]
    """
    from toolkit.scoring.calibration import map_scores

    out = np.full(scores.size, np.nan)
    for k in np.unique(fold):
        held = fold == k
        w = None if weights is None else weights[~held]
        out[held] = map_scores(fit_map(scores[~held], truth[~held], method, w), scores[held])
    return out


def labels_sha256(rows: pl.DataFrame, truth: str) -> str:
    """sha256 of the labels a map was fitted on: the CSV ``comment_id,<truth as 0/1>`` sorted by comment id
    (so the same labels give the same hash whatever the row order).

    >>> labels_sha256(pl.DataFrame({"comment_id": ["b", "a"], "toxic": [True, False]}), "toxic")[:12]
    '13149c6627bb'
    >>> hashlib.sha256(b"comment_id,toxic\\na,0\\nb,1\\n").hexdigest()[:12]
    '13149c6627bb'
    """
    table = rows.select(pl.col("comment_id").cast(pl.String), pl.col(truth).cast(pl.Int8)).sort("comment_id")
    return hashlib.sha256(table.write_csv().encode()).hexdigest()


def labelled_rows(frame: pl.DataFrame, truth: str, label: str, weight: str | None = None) -> pl.DataFrame:
    """The comments with a truth value and a score (truth as Boolean; :func:`toolkit.analysis.common.
    labelled_rows`); a missing column is a ConfigError naming the option."""
    for column, key in ((truth, "truth"), (label, "label")):
        if column not in frame.columns:
            raise ConfigError(f"analysis.params.calibrate_scorer.{key}", f"no column {column!r} in the data; "
                              f"columns: {frame.columns}")
    return common.labelled_rows(frame, truth, label, weight=weight or None)


def too_few(rows: pl.DataFrame, truth: str, folds: int) -> str:
    """Why ``rows`` cannot be cross-fitted in ``folds`` folds (a class with fewer rows than folds), or ''.

    >>> too_few(pl.DataFrame({"toxic": [True, False, False]}), "toxic", 2)
    '3 labelled rows, 1 positive: each class needs at least 2 (one per fold)'
    """
    n, n_pos = rows.height, int(rows[truth].sum() or 0)
    return "" if min(n_pos, n - n_pos) >= folds else (
        f"{n} labelled rows, {n_pos} positive: each class needs at least {folds} (one per fold)")


def calibrate_scorer(frame: pl.DataFrame, *, truth: str = "toxic", label: str = "toxicity",
                     method: str = "isotonic", folds: int = 5, bins: int = 10, threshold: float = 0.5,
                     n_boot: int = 1000, seed: int = 0, weight: str | None = None) -> dict[str, Any]:
    """Fit the map from ``label`` to P(``truth``), cross-fitted, and measure it (``weight``: a column of
    inverse-probability weights for the fit and the metrics).

    Returns:
        ``{"map": the map fitted on all rows, "metrics": one row per stage (raw, calibrated) with Brier score,
        ECE (thread-bootstrap CI) and precision/recall at ``threshold``, "reliability": the calibration_table of
        both, "rows": the labelled rows with the cross-fitted scores (``<label> calibrated``)}``.

    Raises:
        ConfigError: ``truth`` or ``label`` missing, an unknown method, or too few labelled rows.

    Example:
        Scores twice too high: the cross-fitted map brings the Brier score down.

        >>> rng = np.random.default_rng(0)
        >>> p = rng.uniform(0, 0.5, 400)
        >>> from toolkit.analysis.synthetic import make_frame
        >>> frame = make_frame([{"thread": f"t{i}", "id": f"c{i}", "score": 2 * q} for i, q in enumerate(p)])
        >>> frame = frame.with_columns(pl.Series("toxic", rng.uniform(size=400) < p))
        >>> fit = calibrate_scorer(frame, n_boot=20)
        >>> raw, cal = fit["metrics"]["brier"].to_list()
        >>> cal < raw
        True
    """
    rows = labelled_rows(frame, truth, label, weight)
    w = None if weight is None else rows[weight].cast(pl.Float64).to_numpy()
    y = rows[truth].to_numpy().astype(bool)
    n_pos = int(y.sum())
    if too_few(rows, truth, folds):
        raise ConfigError("analysis.params.calibrate_scorer.folds", too_few(rows, truth, folds))
    s = rows[label].to_numpy().astype(np.float64)
    fold = fold_of(y, rows["thread_id"], folds, seed)
    calibrated = f"{label} calibrated"
    rows = rows.with_columns(pl.Series(calibrated, cross_fitted(s, y, fold, method, w)))
    measured = threshold_metrics(rows, truth=truth, labels=[label, calibrated], threshold=threshold, n_bins=bins,
                                 weight=weight, n_boot=n_boot, seed=seed)
    metrics = measured.select(
        pl.Series("stage", ["raw", f"calibrated ({method}, cross-fitted)"]), "label",
        pl.lit(method).alias("method"), pl.lit(folds, pl.Int64).alias("folds"), pl.lit(y.size, pl.Int64).alias("n"),
        pl.lit(n_pos, pl.Int64).alias("n_positive"), "brier", "ece", "ece_low", "ece_high", "threshold",
        "precision", "recall", "f1").cast(METRICS_SCHEMA)  # type: ignore[arg-type]
    reliability = calibration_table(rows, truth=truth, labels=[label, calibrated], n_bins=bins, weight=weight,
                                    n_boot=n_boot, seed=seed)
    return {"map": fit_map(s, y, method, w), "metrics": metrics, "reliability": reliability, "rows": rows}


def calibration_file(fit: dict[str, Any], rows: pl.DataFrame, *, label: str, truth: str,
                     identity: dict[str, Any], seed: int, weight: str | None = None) -> str:
    """The calibration JSON (``toolkit.scoring.calibration.FORMAT``): scorer identity, label, truth, sha256 of
    the labels, the map and the cross-fitted metrics; stable key order, no timestamps (a rerun writes the same
    bytes)."""
    from toolkit.scoring.calibration import FORMAT

    m = {r["stage"].split(" ")[0]: r for r in fit["metrics"].iter_rows(named=True)}
    doc = {
        "format": FORMAT, "label": label, "truth": truth, "scorer": identity,
        "labels_sha256": labels_sha256(rows, truth), "map": fit["map"],
        "fit": {"n": m["raw"]["n"], "n_positive": m["raw"]["n_positive"], "folds": m["raw"]["folds"], "seed": seed,
                "cross_fitted": True, "method": fit["map"]["method"],
                **({"weighted_by": weight} if weight else {})},
        "metrics": {"brier_raw": m["raw"]["brier"], "brier_calibrated": m["calibrated"]["brier"],
                    "ece_raw": m["raw"]["ece"], "ece_calibrated": m["calibrated"]["ece"],
                    "ece_bins": int(fit["reliability"]["bin_low"].n_unique()), "cross_fitted": True},
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def run_calibrate_scorer(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    """Cross-fitted calibration of the run's score to the human labels; the map as ``calibration/<label>.json``."""
    o = ctx.params.calibrate_scorer
    label, weight, note = o.label or ctx.label, o.weight, ""
    if o.annotations:
        frame, _, note = with_annotations(frame, o.annotations, o.truth, ctx)
        weight = ANNOTATION_WEIGHT
    if o.truth not in frame.columns:
        return AnalysisOutput(skipped=f"no truth column {o.truth!r} in the data (the human labels; set "
                                      "analysis.params.calibrate_scorer.truth)")
    if f"{label}_raw" in frame.columns:
        return AnalysisOutput(skipped=f"{label!r} is calibrated already (scorer.calibration is set): fit on the raw "
                                      "scores, without scorer.calibration")
    if label not in frame.columns or (why := too_few(labelled_rows(frame, o.truth, label, weight), o.truth,
                                                      o.folds)):
        return AnalysisOutput(skipped=why or f"no score column {label!r} in the data")
    fit = calibrate_scorer(frame, truth=o.truth, label=label, method=o.method, folds=o.folds, bins=o.bins,
                           threshold=ctx.threshold, weight=weight, **ctx.boot)
    identity = ctx.identities.get(label) or {"source_column": label}  # a data column no scorer of the run wrote
    document = calibration_file(fit, fit["rows"], label=label, truth=o.truth, identity=identity, seed=ctx.seed,
                                weight=weight)
    from toolkit.scoring.calibration import map_scores

    grid = np.linspace(0.0, 1.0, MAP_GRID)
    table_map = pl.DataFrame({"label": [label] * MAP_GRID, "score": grid,
                              "calibrated": map_scores(fit["map"], grid)})
    raw, cal = fit["metrics"].iter_rows(named=True)
    n = raw["n"]
    spec = FigureSpec("calibration_reliability", "calibration", f"Calibration of {label} to {o.truth}, before and after",
                      ctx.caption(shown(n), note, f"weighted by {weight}" if weight else "",
                                  f"{o.method} map, {o.folds}-fold cross-fitted",
                                  f"Brier {raw['brier']:.4f} -> {cal['brier']:.4f}, ECE {raw['ece']:.4f} -> "
                                  f"{cal['ece']:.4f}", ctx.ci_note(ci_methods(fit["reliability"])) + " (points)"), {"truth": o.truth})
    return AnalysisOutput({"calibration_metrics": fit["metrics"], "calibration_reliability": fit["reliability"],
                           "calibration_map": table_map}, [(spec, fit["reliability"])],
                          files={f"calibration/{label}.json": document})


DECLARED = (
    Analysis("calibrate_scorer", run_calibrate_scorer, CalibrateScorerOptions,
             reads=("thread_id", "comment_id", "is_post"),  # comment_id: the labels' sha256, joining hand labels
             named=lambda o: [o.truth, *([o.label] if o.label else []), *([o.weight] if o.weight else [])],
             tables=("calibration_metrics", "calibration_reliability", "calibration_map"),
             figures=("calibration_reliability",)),
)
