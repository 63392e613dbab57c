"""Cross-walk archived Perspective scores to an open scorer: rank agreement, translated thresholds, a map.

A study that flagged "Perspective >= 0.7" learns which threshold of an open scorer flags the same share of
comments (and, with human labels, the same precision), how far the two disagree (Spearman, Kendall's tau,
agreement and Cohen's kappa at 0.5 / 0.7 / 0.8) and a cross-fitted monotone (isotonic) map from the scorer to
the reference scale. The statistics come from scipy and scikit-learn; CIs resample threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from toolkit.analysis.common import comments_only, score_columns, truth_column
from toolkit.analysis.declare import Analysis, AnalysisContext, shown
from toolkit.analysis.stats import RankPairs, cluster_bootstrap, dense_codes
from toolkit.errors import ConfigError
from toolkit.outputs import AnalysisOutput, FigureSpec
from toolkit.schema import scored

CROSSWALK_SCHEMA = {
    "scorer": pl.String, "reference": pl.String, "n": pl.Int64, "n_threads": pl.Int64, "spearman": pl.Float64,
    "spearman_low": pl.Float64, "spearman_high": pl.Float64, "kendall_tau": pl.Float64, "threshold": pl.Float64,
    "reference_share": pl.Float64, "scorer_share": pl.Float64, "agreement": pl.Float64, "kappa": pl.Float64,
    "map_mae": pl.Float64, "identity_mae": pl.Float64, "ci_method": pl.String,
}
THRESHOLDS_SCHEMA = {
    "scorer": pl.String, "reference": pl.String, "reference_threshold": pl.Float64, "reference_share": pl.Float64,
    "scorer_threshold_same_share": pl.Float64, "scorer_share": pl.Float64, "agreement_same_share": pl.Float64,
    "kappa_same_share": pl.Float64, "scorer_threshold_map": pl.Float64, "truth": pl.String,
    "reference_precision": pl.Float64, "reference_recall": pl.Float64,
    "scorer_threshold_same_precision": pl.Float64, "scorer_precision": pl.Float64, "scorer_recall": pl.Float64,
}
MAP_SCHEMA = {"scorer": pl.String, "reference": pl.String, "score": pl.Float64, "reference_scale": pl.Float64,
              "fold_low": pl.Float64, "fold_high": pl.Float64}
FIGURE_SCHEMA = {"scorer": pl.String, "part": pl.String, "x": pl.Float64, "y": pl.Float64, "value": pl.Float64}

REFERENCE_KEY = "analysis.params.crosswalk.reference"


@dataclass
class CrosswalkOptions:
    """``reference``: the archived score column (e.g. ``perspective_toxicity``); ``scorers``: score columns to
    translate (null = the run's labels); ``thresholds``: reference cuts to translate; ``truth``: a boolean
    human-label column for same-precision thresholds (skipped when absent); ``folds`` of threads for the
    cross-fitted map; ``grid`` points of the map table; ``density_bins`` per axis of the figure's density."""

    reference: str = "perspective_toxicity"
    scorers: list[str] | None = None
    thresholds: list[float] = field(default_factory=lambda: [0.5, 0.7, 0.8])
    truth: str | None = "toxic"
    folds: int = 5
    grid: int = 101
    density_bins: int = 40


def same_share_threshold(scores: np.ndarray, share: float) -> float:
    """The threshold ``t`` (one of the scores) whose ``scores >= t`` share is closest to ``share`` (ties: the
    higher ``t``); a share of 0 gives the next float above the largest score.

    >>> same_share_threshold(np.array([0.1, 0.2, 0.3, 0.4]), 0.5)
    0.3
    >>> same_share_threshold(np.array([0.1, 0.2, 0.3, 0.4]), 0.3)  # 1/4 and 2/4 flagged: 1/4 is closer
    0.4
    """
    values = np.unique(scores)
    if values.size == 0:
        return float("nan")
    flagged = (scores.size - np.searchsorted(np.sort(scores), values, side="left")) / scores.size
    candidates = np.r_[values, np.nextafter(values[-1], np.inf)]
    shares = np.r_[flagged, 0.0]
    best = np.flatnonzero(np.isclose(np.abs(shares - share), np.abs(shares - share).min(), rtol=0, atol=1e-12))
    return float(candidates[best[-1]])


def same_precision_threshold(scores: np.ndarray, truth: np.ndarray, precision: float) -> float:
    """The lowest threshold (one of the scores) whose ``scores >= t`` flags comments at least ``precision``
    of which are true: the most recall at the reference's precision (NaN when no threshold reaches it).

    >>> same_precision_threshold(np.array([0.9, 0.8, 0.7, 0.2]), np.array([True, True, False, False]), 1.0)
    0.8
    """
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], truth[order].astype(np.float64)
    last = np.r_[s[1:] != s[:-1], True]  # the last row of each tied group: flagging s >= s[i] flags all of it
    prec = (np.cumsum(y) / np.arange(1, s.size + 1))[last]
    ok = np.flatnonzero(prec >= precision - 1e-12)
    return float(s[last][ok[-1]]) if ok.size else float("nan")


