"""Fast batched inference for sequence-classification transformers (shared by the Detoxify and HF backends).

How a call to :meth:`InferenceEngine.iter_scores` works:

1. Texts are taken in rounds of ``ROUND_TEXTS``; each round is tokenised once (fast tokenizer, no padding,
   no truncation), so token lengths are known exactly.
2. ``long_text=truncate`` keeps the first ``max_length`` tokens (special tokens included), exactly as the
   tokenizer's own ``truncation=True`` (and so ``Detoxify.predict``) does, and counts the texts cut.
   ``long_text=chunk`` cuts a long text into overlapping windows of ``max_length`` tokens covering all of
   it; each window is scored and the text's score is the max (or mean) over its windows. A text that fits
   has one window, so its score equals the truncate score.
3. Sequences are sorted by token length and cut into batches whose padded size (rows x longest) stays
   within ``token_budget`` tokens (and at most ``max_batch_size`` rows), at the cut points that minimise
   padding plus a per-batch overhead (:func:`make_batches`): a few % padding, bounded memory.
4. Batches run under ``torch.inference_mode`` at the chosen precision (``fp32``; ``bf16`` by autocast on
   CPU or GPU; ``fp16`` by autocast on GPU only; ``int8`` by dynamic quantization of the Linear layers, CPU
   only), in a fixed shuffled order so the progress bar's rate and ETA are representative; scores go back
   to their texts' positions, and each text is yielded as soon as all its windows are scored.
"""

from __future__ import annotations

import contextlib
import random
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import ConfigError

PRECISIONS = ("fp32", "bf16", "fp16", "int8")
LONG_TEXT_POLICIES = ("truncate", "chunk")
CHUNK_AGGREGATES = ("max", "mean")
ACTIVATIONS = ("sigmoid", "softmax", "none")
DEVICES = ("auto", "cpu", "cuda", "mps")
ROUND_TEXTS = 8192  # texts tokenised, sorted and batched together
_PROGRESS_DELAY_S = 2.0  # the bar appears only on runs longer than this
# The fixed cost of one forward pass, in tokens' worth of work (reading every weight once, kernel
# launches): what make_batches trades padding against. GPUs prefer fewer, bigger batches.
BATCH_OVERHEAD_TOKENS = {"cpu": 128, "cuda": 2048, "mps": 1024}


@dataclass(frozen=True)
class EngineOptions:
    """How to run the model: device, precision, batching, threads, long-text policy, progress bar.

    Field names are ``ScorerSettings``' own, so :meth:`from_settings` is the one place settings become
    engine options; bad values raise ConfigError naming ``scorer.<field>``.

    >>> from toolkit.settings import ScorerSettings
    >>> EngineOptions.from_settings(ScorerSettings(long_text="chunk")).identity()
    {'precision': 'fp32', 'long_text': 'chunk', 'chunk_aggregate': 'max', 'chunk_overlap': '64'}
    """

    device: str = "auto"
    precision: str = "fp32"
    batch_size: int = 256  # texts (windows) per batch
    token_budget: int = 8192  # padded tokens per batch
    threads: int | None = None  # torch intra-op threads (process-wide); None: torch's default
    long_text: str = "truncate"
    chunk_overlap: int = 64  # tokens shared by consecutive windows (long_text=chunk)
    chunk_aggregate: str = "max"
    progress: bool | None = None  # None: on when stderr is a terminal or in a notebook

    @classmethod
    def from_settings(cls, settings: Any) -> EngineOptions:
        """The engine options of a ``ScorerSettings`` (its fields of the same names)."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    def __post_init__(self) -> None:
        _check_choice("long_text", self.long_text, LONG_TEXT_POLICIES)
        _check_choice("chunk_aggregate", self.chunk_aggregate, CHUNK_AGGREGATES)
        for name, low in (("token_budget", 1), ("batch_size", 1), ("threads", 1), ("chunk_overlap", 0)):
            value = getattr(self, name)
            if (value is None and name != "threads") or (value is not None and int(value) < low):
                raise ConfigError(f"scorer.{name}", f"must be >= {low}, got {value}")
        check_device_precision(self.device, self.precision)  # e.g. fp16 on cpu: fail before loading

    def identity(self) -> dict[str, str]:
        """The options that change scores (cache key): precision and the long-text policy."""
        out = {"precision": self.precision, "long_text": self.long_text}
        if self.long_text == "chunk":
            out["chunk_aggregate"] = self.chunk_aggregate
            out["chunk_overlap"] = str(int(self.chunk_overlap))
        return out


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ConfigError(f"scorer.{name}", f"{value!r} is not supported; choose one of {', '.join(choices)}")


def check_device_precision(device: str, precision: str) -> None:
    """Fail early, before loading anything, on combinations that cannot work (``auto`` passes)."""
    kind = device.split(":")[0]
    _check_choice("device", kind, DEVICES)
    _check_choice("precision", precision, PRECISIONS)
    if precision == "fp16" and kind == "cpu":
        raise ConfigError(
            "scorer.precision", "precision=fp16 needs a GPU (cuda or mps); on a CPU use precision=bf16 (fast "
            "on CPUs with AVX512-BF16 or AMX) or precision=int8"
        )
    if precision == "int8" and kind in ("cuda", "mps"):
        raise ConfigError("scorer.precision", "precision=int8 (dynamic quantization) runs on the CPU only; use "
                          "device=cpu")


def resolve_device(device: str, precision: str = "fp32") -> str:
    """``auto`` -> cuda, then mps, then cpu (int8 always cpu); checks the precision fits the device."""
    if device == "auto":
        if precision == "int8":
            device = "cpu"
        else:
            import torch

            device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    check_device_precision(device, precision)
    return device


def cpu_has_native_bf16() -> bool | None:
    """Whether the CPU has bf16 instructions (AVX512-BF16 or AMX); None where we cannot tell."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return bool(set(flags.split()) & {"avx512_bf16", "amx_bf16"})


