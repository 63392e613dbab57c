"""The inference engine on the tiny checkpoint: batching, equality with Detoxify, precisions, long texts."""

from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import detoxify.detoxify as dx
import numpy as np
import polars as pl
import pytest
import torch
from scoring_helpers import detoxify_scorer

from toolkit.errors import ConfigError
from toolkit.scoring import DetoxifyScorer, score_frame
from toolkit.scoring import engine as eng
from toolkit.settings import ScorerSettings

if TYPE_CHECKING:
    from scoring_fixtures import TinyDetoxify

pytest_plugins = ["scoring_fixtures"]

LONG = " ".join(f"word{i % 50} is here" for i in range(400))  # ~1600 tokens: four windows of 512


@pytest.fixture(scope="module")
def reference(tiny_detoxify: TinyDetoxify) -> dx.Detoxify:
    return dx.Detoxify(checkpoint=str(tiny_detoxify.checkpoint))


def _scorer(tiny: TinyDetoxify, tmp_path: Path, **options: object) -> DetoxifyScorer:
    return detoxify_scorer(checkpoint=tiny.checkpoint, cache_dir=tmp_path, **options)  # type: ignore[arg-type]


def _max_diff(a: dict[str, list[float]], b: dict[str, list[float]]) -> float:
    assert list(a) == list(b)
    return max(float(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k])))) for k in b)


# -- batching -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("budget", [1, 40, 100, 10_000])
def test_batches_cover_everything_within_budget(budget: int) -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=300).tolist() + [500, 3]
    batches = eng.make_batches(lengths, budget, 16)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 16
        longest = max(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * longest <= budget
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat)  # batches hold neighbours in length order
    assert eng.make_batches([], 10, 4) == []


def test_batches_pad_little() -> None:
    """Dynamic-programming cuts: heavy-tailed lengths waste only a few % on padding."""
    rng = np.random.default_rng(1)
    lengths = np.clip(rng.lognormal(np.log(30), 1.2, size=2000), 3, 512).astype(int).tolist()
    batches = eng.make_batches(lengths, 8192, 256)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded <= 1.05 * sum(lengths)
    assert len(batches) < 200


def test_special_layout_and_real_words(tiny_detoxify: TinyDetoxify, tmp_path: Path) -> None:
    scorer = _scorer(tiny_detoxify, tmp_path)
    scorer.load()
    prefix, suffix = eng.special_layout(scorer.tokenizer)
    assert prefix == [scorer.tokenizer.cls_token_id] and suffix == [scorer.tokenizer.sep_token_id]
    ids = scorer.tokenizer("the people", add_special_tokens=False)["input_ids"]
    assert scorer.tokenizer.unk_token_id not in ids  # the real vocabulary was read


# -- fp32 equality with Detoxify, truncation ----------------------------------------------------------------


@pytest.mark.parametrize(("budget", "batch"), [(16, 256), pytest.param(600, 3, marks=pytest.mark.slow), (100_000, 256)])
def test_fp32_equals_detoxify_predict(
    tiny_detoxify: TinyDetoxify, reference: dx.Detoxify, sample_texts: list[str], tmp_path: Path,
    budget: int, batch: int,
) -> None:
    texts = [*sample_texts, LONG, "hello world"]  # a duplicate too
    expected = reference.predict(texts)
    scorer = _scorer(tiny_detoxify, tmp_path, token_budget=budget, batch_size=batch)
    assert _max_diff(scorer.predict(texts), expected) < 1e-5
    stats = scorer.run_stats()
    assert stats["truncated"] == 2 and stats["texts"] == len(texts) and stats["device"] == "cpu"


def test_truncation_is_reported(tiny_detoxify: TinyDetoxify, sample_texts: list[str], tmp_path: Path) -> None:
    result = score_frame(pl.DataFrame({"text": sample_texts}), _scorer(tiny_detoxify, tmp_path), cache_dir=tmp_path)
    assert result.report.extra["n_truncated"] == 1
    assert result.report.extra["engine"]["padding_efficiency"] > 0.5


