"""Scorer cards: generated (the stored validity is what scoring the bundled labels gives), carried by every
manifest for each scorer used, printed by ``toolkit-cache info``; the embedded scorer's card says it is a
profanity model."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from helpers import experiment_settings as settings_for
from sklearn.metrics import roc_auc_score

from toolkit.cli.cache import main as cache_main
from toolkit.pipeline import resolve_data_path, run_experiment
from toolkit.scoring import score_frame
from toolkit.scoring.cards import card_for, load_cards
from toolkit.scoring.profanity import ProfanityScorer


def test_embedded_scorer_card_says_it_is_a_profanity_model() -> None:
    card = load_cards()["profanity"]
    assert "a profanity model, not a toxicity model" in card["summary"]
    assert "swearing" in card["measures_well"] and "without offensive words" in card["measures_badly"]
    assert card["licence"].startswith("MIT") and card["weights_sha256"].startswith(ProfanityScorer().identity()["weights"])
    assert {v["dataset"] for v in card["validity"]} == {"cat_gn", "toxic_spans", "toxichat"}


def test_stored_validity_is_what_scoring_the_bundled_labels_gives() -> None:
    path = resolve_data_path("data/cat_gn.parquet")
    if not path.exists():
        pytest.skip("bundled cat_gn not present")
    frame = pl.read_parquet(path)
    scored = score_frame(frame, "profanity", use_cache=False).frame
    stored = {(v["dataset"], v["metric"]): v for v in load_cards()["profanity"]["validity"]}
    row = stored[("cat_gn", "roc_auc")]
    assert row["n"] == frame.height and row["value"] == round(roc_auc_score(scored["toxic"], scored["toxicity"]), 4)
    perspective = {(v["dataset"], v["metric"]): v["value"] for v in load_cards()["column:perspective_toxicity"]["validity"]}
    assert perspective[("cat_gn", "roc_auc")] == round(roc_auc_score(frame["toxic"], frame["perspective_toxicity"]), 4)


def test_card_for_a_run_names_version_weights_and_calibration() -> None:
    card = card_for(ProfanityScorer().identity(), calibration="calibration/profanity.json (sha256 ab12)")
    assert card["key"] == "profanity" and card["weights_run"] == ProfanityScorer().identity()["weights"]
    assert card["calibration"].startswith("calibration/")
    assert "scores read from the data" in card_for({"name": "column", "model": "offensive"})["summary"]


def test_manifest_carries_a_card_per_scorer(tmp_path: Path) -> None:
    settings = settings_for("perspective_crosswalk", "plot.formats=[]", "analysis.n_boot=20")
    if not resolve_data_path(settings.dataset.path).exists():
        pytest.skip("bundled cat_gn not present")
    manifest = run_experiment(settings, tmp_path)
    (card,) = manifest["scorer_cards"]
    assert card["key"] == "profanity" and card["calibration"] is None and card["validity"]
    assert json.loads((tmp_path / "manifest.json").read_text())["scorer_cards"] == manifest["scorer_cards"]


def test_cache_info_prints_the_cards(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cache_main(["--cache-dir", str(tmp_path), "info"]) == 0
    out = capsys.readouterr().out
    assert "profanity: a profanity model, not a toxicity model" in out
    assert "validity: cat_gn (toxic, n = 10,000): roc_auc = " in out
    assert cache_main(["--cache-dir", str(tmp_path), "info", "--json"]) == 0
    assert "profanity" in json.loads(capsys.readouterr().out)["cards"]
