"""The embedded profanity scorer (alt-profanity-check): identity without loading, real predictions."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import polars as pl

from toolkit.scoring import ProfanityScorer, score_frame


def test_identity_does_not_load() -> None:
    scorer = ProfanityScorer()
    identity = scorer.identity()
    assert scorer.model is None and scorer.loads == 0
    assert identity["name"] == "profanity" and identity["model"] == "alt-profanity-check"
    assert identity["version"] == metadata.version("alt-profanity-check")
    assert len(identity["weights"]) == 16 and identity["precision"] == "fp64"
    assert scorer.labels() == ["toxicity"]


def test_predicts_in_order() -> None:
    scorer = ProfanityScorer()
    assert scorer.predict([]) == {"toxicity": []} and scorer.model is None
    scores = scorer.predict(["have a lovely day", "fuck off you shit", ""])["toxicity"]
    assert scorer.loads == 1
    assert scores[1] > 0.9 > 0.2 > scores[0]
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_cached_profanity_scores(tmp_path: Path) -> None:
    frame = pl.DataFrame({"text": ["fuck off", None, "hello", "hello"]})
    first = score_frame(frame, "profanity", cache_dir=tmp_path)
    second = score_frame(frame, "profanity", cache_dir=tmp_path)
    assert (first.report.cache_misses, second.report.cache_hits, second.report.model_loaded) == (2, 2, False)
    assert second.frame.equals(first.frame)
    assert first.frame["toxicity"][1] is None
