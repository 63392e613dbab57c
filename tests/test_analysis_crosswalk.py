"""The Perspective cross-walk: rank statistics equal scipy's, thresholds flag the same share (and precision) as
the reference's, the map is monotone and cross-fitted, and the analysis runs through the registry."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.stats import kendalltau, spearmanr
from sklearn.metrics import cohen_kappa_score

from toolkit.analysis.crosswalk import (
    CrosswalkOptions,
    crosswalk,
    same_precision_threshold,
    same_share_threshold,
)
from toolkit.analysis.registry import ANALYSES, AnalysisContext, AnalysisParams
from toolkit.analysis.synthetic import make_frame
from toolkit.errors import ConfigError
from toolkit.pipeline import run_analyses
from toolkit.settings import AnalysisSettings, PlotSettings


def archived_frame(n: int = 600, seed: int = 3) -> pl.DataFrame:
    """An archived reference score and an open scorer on another scale (monotone + noise, with ties), threads
    of three comments, a noisy human label."""
    rng = np.random.default_rng(seed)
    ref = rng.beta(1.0, 3.0, n)
    score = np.clip(np.round(ref ** 0.6 + rng.normal(0, 0.08, n), 2), 0, 1)  # rounded: ties
    toxic = rng.random(n) < ref
    rows = [{"thread": f"t{i // 3}", "id": f"c{i}", "parent": None, "score": float(score[i]),
             "perspective_toxicity": float(ref[i]), "toxic": bool(toxic[i])} for i in range(n)]
    return make_frame(rows)


def test_same_share_and_precision_thresholds_worked_by_hand() -> None:
    s = np.array([0.9, 0.8, 0.8, 0.5, 0.1])
    assert same_share_threshold(s, 0.2) == 0.9  # 1 of 5
    assert same_share_threshold(s, 0.6) == 0.8  # ties: 0.8 flags 3 of 5
    assert same_share_threshold(s, 0.0) > 0.9  # nothing flagged
    truth = np.array([True, False, True, True, False])
    # flags >= 0.9: precision 1; >= 0.8: 2/3; >= 0.5: 3/4; >= 0.1: 3/5
    assert same_precision_threshold(s, truth, 0.75) == 0.5
    assert same_precision_threshold(s, truth, 1.0) == 0.9
    assert np.isnan(same_precision_threshold(s, np.zeros(5, bool), 0.5))


def test_crosswalk_matches_scipy_and_sklearn() -> None:
    frame = archived_frame()
    out = crosswalk(frame, ["toxicity"], reference="perspective_toxicity", truth="toxic", n_boot=100)
    x, y = frame["toxicity"].to_numpy(), frame["perspective_toxicity"].to_numpy()
    table = out["crosswalk"]
    assert table["threshold"].to_list() == [0.5, 0.7, 0.8]
    assert table["n"].to_list() == [600] * 3 and table["n_threads"][0] == 200
    assert table["spearman"][0] == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert table["kendall_tau"][0] == pytest.approx(kendalltau(x, y).statistic, abs=1e-12)
    assert table["spearman_low"][0] < table["spearman"][0] < table["spearman_high"][0]
    for row in table.iter_rows(named=True):
        a, b = x >= row["threshold"], y >= row["threshold"]
        assert row["agreement"] == pytest.approx((a == b).mean())
        assert row["kappa"] == pytest.approx(cohen_kappa_score(a, b))
    assert table["map_mae"][0] < table["identity_mae"][0]  # the map brings the scale closer


def test_same_share_thresholds_flag_the_same_share_and_precision() -> None:
    frame = archived_frame(seed=11)
    out = crosswalk(frame, ["toxicity"], reference="perspective_toxicity", truth="toxic", n_boot=20)
    x, y = frame["toxicity"].to_numpy(), frame["perspective_toxicity"].to_numpy()
    truth = frame["toxic"].to_numpy()
    for row in out["crosswalk_thresholds"].iter_rows(named=True):
        share = (x >= row["scorer_threshold_same_share"]).mean()
        assert share == pytest.approx(row["scorer_share"])
        assert abs(share - (y >= row["reference_threshold"]).mean()) * 100 <= 0.2 + 100 / 600 / 2  # ties: 1/2 row
        precision = truth[y >= row["reference_threshold"]].mean()
        assert row["reference_precision"] == pytest.approx(precision)
        mine = x >= row["scorer_threshold_same_precision"]
        assert truth[mine].mean() >= precision - 1e-12 and row["scorer_recall"] == pytest.approx(mine[truth].mean())
        # the next lower scorer value would fall below the reference's precision (or it is the lowest)
        lower = np.sort(np.unique(x))
        below = lower[lower < row["scorer_threshold_same_precision"]]
        if below.size:
            assert truth[x >= below[-1]].mean() < precision


def test_map_is_monotone_and_cross_fitted() -> None:
    out = crosswalk(archived_frame(), ["toxicity"], reference="perspective_toxicity", grid=11, n_boot=10)
    m = out["crosswalk_map"]
    assert m.height == 11 and (m["reference_scale"].diff().drop_nulls() >= 0).all()
    assert (m["fold_low"] <= m["fold_high"]).all() and ((m["reference_scale"] - m["fold_low"]).abs() < 0.05).all()
    assert (m["fold_high"] - m["fold_low"]).max() > 0  # the fold fits differ: each left a fold out


def test_missing_reference_is_a_config_error_and_the_analysis_skips() -> None:
    frame = archived_frame(30).drop("perspective_toxicity")
    with pytest.raises(ConfigError, match="analysis.params.crosswalk.reference"):
        crosswalk(frame, ["toxicity"])
    result = ANALYSES["crosswalk"](frame, AnalysisContext(n_boot=10))
    assert "no reference score column 'perspective_toxicity'" in result.skipped


def test_crosswalk_through_the_registry_writes_tables_and_figure(tmp_path) -> None:
    params = AnalysisParams(crosswalk=CrosswalkOptions(thresholds=[0.5, 0.7]))
    settings = AnalysisSettings(run=["crosswalk"], n_boot=20, params=params)
    outputs, skipped = run_analyses(archived_frame(120), settings, PlotSettings(formats=["png"], dpi=50), tmp_path,
                                    "footer", ["toxicity"])
    names = {p.relative_to(tmp_path).as_posix() for p in outputs}
    assert {"tables/crosswalk.csv", "tables/crosswalk_thresholds.csv", "tables/crosswalk_map.csv",
            "figures/crosswalk.png"} <= names and not skipped
    table = pl.read_csv(tmp_path / "tables" / "crosswalk_thresholds.csv")
    assert table["reference_threshold"].to_list() == [0.5, 0.7] and table["truth"].to_list() == ["toxic"] * 2
