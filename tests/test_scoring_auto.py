"""scorer=auto: Detoxify when its weights are on disk or downloadable, else the profanity scorer, fast."""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.error import URLError

import detoxify.detoxify as dx
import polars as pl
import pytest
import torch.hub

from toolkit.errors import ConfigError
from toolkit.scoring import (
    DetoxifyScorer,
    ProfanityScorer,
    ScorerFallbackWarning,
    ScorerSettings,
    ScorerUnavailableError,
    make_scorer,
    resolve_scorer,
    score_frame,
    scorer_settings,
)
from toolkit.scoring import detoxify_backend as backend

if TYPE_CHECKING:
    from scoring_fixtures import TinyDetoxify

pytest_plugins = ["scoring_fixtures"]


@pytest.fixture
def empty_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub directory of this test's own: no real cached weights are found."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    hub = Path(torch.hub.get_dir())
    assert hub == tmp_path / "torch-home" / "hub"
    return hub


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """torch hub downloads fail at once, as with no network; returns the URLs that were tried."""
    tried: list[str] = []

    def refuse(url: str, dst: str, *args: object, **kwargs: object) -> None:
        tried.append(url)
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    return tried


def _network_up(host: str = "github.com", timeout: float = 2.0) -> bool:
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    return bool(result and result[0])


def test_auto_falls_back_offline(
    empty_hub: Path, no_download: list[str], comments: pl.DataFrame, tmp_path: Path
) -> None:
    with pytest.warns(ScorerFallbackWarning, match="embedded profanity scorer"):
        result = score_frame(comments, cache_dir=tmp_path / "cache")
    assert no_download == [backend.MODEL_URLS["original"]]
    report = result.report
    assert report.scorer == "profanity" and report.labels == ["toxicity"]
    assert report.identity["model"] == "alt-profanity-check"
    assert report.fallback_reason is not None and "Could not download" in report.fallback_reason
    assert "scorer.checkpoint=" in report.fallback_reason
    assert result.frame["toxicity"].null_count() == 1  # the null text only
    assert report.caption() == "profanity alt-profanity-check"


def test_fallback_warning_is_one_short_line_with_the_fix(
    empty_hub: Path, no_download: list[str], comments: pl.DataFrame, tmp_path: Path
) -> None:
    """Issue 18 #10: the ~700-character explanation stays in the report; the warning is one line with the fix."""
    with pytest.warns(ScorerFallbackWarning) as caught:
        result = score_frame(comments, cache_dir=tmp_path / "cache")
    [warning] = [w for w in caught if issubclass(w.category, ScorerFallbackWarning)]
    message = str(warning.message)
    assert message == (
        "scorer=auto: could not download the Detoxify 'original' weights (URLError); using the embedded profanity "
        "scorer (toxicity only). Fix: scorer.checkpoint=/path/to/toxic_original-c1212f89.ckpt "
        "scorer.hf_config_path=/path/to/bert-base-uncased"
    )
    reason = result.report.fallback_reason or ""
    assert len(reason) > 400 and "copy the checkpoint to where torch hub caches it" in reason


