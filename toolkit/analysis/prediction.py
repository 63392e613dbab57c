"""Does toxicity predict removal? ROC/PR AUC per label, and a logistic regression with thread-clustered SEs.

Also the classification metrics and curves shared with scorer validation (a score vs a binary truth).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from toolkit.analysis.common import ci_methods, labelled_rows, score_columns
from toolkit.analysis.declare import Analysis, AnalysisContext, shown
from toolkit.analysis.stats import (
    RankedScores,
    bootstrap_replicates,
    cluster_codes,
    percentile_ci,
    permutation_draws,
    stratified_permutation_pvalue,
)
from toolkit.outputs import AnalysisOutput, FigureSpec

AUC_SCHEMA = {
    "label": pl.String, "n": pl.Int64, "n_positive": pl.Int64, "n_threads": pl.Int64, "base_rate": pl.Float64,
    "roc_auc": pl.Float64, "roc_low": pl.Float64, "roc_high": pl.Float64, "roc_p_value": pl.Float64,
    "pr_auc": pl.Float64, "pr_low": pl.Float64, "pr_high": pl.Float64, "ci_method": pl.String,
    "p_method": pl.String,
}
CURVE_SCHEMA = {
    "label": pl.String, "curve": pl.String, "x": pl.Float64, "y": pl.Float64, "low": pl.Float64,
    "high": pl.Float64, "n": pl.Int64, "n_positive": pl.Int64, "auc": pl.Float64,
}
LOGIT_SCHEMA = {
    "term": pl.String, "odds_ratio": pl.Float64, "or_low": pl.Float64, "or_high": pl.Float64, "coef": pl.Float64,
    "se": pl.Float64, "p_value": pl.Float64, "n": pl.Int64, "n_events": pl.Int64, "n_threads": pl.Int64,
    "se_type": pl.String, "note": pl.String,
}
P_METHOD = "permutation of the outcome within threads (AUC = 0.5)"


@dataclass
class RemovalPredictionOptions:
    """``labels``: score columns for ROC/PR AUC (null: every label of the scorer); depth and the platform
    score join the logistic regression where present; odds ratios per +``label_unit`` of the score."""

    labels: list[str] | None = None
    include_depth: bool = True
    include_score: bool = True
    score_transform: str = "signed_log1p"
    label_unit: float = 0.1
    curve_grid: int = 101



def classification_tables(
    frame: pl.DataFrame,
    *,
    truth: str = "removed",
    labels: Sequence[str] | None = None,
    curve_labels: Sequence[str] | None = None,
    grid: int = RemovalPredictionOptions.curve_grid,
    n_boot: int = 1000,
    seed: int = 0,
    weight: str | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Metrics and curves of each score column as a predictor of the boolean ``truth``, from one thread
    bootstrap per label.

    Metrics: ROC AUC and PR AUC (average precision; its chance level is ``base_rate``) with CIs and a
    within-thread permutation p-value for ROC AUC = 0.5. Curves (for ``curve_labels``, default all): a long
    table (``curve`` = roc | pr) of TPR at a fixed FPR grid and interpolated precision at a fixed recall
    grid, each point with its bootstrap band.

    Args:
        frame: a scored comment frame.
        truth: the outcome column (boolean, 0/1 or true/false text).
        labels: score columns; None = every known label in the frame.
        curve_labels: the labels to draw curves for; None = all.
        grid: points per curve.
        n_boot, seed: bootstrap replicates (and at most as many permutations) and random seed.
        weight: a column of inverse-probability weights (a sample drawn with known probabilities): every
            statistic then estimates the population the sample was drawn from (``base_rate`` too); rows
            without a weight are left out. None: every row weighs 1.

    Returns:
        ``(metrics, curves)``: see :func:`classification_metrics` and :func:`classification_curves`.

    Raises:
        ConfigError: a named label is not in the frame.
        ValueError: ``truth`` is missing or not boolean.

    Example:
        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> metrics, curves = classification_tables(frame, grid=3, n_boot=50)
        >>> metrics.height, curves.height  # one label; 3 ROC and 3 PR points
        (1, 6)
    """
    xs = np.linspace(0.0, 1.0, grid)
    metrics, parts = [], [pl.DataFrame(schema=CURVE_SCHEMA)]
    labels = score_columns(frame, labels)
    curve_labels = labels if curve_labels is None else list(curve_labels)
    for label in labels:
        rows = labelled_rows(frame, truth, label, weight=weight)
        y = rows[truth].to_numpy().astype(bool)
        ranked = RankedScores(y, rows[label].to_numpy())
        ipw = np.ones(y.size) if weight is None else rows[weight].cast(pl.Float64).to_numpy()
        est, reps, n_threads, method = bootstrap_replicates(lambda w, r=ranked, v=ipw: r.summary(w * v, xs),
                                                            rows["thread_id"], n_boot=n_boot, seed=seed)
        low, high = percentile_ci(reps)
        strata = cluster_codes(rows["thread_id"])[0] if method.startswith("thread") else None
        draws = permutation_draws(y.size, n_boot)
        p = stratified_permutation_pvalue(lambda g, r=ranked, o=ipw: r.with_labels(g).auc(o), y, strata,
                                          n_perm=draws, seed=seed, null=0.5)
        metrics.append({
            "label": label, "n": int(y.size), "n_positive": int(y.sum()), "n_threads": n_threads,
            "base_rate": float((ipw * y).sum() / ipw.sum()) if y.size else float("nan"), "roc_auc": float(est[0]),
            "roc_low": float(low[0]), "roc_high": float(high[0]), "roc_p_value": p, "pr_auc": float(est[1]),
            "pr_low": float(low[1]), "pr_high": float(high[1]), "ci_method": method,
            "p_method": f"{P_METHOD} ({draws} draws)",
        })
        if label in curve_labels:
            for k, curve in enumerate(("roc", "pr")):
                sl = slice(2 + k * grid, 2 + (k + 1) * grid)
                parts.append(pl.DataFrame({
                    "label": label, "curve": curve, "x": xs, "y": est[sl], "low": low[sl], "high": high[sl],
                    "n": int(y.size), "n_positive": int(y.sum()), "auc": float(est[k])}, schema=CURVE_SCHEMA))
    return pl.DataFrame(metrics, schema=AUC_SCHEMA), pl.concat(parts)


