"""The Detoxify backend on tiny checkpoints through Detoxify's real loading code, offline."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import detoxify.detoxify as dx
import huggingface_hub.constants as hf_constants
import pytest
import torch.hub
from scoring_helpers import detoxify_scorer

from toolkit.scoring import ScorerUnavailableError
from toolkit.scoring import detoxify_backend as backend

if TYPE_CHECKING:
    from scoring_fixtures import TinyDetoxify

pytest_plugins = ["scoring_fixtures"]

TOLERANCE = 1e-5


def _assert_close(ours: dict[str, list[float]], reference: dict[str, list[float]]) -> None:
    assert list(ours) == list(reference)
    for label, values in reference.items():
        assert len(ours[label]) == len(values)
        for a, b in zip(ours[label], values, strict=True):
            assert abs(a - b) <= TOLERANCE, (label, a, b)


def test_scores_equal_detoxify_predict(
    tiny_detoxify: TinyDetoxify, sample_texts: list[str], tmp_path: Path
) -> None:
    reference = dx.Detoxify(checkpoint=str(tiny_detoxify.checkpoint)).predict(sample_texts)
    for batch_size in (1, 3, 32):
        scorer = detoxify_scorer(
            checkpoint=tiny_detoxify.checkpoint, batch_size=batch_size, cache_dir=tmp_path
        )
        _assert_close(scorer.predict(sample_texts), reference)
    spread = max(reference["toxicity"]) - min(reference["toxicity"])
    assert spread > 0.05  # the tiny model's scores depend on the text, so order mix-ups would show


def test_one_text_and_no_text(tiny_detoxify: TinyDetoxify, tmp_path: Path) -> None:
    """Detoxify.predict gives floats for one text and raises on []: we always give lists."""
    reference = dx.Detoxify(checkpoint=str(tiny_detoxify.checkpoint)).predict("hello world")
    assert isinstance(reference["toxicity"], float)
    scorer = detoxify_scorer(checkpoint=tiny_detoxify.checkpoint, cache_dir=tmp_path)
    ours = scorer.predict(["hello world"])
    _assert_close(ours, {k: [v] for k, v in reference.items()})
    fresh = detoxify_scorer(checkpoint=tiny_detoxify.checkpoint, cache_dir=tmp_path)
    assert fresh.predict([]) == {label: [] for label in ours}
    assert fresh.model is None  # nothing to score: nothing loaded
    with pytest.raises(ValueError, match="null"):
        scorer.predict(["a", None])  # type: ignore[list-item]


def test_labels_and_identity_do_not_load(tiny_detoxify: TinyDetoxify, tmp_path: Path) -> None:
    scorer = detoxify_scorer(checkpoint=tiny_detoxify.checkpoint, cache_dir=tmp_path)
    identity = scorer.identity()
    labels = scorer.labels()
    assert scorer.model is None and scorer.loads == 0
    assert labels == ["toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack"]
    assert (
        identity["name"] == "detoxify"
        and identity["precision"] == "fp32"
        and identity["long_text"] == "truncate"
    )
    assert identity["weights"].startswith("sha256:") and len(identity["weights"]) == len("sha256:") + 64
    assert identity["model"] == tiny_detoxify.checkpoint.stem
    scorer.load()
    assert scorer.loads == 1 and scorer.labels() == labels


def test_checkpoint_hash_is_memoised(
    tiny_detoxify: TinyDetoxify, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = detoxify_scorer(checkpoint=tiny_detoxify.checkpoint, cache_dir=tmp_path).identity()
    assert (tmp_path / "checkpoint_hashes.json").is_file()

    def no_hashing(*args: object, **kwargs: object) -> None:
        raise AssertionError("the checkpoint was hashed again")

    with monkeypatch.context() as patch:
        patch.setattr("toolkit.scoring.cache.hashlib.sha256", no_hashing)
        assert detoxify_scorer(checkpoint=tiny_detoxify.checkpoint, cache_dir=tmp_path).identity() == first
    other = detoxify_scorer(checkpoint=tiny_detoxify.other_checkpoint, cache_dir=tmp_path).identity()
    assert other["weights"] != first["weights"]


def test_official_identity_needs_nothing(tmp_path: Path) -> None:
    scorer = detoxify_scorer(model="unbiased", cache_dir=tmp_path)
    assert scorer.identity() == {
        "name": "detoxify",
        "model": "unbiased",
        "weights": "toxic_debiased-c7548aa0.ckpt",
        "precision": "fp32",
        "long_text": "truncate",
    }
    assert scorer.labels()[-1] == "sexual_explicit" and scorer.model is None
    with pytest.raises(ValueError, match="unknown Detoxify model"):
        detoxify_scorer(model="bogus")


def test_model_urls_match_detoxify() -> None:
    """Our copy (so identity() imports nothing heavy) must equal Detoxify's table."""
    assert backend.MODEL_URLS == dx.MODEL_URLS


