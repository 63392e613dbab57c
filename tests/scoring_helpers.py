"""Scorers built from settings, for the scoring tests (a plain module: ``scoring_fixtures`` is a plugin)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolkit.scoring import DetoxifyScorer, HFScorer, ScorerSettings


def detoxify_scorer(**overrides: Any) -> DetoxifyScorer:
    """A DetoxifyScorer built from ``ScorerSettings(name="detoxify", **overrides)``."""
    return DetoxifyScorer(ScorerSettings(name="detoxify", **overrides))


def hf_scorer(model: Path, **overrides: Any) -> HFScorer:
    """An HFScorer over the model directory ``model``."""
    return HFScorer(ScorerSettings(name="hf", model=str(model), **overrides))
