"""The scorer interface every backend implements, and what scoring a frame reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl


class Scorer(Protocol):
    """A toxicity scorer. ``identity`` must be computable *without loading the model* (it keys the cache)."""

    name: str  # "detoxify", "profanity", ...

    def identity(self) -> dict[str, str]:
        """Name, model, weights' hash, precision, ...: everything that changes the scores."""
        ...

    def labels(self) -> list[str]:
        """The score columns this scorer writes (e.g. ``toxicity``, ``insult``)."""
        ...

    def predict(self, texts: list[str]) -> dict[str, list[float]]:
        """Scores in [0, 1] for each label, one per text, in input order. Loads the model on first use."""
        ...


# Optional, used by score_frame when present (the transformer scorers have them):
#   iter_predict(texts) -> Iterator[(positions ndarray, scores ndarray rows x labels)]: scores streamed as
#       batches finish, so they reach the cache while a long run goes on;
#   run_stats() -> dict: what the last runs did (texts, truncated, tokens, padding, seconds, device...).


@dataclass
class ScoreReport:
    """What a scoring call did, for the manifest and figure captions."""

    scorer: str
    identity: dict[str, str]
    labels: list[str]
    n_texts: int = 0  # non-null texts in the frame
    n_unique: int = 0  # distinct non-null texts
    cache_hits: int = 0  # distinct texts whose scores came from the cache
    cache_misses: int = 0  # distinct texts scored now
    model_loaded: bool = False
    fallback_reason: str | None = None  # why scorer=auto did not use Detoxify
    extra: dict[str, Any] = field(default_factory=dict)

    def caption(self) -> str:
        """A short label for figure footers, e.g. ``detoxify original`` or ``profanity (alt-profanity-check)``."""
        model = self.identity.get("model", "")
        return f"{self.scorer} {model}".strip()


@dataclass
class Scored:
    frame: pl.DataFrame
    report: ScoreReport