# -- long texts: chunk --------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("aggregate", ["max", "mean"])
def test_chunk_scores_every_window(
    tiny_detoxify: TinyDetoxify, reference: dx.Detoxify, tmp_path: Path, aggregate: str
) -> None:
    scorer = _scorer(tiny_detoxify, tmp_path, long_text="chunk", chunk_overlap=50, chunk_aggregate=aggregate)
    short = "a short one"
    got = scorer.predict([short, LONG])
    engine = scorer.get_engine()
    encoded = engine.encode([LONG])
    assert encoded.windows.tolist() == [len(encoded.sequences)] and len(encoded.sequences) >= 3
    limit = engine.body_limit
    bodies = [s[1:-1] for s in encoded.sequences]
    assert all(len(s) <= 512 for s in encoded.sequences)
    assert bodies[0][-50:] == bodies[1][:50]  # consecutive windows overlap by chunk_overlap tokens
    whole = scorer.tokenizer(LONG, add_special_tokens=False)["input_ids"]
    assert bodies[0] == whole[:limit] and bodies[-1] == whole[-len(bodies[-1]):]  # the whole text is covered
    with torch.inference_mode():
        per_window = np.stack([engine._forward([s])[0] for s in encoded.sequences])
    expected = per_window.max(axis=0) if aggregate == "max" else per_window.mean(axis=0)
    labels = scorer.labels()
    assert np.allclose([got[label][1] for label in labels], expected, atol=1e-5)
    # a text that fits in one window scores as with truncate (= Detoxify)
    plain = reference.predict([short, "x"])
    assert abs(got["toxicity"][0] - plain["toxicity"][0]) < 1e-5
    assert scorer.run_stats()["chunked"] == 1 and scorer.run_stats()["truncated"] == 0


def test_long_text_policy_is_in_the_cache_key(tiny_detoxify: TinyDetoxify, tmp_path: Path) -> None:
    keys = set()
    for options in ({}, {"long_text": "chunk"}, {"long_text": "chunk", "chunk_aggregate": "mean"},
                    {"long_text": "chunk", "chunk_overlap": 10}, {"precision": "bf16"}, {"precision": "int8"}):
        identity = _scorer(tiny_detoxify, tmp_path, **options).identity()
        keys.add(tuple(sorted(identity.items())))
    assert len(keys) == 6
    chunk = _scorer(tiny_detoxify, tmp_path, long_text="chunk").identity()
    assert (chunk["long_text"], chunk["chunk_aggregate"], chunk["chunk_overlap"]) == ("chunk", "max", "64")


def test_bad_options_are_clear(tiny_detoxify: TinyDetoxify, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="precision"):
        _scorer(tiny_detoxify, tmp_path, precision="fp8")
    with pytest.raises(ValueError, match="long_text"):
        _scorer(tiny_detoxify, tmp_path, long_text="drop")
    with pytest.raises(ValueError, match="chunk_aggregate"):
        _scorer(tiny_detoxify, tmp_path, long_text="chunk", chunk_aggregate="median")
    with pytest.raises(ValueError, match="chunk_overlap"):
        _scorer(tiny_detoxify, tmp_path, long_text="chunk", chunk_overlap=600).predict(["x"])
    with pytest.raises(ValueError, match="device"):
        _scorer(tiny_detoxify, tmp_path, device="tpu")


