"""Robustness to the scorer: each analysis once per scorer, estimates equal to the plain analysis with that
scorer, agreement in sign and significance with the main scorer, the verdict in the run summary."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from helpers import experiment_settings as settings_for

from toolkit.analysis.registry import AnalysisParams
from toolkit.analysis.robustness import RobustnessOptions, agreement_with_main, verdict
from toolkit.analysis.synthetic import random_threads
from toolkit.errors import ConfigError
from toolkit.pipeline import resolve_data_path, run_analyses, run_experiment, run_summary
from toolkit.settings import AnalysisSettings, PlotSettings

ESTIMATE = ["estimate", "low", "high", "p_value"]
NO_FIGURES = PlotSettings(formats=[])


def test_agreement_in_sign_and_significance_worked_by_hand() -> None:
    t = pl.DataFrame({"analysis": ["e"] * 5, "estimate": ["rr", "rr", "rr", "rr", "rate"],
                      "main": [True, False, False, False, False], "value": [2.0, 1.5, 0.8, 3.0, 0.4],
                      "p_value": [0.01, 0.03, 0.02, 0.4, float("nan")], "null": [1.0] * 4 + [0.0]})
    out = agreement_with_main(t, 0.05)
    assert out["same_sign"].to_list() == [True, True, False, True, None]  # 0.8 < 1: the other side of the null
    assert out["same_significance"].to_list() == [True, True, True, False, None]
    assert out["agrees"].to_list() == [True, True, False, False, None]
    assert verdict(out) == "robustness: 1 of 3 estimates agree with the main scorer (in sign and significance)"


@pytest.mark.slow
def test_human_label_scorer_equals_a_plain_escalation_run_on_synthetic_threads(tmp_path: Path) -> None:
    """random_threads carries a noisy human label ``toxic``: as a column scorer its estimates are exactly
    those of escalation run with that column as the label."""
    frame = random_threads(30, seed=2).with_columns(pl.col("toxic").cast(pl.Float64).alias("human"))
    options = RobustnessOptions(scorers=[{"name": "column", "columns": {"toxicity": "human"}}, "profanity"])
    settings = AnalysisSettings(run=["robustness"], n_boot=100, params=AnalysisParams(robustness=options))
    outputs, skipped = run_analyses(frame, settings, NO_FIGURES, tmp_path / "r", "", ["toxicity"])
    robust = pl.read_csv(tmp_path / "r" / "tables" / "robustness.csv")
    assert set(robust["scorer"]) == {"run scorer (toxicity)", "column:human", "profanity"}
    assert not (tmp_path / "r" / ".buckets").exists() or not any((tmp_path / "r" / ".buckets").iterdir())
    plain_settings = AnalysisSettings(run=["escalation"], n_boot=100, label="human")
    run_analyses(frame, plain_settings, NO_FIGURES, tmp_path / "p", "", ["human"])
    plain = pl.read_csv(tmp_path / "p" / "tables" / "escalation.csv")
    human = robust.filter(pl.col("scorer") == "column:human")
    assert human["estimate"].to_list() == plain["measure"].to_list()
    assert human.select(pl.col("value").alias("estimate"), "low", "high", "p_value").equals(plain.select(ESTIMATE))
    main = robust.filter(pl.col("main"))
    run_analyses(frame, AnalysisSettings(run=["escalation"], n_boot=100), NO_FIGURES, tmp_path / "m", "",
                 ["toxicity"])
    assert main["value"].to_list() == pl.read_csv(tmp_path / "m" / "tables" / "escalation.csv")["estimate"].to_list()


def test_unknown_analysis_is_a_config_error(tmp_path: Path) -> None:
    params = AnalysisParams(robustness=RobustnessOptions(analyses=["thread_view"]))
    with pytest.raises(ConfigError, match="analysis.params.robustness.analyses"):
        run_analyses(random_threads(3), AnalysisSettings(run=["robustness"], params=params), NO_FIGURES, tmp_path,
                     "", ["toxicity"])


@pytest.mark.slow
def test_robustness_experiment_human_labels_equal_a_plain_escalation_run(tmp_path: Path) -> None:
    """Acceptance: on ToxiChat, the human-label scorer's escalation estimates equal those of a plain
    escalation run with scorer=column (the human labels as toxicity); the verdict is in the run summary."""
    settings = settings_for("robustness", "plot.formats=[]")
    if not resolve_data_path(settings.dataset.path).exists():
        pytest.skip(f"{settings.dataset.path} not present")
    manifest = run_experiment(settings, tmp_path / "robust")
    assert manifest["verdict"] in run_summary(manifest, tmp_path / "robust")
    cards = {c["key"]: c for c in manifest["scorer_cards"]}  # the run's scorer and the human labels
    assert cards["column:offensive"]["role"] == "robustness" and "profanity" in cards
    plain = settings_for("robustness", "plot.formats=[]", "scorer=column", "+scorer.columns.toxicity=offensive",
                         "analysis.run=[escalation]")
    run_experiment(plain, tmp_path / "plain")
    robust = pl.read_csv(tmp_path / "robust" / "tables" / "robustness.csv")
    human = robust.filter(pl.col("scorer") == "column:offensive")
    escalation = pl.read_csv(tmp_path / "plain" / "tables" / "escalation.csv")
    assert human.height == 6 and human["estimate"].to_list() == escalation["measure"].to_list()
    assert human.select(pl.col("value").alias("estimate"), "low", "high", "p_value").equals(
        escalation.select(ESTIMATE))
