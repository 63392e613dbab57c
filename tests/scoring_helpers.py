"""Scorers built from settings, for the scoring tests (a plain module: ``scoring_fixtures`` is a plugin)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from toolkit.scoring import DetoxifyScorer, HFScorer, Scorer, ScorerSettings


def detoxify_scorer(**overrides: Any) -> DetoxifyScorer:
    """A DetoxifyScorer built from ``ScorerSettings(name="detoxify", **overrides)``."""
    return DetoxifyScorer(ScorerSettings(name="detoxify", **overrides))


def hf_scorer(model: Path, **overrides: Any) -> HFScorer:
    """An HFScorer over the model directory ``model``."""
    return HFScorer(ScorerSettings(name="hf", model=str(model), **overrides))


def record_texts(scorer: Scorer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts ``scorer`` is asked to score from now on (its ``iter_predict``, wrapped by monkeypatch)."""
    seen: list[str] = []
    inner = scorer.iter_predict

    def spy(texts: list[str]):  # noqa: ANN202 - returns what iter_predict returns
        seen.extend(texts)
        return inner(texts)

    monkeypatch.setattr(scorer, "iter_predict", spy)
    return seen