def make_batches(
    lengths: Sequence[int], token_budget: int, max_batch_size: int, overhead_tokens: int = 64
) -> list[list[int]]:
    """Indices grouped into batches of similar length, each within ``rows x longest <= token_budget``
    (a sequence longer than the budget alone) and ``rows <= max_batch_size``.

    The cut points minimise padded tokens plus ``overhead_tokens`` per batch (the fixed cost of a forward
    pass, in tokens' worth of work) over the length-sorted sequences, by dynamic programming: many short
    texts share big batches, and the few long ones are not padded to each other's length.

    >>> make_batches([3, 50, 4, 5], token_budget=16, max_batch_size=8, overhead_tokens=4)
    [[0, 2, 3], [1]]
    """
    n = len(lengths)
    if n == 0:
        return []
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")
    sorted_lengths = np.asarray(lengths, dtype=np.int64)[order]
    best = np.zeros(n + 1, dtype=np.float64)  # best[j]: cost of the first j sequences
    cut = np.zeros(n + 1, dtype=np.int64)  # start of the last batch in that optimum
    for j in range(1, n + 1):
        longest = int(sorted_lengths[j - 1])
        rows = max(1, min(int(max_batch_size), int(token_budget) // max(longest, 1), j))
        starts = np.arange(j - rows, j)  # the last batch is sorted[start:j]
        costs = best[starts] + overhead_tokens + (j - starts) * longest
        k = int(np.argmin(costs))
        best[j], cut[j] = costs[k], starts[k]
    batches: list[list[int]] = []
    j = n
    while j > 0:
        batches.append(order[cut[j] : j].tolist())
        j = int(cut[j])
    batches.reverse()
    return batches


def special_layout(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after a single text (e.g. ``[CLS]`` / ``[SEP]``)."""
    probe = "hello world"
    full = list(tokenizer(probe, add_special_tokens=True)["input_ids"])
    body = list(tokenizer(probe, add_special_tokens=False)["input_ids"])
    for start in range(len(full) - len(body) + 1):
        if full[start : start + len(body)] == body:
            return full[:start], full[start + len(body) :]
    raise ValueError(f"cannot tell where {type(tokenizer).__name__} puts its special tokens")


@dataclass
class Encoded:
    """Tokenised sequences of one round: windows (specials included) and the text each belongs to."""

    sequences: list[list[int]]
    owner: np.ndarray  # text index (within the round) of each sequence
    windows: np.ndarray  # number of sequences per text
    truncated: int = 0  # texts cut at max_length (truncate)
    chunked: int = 0  # texts split into more than one window (chunk)


@dataclass
class EngineStats:
    """What the engine did, summed over calls (for the report and the benchmark)."""

    texts: int = 0
    sequences: int = 0
    truncated: int = 0
    chunked: int = 0
    real_tokens: int = 0
    padded_tokens: int = 0
    batches: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain values, with padding efficiency and throughput."""
        out = asdict(self)
        extra = out.pop("extra")
        out["padding_efficiency"] = round(self.real_tokens / self.padded_tokens, 4) if self.padded_tokens else None
        out["texts_per_s"] = round(self.texts / self.seconds, 2) if self.seconds > 0 else None
        out["seconds"] = round(self.seconds, 3)
        return {**out, **extra}


def progress_enabled(flag: bool | None) -> bool:
    """Explicit flag, else: on in a Jupyter kernel or when stderr is a terminal."""
    if flag is not None:
        return bool(flag)
    ipython = sys.modules.get("IPython")  # a running Jupyter kernel, not merely an imported ipykernel
    if ipython is not None and type(ipython.get_ipython()).__name__ == "ZMQInteractiveShell":
        return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())  # sys.stderr may be None or lack isatty


class InferenceEngine:
    """A loaded sequence-classification model and tokenizer, run as described in the module docstring.

    ``model`` must return logits first (``model(input_ids=..., attention_mask=...)[0]``); ``num_labels``
    columns of them are kept. ``activation`` maps logits to scores (``sigmoid``: multi-label, e.g.
    Detoxify; ``softmax``: single-label classifiers; ``none``: raw outputs).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        num_labels: int,
        max_length: int | None,
        activation: str = "sigmoid",
        device: str = "cpu",
        options: EngineOptions | None = None,
    ) -> None:
        import torch

        _check_choice("activation", activation, ACTIVATIONS)
        self.options = options or EngineOptions()
        self.device = resolve_device(device, self.options.precision)
        if self.options.threads is not None:
            torch.set_num_threads(int(self.options.threads))
        self.tokenizer = tokenizer
        self.num_labels = int(num_labels)
        self.activation = activation
        self.max_length = int(max_length) if max_length else None
        self.prefix, self.suffix = special_layout(tokenizer)
        pad = getattr(tokenizer, "pad_token_id", None)
        self.pad_id = int(pad) if pad is not None else 0
        if self.max_length is not None and self.body_limit < 1:
            raise ValueError(f"max_length {self.max_length} leaves no room for text after special tokens")
        if self.options.long_text == "chunk":
            if self.max_length is None:
                raise ConfigError("scorer.long_text", "chunk needs a model with a known maximum length")
            if self.options.chunk_overlap >= self.body_limit:
                raise ConfigError("scorer.chunk_overlap", f"{self.options.chunk_overlap} must be smaller than "
                                  f"the window ({self.body_limit} text tokens)")
        self.model = self._prepare_model(model)
        self.stats = EngineStats()

    # -- setup ------------------------------------------------------------------------------------------

    @property
    def body_limit(self) -> int:
        """Text tokens that fit in one sequence beside the special tokens."""
        assert self.max_length is not None
        return self.max_length - len(self.prefix) - len(self.suffix)

    def _prepare_model(self, model: Any) -> Any:
        import torch

        model.eval()
        precision = self.options.precision
        if precision == "int8":
            model = model.to("cpu")
            quantize = getattr(getattr(torch, "ao", None), "quantization", None)
            if quantize is None or not hasattr(quantize, "quantize_dynamic"):
                raise RuntimeError("precision=int8 needs torch.ao.quantization.quantize_dynamic (not in this torch)")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.ao.quantization deprecation notices
                return quantize.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        model = model.to(self.device)
        if precision == "bf16":
            kind = self.device.split(":")[0]
            if kind == "cuda" and not torch.cuda.is_bf16_supported():
                raise ConfigError("scorer.precision", "bf16: this GPU does not support bfloat16; use precision=fp16")
            if kind == "cpu" and cpu_has_native_bf16() is False:
                warnings.warn(
                    "precision=bf16 on a CPU without AVX512-BF16/AMX: bfloat16 is emulated and slower than "
                    "fp32 here (use fp32 or int8 on this machine)",
                    RuntimeWarning,
                    stacklevel=4,
                )
        return model

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        import torch

        precision = self.options.precision
        if precision in ("bf16", "fp16"):
            dtype = torch.bfloat16 if precision == "bf16" else torch.float16
            return torch.autocast(device_type=self.device.split(":")[0], dtype=dtype)
        return contextlib.nullcontext()

    # -- tokenising -------------------------------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Tokenise once; truncate or cut into windows; add the special tokens."""
        bodies = self.tokenizer(
            list(texts),
            add_special_tokens=False,
            truncation=False,
            verbose=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        sequences: list[list[int]] = []
        owner: list[int] = []
        windows = np.zeros(len(bodies), dtype=np.int64)
        truncated = chunked = 0
        limit = self.body_limit if self.max_length is not None else None
        chunk = self.options.long_text == "chunk"
        stride = (limit - self.options.chunk_overlap) if (chunk and limit) else 0
        for index, body in enumerate(bodies):
            body = list(body)
            if limit is None or len(body) <= limit:
                pieces = [body]
            elif chunk:  # a window every ``stride`` tokens, the last one reaching the end
                pieces = [body[start : start + limit] for start in range(0, len(body) - limit + stride, stride)]
                chunked += 1
            else:
                pieces = [body[:limit]]
                truncated += 1
            for piece in pieces:
                sequences.append(self.prefix + piece + self.suffix)
                owner.append(index)
            windows[index] = len(pieces)
        return Encoded(sequences, np.asarray(owner, dtype=np.int64), windows, truncated, chunked)

    # -- scoring ----------------------------------------------------------------------------------------

    def _forward(self, sequences: list[list[int]]) -> np.ndarray:
        """Scores (float32 numpy, rows x num_labels) of one batch of token sequences."""
        import torch

        longest = max(len(s) for s in sequences)
        if self.device.startswith("cuda"):
            longest = -(-longest // 8) * 8  # tensor-core friendly shapes
        ids = np.full((len(sequences), longest), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(sequences), longest), dtype=np.int64)
        for row, seq in enumerate(sequences):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        outputs = self.model(input_ids=torch.from_numpy(ids).to(self.device),
                             attention_mask=torch.from_numpy(mask).to(self.device))
        logits = outputs[0][:, : self.num_labels].float()
        if self.activation == "sigmoid":
            logits = torch.sigmoid(logits)
        elif self.activation == "softmax":
            logits = torch.softmax(logits, dim=-1)
        return logits.cpu().numpy()

    def iter_scores(self, texts: Sequence[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(indices, scores)`` pairs: positions in ``texts`` and their float64 scores
        (rows x num_labels), each text exactly once, as soon as it is fully scored."""
        import torch

        texts = list(texts)
        if not texts:
            return
        bar = progress_bar(len(texts), self.options.progress)
        started = time.perf_counter()
        try:
            for offset in range(0, len(texts), ROUND_TEXTS):
                round_texts = texts[offset : offset + ROUND_TEXTS]
                encoded = self.encode(round_texts)
                yield from self._score_round(encoded, offset, bar, torch)
                self.stats.texts += len(round_texts)
                self.stats.truncated += encoded.truncated
                self.stats.chunked += encoded.chunked
        finally:
            self.stats.seconds += time.perf_counter() - started
            if bar is not None:
                bar.close()

    def _score_round(
        self, encoded: Encoded, offset: int, bar: Any, torch: Any
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        sequences, owner = encoded.sequences, encoded.owner
        lengths = [len(s) for s in sequences]
        overhead = BATCH_OVERHEAD_TOKENS.get(self.device.split(":")[0], 128)
        batches = make_batches(lengths, int(self.options.token_budget), int(self.options.batch_size), overhead)
        random.Random(len(sequences)).shuffle(batches)  # representative rate/ETA; results do not depend on it
        aggregate = self.options.chunk_aggregate
        remaining = encoded.windows.copy()
        acc = np.full((len(encoded.windows), self.num_labels), -np.inf if aggregate == "max" else 0.0, dtype=np.float64)
        self.stats.sequences += len(sequences)
        with torch.inference_mode(), self._autocast():
            for batch in batches:
                scores = self._forward([sequences[i] for i in batch]).astype(np.float64)
                self.stats.batches += 1
                self.stats.real_tokens += sum(lengths[i] for i in batch)
                self.stats.padded_tokens += len(batch) * max(lengths[i] for i in batch)
                rows = owner[batch]
                if aggregate == "max":
                    np.maximum.at(acc, rows, scores)
                else:
                    np.add.at(acc, rows, scores)
                np.subtract.at(remaining, rows, 1)
                done = np.unique(rows[remaining[rows] == 0])
                if done.size:
                    out = acc[done]
                    if aggregate == "mean":
                        out = out / encoded.windows[done, None]
                    if bar is not None:
                        bar.update(int(done.size))
                    yield done + offset, out


def progress_bar(total: int, flag: bool | None, desc: str = "scoring") -> Any:
    """A tqdm.auto bar (a widget in notebooks) with rate (texts/s) and ETA, shown only after a couple of seconds
    and only when progress is on (see :func:`progress_enabled`); else None."""
    if not progress_enabled(flag):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="text", desc=desc, delay=_PROGRESS_DELAY_S, dynamic_ncols=True,
                mininterval=0.5, smoothing=0.1)
