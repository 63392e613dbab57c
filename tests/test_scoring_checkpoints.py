"""The Detoxify-format checkpoint builder: the format, the tokenizer (really reading the vocabulary), sizes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch
from transformers import BertTokenizer

from toolkit.testing import ORIGINAL_CLASSES, build_detoxify_checkpoint, reduced_vocab

if TYPE_CHECKING:
    from scoring_fixtures import TinyDetoxify

pytest_plugins = ["scoring_fixtures"]


def test_checkpoint_has_detoxify_format(tiny_detoxify: TinyDetoxify) -> None:
    loaded = torch.load(tiny_detoxify.checkpoint, map_location="cpu", weights_only=False)
    assert set(loaded) == {"config", "state_dict"}
    args = loaded["config"]["arch"]["args"]
    assert args == {
        "model_type": str(tiny_detoxify.config_dir),
        "model_name": "BertForSequenceClassification",
        "tokenizer_name": "BertTokenizer",
        "num_classes": 6,
    }
    assert loaded["config"]["dataset"]["args"]["classes"] == list(ORIGINAL_CLASSES)
    assert loaded["state_dict"]["classifier.weight"].shape == (6, 32)

    hub = torch.load(tiny_detoxify.hub_checkpoint, map_location="cpu", weights_only=False)
    assert hub["config"]["arch"]["args"]["model_type"] == "bert-base-uncased"
    for name, tensor in loaded["state_dict"].items():  # same seed, same weights
        assert torch.equal(tensor, hub["state_dict"][name]), name


def test_tokenizer_reads_the_vocabulary(tiny_detoxify: TinyDetoxify) -> None:
    """transformers 5 trap: BertTokenizer(vocab_file=...) gives a 5-token vocabulary; ours must not."""
    tokenizer = BertTokenizer.from_pretrained(str(tiny_detoxify.config_dir))
    vocab_lines = (tiny_detoxify.config_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert len(tokenizer) == len(vocab_lines) > 100
    ids = tokenizer("The world is great and you are an idiot")["input_ids"]
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.convert_ids_to_tokens(ids)[1:4] == ["the", "world", "is"]


def test_embedding_matches_vocabulary(tiny_detoxify: TinyDetoxify) -> None:
    loaded = torch.load(tiny_detoxify.checkpoint, map_location="cpu", weights_only=False)
    config = json.loads((tiny_detoxify.config_dir / "config.json").read_text())
    n_vocab = len((tiny_detoxify.config_dir / "vocab.txt").read_text(encoding="utf-8").splitlines())
    assert loaded["state_dict"]["bert.embeddings.word_embeddings.weight"].shape[0] == n_vocab
    assert config["vocab_size"] == n_vocab
    assert "num_labels" not in config and len(config.get("id2label", {})) in (0, 2)  # Hub-like config


def test_other_seed_other_weights(tiny_detoxify: TinyDetoxify) -> None:
    a = torch.load(tiny_detoxify.checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    b = torch.load(tiny_detoxify.other_checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    assert not torch.equal(a["classifier.weight"], b["classifier.weight"])


def test_reduced_vocab_keeps_specials(vocab_file: Path | None) -> None:
    if vocab_file is None:
        pytest.skip("../shared/data/vocab not present")
    vocab = reduced_vocab(vocab_file, 2000)
    assert len(vocab) == 2000
    assert vocab[0] == "[PAD]" and "[UNK]" in vocab and "the" in vocab


def test_builder_options(tmp_path: Path) -> None:
    vocab = tmp_path / "v.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "##b"]) + "\n")
    classes = ["toxicity", "insult", "threat"]
    ckpt, config_dir = build_detoxify_checkpoint(
        tmp_path / "out", vocab_file=vocab, num_layers=1, hidden_size=8, heads=2, intermediate_size=8,
        num_labels=4, classes=classes, name="custom",
    )  # fmt: skip
    assert ckpt.name == "custom.ckpt" and (config_dir / "tokenizer_config.json").is_file()
    loaded = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert loaded["config"]["arch"]["args"]["num_classes"] == 4
    assert loaded["config"]["dataset"]["args"]["classes"] == classes
    with pytest.raises(ValueError, match="classes"):
        build_detoxify_checkpoint(tmp_path / "bad", vocab_file=vocab, num_labels=2)
