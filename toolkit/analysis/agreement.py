"""Scorer agreement: do several scorers (or labels) rank and threshold the same comments alike?

A result that holds under one model only is fragile; pairwise Spearman correlation and agreement at the
threshold over the same comments show whether it hinges on the scorer.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import polars as pl

from toolkit.analysis.common import comments_only
from toolkit.analysis.stats import RankPairs, cluster_bootstrap

AGREEMENT_SCHEMA = {
    "a": pl.String, "b": pl.String, "n": pl.Int64, "n_threads": pl.Int64, "spearman": pl.Float64,
    "spearman_low": pl.Float64, "spearman_high": pl.Float64, "agreement": pl.Float64, "agreement_low": pl.Float64,
    "agreement_high": pl.Float64, "kappa": pl.Float64, "kappa_low": pl.Float64, "kappa_high": pl.Float64,
    "share_a": pl.Float64, "share_b": pl.Float64, "threshold": pl.Float64, "ci_method": pl.String,
}


def _kappa(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    """Cohen's kappa of two boolean ratings with frequency weights."""
    total = w.sum()
    if total <= 0:
        return float("nan")
    po = (w * (a == b)).sum() / total
    pa, pb = (w * a).sum() / total, (w * b).sum() / total
    pe = pa * pb + (1 - pa) * (1 - pb)
    return float((po - pe) / (1 - pe)) if pe < 1 else float("nan")


def scorer_agreement(
    frame: pl.DataFrame,
    columns: Sequence[str],
    *,
    threshold: float = 0.5,
    thresholds: dict[str, float] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """For each pair of score columns, over comments scored by both: Spearman's rho, the share of comments
    on the same side of the threshold, and Cohen's kappa at the threshold, each with a thread-bootstrap CI.
    ``thresholds`` may give a column its own threshold (scorers are calibrated differently)."""
    thresholds = thresholds or {}
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"scorer_agreement: columns {missing} not in the frame")
    rows = comments_only(frame)
    out = []
    for a, b in combinations(columns, 2):
        pair = rows.filter(pl.col(a).is_not_null() & pl.col(b).is_not_null() & pl.col(a).is_not_nan()
                           & pl.col(b).is_not_nan())
        x, y = pair[a].to_numpy().astype(np.float64), pair[b].to_numpy().astype(np.float64)
        ta, tb = float(thresholds.get(a, threshold)), float(thresholds.get(b, threshold))
        xa, yb = x >= ta, y >= tb
        ranks = RankPairs(x, y)
        rho = cluster_bootstrap(ranks.spearman, pair["thread_id"], n_boot=n_boot, seed=seed)
        agree = cluster_bootstrap(lambda w, p=xa, q=yb: float((w * (p == q)).sum() / w.sum()) if w.sum() else np.nan,
                                  pair["thread_id"], n_boot=n_boot, seed=seed)
        kappa = cluster_bootstrap(lambda w, p=xa, q=yb: _kappa(p, q, w), pair["thread_id"], n_boot=n_boot, seed=seed)
        out.append({
            "a": a, "b": b, "n": pair.height, "n_threads": rho.n_clusters, "spearman": rho.estimate,
            "spearman_low": rho.low, "spearman_high": rho.high, "agreement": agree.estimate,
            "agreement_low": agree.low, "agreement_high": agree.high, "kappa": kappa.estimate,
            "kappa_low": kappa.low, "kappa_high": kappa.high,
            "share_a": float(xa.mean()) if xa.size else float("nan"),
            "share_b": float(yb.mean()) if yb.size else float("nan"),
            "threshold": ta if ta == tb else float("nan"), "ci_method": rho.method,
        })
    return pl.DataFrame(out, schema=AGREEMENT_SCHEMA)
