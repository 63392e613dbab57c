"""Building scorers from settings (``auto``, ``detoxify``, ``hf``, ``profanity``, ``politeness``, ``llm``,
``column``), and what ``auto`` resolves to.

``auto`` prefers Detoxify: it is used when its weights are on disk (a local ``checkpoint``, or the
official file in torch hub's cache) or can be downloaded now. Otherwise (no network: the download fails
within milliseconds) the embedded ``profanity`` scorer is used, with a warning and the reason recorded.
If Detoxify's weights are there but the model then fails to load, ``score_frame`` falls back the same way.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from toolkit.errors import ConfigError, ScorerUnavailableError
from toolkit.scoring.base import Scorer
from toolkit.scoring.column import ColumnScorer
from toolkit.scoring.detoxify_backend import DetoxifyScorer
from toolkit.scoring.hf_backend import HFScorer
from toolkit.scoring.llm import LLMScorer
from toolkit.scoring.politeness import PolitenessScorer
from toolkit.scoring.profanity import ProfanityScorer
from toolkit.settings import ScorerSettings

# scorer.name -> the constructor, which takes the settings whole (``auto`` tries Detoxify first).
SCORERS: dict[str, Callable[[ScorerSettings], Scorer]] = {
    "auto": DetoxifyScorer,
    "detoxify": DetoxifyScorer,
    "hf": HFScorer,
    "profanity": ProfanityScorer,
    "politeness": PolitenessScorer,
    "llm": LLMScorer,
    "column": ColumnScorer,
}


class ScorerFallbackWarning(UserWarning):
    """``scorer=auto`` could not use Detoxify and used the embedded profanity scorer instead."""


def make_scorer(settings: ScorerSettings) -> Scorer:
    """The scorer ``settings`` name, built from them; ``auto`` gives what it resolves to (:func:`resolve_scorer`).

    >>> make_scorer(ScorerSettings(name="profanity")).name
    'profanity'
    """
    return resolve_scorer(settings)[0]


def resolve_scorer(settings: ScorerSettings) -> tuple[Scorer, str | None]:
    """The scorer to use and, for ``auto`` when Detoxify's weights are unavailable, why it fell back (else None).

    >>> resolve_scorer(ScorerSettings(name="detoxify", model="unbiased"))[0].labels()[-1]
    'sexual_explicit'
    """
    if settings.name not in SCORERS:
        raise ConfigError("scorer.name", f"unknown scorer {settings.name!r}; choose one of {', '.join(SCORERS)}")
    scorer = SCORERS[settings.name](settings)
    if settings.name == "auto" and isinstance(scorer, DetoxifyScorer):
        try:
            scorer.ensure_weights()
        except ScorerUnavailableError as exc:
            return fallback_scorer(str(exc))
    return scorer, None


def fallback_scorer(reason: str) -> tuple[Scorer, str]:
    """The embedded profanity scorer, with a warning giving ``reason``."""
    warnings.warn(
        "scorer=auto: Detoxify is unavailable, using the embedded profanity scorer "
        f"(alt-profanity-check, toxicity only). Reason: {reason}",
        ScorerFallbackWarning,
        stacklevel=3,
    )
    return ProfanityScorer(), reason
