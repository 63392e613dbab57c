"""Scorer validation against human labels: ROC AUC, PR AUC, threshold metrics and calibration.

The truth is a boolean column (e.g. ``toxic``: the majority of annotators said toxic). Where comments come
from threads, CIs resample threads; where each comment is its own thread this is the ordinary bootstrap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from toolkit.analysis.common import comments_only, score_columns, truth_column
from toolkit.analysis.prediction import classification_metrics
from toolkit.analysis.stats import bootstrap_mean, bootstrap_replicates, percentile_ci

CALIBRATION_SCHEMA = {
    "label": pl.String, "bin_low": pl.Float64, "bin_high": pl.Float64, "n": pl.Int64, "mean_predicted": pl.Float64,
    "observed": pl.Float64, "observed_low": pl.Float64, "observed_high": pl.Float64, "ci_method": pl.String,
}
THRESHOLD_SCHEMA = {
    "label": pl.String, "threshold": pl.Float64, "precision": pl.Float64, "precision_low": pl.Float64,
    "precision_high": pl.Float64, "recall": pl.Float64, "recall_low": pl.Float64, "recall_high": pl.Float64,
    "f1": pl.Float64, "brier": pl.Float64, "ece": pl.Float64, "ece_low": pl.Float64, "ece_high": pl.Float64,
}


def _rows(frame: pl.DataFrame, truth: str, label: str) -> pl.DataFrame:
    if truth not in frame.columns:
        raise ValueError(f"scorer validation needs a boolean truth column {truth!r}; columns: {frame.columns}")
    return truth_column(comments_only(frame), truth).filter(
        pl.col(label).is_not_null() & pl.col(label).is_not_nan() & pl.col(truth).is_not_null()
    )


def calibration_table(
    frame: pl.DataFrame,
    *,
    truth: str = "toxic",
    labels: Sequence[str] | None = None,
    n_bins: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Reliability diagram data: per equal-width score bin, n, mean predicted score and observed share of
    ``truth`` with a thread-bootstrap CI."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    out = []
    for label in score_columns(frame, labels):
        rows = _rows(frame, truth, label)
        s = rows[label].to_numpy().astype(np.float64)
        idx = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, n_bins - 1)
        y = rows[truth].cast(pl.Float64).to_numpy()
        for b in range(n_bins):
            m = idx == b
            ci = bootstrap_mean(y[m], rows["thread_id"].filter(pl.Series(m)), n_boot=n_boot, seed=seed)
            out.append({"label": label, "bin_low": float(edges[b]), "bin_high": float(edges[b + 1]), "n": int(m.sum()),
                        "mean_predicted": float(s[m].mean()) if m.any() else float("nan"), "observed": ci.estimate,
                        "observed_low": ci.low, "observed_high": ci.high, "ci_method": ci.method})
    return pl.DataFrame(out, schema=CALIBRATION_SCHEMA)


def _ece(s: np.ndarray, y: np.ndarray, idx: np.ndarray, n_bins: int, w: np.ndarray) -> float:
    """Expected calibration error: Σ_bins (weight share) |mean predicted - observed|."""
    cnt = np.bincount(idx, weights=w, minlength=n_bins)
    if cnt.sum() <= 0:
        return float("nan")
    ps = np.bincount(idx, weights=w * s, minlength=n_bins)
    ys = np.bincount(idx, weights=w * y, minlength=n_bins)
    ok = cnt > 0
    return float((np.abs(ps[ok] - ys[ok])).sum() / cnt.sum())


def threshold_metrics(
    frame: pl.DataFrame,
    *,
    truth: str = "toxic",
    labels: Sequence[str] | None = None,
    threshold: float = 0.5,
    n_bins: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Precision, recall and F1 at ``threshold``, Brier score and expected calibration error (``n_bins``
    bins), with thread-bootstrap CIs for precision, recall and ECE."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    out = []
    for label in score_columns(frame, labels):
        rows = _rows(frame, truth, label)
        s = rows[label].to_numpy().astype(np.float64)
        y = rows[truth].cast(pl.Boolean).to_numpy().astype(bool)
        pred = s >= threshold
        idx = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, n_bins - 1)

        def stats(w: np.ndarray, p=pred, t=y, sc=s, ix=idx) -> np.ndarray:
            tp, fp, fn = (w * (p & t)).sum(), (w * (p & ~t)).sum(), (w * (~p & t)).sum()
            precision = tp / (tp + fp) if tp + fp > 0 else np.nan
            recall = tp / (tp + fn) if tp + fn > 0 else np.nan
            return np.array([precision, recall, _ece(sc, t.astype(np.float64), ix, n_bins, w)])

        est, reps, _, _ = bootstrap_replicates(stats, rows["thread_id"], n_boot=n_boot, seed=seed)
        low, high = percentile_ci(reps) if reps.shape[0] else (np.full(3, np.nan), np.full(3, np.nan))
        precision, recall, ece = (float(v) for v in est)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else float("nan")
        out.append({"label": label, "threshold": float(threshold), "precision": precision,
                    "precision_low": float(low[0]), "precision_high": float(high[0]), "recall": recall,
                    "recall_low": float(low[1]), "recall_high": float(high[1]), "f1": f1,
                    "brier": float(((s - y) ** 2).mean()) if s.size else float("nan"), "ece": ece,
                    "ece_low": float(low[2]), "ece_high": float(high[2])})
    return pl.DataFrame(out, schema=THRESHOLD_SCHEMA)


def scorer_validation(
    frame: pl.DataFrame,
    *,
    truth: str = "toxic",
    labels: Sequence[str] | None = None,
    threshold: float = 0.5,
    n_bins: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """One row per score column: ROC AUC and PR AUC vs ``truth`` (with CIs and a permutation p-value),
    joined with precision/recall/F1 at ``threshold``, Brier score and ECE."""
    if truth not in frame.columns:
        raise ValueError(f"scorer validation needs a boolean truth column {truth!r}; columns: {frame.columns}")
    aucs = classification_metrics(frame, truth=truth, labels=labels, n_boot=n_boot, seed=seed)
    rest = threshold_metrics(frame, truth=truth, labels=labels, threshold=threshold, n_bins=n_bins,
                             n_boot=n_boot, seed=seed)
    return aucs.join(rest, on="label", how="left", maintain_order="left")