def test_engine_options_come_from_the_settings() -> None:
    """One mapping, field by field; a bad value names its scorer.<field> key."""
    settings = ScorerSettings(name="hf", batch_size=3, long_text="chunk", chunk_overlap=5, threads=2, device="cpu")
    assert eng.EngineOptions.from_settings(settings) == eng.EngineOptions(
        device="cpu", precision="fp32", batch_size=3, token_budget=8192, threads=2, long_text="chunk",
        chunk_overlap=5, chunk_aggregate="max", progress=None,
    )
    with pytest.raises(ConfigError, match=r"^scorer\.token_budget: must be >= 1, got 0$"):
        eng.EngineOptions.from_settings(ScorerSettings(token_budget=0))
    with pytest.raises(ConfigError, match=r"^scorer\.long_text: 'drop' is not supported; choose one of truncate, chunk$"):
        eng.EngineOptions(long_text="drop")


# -- precision, device, threads -----------------------------------------------------------------------------


def test_fp16_needs_a_gpu(tiny_detoxify: TinyDetoxify, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"fp16 needs a GPU.*bf16"):
        _scorer(tiny_detoxify, tmp_path, precision="fp16", device="cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    scorer = _scorer(tiny_detoxify, tmp_path, precision="fp16")  # device=auto: found out at load time
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        scorer.predict(["hello"])
    assert eng.resolve_device("auto") == "cpu"
    with pytest.raises(ValueError, match="int8.*CPU only"):
        eng.check_device_precision("cuda", "int8")


@pytest.mark.slow
def test_bf16_and_int8_agree_roughly(
    tiny_detoxify: TinyDetoxify, reference: dx.Detoxify, sample_texts: list[str], tmp_path: Path
) -> None:
    expected = reference.predict(sample_texts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # bf16 emulated on CPUs without AVX512-BF16
        bf16 = _scorer(tiny_detoxify, tmp_path, precision="bf16")
        assert _max_diff(bf16.predict(sample_texts), expected) < 0.1  # large random weights: a hard case
    int8 = _scorer(tiny_detoxify, tmp_path, precision="int8")
    got = int8.predict(sample_texts)
    # Dynamic int8 on large random weights: a few texts move by up to ~0.25 depending on the CPU's int8 kernels
    # (fbgemm per instruction set), so the bound is on the mean error per label, the max only loosely.
    mean_error = max(float(np.mean(np.abs(np.asarray(got[k]) - np.asarray(expected[k])))) for k in expected)
    assert mean_error < 0.1 and _max_diff(got, expected) < 0.4
    assert int8.detoxify.model is int8.model  # the fp32 model is kept; the engine runs a quantized copy
    query = int8.get_engine().model.bert.encoder.layer[0].attention.self.query
    assert "quantized" in type(query).__module__ and query.weight().dtype == torch.qint8


def test_bf16_warns_without_native_support(
    tiny_detoxify: TinyDetoxify, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(eng, "cpu_has_native_bf16", lambda: False)
    with pytest.warns(RuntimeWarning, match="AVX512-BF16"):
        _scorer(tiny_detoxify, tmp_path, precision="bf16", device="cpu").predict(["hello"])


def test_threads_setting(tiny_detoxify: TinyDetoxify, tmp_path: Path) -> None:
    before = torch.get_num_threads()
    try:
        scorer = _scorer(tiny_detoxify, tmp_path, threads=1)
        scorer.predict(["hello"])
        assert torch.get_num_threads() == 1 and scorer.run_stats()["threads"] == 1
    finally:
        torch.set_num_threads(before)


# -- progress bar -------------------------------------------------------------------------------------------


def test_progress_quiet_in_tests_and_shown_when_asked(
    tiny_detoxify: TinyDetoxify, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal, not a notebook: no bar by default
    assert eng.progress_enabled(None) is False
    monkeypatch.undo()
    assert eng.progress_enabled(True) is True
    _scorer(tiny_detoxify, tmp_path).predict(["hello", "world"])
    assert "text/s" not in capsys.readouterr().err
    monkeypatch.setattr(eng, "_PROGRESS_DELAY_S", 0.0)
    _scorer(tiny_detoxify, tmp_path, progress=True).predict(["hello", "world"])
    err = capsys.readouterr().err
    assert "scoring" in err and "2/2" in err and "text/s" in err
