"""Building scorers by name, and what ``scorer=auto`` resolves to.

``auto`` prefers Detoxify: it is used when its weights are on disk (a local ``checkpoint``, or the
official file in torch hub's cache) or can be downloaded now. Otherwise (no network: the download fails
within milliseconds) the embedded ``profanity`` scorer is used, with a warning and the reason recorded.
If Detoxify's weights are there but the model then fails to load, ``score_frame`` falls back the same way.
"""

from __future__ import annotations

import warnings
from typing import Any

from toolkit.scoring.base import Scorer
from toolkit.scoring.detoxify_backend import DetoxifyScorer, ScorerUnavailableError
from toolkit.scoring.profanity import ProfanityScorer

SCORERS = ("auto", "detoxify", "profanity")
_DETOXIFY_OPTIONS = (
    "model",
    "checkpoint",
    "hf_config_path",
    "device",
    "batch_size",
    "precision",
    "cache_dir",
    "hash_memo",
    "download_timeout",
)


class ScorerFallbackWarning(UserWarning):
    """``scorer=auto`` could not use Detoxify and used the embedded profanity scorer instead."""


def make_scorer(name: str, **options: Any) -> Scorer:
    """A scorer by name (``auto``, ``detoxify``, ``profanity``) with its options.

    Options: ``model``, ``checkpoint``, ``hf_config_path``, ``device``, ``batch_size``, ``precision``,
    ``cache_dir`` (where the checkpoint-hash memo lives), ``hash_memo``, ``download_timeout``. The profanity scorer
    ignores them. ``auto`` returns whichever scorer it resolves to (see :func:`resolve_scorer`).
    """
    scorer, _ = resolve_scorer(name, **options)
    return scorer


def resolve_scorer(name: str | Scorer, **options: Any) -> tuple[Scorer, str | None]:
    """The scorer to use and, for ``auto`` when Detoxify is unavailable, why it fell back (else None)."""
    unknown = sorted(set(options) - set(_DETOXIFY_OPTIONS))
    if unknown:
        raise TypeError(f"unknown scorer option(s) {unknown}; known: {', '.join(_DETOXIFY_OPTIONS)}")
    if not isinstance(name, str):
        return name, None
    detoxify_options = {k: v for k, v in options.items() if v is not None}
    if name == "detoxify":
        return DetoxifyScorer(**detoxify_options), None
    if name == "profanity":
        return ProfanityScorer(), None
    if name != "auto":
        raise ValueError(f"unknown scorer {name!r}; choose one of {', '.join(SCORERS)}")
    detoxify = DetoxifyScorer(**detoxify_options)
    try:
        detoxify.ensure_weights()
    except ScorerUnavailableError as exc:
        return fallback_scorer(str(exc))
    return detoxify, None


def fallback_scorer(reason: str) -> tuple[Scorer, str]:
    """The embedded profanity scorer, with a warning giving ``reason``."""
    warnings.warn(
        "scorer=auto: Detoxify is unavailable, using the embedded profanity scorer "
        f"(alt-profanity-check, toxicity only). Reason: {reason}",
        ScorerFallbackWarning,
        stacklevel=3,
    )
    return ProfanityScorer(), reason
