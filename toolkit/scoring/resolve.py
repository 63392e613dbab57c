"""Building scorers by name (``auto``, ``detoxify``, ``hf``, ``profanity``, ``column``), and what ``auto``
resolves to.

``auto`` prefers Detoxify: it is used when its weights are on disk (a local ``checkpoint``, or the
official file in torch hub's cache) or can be downloaded now. Otherwise (no network: the download fails
within milliseconds) the embedded ``profanity`` scorer is used, with a warning and the reason recorded.
If Detoxify's weights are there but the model then fails to load, ``score_frame`` falls back the same way.
"""

from __future__ import annotations

import warnings
from typing import Any

from toolkit.scoring.base import Scorer
from toolkit.scoring.column import ColumnScorer
from toolkit.scoring.detoxify_backend import MODELS, DetoxifyScorer, ScorerUnavailableError
from toolkit.scoring.hf_backend import HFScorer
from toolkit.scoring.profanity import ProfanityScorer

SCORERS = ("auto", "detoxify", "hf", "profanity", "column")
_ENGINE_OPTIONS = (
    "device",
    "batch_size",
    "token_budget",
    "precision",
    "threads",
    "long_text",
    "chunk_overlap",
    "chunk_aggregate",
    "progress",
    "cache_dir",
    "hash_memo",
)
_DETOXIFY_OPTIONS = ("model", "checkpoint", "hf_config_path", "download_timeout", *_ENGINE_OPTIONS)
_HF_OPTIONS = ("model", "activation", *_ENGINE_OPTIONS)
_ALL_OPTIONS = tuple(dict.fromkeys((*_DETOXIFY_OPTIONS, *_HF_OPTIONS, "columns")))


class ScorerFallbackWarning(UserWarning):
    """``scorer=auto`` could not use Detoxify and used the embedded profanity scorer instead."""


def make_scorer(name: str, **options: Any) -> Scorer:
    """A scorer by name (``auto``, ``detoxify``, ``hf``, ``profanity``, ``column``) with its options.

    Detoxify: ``model``, ``checkpoint``, ``hf_config_path``, ``download_timeout`` and the engine options
    (``device``, ``batch_size``, ``token_budget``, ``precision``, ``threads``, ``long_text``,
    ``chunk_overlap``, ``chunk_aggregate``, ``progress``, ``cache_dir`` for the checkpoint-hash memo,
    ``hash_memo``). hf: ``model`` (a local model directory), ``activation`` and the engine options.
    column: ``columns`` ({label: source column}). Options a scorer does not use are ignored (None means
    "its default"). ``auto`` returns whichever scorer it resolves to (see :func:`resolve_scorer`).
    """
    scorer, _ = resolve_scorer(name, **options)
    return scorer


def resolve_scorer(name: str | Scorer, **options: Any) -> tuple[Scorer, str | None]:
    """The scorer to use and, for ``auto`` when Detoxify is unavailable, why it fell back (else None)."""
    unknown = sorted(set(options) - set(_ALL_OPTIONS))
    if unknown:
        raise TypeError(f"unknown scorer option(s) {unknown}; known: {', '.join(_ALL_OPTIONS)}")
    if not isinstance(name, str):
        return name, None
    given = {k: v for k, v in options.items() if v is not None}
    if name == "detoxify":
        return DetoxifyScorer(**_pick(given, _DETOXIFY_OPTIONS)), None
    if name == "hf":
        hf_options = _pick(given, _HF_OPTIONS)
        if hf_options.get("model") in (None, "", *MODELS):
            raise ValueError("scorer=hf needs the model directory: scorer.model=/path/to/saved_model_dir")
        return HFScorer(**hf_options), None
    if name == "column":
        return ColumnScorer(given.get("columns")), None
    if name == "profanity":
        return ProfanityScorer(), None
    if name != "auto":
        raise ValueError(f"unknown scorer {name!r}; choose one of {', '.join(SCORERS)}")
    detoxify = DetoxifyScorer(**_pick(given, _DETOXIFY_OPTIONS))
    try:
        detoxify.ensure_weights()
    except ScorerUnavailableError as exc:
        return fallback_scorer(str(exc))
    return detoxify, None


def _pick(options: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k in names}


def fallback_scorer(reason: str) -> tuple[Scorer, str]:
    """The embedded profanity scorer, with a warning giving ``reason``."""
    warnings.warn(
        "scorer=auto: Detoxify is unavailable, using the embedded profanity scorer "
        f"(alt-profanity-check, toxicity only). Reason: {reason}",
        ScorerFallbackWarning,
        stacklevel=3,
    )
    return ProfanityScorer(), reason
