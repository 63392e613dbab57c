"""The scorer interface every backend implements, and what scoring a frame reports."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl

PREDICT_CHUNK = 1024  # texts per predict() call when a scorer streams without an engine


class Scorer(Protocol):
    """A toxicity scorer: everything ``score_frame`` calls. ``identity`` must be computable *without loading
    the model* (it keys the cache); :class:`BaseScorer` gives the optional parts defaults."""

    name: str  # "detoxify", "profanity", ...
    loads: int  # how many times the model was loaded (a fully cached run loads nothing)

    def identity(self) -> dict[str, str]:
        """Name, model, weights' hash, precision, ...: everything that changes the scores."""
        ...

    def labels(self) -> list[str]:
        """The score columns this scorer writes (e.g. ``toxicity``, ``insult``)."""
        ...

    def predict(self, texts: Sequence[str]) -> dict[str, list[float]]:
        """Scores in [0, 1] for each label, one per text, in input order. Loads the model on first use."""
        ...

    def iter_predict(self, texts: Sequence[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(positions in texts, scores rows x labels)`` as batches finish, so they reach the cache early."""
        ...

    def run_stats(self) -> dict[str, Any]:
        """What the last runs did (texts, truncated, tokens, padding, seconds, device...); {} if nothing."""
        ...

    def run_settings(self) -> dict[str, Any]:
        """The settings worth reporting (device, batch_size, precision, long_text); {} if none apply."""
        ...

    def effective_max_length(self) -> int | None:
        """The token limit texts are truncated at (after loading); None when there is none."""
        ...


class BaseScorer:
    """Defaults for the optional parts of :class:`Scorer`: ``iter_predict`` calls ``predict`` on chunks."""

    name = "scorer"
    loads = 0

    def labels(self) -> list[str]:  # pragma: no cover - every scorer defines it
        """The label columns."""
        raise NotImplementedError

    def predict(self, texts: Sequence[str]) -> dict[str, list[float]]:  # pragma: no cover - see subclasses
        """Scores per label."""
        raise NotImplementedError

    def iter_predict(self, texts: Sequence[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``predict`` on chunks of ``PREDICT_CHUNK`` texts, as ``(positions, scores)`` in ``labels()`` order."""
        texts = list(texts)
        for start in range(0, len(texts), PREDICT_CHUNK):
            predictions = self.predict(texts[start : start + PREDICT_CHUNK])
            scores = np.column_stack([np.asarray(predictions[label], np.float64) for label in self.labels()])
            yield np.arange(start, start + len(scores)), scores

    def run_stats(self) -> dict[str, Any]:
        """No engine: nothing to report."""
        return {}

    def run_settings(self) -> dict[str, Any]:
        """No engine settings."""
        return {}

    def effective_max_length(self) -> int | None:
        """No token limit."""
        return None


class StreamingScorer(BaseScorer):
    """A scorer whose ``iter_predict`` streams (an inference engine, an HTTP client): ``predict`` collects it."""

    def predict(self, texts: Sequence[str]) -> dict[str, list[float]]:
        """Scores per label for each text, in input order (loads the model on first use, not for no texts)."""
        texts = check_texts(texts)
        out = np.full((len(texts), len(self.labels())), np.nan, dtype=np.float64)
        for indices, scores in self.iter_predict(texts):
            out[indices] = scores
        return {label: out[:, j].tolist() for j, label in enumerate(self.labels())}  # labels: the loaded model's


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list; null texts are an error here (``score_frame`` gives them null scores)."""
    texts = list(texts)
    if any(t is None for t in texts):
        raise ValueError("predict() takes strings; null texts are handled by score_frame (null scores)")
    return texts


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
        """A short label for figure footers, e.g. ``detoxify original`` or ``profanity (alt-profanity-check)``;
        a calibrated scorer names its calibration file by hash.

        >>> ScoreReport("column", {"model": "p"}, ["toxicity"], extra={"calibration": {
        ...     "method": "isotonic", "path": "run/calibration/toxicity.json", "sha256": "ab" * 32}}).caption()
        'column p, calibrated (isotonic, toxicity.json sha256 abababababab)'
        """
        model = self.identity.get("model", "")
        parsed = " (yes/no parsed where no log-probabilities)" if self.identity.get("score", "").endswith("_or_parsed") else ""
        base = f"{self.scorer} {model}".strip() + parsed
        cal = self.extra.get("calibration")
        if not cal:
            return base
        return f"{base}, calibrated ({cal['method']}, {Path(cal['path']).name} sha256 {cal['sha256'][:12]})"


@dataclass
class Scored:
    """The scored frame and what scoring it did."""

    frame: pl.DataFrame
    report: ScoreReport
