"""scorer=politeness through score_frame and the cache, and beside a toxicity scorer in one run."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from helpers import compose_settings

from toolkit.errors import ConfigError
from toolkit.pipeline import run_experiment
from toolkit.schema import POLITENESS_STRATEGIES
from toolkit.scoring import score_frame


def test_politeness_scores_go_through_the_cache(tmp_path: Path) -> None:
    frame = pl.DataFrame({"text": ["Thank you so much!", None, "Why did you do that?", "Thank you so much!"]})
    first = score_frame(frame, "politeness", cache_dir=str(tmp_path))
    assert first.frame.columns == ["text", "politeness", *POLITENESS_STRATEGIES]
    assert first.frame["gratitude"].to_list() == [1.0, None, 0.0, 1.0]  # "thank you": gratitude; null stays null
    assert first.frame["direct_question"].to_list() == [0.0, None, 1.0, 0.0]  # "why ..." opens a direct question
    assert (first.report.n_unique, first.report.cache_misses, first.report.model_loaded) == (2, 2, True)
    again = score_frame(frame, "politeness", cache_dir=str(tmp_path))
    assert (again.report.cache_hits, again.report.cache_misses, again.report.model_loaded) == (2, 0, False)
    assert again.frame.equals(first.frame)


@pytest.mark.slow
def test_a_run_scores_toxicity_and_politeness_side_by_side(tmp_path: Path) -> None:
    settings = compose_settings(["scorer=profanity", "extra_scorers=[politeness]", "analysis.run=[score_distribution]",
                          "plot.formats=[png]", f"scorer.cache_dir={tmp_path / 'cache'}"])
    manifest = run_experiment(settings, tmp_path / "run")
    comments = pl.read_parquet(tmp_path / "run" / "comments.parquet")
    assert {"toxicity", "politeness", *POLITENESS_STRATEGIES} <= set(comments.columns)
    assert manifest["scorer"]["scorer"] == "profanity"
    assert [r["scorer"] for r in manifest["extra_scorers"]] == ["politeness"]
    assert manifest["extra_scorers"][0]["n_texts"] == manifest["scorer"]["n_texts"]


def test_a_scorer_listed_twice_is_a_config_error(tmp_path: Path) -> None:
    settings = compose_settings(["scorer=profanity", "extra_scorers=[profanity]", f"scorer.cache_dir={tmp_path}"])
    with pytest.raises(ConfigError, match=r"extra_scorers: 'profanity' writes \['toxicity'\]"):
        run_experiment(settings, tmp_path / "run")