def thread_folds(threads: pl.Series, folds: int, seed: int) -> np.ndarray:
    """A fold (0..folds-1) per row, whole threads together, threads dealt at random (seeded); with fewer
    threads than folds (independent comments in one flat "thread") the comments are dealt instead.

    >>> thread_folds(pl.Series(["a", "a", "b", "c"]), 2, 0).tolist()
    [0, 0, 0, 1]
    >>> sorted(thread_folds(pl.Series(["x"] * 4), 2, 0).tolist())
    [0, 0, 1, 1]
    """
    codes, k = dense_codes(threads)
    if k < folds:
        codes, k = np.arange(threads.len()), threads.len()
    deal = np.random.default_rng(seed).permutation(k) % max(1, min(folds, k))
    return deal[codes]


def cross_fitted_map(x: np.ndarray, y: np.ndarray, fold: np.ndarray, grid: np.ndarray) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """An isotonic map from ``x`` to ``y``: out-of-fold predictions per row (each fold's rows mapped by the fit
    on the other folds), the fit on all rows at ``grid``, and every fold fit at ``grid`` (one row each).

    >>> x = np.array([0.1, 0.2, 0.3, 0.4]); y = np.array([0.0, 0.2, 0.4, 0.9])
    >>> oof, full, fits = cross_fitted_map(x, y, np.array([0, 1, 0, 1]), np.array([0.0, 1.0]))
    >>> full.tolist(), fits.shape
    ([0.0, 0.9], (2, 2))
    """
    from sklearn.isotonic import IsotonicRegression  # here, not at import: every run imports the analyses

    def fit(mask: np.ndarray) -> IsotonicRegression:
        return IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(x[mask], y[mask])

    oof = np.full(x.size, np.nan)
    fits = []
    for k in np.unique(fold):
        held = fold == k
        if held.all():
            continue
        model = fit(~held)
        oof[held] = model.predict(x[held])
        fits.append(model.predict(grid))
    full = fit(np.ones(x.size, bool)).predict(grid)
    return oof, full, np.array(fits) if fits else full[None, :]


def _kappa(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0 or (np.unique(a).size == 1 and np.unique(b).size == 1 and a[0] == b[0]):
        return float("nan")  # one class on both sides: kappa undefined
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(a, b))


