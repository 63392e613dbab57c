"""calibrate_scorer (cross-fitted isotonic / Platt maps, Brier and ECE before and after, the calibration file)
and ``scorer.calibration`` (applied after the cache, raw scores kept beside, the file named by hash)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hydra import compose, initialize_config_dir

from toolkit.analysis.calibration import calibrate_scorer, cross_fitted, fit_map, fold_of
from toolkit.analysis.declare import AnalysisContext
from toolkit.analysis.registry import ANALYSES, AnalysisParams
from toolkit.analysis.synthetic import make_frame
from toolkit.cli.app import CONFIG_DIR, to_settings
from toolkit.errors import ConfigError
from toolkit.pipeline import run_experiment
from toolkit.scoring import score_frame
from toolkit.scoring.calibration import FORMAT, map_scores, read_calibration


def overconfident(n: int = 2000, seed: int = 1) -> pl.DataFrame:
    """Threads of 2 comments; the true P(toxic) is p, the score says sqrt(p) (too high everywhere)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 0.6, n)
    rows = [{"thread": f"t{i // 2}", "id": f"c{i}", "parent": None, "score": float(np.sqrt(q))}
            for i, q in enumerate(p)]
    return make_frame(rows).with_columns(pl.Series("toxic", rng.uniform(size=n) < p))


def test_isotonic_map_is_pool_adjacent_violators() -> None:
    # y by score: 0, 1, 1, 0, 1 -> the violating 1, 0 pool to 0.5, which is below the 1 before: 1, 1, 0 pool to 2/3
    m = fit_map(np.array([0.1, 0.2, 0.3, 0.4, 0.5]), np.array([0, 1, 1, 0, 1]))
    assert m["method"] == "isotonic"
    assert map_scores(m, np.array([0.1, 0.2, 0.3, 0.4, 0.5])).tolist() == pytest.approx([0.0, 2 / 3, 2 / 3, 2 / 3, 1.0])
    assert map_scores(m, np.array([0.0, 0.9, np.nan]))[:2].tolist() == [0.0, 1.0]  # flat beyond the ends
    assert np.isnan(map_scores(m, np.array([np.nan])))[0]


def test_platt_recovers_a_known_logistic_curve() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, 40_000)  # true log-odds; the score halves them
    y = rng.uniform(size=z.size) < 1 / (1 + np.exp(-z))
    score = 1 / (1 + np.exp(-z / 2))
    m = fit_map(score, y, "platt")
    assert m["coef"] == pytest.approx(2.0, abs=0.1) and m["intercept"] == pytest.approx(0.0, abs=0.05)


def test_folds_keep_threads_whole_and_split_comments_of_one_thread() -> None:
    y = np.array([0, 1] * 10)
    threads = pl.Series([f"t{i // 2}" for i in range(20)])
    fold = fold_of(y, threads, 5, seed=3)
    by_thread = pl.DataFrame({"t": threads, "f": fold}).group_by("t").agg(pl.col("f").n_unique())
    assert (by_thread["f"] == 1).all() and sorted(set(fold.tolist())) == [0, 1, 2, 3, 4]
    flat = fold_of(y, pl.Series(["one"] * 20), 5, seed=3)  # one flat "thread": comments are split
    assert sorted(np.bincount(flat).tolist()) == [4, 4, 4, 4, 4]
    assert fold_of(y, threads, 5, seed=3).tolist() == fold.tolist()  # seeded


def test_cross_fitted_scores_come_from_the_other_folds() -> None:
    s, y = np.array([0.1, 0.9, 0.2, 0.8]), np.array([0, 1, 0, 1])
    # fold 0 gets the map fitted on (0.2 -> 0, 0.8 -> 1): 0.1 and 0.9 are clipped to the ends
    assert cross_fitted(s, y, np.array([0, 0, 1, 1]), "isotonic")[:2].tolist() == [0.0, 1.0]


@pytest.mark.slow
def test_calibration_lowers_brier_and_ece_out_of_sample() -> None:
    fit = calibrate_scorer(overconfident(), n_boot=50)
    raw, cal = fit["metrics"].iter_rows(named=True)
    assert (raw["stage"], cal["stage"]) == ("raw", "calibrated (isotonic, cross-fitted)")
    assert cal["brier"] < raw["brier"] and cal["ece"] < raw["ece"] / 2
    assert raw["n"] == 2000 and fit["reliability"]["label"].unique(maintain_order=True).to_list() == [
        "toxicity", "toxicity calibrated"]
    platt = calibrate_scorer(overconfident(), method="platt", n_boot=50)["metrics"]
    assert platt["brier"][1] < platt["brier"][0]


