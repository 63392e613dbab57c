"""Removal prediction and scorer validation: AUCs, curves, calibration, logistic regression."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from toolkit.analysis.prediction import classification_curves, classification_metrics, removal_logit
from toolkit.analysis.synthetic import make_frame, random_threads
from toolkit.analysis.validation import calibration_table, scorer_validation, threshold_metrics


@pytest.fixture
def four():
    """One flat thread: toxic (human label) comments score 0.9 and 0.4, non-toxic 0.6 and 0.1."""
    return make_frame([{"thread": "T", "id": "T", "score": 0.0}] + [
        {"thread": "T", "id": f"c{i}", "score": s, "toxic": t, "removed": t}
        for i, (s, t) in enumerate([(0.9, True), (0.4, True), (0.6, False), (0.1, False)])])


def test_metrics_by_hand(four) -> None:
    row = classification_metrics(four, truth="toxic", n_boot=200).row(0, named=True)
    assert (row["n"], row["n_positive"], row["base_rate"]) == (4, 2, 0.5)
    assert row["roc_auc"] == pytest.approx(0.75) and row["pr_auc"] == pytest.approx(5 / 6)
    assert row["ci_method"].startswith("comment bootstrap")  # one thread: says so


def test_threshold_metrics_and_calibration_by_hand(four) -> None:
    """At 0.5: predicted toxic 0.9 (yes) and 0.6 (no): precision 1/2, recall 1/2. Brier: (.01 + .36 + .36
    + .01)/4 = .185. Two calibration bins: [0, .5) mean predicted .25, observed .5; [.5, 1] .75 and .5, so
    the expected calibration error is .25."""
    m = threshold_metrics(four, truth="toxic", threshold=0.5, n_bins=2, n_boot=100).row(0, named=True)
    assert (m["precision"], m["recall"], m["f1"]) == pytest.approx((0.5, 0.5, 0.5))
    assert m["brier"] == pytest.approx(0.185) and m["ece"] == pytest.approx(0.25)
    cal = calibration_table(four, truth="toxic", n_bins=2, n_boot=100)
    assert cal["n"].to_list() == [2, 2]
    assert cal["mean_predicted"].to_list() == pytest.approx([0.25, 0.75])
    assert cal["observed"].to_list() == pytest.approx([0.5, 0.5])
    joined = scorer_validation(four, truth="toxic", n_bins=2, n_boot=50)
    assert joined.height == 1 and {"roc_auc", "ece", "precision"} <= set(joined.columns)


def test_validation_needs_the_truth_column(four) -> None:
    with pytest.raises(ValueError, match="truth column 'label'"):
        scorer_validation(four, truth="label")


def test_curves_end_points_and_bands() -> None:
    frame = random_threads(30, seed=2)
    curves = classification_curves(frame, truth="toxic", labels=["toxicity"], grid=11, n_boot=100)
    roc = curves.filter(pl.col("curve") == "roc")
    assert roc.height == 11 and roc["y"][0] <= roc["y"][-1] == pytest.approx(1.0)
    assert (roc["low"] <= roc["y"] + 1e-12).all() and (roc["y"] <= roc["high"] + 1e-12).all()
    assert roc["auc"][0] == pytest.approx(classification_metrics(frame, truth="toxic", n_boot=10)["roc_auc"][0])


def test_auc_permutation_p_value_small_for_a_real_signal() -> None:
    row = classification_metrics(random_threads(40, seed=1), truth="removed", n_boot=200).row(0, named=True)
    assert row["roc_auc"] > 0.6 and row["roc_p_value"] < 0.01 and row["n_threads"] == 40
    assert row["roc_low"] < row["roc_auc"] < row["roc_high"]


@pytest.mark.slow
def test_logit_matches_statsmodels_with_thread_clusters() -> None:
    import statsmodels.api as sm

    frame = random_threads(40, seed=3)
    table = removal_logit(frame, include_score=False)
    rows = frame.filter(~pl.col("is_post") & pl.col("toxicity").is_not_null())
    x = sm.add_constant(np.column_stack([rows["toxicity"].to_numpy() / 0.1, rows["reply_depth"].to_numpy()]))
    codes = np.unique(rows["thread_id"].to_numpy(), return_inverse=True)[1]
    fit = sm.Logit(rows["removed"].to_numpy().astype(float), x).fit(
        disp=0, cov_type="cluster", cov_kwds={"groups": codes})
    assert table["term"].to_list() == ["const", "toxicity (per +0.1)", "reply_depth"]
    assert table["coef"].to_numpy() == pytest.approx(fit.params)
    assert table["se"].to_numpy() == pytest.approx(fit.bse)
    tox = table.row(1, named=True)
    assert tox["odds_ratio"] == pytest.approx(np.exp(fit.params[1]))
    assert tox["or_low"] == pytest.approx(np.exp(fit.params[1] - 1.959964 * fit.bse[1]), rel=1e-5)
    assert tox["se_type"] == "cluster-robust by thread" and tox["n_threads"] == 40


def test_logit_drops_constant_depth_and_says_so() -> None:
    """r/science-like data: one flat thread, every comment top-level, no vote scores."""
    rng = np.random.default_rng(0)
    scores = rng.random(300)
    frame = make_frame([{"thread": "R", "id": "R", "score": None}] + [
        {"thread": "R", "id": f"c{i}", "score": float(s), "removed": bool(rng.random() < s)}
        for i, s in enumerate(scores)])
    table = removal_logit(frame)
    notes = dict(zip(table["term"], table["note"], strict=True))
    assert notes["reply_depth"] == "dropped: constant (1 in every row), not estimable"
    assert notes["score"] == "dropped: score not in the data (all null)"
    fitted = table.filter(pl.col("odds_ratio").is_not_nan())
    assert fitted["term"].to_list() == ["const", "toxicity (per +0.1)"]
    assert fitted["se_type"][0] == "HC1 robust (one thread: cannot cluster)"
    assert fitted["odds_ratio"][1] > 1


def test_logit_with_constant_outcome_is_not_fitted(four) -> None:
    table = removal_logit(four.with_columns(pl.lit(False).alias("removed")))
    assert table["note"][0] == "not fitted: the outcome is constant"
