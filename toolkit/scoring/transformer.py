"""What the transformer backends (Detoxify, local Hugging Face models) share: engine options, lazy engine,
streaming and list predictions, run statistics.

A subclass loads its model in ``load()`` (setting ``model``, ``tokenizer``, ``device``) and names its
``activation()``; everything else (batching, precision, long texts, progress) is :mod:`toolkit.scoring.engine`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from toolkit.scoring.base import StreamingScorer, check_texts
from toolkit.scoring.cache import resolve_cache_dir
from toolkit.scoring.engine import EngineOptions, InferenceEngine
from toolkit.settings import ScorerSettings

_UNSET_MAX_LENGTH = 100_000  # tokenizers without a model_max_length report ~1e30


class TransformerScorer(StreamingScorer):
    """Base of the transformer scorers: ``iter_predict`` streams scores, ``predict`` collects them."""

    name = "transformer"

    def __init__(self, settings: ScorerSettings) -> None:
        self.options = EngineOptions.from_settings(settings)  # checks them (precision, long_text, ...)
        self.memo_dir = resolve_cache_dir(settings.cache_dir) if settings.use_cache else None  # sha256 memo
        self.model: Any = None
        self.tokenizer: Any = None
        self.engine: InferenceEngine | None = None
        self.device: str | None = None  # set by load()
        self.loads = 0

    def load(self) -> None:  # pragma: no cover - abstract
        """Load model and tokenizer."""
        raise NotImplementedError

    def activation(self) -> str:  # pragma: no cover - abstract
        """sigmoid, softmax or none: how the engine maps the model's logits to scores."""
        raise NotImplementedError

    def engine_spec(self) -> dict[str, Any]:
        """How the engine runs the loaded model: its labels, the activation, truncation at the tokenizer's
        (or positions') limit, the device it was loaded on."""
        return {"num_labels": len(self.labels()), "max_length": tokenizer_limit(self.tokenizer, self.model.config),
                "activation": self.activation(), "device": self.device}

    def get_engine(self) -> InferenceEngine:
        """The inference engine over the loaded model (built once)."""
        self.load()
        if self.engine is None:
            self.engine = InferenceEngine(self.model, self.tokenizer, options=self.options, **self.engine_spec())
        return self.engine

    def iter_predict(self, texts: Sequence[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(indices, scores)`` pairs as texts get scored (see ``InferenceEngine.iter_scores``); loads the
        model on first use, and not at all for an empty list."""
        texts = check_texts(texts)
        if not texts:
            return iter(())
        return self.get_engine().iter_scores(texts)

    def run_stats(self) -> dict[str, Any]:
        """Engine statistics (texts, truncated, tokens, padding efficiency, seconds) plus the run settings."""
        if self.engine is None:
            return {}
        import torch  # imported already: the engine runs on it

        stats = self.engine.stats.as_dict()
        stats.update(
            device=self.engine.device,
            precision=self.options.precision,
            token_budget=self.options.token_budget,
            batch_size=self.options.batch_size,
            threads=torch.get_num_threads(),
            long_text=self.options.long_text,
        )
        return stats

    def effective_max_length(self) -> int | None:
        """The token limit texts are truncated at, once the model is loaded (before: None)."""
        return self.engine.max_length if self.engine is not None else None

    def run_settings(self) -> dict[str, Any]:
        """The requested device, batch size, precision and long-text policy, for the report."""
        o = self.options
        return {"device": o.device, "batch_size": o.batch_size, "precision": o.precision, "long_text": o.long_text}


def position_limit(config: Any) -> int | None:
    """The longest sequence a model's position embeddings allow (RoBERTa-style models reserve pad + 1)."""
    positions = getattr(config, "max_position_embeddings", None)
    if not positions:
        return None
    pad = getattr(config, "pad_token_id", None)
    offset = (pad + 1) if "roberta" in getattr(config, "model_type", "") and pad is not None else 0
    return int(positions) - offset


def tokenizer_limit(tokenizer: Any, config: Any) -> int | None:
    """The tokenizer's ``model_max_length`` when it is set, else the model's position limit."""
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and limit < _UNSET_MAX_LENGTH:
        return limit
    return position_limit(config)
