"""Shared fixtures of the scoring tests (loaded with ``pytest_plugins``): tiny Detoxify checkpoints.

The checkpoints are built once per session in Detoxify's own format, from the real uncased WordPiece
vocabulary (its first 5,000 entries, to keep the embedding small); a built-in mini vocabulary is used only
if ``../shared/data/vocab`` is absent.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from toolkit.testing import build_detoxify_checkpoint, build_hf_classifier

REPO_ROOT = Path(__file__).resolve().parents[1]
VOCAB_FILE = REPO_ROOT.parent / "shared" / "data" / "vocab" / "bert-base-uncased-vocab.txt"
VOCAB_SIZE = 5000
# Large enough random weights that scores spread over (0, 1) and depend on the text.
INIT_RANGE = 0.5

TEXTS = [
    "hello world",
    "you are an idiot and everyone knows it",
    "",
    "The quick brown fox jumps over the lazy dog.",
    "Ça va? Très bien, merci! 😀",
    "what a great and thoughtful comment, thank you",
    "no",
    " ".join(["this is a very long comment that goes on and on"] * 120),  # > 512 tokens: truncated
]


@dataclass(frozen=True)
class TinyDetoxify:
    """Paths of the session's tiny checkpoints."""

    checkpoint: Path  # model_type = the local config directory
    hub_checkpoint: Path  # model_type = "bert-base-uncased", as the official checkpoints (same weights)
    other_checkpoint: Path  # another seed: different weights
    config_dir: Path  # config.json + tokenizer files


def _vocab_file(base: Path) -> Path:
    if VOCAB_FILE.is_file():
        return VOCAB_FILE
    words = re.findall(r"[a-z]+", " ".join(TEXTS).lower()) + [
        "that",
        "it",
        "for",
        "on",
        "with",
        "as",
        "at",
        "be",
    ]
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *("##" + c for c in chars), *words]
    path = base / "mini-vocab.txt"
    path.write_text("\n".join(dict.fromkeys(tokens)) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_detoxify(tmp_path_factory: pytest.TempPathFactory) -> TinyDetoxify:
    """Three tiny Detoxify-format checkpoints sharing one config/tokenizer directory."""
    base = tmp_path_factory.mktemp("tiny-detoxify")
    vocab = _vocab_file(base)
    size = VOCAB_SIZE if vocab == VOCAB_FILE else None
    common = {"vocab_file": vocab, "vocab_size": size, "initializer_range": INIT_RANGE}
    checkpoint, config_dir = build_detoxify_checkpoint(base, seed=0, **common)
    hub_checkpoint, _ = build_detoxify_checkpoint(base, seed=0, model_type_dir=False, **common)
    other_checkpoint, _ = build_detoxify_checkpoint(base, seed=1, **common)
    return TinyDetoxify(checkpoint, hub_checkpoint, other_checkpoint, config_dir)


@dataclass(frozen=True)
class TinyHF:
    """Paths of the session's tiny Hugging Face classifiers (save_pretrained directories)."""

    single: Path  # id2label not_hate/hate, single_label_classification: softmax
    multi: Path  # three labels, multi_label_classification: sigmoid
    other: Path  # like ``single`` with other weights


@pytest.fixture(scope="session")
def tiny_hf(tmp_path_factory: pytest.TempPathFactory) -> TinyHF:
    """Tiny local HF sequence classifiers for ``scorer=hf``."""
    base = tmp_path_factory.mktemp("tiny-hf")
    vocab = _vocab_file(base)
    common = {"vocab_file": vocab, "vocab_size": VOCAB_SIZE if vocab == VOCAB_FILE else None,
              "initializer_range": INIT_RANGE}
    single = build_hf_classifier(base / "hate-speech", **common)
    multi = build_hf_classifier(base / "multi", labels=("toxic", "insult", "threat"),
                                problem_type="multi_label_classification", **common)
    other = build_hf_classifier(base / "hate-speech-2", seed=1, **common)
    return TinyHF(single, multi, other)


@pytest.fixture(scope="session")
def vocab_file() -> Path | None:
    """The shared uncased WordPiece vocabulary, if present."""
    return VOCAB_FILE if VOCAB_FILE.is_file() else None


@pytest.fixture
def sample_texts() -> list[str]:
    """Texts of mixed lengths (one past the 512-token limit), an empty one, non-ASCII ones."""
    return list(TEXTS)


@pytest.fixture
def comments() -> pl.DataFrame:
    """A small comment frame with a null text, an empty text and duplicates."""
    return pl.DataFrame(
        {
            "comment_id": [f"c{i}" for i in range(7)],
            "text": ["hello world", None, "you are an idiot", "", "hello world", "you are an idiot", "fine"],
        }
    )
