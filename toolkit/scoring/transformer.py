"""What the transformer backends (Detoxify, local Hugging Face models) share: engine options, lazy engine,
streaming and list predictions, run statistics.

A subclass loads its model in ``load()`` (setting ``model``, ``tokenizer``) and says how to run it in
``engine_spec()``; everything else (batching, precision, long texts, progress) is :mod:`toolkit.scoring.engine`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from toolkit.scoring.engine import (
    DEFAULT_MAX_BATCH,
    DEFAULT_TOKEN_BUDGET,
    EngineOptions,
    InferenceEngine,
    check_device_precision,
)


class TransformerScorer:
    """Base of the transformer scorers: ``iter_predict`` streams scores, ``predict`` collects them."""

    name = "transformer"

    def __init__(
        self,
        *,
        device: str = "auto",
        batch_size: int = DEFAULT_MAX_BATCH,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
        precision: str = "fp32",
        threads: int | None = None,
        long_text: str = "truncate",
        chunk_overlap: int = 64,
        chunk_aggregate: str = "max",
        progress: bool | None = None,
    ) -> None:
        self.options = EngineOptions(
            precision=precision,
            token_budget=int(token_budget),
            max_batch_size=int(batch_size),
            threads=None if threads is None else int(threads),
            long_text=long_text,
            chunk_overlap=int(chunk_overlap),
            chunk_aggregate=chunk_aggregate,
            progress=progress,
        )
        if device != "auto":
            check_device_precision(device, precision)  # e.g. fp16 on cpu: fail before loading anything
        self.device = device
        self.batch_size = int(batch_size)
        self.precision = precision
        self.long_text = long_text
        self.model: Any = None
        self.tokenizer: Any = None
        self.engine: InferenceEngine | None = None
        self.loads = 0

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self.model is not None

    def load(self) -> None:  # pragma: no cover - abstract
        """Load model and tokenizer."""
        raise NotImplementedError

    def labels(self) -> list[str]:  # pragma: no cover - abstract
        """The label columns."""
        raise NotImplementedError

    def engine_spec(self) -> dict[str, Any]:  # pragma: no cover - abstract
        """``num_labels``, ``max_length``, ``activation`` and ``device`` for the engine (after load)."""
        raise NotImplementedError

    def get_engine(self) -> InferenceEngine:
        """The inference engine over the loaded model (built once)."""
        self.load()
        if self.engine is None:
            spec = self.engine_spec()
            self.engine = InferenceEngine(self.model, self.tokenizer, options=self.options, **spec)
        return self.engine

    def iter_predict(self, texts: Sequence[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(indices, scores)`` pairs as texts get scored (see ``InferenceEngine.iter_scores``); loads the
        model on first use, and not at all for an empty list."""
        texts = list(texts)
        if any(t is None for t in texts):
            raise ValueError("predict() takes strings; null texts are handled by score_frame (null scores)")
        if not texts:
            return iter(())
        return self.get_engine().iter_scores(texts)

    def predict(self, texts: Sequence[str]) -> dict[str, list[float]]:
        """Scores per label for each text, in input order (loads the model on first use)."""
        texts = list(texts)
        if any(t is None for t in texts):
            raise ValueError("predict() takes strings; null texts are handled by score_frame (null scores)")
        if not texts:
            return {label: [] for label in self.labels()}
        labels = self.labels()
        out = np.full((len(texts), len(labels)), np.nan, dtype=np.float64)
        for indices, scores in self.iter_predict(texts):
            out[indices] = scores
        labels = self.labels()  # authoritative once loaded
        return {label: out[:, j].tolist() for j, label in enumerate(labels)}

    def run_stats(self) -> dict[str, Any]:
        """Engine statistics (texts, truncated, tokens, padding efficiency, seconds) plus the run settings."""
        if self.engine is None:
            return {}
        stats = self.engine.stats.as_dict()
        stats.update(
            device=self.engine.device,
            precision=self.options.precision,
            token_budget=self.options.token_budget,
            batch_size=self.options.max_batch_size,
            threads=_torch_threads(),
            long_text=self.options.long_text,
        )
        return stats


def _torch_threads() -> int | None:
    try:
        import torch

        return int(torch.get_num_threads())
    except ImportError:  # pragma: no cover
        return None
