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
            return fallback_scorer(str(exc), exc.summary, exc.fix)
    return scorer, None


def fallback_message(reason: str, summary: str | None = None, fix: str | None = None) -> str:
    """The fallback warning: one short line with the cause (``summary``, else the start of ``reason``) and the
    settings that fix it; the full ``reason`` goes to the report (the manifest's ``fallback_reason``).

    >>> fallback_message("long story. more", "no weights (URLError)", "scorer.checkpoint=/path/to/x.ckpt")
    'scorer=auto: no weights (URLError); using the embedded profanity scorer (toxicity only). Fix: scorer.checkpoint=/path/to/x.ckpt'
    >>> fallback_message("Detoxify failed to load (OSError: gone). Try again")
    'scorer=auto: Detoxify failed to load (OSError: gone); using the embedded profanity scorer (toxicity only).'
    """
    cause = summary or reason.split(". ")[0].rstrip(".")
    if len(cause) > 160:
        cause = cause[:157] + "..."
    message = f"scorer=auto: {cause}; using the embedded profanity scorer (toxicity only)."
    return f"{message} Fix: {fix}" if fix else message


def fallback_scorer(reason: str, summary: str | None = None, fix: str | None = None) -> tuple[Scorer, str]:
    """The embedded profanity scorer, with one short warning (:func:`fallback_message`); returns the full
    ``reason`` for the report."""
    warnings.warn(fallback_message(reason, summary, fix), ScorerFallbackWarning, stacklevel=3)
    return ProfanityScorer(), reason
