"""Random Detoxify-format checkpoints and Hugging Face classifiers, built offline from a WordPiece vocabulary.

Public because users need them too: Detoxify's real weights need a download, so a test suite or benchmark
of one's own pipeline (CI, a cluster node without network) builds a tiny or full-size checkpoint here and
runs the real ``Detoxify(checkpoint=...)`` loading path (``scorer.checkpoint=``) or ``scorer=hf`` on it.
Random weights: the scores mean nothing, but speed and agreement between code paths can be measured.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ORIGINAL_CLASSES = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
HUB_MODEL_TYPE = "bert-base-uncased"
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def reduced_vocab(vocab_file: str | os.PathLike[str], size: int | None = None) -> list[str]:
    """The first ``size`` entries (all when None) of a BERT WordPiece vocabulary, checked to keep the specials.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "vocab.txt"
    >>> _ = path.write_text("\\n".join([*SPECIAL_TOKENS, "the", "a"]))
    >>> reduced_vocab(path, 6)[-1]
    'the'
    """
    kept = Path(vocab_file).read_text(encoding="utf-8").splitlines()[:size]
    missing = [t for t in SPECIAL_TOKENS if t not in kept]
    if missing:
        raise ValueError(f"the first {size} entries of {vocab_file} lack the special tokens {missing}")
    return kept


def _bert(out: Path, vocab_file: str | os.PathLike[str], vocab_size: int | None, **config: Any) -> Any:
    """Save a BERT tokenizer in ``out`` (really reading the vocabulary); return a BertConfig over that vocabulary.

    Under transformers 5, ``BertTokenizer(vocab_file=...)`` silently ignores the file (a 5-token vocabulary,
    everything [UNK]); ``from_pretrained`` on a directory with vocab.txt reads it.
    """
    from transformers import BertConfig, BertTokenizer

    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.txt").write_text("\n".join(reduced_vocab(vocab_file, vocab_size)) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer.from_pretrained(str(out), do_lower_case=True,
                                              model_max_length=config["max_position_embeddings"])
    n_vocab = len((out / "vocab.txt").read_text(encoding="utf-8").splitlines())
    if len(tokenizer) != n_vocab:
        raise RuntimeError(f"tokenizer has {len(tokenizer)} tokens but vocab.txt has {n_vocab}: vocabulary not read")
    tokenizer.save_pretrained(str(out))
    return BertConfig(vocab_size=n_vocab, **config)


def build_detoxify_checkpoint(
    out_dir: str | os.PathLike[str],
    *,
    vocab_file: str | os.PathLike[str],
    num_layers: int = 2,
    hidden_size: int = 32,
    heads: int = 2,
    intermediate_size: int = 64,
    num_labels: int = 6,
    classes: list[str] | tuple[str, ...] | None = None,
    model_type_dir: bool = True,
    seed: int = 0,
    vocab_size: int | None = None,
    max_position_embeddings: int = 512,
    initializer_range: float = 0.02,
    name: str | None = None,
) -> tuple[Path, Path]:
    """Write ``<out_dir>/<name>.ckpt`` (Detoxify's format) and ``<out_dir>/hf_config/``; return both paths.

    The checkpoint is ``{"config": {"arch": {"args": {model_type, model_name, tokenizer_name,
    num_classes}}, "dataset": {"args": {"classes": [...]}}}, "state_dict": ...}`` as Detoxify's own files.
    ``model_type_dir=True`` names the local config directory as ``model_type`` (loads anywhere, offline);
    ``False`` names the Hub model ``bert-base-uncased`` like the official checkpoints, so it loads offline
    only with ``hf_config_path=<the directory>``. The directory's config.json is Hub-like (no label count:
    Detoxify passes ``num_classes``). ``vocab_size`` keeps only the first entries of ``vocab_file``
    (faster tests); the embedding size always equals the vocabulary size. ``initializer_range`` sets the
    random weights' spread (0.02 is BERT's; larger gives scores spread over [0, 1]).
    """
    import torch
    from transformers import BertForSequenceClassification

    classes = list(classes) if classes is not None else list(ORIGINAL_CLASSES)
    if len(classes) > num_labels:
        raise ValueError(f"{len(classes)} classes but only num_labels={num_labels} outputs")
    out = Path(out_dir).expanduser().resolve()
    config_dir = out / "hf_config"
    config = _bert(config_dir, vocab_file, vocab_size, hidden_size=hidden_size, num_hidden_layers=num_layers,
                      num_attention_heads=heads, intermediate_size=intermediate_size,
                      max_position_embeddings=max_position_embeddings, initializer_range=initializer_range)
    config.save_pretrained(str(config_dir))  # Hub-like: default 2 labels, Detoxify overrides with num_classes
    config.num_labels = num_labels
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config)
    model.eval()
    state_dict = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    arch = {"model_type": str(config_dir) if model_type_dir else HUB_MODEL_TYPE,
            "model_name": "BertForSequenceClassification", "tokenizer_name": "BertTokenizer", "num_classes": num_labels}
    config_entry = {"arch": {"args": arch}, "dataset": {"args": {"classes": classes}}}
    hub = "" if model_type_dir else "-hub"
    stem = name or f"detoxify-bert-L{num_layers}-H{hidden_size}-V{config.vocab_size}-s{seed}{hub}"
    ckpt_path = out / f"{stem}.ckpt"
    tmp = out / f".{stem}.ckpt.tmp"
    torch.save({"config": config_entry, "state_dict": state_dict}, tmp)
    os.replace(tmp, ckpt_path)
    return ckpt_path, config_dir


def build_hf_classifier(
    out_dir: str | os.PathLike[str],
    *,
    vocab_file: str | os.PathLike[str],
    labels: list[str] | tuple[str, ...] = ("not_hate", "hate"),
    problem_type: str | None = "single_label_classification",
    num_layers: int = 2,
    hidden_size: int = 32,
    heads: int = 2,
    intermediate_size: int = 64,
    vocab_size: int | None = None,
    max_position_embeddings: int = 512,
    initializer_range: float = 0.02,
    seed: int = 0,
) -> Path:
    """Write a random BERT sequence classifier with ``save_pretrained`` (what ``scorer=hf`` loads): config with
    ``id2label`` and ``problem_type``, safetensors weights, tokenizer files. Returns the directory."""
    import torch
    from transformers import BertForSequenceClassification

    out = Path(out_dir).expanduser().resolve()
    config = _bert(out, vocab_file, vocab_size, hidden_size=hidden_size, num_hidden_layers=num_layers,
                      num_attention_heads=heads, intermediate_size=intermediate_size,
                      max_position_embeddings=max_position_embeddings, initializer_range=initializer_range,
                      num_labels=len(labels), id2label=dict(enumerate(labels)),
                      label2id={label: i for i, label in enumerate(labels)}, problem_type=problem_type)
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(str(out))
    return out
