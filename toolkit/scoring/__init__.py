"""Toxicity scoring: Detoxify, a local Hugging Face classifier, an LLM judge behind an OpenAI-compatible server,
the embedded profanity scorer or scores that came with the data, through a fast batching engine and a
persistent, crash-safe score cache.

``score_frame(frame, scorer="auto", **overrides)`` adds one Float64 column per label and returns a
ScoreReport saying which scorer (and weights) produced them; ``make_scorer(settings)`` builds a Scorer
from a ``toolkit.settings.ScorerSettings``.
"""

from toolkit.errors import ScorerUnavailableError
from toolkit.scoring.base import BaseScorer, Scored, Scorer, ScoreReport
from toolkit.scoring.cache import ScoreCache, default_cache_dir, list_caches, text_hash
from toolkit.scoring.column import ColumnScorer
from toolkit.scoring.detoxify_backend import DetoxifyScorer
from toolkit.scoring.engine import PRECISIONS, EngineOptions, InferenceEngine
from toolkit.scoring.hf_backend import HFScorer
from toolkit.scoring.llm import LLMScorer
from toolkit.scoring.profanity import ProfanityScorer
from toolkit.scoring.resolve import SCORERS, ScorerFallbackWarning, make_scorer, resolve_scorer
from toolkit.scoring.score import score_frame, score_resolved, scorer_settings, scorer_spec, shard_of
from toolkit.settings import ScorerSettings

__all__ = [
    "PRECISIONS",
    "SCORERS",
    "BaseScorer",
    "ColumnScorer",
    "DetoxifyScorer",
    "EngineOptions",
    "HFScorer",
    "InferenceEngine",
    "LLMScorer",
    "ProfanityScorer",
    "ScoreCache",
    "ScoreReport",
    "Scored",
    "Scorer",
    "ScorerFallbackWarning",
    "ScorerSettings",
    "ScorerUnavailableError",
    "default_cache_dir",
    "list_caches",
    "make_scorer",
    "resolve_scorer",
    "score_frame",
    "score_resolved",
    "scorer_settings",
    "scorer_spec",
    "shard_of",
    "text_hash",
]