def test_calibrate_scorer_refuses_too_few_labels() -> None:
    frame = overconfident(40).with_columns(pl.lit(False).alias("toxic"))
    with pytest.raises(ConfigError, match="each class needs at least 5"):
        calibrate_scorer(frame, n_boot=10)
    with pytest.raises(ConfigError, match="calibrate_scorer.method"):
        calibrate_scorer(overconfident(), method="beta", n_boot=10)


def test_analysis_writes_the_calibration_file() -> None:
    ctx = AnalysisContext(n_boot=50, params=AnalysisParams(),
                          identities={"toxicity": {"name": "profanity", "model": "m"}})
    out = ANALYSES["calibrate_scorer"](overconfident(), ctx)
    assert set(out.tables) == {"calibration_metrics", "calibration_reliability", "calibration_map"}
    doc = json.loads(out.files["calibration/toxicity.json"])
    assert doc["format"] == FORMAT and doc["scorer"] == {"name": "profanity", "model": "m"}
    assert doc["label"] == "toxicity" and doc["truth"] == "toxic" and len(doc["labels_sha256"]) == 64
    metrics = out.tables["calibration_metrics"]
    assert doc["metrics"]["brier_raw"] == metrics["brier"][0] and doc["metrics"]["ece_calibrated"] == metrics["ece"][1]
    grid = out.tables["calibration_map"]
    assert grid["calibrated"].to_list() == map_scores(doc["map"], grid["score"].to_numpy()).tolist()
    assert ANALYSES["calibrate_scorer"](overconfident().drop("toxic"), ctx).skipped.startswith("no truth column")
    calibrated = overconfident().with_columns(pl.col("toxicity").alias("toxicity_raw"))
    assert "calibrated already" in ANALYSES["calibrate_scorer"](calibrated, ctx).skipped


def _calibration_file(tmp_path: Path, mapping: dict, name: str = "profanity", label: str = "toxicity") -> Path:
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"format": FORMAT, "label": label, "scorer": {"name": name}, "map": mapping,
                                "labels_sha256": "x"}))
    return path


def test_calibration_applies_after_the_cache_which_keeps_raw_scores(tmp_path: Path) -> None:
    frame = pl.DataFrame({"text": ["you idiot", "hello there", None, "you idiot"]})
    cache = tmp_path / "cache"
    path = _calibration_file(tmp_path, {"method": "isotonic", "x": [0.0, 1.0], "y": [0.0, 0.5]})  # halves
    raw = score_frame(frame, "profanity", cache_dir=str(cache))
    calibrated = score_frame(frame, "profanity", cache_dir=str(cache), calibration=str(path))
    assert calibrated.report.cache_hits == 2 and calibrated.report.cache_misses == 0  # from the cache
    assert calibrated.frame["toxicity_raw"].to_list() == raw.frame["toxicity"].to_list()
    halves = [None if v is None else v / 2 for v in raw.frame["toxicity"].to_list()]
    assert calibrated.frame["toxicity"].to_list() == pytest.approx(halves, nan_ok=True)
    again = score_frame(frame, "profanity", cache_dir=str(cache))  # the cache still holds raw scores
    assert again.frame["toxicity"].to_list() == raw.frame["toxicity"].to_list() and "toxicity_raw" not in again.frame
    info = calibrated.report.extra["calibration"]
    assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() and info["raw_column"] == "toxicity_raw"
    assert f"sha256 {info['sha256'][:12]}" in calibrated.report.caption()


def test_calibration_file_errors_name_the_key(tmp_path: Path) -> None:
    frame = pl.DataFrame({"text": ["a"]})
    with pytest.raises(ConfigError, match="scorer.calibration: no calibration file"):
        score_frame(frame, "profanity", use_cache=False, calibration=str(tmp_path / "missing.json"))
    other = _calibration_file(tmp_path, {"method": "platt", "coef": 1, "intercept": 0}, name="detoxify")
    with pytest.raises(ConfigError, match="fitted for scorer 'detoxify'"):
        score_frame(frame, "profanity", use_cache=False, calibration=str(other))
    insult = _calibration_file(tmp_path, {"method": "platt", "coef": 1, "intercept": 0}, label="insult")
    with pytest.raises(ConfigError, match="calibrates 'insult'"):
        score_frame(frame, "profanity", use_cache=False, calibration=str(insult))
    (tmp_path / "bad.json").write_text(json.dumps({"format": FORMAT, "label": "toxicity", "map": {"method": "x"}}))
    with pytest.raises(ConfigError, match="map must be isotonic"):
        read_calibration(tmp_path / "bad.json")