def crosswalk(frame: pl.DataFrame, scorers: Sequence[str], *, reference: str = CrosswalkOptions.reference,
              thresholds: Sequence[float] = (0.5, 0.7, 0.8), truth: str | None = None, folds: int = 5,
              grid: int = 101, density_bins: int = 40, n_boot: int = 1000, seed: int = 0) -> dict[str, pl.DataFrame]:
    """Each score column of ``scorers`` against the ``reference`` column, over comments with both.

    Args:
        frame: a scored comment frame with the reference (archived) score column.
        scorers: the score columns to translate.
        reference: the archived score column, on [0, 1].
        thresholds: reference cuts to translate.
        truth: a boolean human-label column for same-precision thresholds (None: not computed).
        folds: thread folds for the cross-fitted isotonic map.
        grid: points of the map table over [0, 1].
        density_bins: bins per axis of the figure's pair density.
        n_boot, seed: bootstrap replicates (threads resampled) and random seed.

    Returns:
        ``crosswalk`` (per scorer and threshold: ``n``, ``spearman`` with CI, ``kendall_tau``, shares,
        ``agreement``, ``kappa``, ``map_mae``: out-of-fold mean |map(score) - reference|, ``identity_mae``:
        mean |score - reference|), ``crosswalk_thresholds`` (per scorer and reference threshold: the scorer
        threshold flagging the same share, the one the map translates it to, and with ``truth`` the one with
        the same precision), ``crosswalk_map`` (the map at ``grid`` points with the fold fits' range) and
        ``crosswalk_figure`` (pair density, map and translated thresholds, for the figure).

    Example:
        The scorer ranks six comments as the reference does, on a lower scale: none reaches 0.7, three of six
        reference scores do (agreement 3/6); the scorer's top half starts at 0.4:

        >>> from toolkit.analysis.synthetic import make_frame
        >>> rows = [{"thread": f"t{i}", "id": f"c{i}", "score": s, "ref": r} for i, (s, r) in
        ...         enumerate([(0.1, 0.2), (0.2, 0.4), (0.3, 0.6), (0.4, 0.75), (0.5, 0.85), (0.6, 0.9)])]
        >>> out = crosswalk(make_frame(rows), ["toxicity"], reference="ref", thresholds=[0.7], n_boot=20)
        >>> out["crosswalk"].select("n", "spearman", pl.col("kendall_tau").round(6), "agreement").rows()
        [(6, 1.0, 1.0, 0.5)]
        >>> out["crosswalk_thresholds"].select("reference_share", "scorer_threshold_same_share").rows()
        [(0.5, 0.4)]
    """
    if reference not in frame.columns:
        raise ConfigError(REFERENCE_KEY, f"no reference score column {reference!r} in the data (columns: "
                                         f"{', '.join(frame.columns)}); name the archived score column")
    rows = comments_only(frame)
    if truth is not None:
        rows = truth_column(rows, truth)
    xs = np.linspace(0.0, 1.0, grid)
    from scipy.stats import kendalltau, spearmanr

    tables: dict[str, list[dict]] = {"crosswalk": [], "crosswalk_thresholds": [], "crosswalk_map": [],
                                     "crosswalk_figure": []}
    for name in scorers:
        if name == reference:
            continue
        pair = rows.filter(scored(name) & scored(reference))
        if pair.height < 2:
            continue
        x, y = pair[name].cast(pl.Float64).to_numpy(), pair[reference].cast(pl.Float64).to_numpy()
        rho = cluster_bootstrap(RankPairs(x, y).spearman, pair["thread_id"], n_boot=n_boot, seed=seed)
        rho_exact, tau = float(spearmanr(x, y).statistic), float(kendalltau(x, y).statistic)
        oof, full, fits = cross_fitted_map(x, y, thread_folds(pair["thread_id"], folds, seed), xs)
        map_mae, identity_mae = float(np.nanmean(np.abs(oof - y))), float(np.mean(np.abs(x - y)))
        for t in thresholds:
            a, b = x >= t, y >= t
            tables["crosswalk"].append({
                "scorer": name, "reference": reference, "n": pair.height, "n_threads": rho.n_clusters,
                "spearman": rho_exact, "spearman_low": rho.low, "spearman_high": rho.high, "kendall_tau": tau,
                "threshold": float(t), "reference_share": float(b.mean()), "scorer_share": float(a.mean()),
                "agreement": float((a == b).mean()), "kappa": _kappa(a, b), "map_mae": map_mae,
                "identity_mae": identity_mae, "ci_method": rho.method})
        tables["crosswalk_thresholds"] += _thresholds(name, reference, x, y, pair, truth, thresholds, xs, full)
        tables["crosswalk_map"] += [
            {"scorer": name, "reference": reference, "score": float(s), "reference_scale": float(m),
             "fold_low": float(lo), "fold_high": float(hi)}
            for s, m, lo, hi in zip(xs, full, fits.min(axis=0), fits.max(axis=0), strict=True)]
        tables["crosswalk_figure"] += _figure_rows(name, x, y, xs, full, tables["crosswalk_thresholds"],
                                                   density_bins)
    schemas = {"crosswalk": CROSSWALK_SCHEMA, "crosswalk_thresholds": THRESHOLDS_SCHEMA,
               "crosswalk_map": MAP_SCHEMA, "crosswalk_figure": FIGURE_SCHEMA}
    return {k: pl.DataFrame(v, schema=schemas[k]) for k, v in tables.items()}