def classification_metrics(
    frame: pl.DataFrame,
    *,
    truth: str = "removed",
    labels: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """ROC AUC and PR AUC of each score column as a predictor of ``truth``, from one thread bootstrap per
    label (see :func:`classification_tables`).

    Args:
        frame: a scored comment frame.
        truth: the outcome column (boolean, 0/1 or true/false text); rows without it are left out.
        labels: score columns; None = every known label in the frame.
        n_boot, seed: bootstrap replicates (and at most as many permutations) and random seed.

    Returns:
        One row per label: ``label``, ``n``, ``n_positive``, ``n_threads``, ``base_rate``, ``roc_auc``,
        ``roc_low``, ``roc_high`` (95% thread-bootstrap percentile CI), ``roc_p_value`` (within-thread
        permutation test of AUC = 0.5), ``pr_auc`` (average precision), ``pr_low``, ``pr_high``,
        ``ci_method`` and ``p_method``.

    Raises:
        ConfigError: a named label is not in the frame.
        ValueError: ``truth`` is missing or not boolean.

    Example:
        Removed 0.9 and 0.5 against kept 0.8, 0.2, 0.2, 0.1; precision 1/1 and 2/3 at the two removals:

        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> table = classification_metrics(frame, truth="removed", n_boot=50)
        >>> table.select("label", "n", "n_positive", pl.col("base_rate", "roc_auc", "pr_auc").round(3)).rows()
        [('toxicity', 6, 2, 0.333, 0.875, 0.833)]
    """
    return classification_tables(frame, truth=truth, labels=labels, curve_labels=[], grid=2, n_boot=n_boot,
                                 seed=seed)[0]


def classification_curves(
    frame: pl.DataFrame,
    *,
    truth: str = "removed",
    labels: Sequence[str] | None = None,
    grid: int = RemovalPredictionOptions.curve_grid,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """ROC and precision-recall curves with bootstrap bands (see :func:`classification_tables`).

    Args:
        frame: a scored comment frame.
        truth: the outcome column (boolean, 0/1 or true/false text).
        labels: score columns; None = every known label in the frame.
        grid: points per curve.
        n_boot, seed: bootstrap replicates and random seed.

    Returns:
        A long table: ``label``, ``curve`` (roc | pr), ``x`` (FPR or recall, ``grid`` points over [0, 1]),
        ``y`` (TPR or precision), ``low``, ``high`` (95% bootstrap band), ``n``, ``n_positive`` and ``auc``.

    Raises:
        ConfigError: a named label is not in the frame.
        ValueError: ``truth`` is missing or not boolean.

    Example:
        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> curves = classification_curves(frame, grid=3, n_boot=50)
        >>> curves.filter(pl.col("curve") == "roc").select("x", "y").rows()  # TPR at FPR 0, 0.5, 1
        [(0.0, 0.5), (0.5, 1.0), (1.0, 1.0)]
    """
    return classification_tables(frame, truth=truth, labels=labels, grid=grid, n_boot=n_boot, seed=seed)[1]


# ---------------------------------------- logistic regression --------------------------------------------


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """sign(x) * log(1 + |x|): tames Reddit-style vote scores' heavy tails while keeping their sign.

    Example:
        >>> import numpy as np
        >>> signed_log1p(np.array([-(np.e - 1), 0.0, np.e ** 2 - 1])).round(6).tolist()
        [-1.0, 0.0, 2.0]
    """
    return np.sign(x) * np.log1p(np.abs(x))


def _regressors(
    rows: pl.DataFrame, label: str, label_unit: float, include_depth: bool, include_score: bool,
    score_transform: str,
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """Candidate regressors by term name, and rows for the ones left out (with the reason)."""
    unit = f" (per +{label_unit:g})" if label_unit != 1 else ""
    terms: dict[str, np.ndarray] = {f"{label}{unit}": rows[label].to_numpy().astype(np.float64) / label_unit}
    dropped: list[dict[str, Any]] = []
    for column in [c for c, wanted in (("reply_depth", include_depth), ("score", include_score)) if wanted]:
        missing = rows[column].null_count() if column in rows.columns else rows.height
        if missing == rows.height:
            dropped.append({"term": column, "note": f"dropped: {column} not in the data (all null)"})
        elif missing:
            dropped.append({"term": column, "note": f"dropped: {column} missing for {missing} rows"})
        elif column == "score" and score_transform == "signed_log1p":
            terms["score (signed log1p)"] = signed_log1p(rows[column].to_numpy().astype(np.float64))
        else:
            terms[column] = rows[column].to_numpy().astype(np.float64)
    for name, values in list(terms.items()):
        if values.size and np.all(values == values[0]):
            dropped.append({"term": name, "note": f"dropped: constant ({values[0]:g} in every row), not estimable"})
            del terms[name]
    return terms, dropped


def removal_logit(
    frame: pl.DataFrame,
    *,
    label: str = "toxicity",
    outcome: str = "removed",
    include_depth: bool = RemovalPredictionOptions.include_depth,
    include_score: bool = RemovalPredictionOptions.include_score,
    score_transform: str = RemovalPredictionOptions.score_transform,
    label_unit: float = RemovalPredictionOptions.label_unit,
    level: float = 0.95,
) -> pl.DataFrame:
    """Logistic regression ``removed ~ label + reply_depth (+ score)``, as odds ratios with Wald CIs from
    standard errors clustered by thread (statsmodels). Constant or missing regressors are dropped and
    listed with the reason; with one thread the SEs are heteroskedasticity-robust (HC1) instead, and the
    table says so. ``label`` is scaled per ``label_unit`` (odds ratio per +0.1 by default).

    Args:
        frame: a scored comment frame.
        label: the score column (the regressor of interest).
        outcome: the boolean outcome column.
        include_depth: add ``reply_depth``.
        include_score: add the platform's vote ``score``.
        score_transform: ``signed_log1p`` (or anything else: the raw score).
        label_unit: the odds ratio is per this increase of ``label``.
        level: the CI's coverage.

    Returns:
        One row per ``term`` (``const``, the label, depth, score; then dropped terms): ``odds_ratio``,
        ``or_low``, ``or_high`` (Wald CI), ``coef``, ``se``, ``p_value``, ``n``, ``n_events``, ``n_threads``,
        ``se_type`` and ``note`` (why a term was dropped or the model not fitted; empty when fine).

    Raises:
        ValueError: ``outcome`` is missing or not boolean.

    Example:
        With one binary regressor the odds ratio is the 2x2 table's: toxic comments are removed 3:1,
        the others 1:3, so 9. Rows are (thread, score, removed):

        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads, make_frame
        >>> rows = [("a", 1.0, True), ("a", 1.0, True), ("a", 0.0, True), ("a", 0.0, False),
        ...         ("b", 1.0, True), ("b", 1.0, False), ("b", 0.0, False), ("b", 0.0, False)]
        >>> frame = make_frame([{"thread": t, "id": f"c{i}", "score": s, "removed": r}
        ...                     for i, (t, s, r) in enumerate(rows)])
        >>> table = removal_logit(frame, include_depth=False, include_score=False, label_unit=1)
        >>> table.select("term", pl.col("odds_ratio").round(3), "n", "n_events", "n_threads").rows()
        [('const', 0.333, 8, 4, 2), ('toxicity', 9.0, 8, 4, 2)]
        >>> table["se_type"][0]
        'cluster-robust by thread (only 2 threads: SEs unreliable)'
        >>> kept = make_frame([{"thread": "t", "id": c, "score": s} for c, s in [("c1", 0.2), ("c2", 0.4)]])
        >>> removal_logit(kept)["note"].to_list()  # nothing removed: nothing to fit; terms dropped say why
        ['not fitted: the outcome is constant', 'not fitted: the outcome is constant',
         'dropped: score not in the data (all null)', 'dropped: constant (1 in every row), not estimable']
    """
    import statsmodels.api as sm
    from scipy import stats
    from statsmodels.tools.sm_exceptions import PerfectSeparationError

    rows = labelled_rows(frame, outcome, label)
    y = rows[outcome].cast(pl.Boolean).to_numpy().astype(np.float64)
    terms, dropped = _regressors(rows, label, label_unit, include_depth, include_score, score_transform)
    codes, _, n_threads, _ = cluster_codes(rows["thread_id"])
    base = {"n": rows.height, "n_events": int(y.sum()), "n_threads": n_threads}
    nan_row = {"odds_ratio": np.nan, "or_low": np.nan, "or_high": np.nan, "coef": np.nan, "se": np.nan,
               "p_value": np.nan, "se_type": None}
    out = []
    if rows.height == 0 or y.min(initial=1) == y.max(initial=0):
        note = "not fitted: the outcome is constant" if rows.height else "not fitted: no rows"
        out = [{"term": t, **nan_row, **base, "note": note} for t in ("const", *terms)]
    else:
        names = ["const", *terms]
        x = np.column_stack([np.ones(rows.height), *terms.values()])
        if n_threads >= 2:
            se_type, cov = "cluster-robust by thread", {"cov_type": "cluster", "cov_kwds": {"groups": codes}}
            if n_threads < 30:
                se_type += f" (only {n_threads} threads: SEs unreliable)"
        else:
            se_type, cov = "HC1 robust (one thread: cannot cluster)", {"cov_type": "HC1"}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = sm.Logit(y, x).fit(disp=0, maxiter=200, **cov)
            z = stats.norm.ppf(1 - (1 - level) / 2)
            converged = bool(fit.mle_retvals.get("converged", True))
            for i, name in enumerate(names):
                coef, se = float(fit.params[i]), float(fit.bse[i])
                out.append({"term": name, "odds_ratio": float(np.exp(coef)), "or_low": float(np.exp(coef - z * se)),
                            "or_high": float(np.exp(coef + z * se)), "coef": coef, "se": se,
                            "p_value": float(fit.pvalues[i]), **base, "se_type": se_type,
                            "note": "" if converged else "did not converge (separation?)"})
        except (np.linalg.LinAlgError, ValueError, PerfectSeparationError) as err:  # separation, singular design
            out = [{"term": t, **nan_row, **base, "note": f"not fitted: {err}"} for t in names]
    out += [{**nan_row, **base, **d} for d in dropped]
    return pl.DataFrame(out, schema=LOGIT_SCHEMA)


def run_removal_prediction(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    """Score columns as predictors of removal (ROC/PR AUC) and the logistic regression removed ~ score."""
    o = ctx.params.removal_prediction
    labels = score_columns(frame, o.labels or ctx.labels or None)
    aucs, curves = classification_tables(frame, truth="removed", labels=labels, curve_labels=[ctx.label],
                                         grid=o.curve_grid, **ctx.boot)
    n_removed = int(aucs["n_positive"].max() or 0) if aucs.height else 0
    n = int(aucs["n"].max() or 0) if aucs.height else 0
    if n_removed == 0 or n_removed == n:
        return AnalysisOutput(skipped=f"needs scored removed and kept comments; found {n_removed} removed and "
                                      f"{n - n_removed} kept")
    logit = removal_logit(frame, label=ctx.label, include_depth=o.include_depth, include_score=o.include_score,
                          score_transform=o.score_transform, label_unit=o.label_unit)
    sample = shown(n, int(aucs["n_threads"].max()))
    se_types = logit["se_type"].drop_nulls()
    figures = [
        (FigureSpec("removal_auc", "auc_forest", "Toxicity as a predictor of removal",
                    ctx.caption(sample, ctx.ci_note(ci_methods(aucs))), {"label": ctx.label}), aucs),
        (FigureSpec("removal_roc_pr", "roc_pr", f"Removal predicted by {ctx.label}",
                    ctx.caption(ctx.ci_note(ci_methods(aucs)) + " (bands)"),
                    {"label": ctx.label, "truth": "removed", "min_width": "double"}), curves),
        (FigureSpec("removal_odds_ratios", "odds_ratios", _formula(logit),
                    ctx.caption(sample, f"Wald CIs, SEs {se_types[0] if se_types.len() else 'n/a'}"),
                    {"label": ctx.label}), logit),
    ]
    return AnalysisOutput({"removal_auc": aucs, "removal_logit": logit, "removal_curves": curves}, figures)


def _formula(logit: pl.DataFrame) -> str:
    """``removed ~ toxicity + reply_depth`` from the fitted terms (dropped ones left out)."""
    terms = logit.filter((pl.col("term") != "const") & pl.col("odds_ratio").is_not_nan())["term"].to_list()
    return "removed ~ " + (" + ".join(t.split(" (")[0] for t in terms) or "1")


DECLARED = (
    Analysis("removal_prediction", run_removal_prediction, RemovalPredictionOptions,
             reads=("thread_id", "is_post", "removed", "reply_depth", "score"),
             named=lambda o: list(o.labels or ()),
             tables=("removal_auc", "removal_logit", "removal_curves"),
             figures=("removal_auc", "removal_roc_pr", "removal_odds_ratios")),
)