def _settings(*overrides: str):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return to_settings(compose(config_name="config", overrides=[*overrides, "analysis.n_boot=50",
                                                                    "plot.formats=[png]", "plot.dpi=50"]))


@pytest.mark.slow
def test_fitted_on_cat_gn_then_applied_lowers_brier_and_ece(tmp_path: Path) -> None:
    """The bundled labels: fit (cross-fitted numbers), then a validation run with scorer.calibration=PATH sees
    the calibrated score under the label's name and the raw one beside it, and names the file by hash."""
    fit = run_experiment(_settings("+experiment=calibrate_scorer"), tmp_path / "fit")
    path = tmp_path / "fit" / "calibration" / "toxicity.json"
    assert "calibration/toxicity.json" in fit["outputs"]
    doc = json.loads(path.read_text())
    assert doc["scorer"]["name"] == "column" and doc["fit"] == {
        "n": 10000, "n_positive": 59, "folds": 5, "seed": 0, "cross_fitted": True, "method": "isotonic"}
    assert doc["metrics"]["brier_calibrated"] < doc["metrics"]["brier_raw"]
    assert doc["metrics"]["ece_calibrated"] < doc["metrics"]["ece_raw"] / 10
    applied = run_experiment(_settings("+experiment=validate_scorer", "dataset=cat_gn", "scorer=column",
                                       "+scorer.columns.toxicity=perspective_toxicity", f"scorer.calibration={path}",
                                       "analysis.params.scorer_validation.labels=[toxicity,toxicity_raw]",
                                       "analysis.run=[scorer_validation]"), tmp_path / "apply")
    rows = {r["label"]: r for r in pl.read_csv(tmp_path / "apply" / "tables" / "scorer_validation.csv").iter_rows(
        named=True)}
    assert rows["toxicity"]["brier"] < rows["toxicity_raw"]["brier"] and rows["toxicity"]["ece"] < rows[
        "toxicity_raw"]["ece"]
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert applied["scorer"]["extra"]["calibration"]["sha256"] == sha
    footer = json.loads((tmp_path / "apply" / "figures" / "validation_calibration.json").read_text())["footer"]
    assert f"sha256 {sha[:12]}" in footer


def test_weighted_fit_equals_the_rows_repeated_by_weight() -> None:
    rng = np.random.default_rng(2)
    s = rng.uniform(size=80)
    y = rng.uniform(size=80) < s ** 2
    w = rng.integers(1, 4, 80)
    weighted = fit_map(s, y, "isotonic", w.astype(float))
    repeated = fit_map(np.repeat(s, w), np.repeat(y, w), "isotonic")
    grid = np.linspace(0, 1, 41)
    assert map_scores(weighted, grid) == pytest.approx(map_scores(repeated, grid))
    platt_w, platt_r = fit_map(s, y, "platt", w.astype(float)), fit_map(np.repeat(s, w), np.repeat(y, w), "platt")
    assert platt_w["coef"] == pytest.approx(platt_r["coef"], rel=1e-3)


def test_calibration_on_a_labelled_annotation_sample(tmp_path: Path) -> None:
    """annotations=DIR: the annotators' majority is the truth and the key's weights weight the fit and metrics."""
    frame = overconfident(400)
    comments = frame.filter(~pl.col("is_post"))
    picked = comments.filter(pl.int_range(pl.len()) % 2 == 0)  # every other comment, weight 2
    d = tmp_path / "annotation"
    d.mkdir()
    picked.select(pl.format("item-{}", pl.int_range(pl.len())).alias("item_id"), "comment_id",
                  pl.lit(2.0).alias("weight")).write_csv(d / "key.csv")
    labels = picked["toxic"].cast(pl.Int8).cast(pl.String)
    pl.DataFrame({"item_id": [f"item-{i}" for i in range(picked.height)], "label_a": labels}).write_csv(
        d / "sample.csv")
    params = AnalysisParams()
    params.calibrate_scorer.annotations = str(d)
    params.calibrate_scorer.truth = "human"
    out = ANALYSES["calibrate_scorer"](frame, AnalysisContext(n_boot=20, params=params))
    metrics = out.tables["calibration_metrics"]
    assert metrics["n"][0] == picked.height and metrics["brier"][1] < metrics["brier"][0]
    doc = json.loads(out.files["calibration/toxicity.json"])
    assert doc["fit"]["weighted_by"] == "annotation_weight" and doc["truth"] == "human"
