"""Toxicity scoring: Detoxify or the embedded profanity scorer, through a persistent score cache.

``score_frame(frame, scorer="auto", ...)`` adds one Float64 column per label and returns a ScoreReport
saying which scorer (and weights) produced them; ``make_scorer(name, **options)`` builds a Scorer.
"""

from toolkit.scoring.base import Scored, Scorer, ScoreReport
from toolkit.scoring.cache import ScoreCache, default_cache_dir, text_hash
from toolkit.scoring.detoxify_backend import DetoxifyScorer, ScorerUnavailableError
from toolkit.scoring.profanity import ProfanityScorer
from toolkit.scoring.resolve import SCORERS, ScorerFallbackWarning, make_scorer, resolve_scorer
from toolkit.scoring.score import score_frame

__all__ = [
    "SCORERS",
    "DetoxifyScorer",
    "ProfanityScorer",
    "ScoreCache",
    "ScoreReport",
    "Scored",
    "Scorer",
    "ScorerFallbackWarning",
    "ScorerUnavailableError",
    "default_cache_dir",
    "make_scorer",
    "resolve_scorer",
    "score_frame",
    "text_hash",
]
