"""``scorer=hf``: any local Hugging Face sequence-classification model directory (e.g. a lab's fine-tuned
toxicity or hate-speech classifier), through the same engine (batching, precision, long texts) and cache.

The directory is what ``save_pretrained`` writes: ``config.json``, the weights (``*.safetensors`` or
``pytorch_model*.bin``) and the tokenizer files. It is loaded with ``AutoModelForSequenceClassification`` and
``AutoTokenizer``, offline. Columns are the config's ``id2label`` names, in id order, as written there.

Scores (``activation=auto``), following transformers' text-classification pipeline:

* ``problem_type: multi_label_classification`` or a single output -> **sigmoid** per label (independent
  probabilities, as Detoxify);
* ``problem_type: regression`` -> the raw outputs (**none**);
* otherwise (``single_label_classification`` or unset, several labels) -> **softmax** over the labels (they
  sum to 1; e.g. ``hate`` / ``not_hate``).

``activation=sigmoid|softmax|none`` overrides this. The identity (cache key) holds the directory name, a
sha256 over its config, weight and tokenizer files, the activation, precision and long-text policy.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError, ScorerUnavailableError
from toolkit.scoring.cache import file_sha256
from toolkit.scoring.detoxify_backend import MODELS, hub_environment
from toolkit.scoring.engine import ACTIVATIONS, resolve_device
from toolkit.scoring.transformer import TransformerScorer
from toolkit.settings import ScorerSettings

# Files whose content changes the scores (training leftovers such as optimizer.pt are not hashed).
_HASHED = (
    "config.json",
    "*.safetensors",
    "pytorch_model*.bin",
    "tokenizer*.json",
    "vocab.*",
    "merges.txt",
    "*.model",
    "special_tokens_map.json",
    "added_tokens.json",
)


class HFScorer(TransformerScorer):
    """A local Hugging Face sequence-classification model; ``model`` is its directory."""

    name = "hf"

    def __init__(self, settings: ScorerSettings) -> None:
        if settings.model in (None, "", *MODELS):
            raise ConfigError("scorer.model", "scorer=hf needs the model directory: scorer.model=/path/to/"
                              "saved_model_dir (what save_pretrained wrote)")
        if settings.activation != "auto" and settings.activation not in ACTIVATIONS:
            raise ConfigError("scorer.activation", f"{settings.activation!r} is not supported; choose auto or one "
                              f"of {', '.join(ACTIVATIONS)}")
        super().__init__(settings)
        self.path = Path(settings.model).expanduser()
        self.requested_activation = settings.activation

    # -- cheap metadata -------------------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        config_file = self.path / "config.json"
        if not config_file.is_file():
            raise ScorerUnavailableError(
                f"scorer=hf: {self.path} is not a Hugging Face model directory (no config.json). Pass the "
                "directory save_pretrained() wrote, e.g. scorer.model=/path/to/my-toxicity-model"
            )
        try:
            return json.loads(config_file.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ScorerUnavailableError(f"scorer=hf: {config_file} is not valid JSON ({exc})") from exc

    def labels(self) -> list[str]:
        """The config's ``id2label`` names in id order (``LABEL_0``... when the config names none)."""
        config = self._config()
        if id2label := config.get("id2label"):
            labels = [str(name) for _, name in sorted(id2label.items(), key=lambda kv: int(kv[0]))]
        else:
            labels = [f"LABEL_{i}" for i in range(int(config.get("num_labels", 2)))]
        if len(set(labels)) != len(labels):
            raise ValueError(f"scorer=hf: {self.path}/config.json has duplicate label names {labels}")
        return labels

    def activation(self) -> str:
        """sigmoid, softmax or none: the override, else from ``problem_type`` and the label count."""
        if self.requested_activation != "auto":
            return self.requested_activation
        problem = self._config().get("problem_type")
        if problem == "regression":
            return "none"
        if problem == "multi_label_classification" or len(self.labels()) == 1:
            return "sigmoid"
        return "softmax"

    def weights_hash(self) -> str:
        """sha256 over the sha256s of the config, weight and tokenizer files (each memoised)."""
        self._config()  # a clear error when the directory is not a model directory
        files = sorted({f for pattern in _HASHED for f in self.path.glob(pattern) if f.is_file()})
        if not any(f.suffix in (".safetensors", ".bin") for f in files):
            raise ScorerUnavailableError(
                f"scorer=hf: no weights (*.safetensors or pytorch_model*.bin) in {self.path}"
            )
        digest = hashlib.sha256()
        for f in files:
            digest.update(f.name.encode("utf-8") + b"\0" + file_sha256(f, self.memo_dir).encode("ascii"))
        return digest.hexdigest()

    def identity(self) -> dict[str, str]:
        """Name, directory name, hash of its files, activation, precision, long-text policy (no loading)."""
        return {
            "name": self.name,
            "model": self.path.resolve().name,
            "weights": f"sha256:{self.weights_hash()}",
            "activation": self.activation(),
            **self.options.identity(),
        }

    # -- loading ----------------------------------------------------------------------------------------

    def load(self) -> None:
        """Load model and tokenizer from the directory, with the Hub offline."""
        if self.model is not None:
            return
        self._config()  # clear error when the directory is wrong
        device = resolve_device(self.options.device, self.options.precision)
        try:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            with hub_environment(offline=True):
                tokenizer = AutoTokenizer.from_pretrained(str(self.path))
                model = AutoModelForSequenceClassification.from_pretrained(str(self.path))
        except Exception as exc:  # noqa: BLE001 - one actionable message for any load failure
            raise ScorerUnavailableError(
                f"scorer=hf: could not load {self.path} ({type(exc).__name__}: {exc})"
            ) from exc
        model.eval()
        self.model, self.tokenizer = model.to(device), tokenizer
        self.device = device
        self.loads += 1
