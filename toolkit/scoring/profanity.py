"""The embedded offline scorer: alt-profanity-check's trained linear model (shipped inside its wheel).

It gives one label, ``toxicity`` (the probability that a text is profane/offensive), and needs no network.
Importing ``profanity_check`` loads its model (~2 s), so that happens only on the first ``predict``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from toolkit.scoring.base import BaseScorer, check_texts
from toolkit.scoring.cache import files_digest
from toolkit.settings import ScorerSettings

PACKAGE = "alt-profanity-check"


@lru_cache(maxsize=1)
def _package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:  # pragma: no cover - it is a hard dependency
        return "unknown"


@lru_cache(maxsize=1)
def _model_files_hash() -> str:
    """sha256 (first 16 hex) over the package's model files, without importing (= loading) it."""
    spec = importlib.util.find_spec("profanity_check")
    if spec is None or not spec.submodule_search_locations:
        return "missing"
    data_dir = Path(next(iter(spec.submodule_search_locations))) / "data"
    return files_digest(sorted(data_dir.glob("*.joblib")))


class ProfanityScorer(BaseScorer):
    """alt-profanity-check as a Scorer: ``toxicity`` only; ``model`` is None until first use.

    >>> ProfanityScorer().labels()
    ['toxicity']
    """

    name = "profanity"

    def __init__(self, settings: ScorerSettings | None = None) -> None:
        """``settings`` are accepted like every scorer's; this one has no options."""
        self.model: Any = None  # profanity_check.predict_prob once loaded
        self.loads = 0

    def identity(self) -> dict[str, str]:
        """Name, package (model) and version, a hash of its model files, precision."""
        return {
            "name": self.name,
            "model": PACKAGE,
            "version": _package_version(),
            "weights": _model_files_hash(),
            "precision": "fp64",
        }

    def labels(self) -> list[str]:
        """Only ``toxicity``."""
        return ["toxicity"]

    def load(self) -> None:
        """Import the package (it loads its vectoriser and model at import)."""
        if self.model is None:
            from profanity_check import predict_prob

            self.model = predict_prob
            self.loads += 1

    def predict(self, texts: Sequence[str]) -> dict[str, list[float]]:
        """Probability of profanity for each text, in input order."""
        texts = check_texts(texts)
        if not texts:
            return {"toxicity": []}
        self.load()
        return {"toxicity": [float(p) for p in self.model(texts)]}