def test_torch_hub_dir_matches_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert backend.torch_hub_dir() == Path(torch.hub.get_dir())
    assert backend.official_weights_path("original") == tmp_path / "th" / "hub" / "checkpoints" / (
        "toxic_original-c1212f89.ckpt"
    )


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every name look-up and connection this process tries, recorded and refused (as with no network)."""
    tried: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        tried.append(args[1:] if args and isinstance(args[0], socket.socket) else args)
        raise OSError("network refused by the test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return tried


@pytest.mark.parametrize("preset", [None, "0"])
def test_hub_environment_is_restored_even_on_error(preset: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside: Hub offline (variable and huggingface_hub's constant), no progress bars. After, even when the
    load fails: the whole environment and the constant as they were (an unset variable stays unset)."""
    from transformers.utils import logging as hf_logging

    if preset is None:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", preset)
    env, offline, tqdm = dict(os.environ), hf_constants.HF_HUB_OFFLINE, hf_logging._tqdm_active
    with pytest.raises(OSError), backend.hub_environment(offline=True):
        assert os.environ["HF_HUB_OFFLINE"] == "1" and hf_constants.HF_HUB_OFFLINE is True
        assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1" and hf_logging._tqdm_active is False
        raise OSError("load failed")
    assert (dict(os.environ), hf_constants.HF_HUB_OFFLINE, hf_logging._tqdm_active) == (env, offline, tqdm)
    with backend.hub_environment(offline=False):
        assert (os.environ.get("HF_HUB_OFFLINE"), hf_constants.HF_HUB_OFFLINE) == (preset, offline)
    assert dict(os.environ) == env


def test_official_style_checkpoint_loads_offline_with_local_config(
    tiny_detoxify: TinyDetoxify, sample_texts: list[str], tmp_path: Path, no_network: list[object]
) -> None:
    """An official-style checkpoint (model_type 'bert-base-uncased') + a local config dir: no network, no retries."""
    offline_before, env_before = hf_constants.HF_HUB_OFFLINE, os.environ.get("HF_HUB_OFFLINE")
    scorer = detoxify_scorer(
        checkpoint=tiny_detoxify.hub_checkpoint, hf_config_path=tiny_detoxify.config_dir, cache_dir=tmp_path
    )
    scorer.load()
    assert no_network == [] and scorer.loads == 1  # loaded at the first try, nothing asked of the network
    assert (hf_constants.HF_HUB_OFFLINE, os.environ.get("HF_HUB_OFFLINE")) == (offline_before, env_before)
    reference = dx.Detoxify(checkpoint=str(tiny_detoxify.checkpoint)).predict(sample_texts)  # same weights
    _assert_close(scorer.predict(sample_texts), reference)
    # The loaded object is a real Detoxify: its own predict agrees too.
    _assert_close({k: list(v) for k, v in scorer.detoxify.predict(sample_texts[:3]).items()},
                  {k: v[:3] for k, v in reference.items()})  # fmt: skip


def test_official_style_checkpoint_without_config_fails_clearly(
    tiny_detoxify: TinyDetoxify, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[object]
) -> None:
    monkeypatch.setattr(backend, "hub_reachable", lambda timeout=3.0: False)
    attempts: list[bool] = []
    real_environment = backend.hub_environment

    def recorded(offline: bool):
        attempts.append(offline)
        return real_environment(offline)

    monkeypatch.setattr(backend, "hub_environment", recorded)
    scorer = detoxify_scorer(checkpoint=tiny_detoxify.hub_checkpoint, cache_dir=tmp_path)
    with pytest.raises(ScorerUnavailableError, match=r"scorer\.hf_config_path="):
        scorer.load()
    # offline mode first and only (the Hub is unreachable): no ~25 s of Hub retries, no connection tried
    assert attempts == [True] and no_network == []
    assert scorer.model is None


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    scorer = detoxify_scorer(checkpoint=tmp_path / "nope.ckpt", cache_dir=tmp_path)
    with pytest.raises(ScorerUnavailableError, match="checkpoint not found"):
        scorer.identity()


def test_download_failure_says_how_to_supply_a_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urllib.error import URLError

    def refuse(url: str, dst: str, *args: object, **kwargs: object) -> None:
        raise URLError("no network")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    scorer = detoxify_scorer(model="original", cache_dir=tmp_path)
    with pytest.raises(ScorerUnavailableError) as info:
        scorer.predict(["hello"])
    message = str(info.value)
    assert "scorer.checkpoint=/path/to/toxic_original-c1212f89.ckpt" in message
    assert "scorer.hf_config_path=/path/to/bert-base-uncased" in message
    assert str(tmp_path / "th" / "hub" / "checkpoints" / "toxic_original-c1212f89.ckpt") in message
    assert scorer.model is None
