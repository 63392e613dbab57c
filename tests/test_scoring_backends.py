"""scorer=hf (a local Hugging Face classifier) and scorer=column (scores that came with the data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest
import torch
from scoring_helpers import hf_scorer
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from toolkit.scoring import ColumnScorer, ScorerSettings, ScorerUnavailableError, make_scorer, score_frame

if TYPE_CHECKING:
    from scoring_fixtures import TinyHF

pytest_plugins = ["scoring_fixtures"]


def _transformers_scores(path: Path, texts: list[str], activation: str) -> np.ndarray:
    """What a researcher would compute with transformers directly."""
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForSequenceClassification.from_pretrained(str(path)).eval()
    with torch.no_grad():
        logits = model(**tokenizer(texts, truncation=True, padding=True, return_tensors="pt")).logits
    return (torch.softmax(logits, -1) if activation == "softmax" else torch.sigmoid(logits)).numpy()


@pytest.mark.parametrize(("which", "activation", "labels"), [
    ("single", "softmax", ["not_hate", "hate"]),
    ("multi", "sigmoid", ["toxic", "insult", "threat"]),
])
def test_hf_scores_equal_transformers(
    tiny_hf: TinyHF, sample_texts: list[str], tmp_path: Path, which: str, activation: str, labels: list[str]
) -> None:
    path = getattr(tiny_hf, which)
    scorer = hf_scorer(path, cache_dir=tmp_path, token_budget=64)
    assert scorer.labels() == labels and scorer.activation() == activation and scorer.model is None
    got = scorer.predict(sample_texts)
    expected = _transformers_scores(path, sample_texts, activation)
    assert list(got) == labels
    assert np.allclose(np.column_stack([got[label] for label in labels]), expected, atol=1e-5)
    if activation == "softmax":
        assert np.allclose(expected.sum(axis=1), 1.0, atol=1e-5)
    assert scorer.run_stats()["truncated"] == 1


def test_hf_through_score_frame_and_cache(tiny_hf: TinyHF, tmp_path: Path) -> None:
    frame = pl.DataFrame({"text": ["you are awful", None, "lovely day", "you are awful"]})
    first = score_frame(frame, "hf", model=str(tiny_hf.single), cache_dir=tmp_path)
    assert first.frame.columns == ["text", "not_hate", "hate"]
    assert first.report.scorer == "hf" and first.report.cache_misses == 2 and first.report.model_loaded
    assert first.frame["hate"][1] is None
    identity = first.report.identity
    assert identity["model"] == "hate-speech" and identity["activation"] == "softmax"
    assert identity["weights"].startswith("sha256:")
    again = score_frame(frame, "hf", model=str(tiny_hf.single), cache_dir=tmp_path)
    assert (again.report.cache_hits, again.report.model_loaded) == (2, False)
    assert again.frame.equals(first.frame)
    other = score_frame(frame, "hf", model=str(tiny_hf.other), cache_dir=tmp_path)
    assert other.report.identity["weights"] != identity["weights"] and other.report.cache_misses == 2
    forced = hf_scorer(tiny_hf.single, activation="sigmoid", cache_dir=tmp_path).identity()
    assert forced["activation"] == "sigmoid" and forced != identity


def test_hf_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"scorer\.model=/path"):
        make_scorer(ScorerSettings(name="hf"))
    with pytest.raises(ScorerUnavailableError, match="no config.json"):
        hf_scorer(tmp_path / "nowhere").identity()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text(json.dumps({"id2label": {"0": "a", "1": "b"}}))
    with pytest.raises(ScorerUnavailableError, match="no weights"):
        hf_scorer(tmp_path / "empty").identity()
    with pytest.raises(ValueError, match="activation"):
        hf_scorer(tmp_path, activation="relu")


def test_column_scores_come_from_the_data(tmp_path: Path) -> None:
    frame = pl.DataFrame({
        "text": ["a", None, "b", "c"],
        "perspective_toxicity": [0.1, 0.7, None, 0.9],
        "perspective_insult": ["0.2", "0.3", "0.4", "0.5"],
    })
    result = score_frame(frame, "column", columns={"toxicity": "perspective_toxicity",
                                                   "insult": "perspective_insult"}, cache_dir=tmp_path)
    assert result.frame["toxicity"].to_list() == [0.1, 0.7, None, 0.9]  # a score with no text is kept
    assert result.frame["insult"].dtype == pl.Float64
    report = result.report
    assert report.scorer == "column" and report.labels == ["toxicity", "insult"]
    assert report.identity["columns"] == "toxicity=perspective_toxicity,insult=perspective_insult"
    assert report.caption() == "column perspective_toxicity,perspective_insult"
    assert not report.model_loaded and report.cache_misses == 0
    assert not any(tmp_path.iterdir())  # nothing cached


def test_column_errors(tmp_path: Path) -> None:
    frame = pl.DataFrame({"text": ["a", "b"], "pct": [10.0, 90.0], "word": ["x", "y"]})
    with pytest.raises(ValueError, match=r"outside \[0, 1\].*rescale"):
        score_frame(frame, "column", columns={"toxicity": "pct"}, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="not numeric"):
        score_frame(frame, "column", columns={"toxicity": "word"}, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="no column 'nope'"):
        score_frame(frame, "column", columns={"toxicity": "nope"}, cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"scorer\.columns="):
        ColumnScorer(ScorerSettings(name="column"))
    with pytest.raises(ValueError, match="nothing to shard"):
        score_frame(frame, "column", columns={"toxicity": "pct"}, shard=0, num_shards=2)