def test_real_download_fails_fast_offline(empty_hub: Path, comments: pl.DataFrame, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The real torch hub download (watched, not replaced) with no network: tried once, for the official
    weights only, no retries, then the fallback."""
    if _network_up():
        pytest.skip("network reachable: this test is about the offline path (and would download 400 MB)")
    tried: list[str] = []
    real_download = torch.hub.download_url_to_file

    def watched(url: str, *args: object, **kwargs: object) -> None:
        tried.append(url)
        return real_download(url, *args, **kwargs)

    monkeypatch.setattr(torch.hub, "download_url_to_file", watched)
    with pytest.warns(ScorerFallbackWarning):
        result = score_frame(comments, cache_dir=tmp_path / "cache")
    assert tried == [backend.MODEL_URLS["original"]]
    assert result.report.scorer == "profanity"
    assert not list((empty_hub / "checkpoints").glob("*"))  # no partial download left behind


def test_auto_uses_cached_weights(
    empty_hub: Path,
    no_download: list[str],
    tiny_detoxify: TinyDetoxify,
    comments: pl.DataFrame,
    tmp_path: Path,
) -> None:
    """Weights in torch hub's cache (here: the tiny checkpoint under the official name) are used."""
    target = empty_hub / "checkpoints" / backend.checkpoint_filename("original")
    target.parent.mkdir(parents=True)
    shutil.copyfile(tiny_detoxify.checkpoint, target)

    result = score_frame(comments, cache_dir=tmp_path / "cache")
    assert no_download == []
    report = result.report
    assert report.scorer == "detoxify" and report.fallback_reason is None
    assert report.identity["model"] == "original" and report.identity["weights"] == target.name
    # Detoxify's own official-model path (torch hub cache) gives the same scores.
    texts = ["hello world", "you are an idiot", "", "fine"]
    reference = dx.Detoxify("original").predict(texts)
    by_text = dict(zip(result.frame["text"].to_list(), result.frame["toxicity"].to_list(), strict=True))
    assert [by_text[t] for t in texts] == pytest.approx(reference["toxicity"], abs=1e-5)


def test_auto_falls_back_when_the_model_fails_to_load(
    empty_hub: Path,
    no_download: list[str],
    tiny_detoxify: TinyDetoxify,
    comments: pl.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Weights are there but their Hub config cannot be fetched (offline): fall back, don't crash."""
    monkeypatch.setattr(backend, "hub_reachable", lambda timeout=3.0: False)
    target = empty_hub / "checkpoints" / backend.checkpoint_filename("original")
    target.parent.mkdir(parents=True)
    shutil.copyfile(tiny_detoxify.hub_checkpoint, target)  # names "bert-base-uncased", as the real one

    with pytest.warns(ScorerFallbackWarning, match="failed to load"):
        result = score_frame(comments, cache_dir=tmp_path / "cache")
    assert result.report.scorer == "profanity"
    assert "scorer.hf_config_path=" in (result.report.fallback_reason or "")

    # With the local config directory it works, still offline.
    fixed = score_frame(comments, hf_config_path=tiny_detoxify.config_dir, cache_dir=tmp_path / "cache")
    assert fixed.report.scorer == "detoxify" and fixed.report.fallback_reason is None


def test_auto_with_a_local_checkpoint(
    no_download: list[str], tiny_detoxify: TinyDetoxify, comments: pl.DataFrame, tmp_path: Path
) -> None:
    result = score_frame(comments, checkpoint=tiny_detoxify.checkpoint, cache_dir=tmp_path)
    assert result.report.scorer == "detoxify" and no_download == []
    with pytest.warns(ScorerFallbackWarning, match="checkpoint not found"):
        missing = score_frame(comments, checkpoint=tmp_path / "missing.ckpt", cache_dir=tmp_path)
    assert missing.report.scorer == "profanity"


def test_explicit_detoxify_does_not_fall_back(
    empty_hub: Path, no_download: list[str], comments: pl.DataFrame, tmp_path: Path
) -> None:
    with pytest.raises(ScorerUnavailableError, match=r"scorer\.checkpoint=.*scorer\.hf_config_path="):
        score_frame(comments, "detoxify", cache_dir=tmp_path)


def test_make_scorer(
    empty_hub: Path, no_download: list[str], tiny_detoxify: TinyDetoxify, tmp_path: Path
) -> None:
    assert make_scorer(ScorerSettings(name="profanity")).identity()["model"] == "alt-profanity-check"
    settings = ScorerSettings(name="detoxify", model="unbiased", batch_size=8, device="cpu", cache_dir=str(tmp_path))
    detox = make_scorer(settings)
    assert isinstance(detox, DetoxifyScorer) and detox.model_type == "unbiased" and detox.options.batch_size == 8
    assert detox.run_settings() == {"device": "cpu", "batch_size": 8, "precision": "fp32", "long_text": "truncate"}
    assert detox.model is None
    local = make_scorer(ScorerSettings(checkpoint=str(tiny_detoxify.checkpoint), cache_dir=str(tmp_path)))
    assert isinstance(local, DetoxifyScorer) and local.model is None
    with pytest.warns(ScorerFallbackWarning):
        scorer, reason = resolve_scorer(ScorerSettings(cache_dir=str(tmp_path)))
    assert isinstance(scorer, ProfanityScorer) and reason
    with pytest.raises(ConfigError, match=r"^scorer\.name: unknown scorer 'perspective'; choose one of auto, "):
        make_scorer(ScorerSettings(name="perspective"))


def test_overrides_build_the_settings(tmp_path: Path) -> None:
    """A name plus overrides, settings plus overrides, a Scorer object plus the run's own options."""
    assert scorer_settings("hf", model="/m") == ScorerSettings(name="hf", model="/m")
    base = ScorerSettings(name="detoxify", precision="bf16")
    assert scorer_settings(base, model="unbiased") == ScorerSettings(name="detoxify", precision="bf16", model="unbiased")
    assert base.model == "original"  # not changed in place
    assert scorer_settings(ProfanityScorer(), flush_every=7).flush_every == 7
    with pytest.raises(ConfigError, match=r"^scorer\.modle: unknown scorer option \['modle'\]; known: name, model,"):
        scorer_settings("detoxify", modle="original")
    with pytest.raises(ConfigError, match=r"scorer\.modle"):
        score_frame(pl.DataFrame({"text": ["a"]}), base, modle="x", cache_dir=tmp_path)