def _thresholds(name: str, reference: str, x: np.ndarray, y: np.ndarray, pair: pl.DataFrame, truth: str | None,
                thresholds: Sequence[float], xs: np.ndarray, full: np.ndarray) -> list[dict]:
    """One row per reference threshold: the scorer thresholds with the same share, map and precision."""
    labelled = truth is not None and pair[truth].is_not_null().any()
    if labelled:
        known = pair[truth].is_not_null().to_numpy()
        lx, ly, lt = x[known], y[known], pair[truth].to_numpy()[known].astype(bool)
    out = []
    for t in thresholds:
        share = float((y >= t).mean())
        same = same_share_threshold(x, share)
        a, b = x >= same, y >= t
        reached = np.flatnonzero(full >= t)
        row = {"scorer": name, "reference": reference, "reference_threshold": float(t), "reference_share": share,
               "scorer_threshold_same_share": same, "scorer_share": float(a.mean()),
               "agreement_same_share": float((a == b).mean()), "kappa_same_share": _kappa(a, b),
               "scorer_threshold_map": float(xs[reached[0]]) if reached.size else float("nan"),
               "truth": truth if labelled else None}
        nan = float("nan")
        row.update(reference_precision=nan, reference_recall=nan, scorer_threshold_same_precision=nan,
                   scorer_precision=nan, scorer_recall=nan)
        if labelled and lt.any():
            flagged = ly >= t
            if flagged.any():
                precision = float(lt[flagged].mean())
                cut = same_precision_threshold(lx, lt, precision)
                mine = lx >= cut
                row.update(reference_precision=precision, reference_recall=float(flagged[lt].mean()),
                           scorer_threshold_same_precision=cut,
                           scorer_precision=float(lt[mine].mean()) if mine.any() else nan,
                           scorer_recall=float(mine[lt].mean()) if cut == cut else nan)
        out.append(row)
    return out


def _figure_rows(name: str, x: np.ndarray, y: np.ndarray, xs: np.ndarray, full: np.ndarray,
                 thresholds: list[dict], bins: int) -> list[dict]:
    """The figure's data: pair counts per 2-d bin (``density``), the map (``map``), translated thresholds."""
    counts, ex, ey = np.histogram2d(x, y, bins=bins, range=[[0, 1], [0, 1]])
    i, j = np.nonzero(counts)
    rows = [{"scorer": name, "part": "density", "x": float((ex[a] + ex[a + 1]) / 2),
             "y": float((ey[b] + ey[b + 1]) / 2), "value": float(counts[a, b])} for a, b in zip(i, j, strict=True)]
    rows += [{"scorer": name, "part": "map", "x": float(s), "y": float(m), "value": None}
             for s, m in zip(xs, full, strict=True)]
    rows += [{"scorer": name, "part": "same_share", "x": r["scorer_threshold_same_share"],
              "y": r["reference_threshold"], "value": r["reference_share"]}
             for r in thresholds if r["scorer"] == name]
    return rows


def run_crosswalk(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    """The run's score columns (or ``scorers``) against the archived ``reference`` score."""
    o = ctx.params.crosswalk
    if o.reference not in frame.columns:
        return AnalysisOutput(skipped=f"no reference score column {o.reference!r} in the data (set "
                                      f"{REFERENCE_KEY} to the archived score column)")
    scorers = [c for c in score_columns(frame, o.scorers or ctx.labels or None) if c != o.reference]
    truth = o.truth if o.truth and o.truth in frame.columns else None
    out = crosswalk(frame, scorers, reference=o.reference, thresholds=o.thresholds, truth=truth, folds=o.folds,
                    grid=o.grid, density_bins=o.density_bins, **ctx.boot)
    if out["crosswalk"].height == 0:
        return AnalysisOutput(skipped=f"no comment has both a score ({', '.join(scorers)}) and {o.reference!r}")
    n = int(out["crosswalk"]["n"].max())
    figure = out.pop("crosswalk_figure")
    spec = FigureSpec("crosswalk", "crosswalk", f"Cross-walk to {o.reference}",
                      ctx.caption(shown(n, None, "comments with both scores"),
                                  f"isotonic map cross-fitted over {o.folds} thread folds",
                                  "markers: scorer thresholds flagging the same share"),
                      {"reference": o.reference, "min_width": "double" if len(scorers) > 1 else "single"})
    return AnalysisOutput(out, [(spec, figure)])


DECLARED = (
    Analysis("crosswalk", run_crosswalk, CrosswalkOptions, reads=("thread_id", "is_post"),
             named=lambda o: [o.reference, *([o.truth] if o.truth else []), *(o.scorers or ())],
             tables=("crosswalk", "crosswalk_thresholds", "crosswalk_map"), figures=("crosswalk",)),
)
