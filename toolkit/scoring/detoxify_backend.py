"""The Detoxify backend: Detoxify's own checkpoints and loading code, our batched prediction.

Loading goes through ``detoxify.detoxify`` (``Detoxify(...)``, or its ``get_model_and_tokenizer`` when a
local config directory is given), so any Detoxify-format checkpoint works exactly as in Detoxify.
Prediction runs through :mod:`toolkit.scoring.engine` (tokenised once, token-budget batches sorted by length,
``torch.inference_mode``, fp32/bf16/fp16/int8): at fp32 with ``long_text=truncate`` the tokens and the
sigmoid are those of ``Detoxify.predict``, so the scores equal it within float rounding (~1e-6).

Offline use: Detoxify always calls ``config_class.from_pretrained(model_type)`` where the official
checkpoints name a Hub model (``bert-base-uncased`` ...). With ``hf_config_path`` we load with the Hub in
offline mode and that local directory as ``model_type``, so an official checkpoint plus a local
config/tokenizer directory loads with no network and no retries.

Nothing heavy (torch, transformers, detoxify) is imported until the model is needed: ``identity()`` and
``labels()`` are cheap, so a fully cached run never imports them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from toolkit import scoped
from toolkit.errors import ConfigError, ScorerUnavailableError
from toolkit.scoring.cache import file_sha256, read_memo_entry, update_memo
from toolkit.scoring.engine import resolve_device
from toolkit.scoring.transformer import TransformerScorer
from toolkit.settings import ScorerSettings
from toolkit.vocab import DETOXIFY_LABELS

# Label columns of the official models, after Detoxify's standardisation of class names (from the
# training configs' ``dataset.args.classes``). Used before the model is loaded (empty frames, cache
# look-ups); once loaded, the checkpoint's own class names are authoritative.
_ORIGINAL_LABELS = DETOXIFY_LABELS[:6]  # no sexual_explicit
_UNBIASED_LABELS = (
    "toxicity",
    "severe_toxicity",
    "obscene",
    "identity_attack",
    "insult",
    "threat",
    "sexual_explicit",
)
# Each official model: its release file (as detoxify.detoxify.MODEL_URLS 0.5.4 has it, so that identity() needs
# no torch/transformers import; a test checks that the two agree; each file name embeds a hash of the weights),
# its labels, and the Hugging Face model its checkpoint names as ``arch.args.model_type``.
_OFFICIAL = {
    "original": ("v0.1-alpha/toxic_original-c1212f89.ckpt", _ORIGINAL_LABELS, "bert-base-uncased"),
    "unbiased": ("v0.3-alpha/toxic_debiased-c7548aa0.ckpt", _UNBIASED_LABELS, "roberta-base"),
    "multilingual": ("v0.4-alpha/multilingual_debiased-0b549669.ckpt", _UNBIASED_LABELS, "xlm-roberta-base"),
    "original-small": ("v0.1.2/original-albert-0e1d6498.ckpt", _ORIGINAL_LABELS, "albert-base-v2"),
    "unbiased-small": ("v0.1.2/unbiased-albert-c8519128.ckpt", _UNBIASED_LABELS, "albert-base-v2"),
}
_DOWNLOAD_URL = "https://github.com/unitaryai/detoxify/releases/download/"
MODEL_URLS: dict[str, str] = {model: _DOWNLOAD_URL + file for model, (file, _, _) in _OFFICIAL.items()}
MODELS = tuple(MODEL_URLS)
OFFICIAL_LABELS: dict[str, tuple[str, ...]] = {model: labels for model, (_, labels, _) in _OFFICIAL.items()}
HUB_MODEL_TYPES: dict[str, str] = {model: hub for model, (_, _, hub) in _OFFICIAL.items()}

# Detoxify's load_checkpoint renames these classes; the same mapping is applied when we load ourselves.
STANDARD_CLASS_NAMES = {
    "toxic": "toxicity",
    "identity_hate": "identity_attack",
    "severe_toxic": "severe_toxicity",
}


_LOAD_LOCK = threading.RLock()


def checkpoint_filename(model: str) -> str:
    """The official checkpoint's file name (e.g. ``toxic_original-c1212f89.ckpt``); it embeds a hash."""
    if model not in MODEL_URLS:
        raise ConfigError("scorer.model", f"unknown Detoxify model {model!r}; choose one of {', '.join(MODELS)}")
    return Path(urlparse(MODEL_URLS[model]).path).name


def torch_hub_dir() -> Path:
    """``torch.hub.get_dir()``, computed without importing torch when it is not imported yet.

    (``torch.hub.set_dir`` can only have been called if torch is imported, so the two always agree.)
    """
    if "torch" in sys.modules:
        import torch.hub

        return Path(torch.hub.get_dir())
    default = os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(os.path.expanduser(os.getenv("TORCH_HOME", default))) / "hub"


def official_weights_path(model: str) -> Path:
    """Where torch hub (and so Detoxify) caches an official checkpoint."""
    return torch_hub_dir() / "checkpoints" / checkpoint_filename(model)


def _official_model_for_sha(sha256: str) -> str | None:
    """The official model whose file-name hash prefix matches this sha256, if any."""
    prefixes = {model: Path(checkpoint_filename(model)).stem.rsplit("-", 1)[-1] for model in MODELS}
    return next((model for model, prefix in prefixes.items() if sha256.startswith(prefix)), None)


@contextlib.contextmanager
def hub_environment(offline: bool) -> Iterator[None]:
    """Quiet (no progress bars) and optionally offline Hugging Face Hub access for the block; the environment
    and the flags are restored afterwards (loads run one at a time under ``_LOAD_LOCK``).

    ``HF_HUB_OFFLINE`` is read once at import by huggingface_hub, so setting the environment variable is
    not enough: the module constant behind ``is_offline_mode()`` is switched too.
    """
    import huggingface_hub.constants as hf_constants
    from transformers.utils import logging as hf_logging

    with _LOAD_LOCK, contextlib.ExitStack() as scope:
        scope.enter_context(scoped.environ(HF_HUB_DISABLE_PROGRESS_BARS="1"))
        if hasattr(hf_logging, "_tqdm_active"):
            scope.enter_context(scoped.attributes(hf_logging, _tqdm_active=False))
        if offline:
            scope.enter_context(scoped.environ(HF_HUB_OFFLINE="1"))
            scope.enter_context(scoped.attributes(hf_constants, HF_HUB_OFFLINE=True))
        yield


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers a TCP connection within ``timeout`` s (DNS included).

    Behind a proxy we cannot tell, so we answer True and let transformers try.
    """
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    import huggingface_hub.constants as hf_constants  # transformers always brings it

    if hf_constants.HF_HUB_OFFLINE:
        return False
    host = urlparse(hf_constants.ENDPOINT).hostname or "huggingface.co"
    result: list[bool] = []

    def probe() -> None:
        with contextlib.suppress(OSError):
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(True)

    worker = threading.Thread(target=probe, daemon=True)  # getaddrinfo ignores socket timeouts
    worker.start()
    worker.join(timeout + 0.5)
    return bool(result)


class DetoxifyScorer(TransformerScorer):
    """Detoxify (``original``, ``unbiased``, ``multilingual``, ``*-small``, or a local checkpoint).

    ``identity()`` and ``labels()`` never load the model; ``predict``/``iter_predict`` load it on first use
    and run it through the inference engine (token-budget batches, precision, long-text policy).
    ``model`` stays None until then and ``loads`` counts loads (tests check cache hits load nothing).

    >>> DetoxifyScorer(ScorerSettings(model="unbiased")).identity()["weights"]
    'toxic_debiased-c7548aa0.ckpt'
    """

    name = "detoxify"

    download_timeout = 30.0  # seconds before a stalled weights download gives up

    def __init__(self, settings: ScorerSettings) -> None:
        if settings.checkpoint is None and settings.model not in MODEL_URLS:
            raise ConfigError("scorer.model", f"unknown Detoxify model {settings.model!r}; choose one of "
                              f"{', '.join(MODELS)} (or give scorer.checkpoint=/path/to.ckpt)")
        super().__init__(settings)
        self.model_type = settings.model
        self.checkpoint = _path(settings.checkpoint)
        self.hf_config_path = _path(settings.hf_config_path)
        self.detoxify: Any = None  # the loaded detoxify.Detoxify object

    # -- cheap metadata -------------------------------------------------------------------------------

    def _checkpoint_file(self) -> Path:
        assert self.checkpoint is not None
        if not self.checkpoint.is_file():
            raise ScorerUnavailableError(
                f"Detoxify checkpoint not found: {self.checkpoint}. Pass the path of a Detoxify .ckpt file "
                f"(a torch-saved dict with 'config' and 'state_dict'), e.g. scorer.checkpoint=/path/to.ckpt",
                summary=f"Detoxify checkpoint not found: {self.checkpoint}",
                fix="scorer.checkpoint=/path/to/a/detoxify.ckpt",
            )
        return self.checkpoint.resolve()

    def identity(self) -> dict[str, str]:
        """Name, model, weights' hash, precision and long-text policy (with chunk settings); never loads.

        The device is not part of it: scores at one precision agree across devices to rounding, and a sweep
        scored on GPU nodes must be found by a merge run on a CPU.

        Official model: the checkpoint file name (it embeds a hash). Local checkpoint: its sha256
        (memoised by path, size and mtime); a local copy of an official checkpoint whose sha256 starts with
        that file name's hash gets the official identity, so its cached scores are shared.
        """
        if self.checkpoint is None:
            model, weights = self.model_type, checkpoint_filename(self.model_type)
        else:
            path = self._checkpoint_file()
            sha = file_sha256(path, self.memo_dir)
            official = _official_model_for_sha(sha)
            if official is not None:
                model, weights = official, checkpoint_filename(official)
            else:
                model, weights = path.stem, f"sha256:{sha}"
        return {"name": self.name, "model": model, "weights": weights, **self.options.identity()}

    def labels(self) -> list[str]:
        """The label columns (Detoxify's standardised class names), without loading the model."""
        if self.detoxify is not None:
            return list(self.detoxify.class_names)
        if self.checkpoint is None:
            return list(OFFICIAL_LABELS[self.model_type])
        path = self._checkpoint_file()
        classes = read_memo_entry(self.memo_dir, path).get("classes")
        if isinstance(classes, list) and all(isinstance(c, str) for c in classes):
            return classes
        classes = _checkpoint_classes(path)
        update_memo(self.memo_dir, path, {"classes": classes})
        return classes

    # -- weights ----------------------------------------------------------------------------------------

    def ensure_weights(self) -> Path:
        """The checkpoint file on disk, downloading an official one into torch hub's cache if needed.

        Raises ScorerUnavailableError, saying how to supply a checkpoint, when that fails. With no
        network the download fails within milliseconds; a stalled connection times out.
        """
        if self.checkpoint is not None:
            return self._checkpoint_file()
        target = official_weights_path(self.model_type)
        if target.is_file():
            return target
        url = MODEL_URLS[self.model_type]
        try:
            import torch.hub

            target.parent.mkdir(parents=True, exist_ok=True)
            with scoped.socket_timeout(self.download_timeout):
                torch.hub.download_url_to_file(url, str(target), progress=False)
        except Exception as exc:  # noqa: BLE001 - every failure gets the same actionable message
            hub_name = HUB_MODEL_TYPES[self.model_type]
            raise ScorerUnavailableError(
                f"Could not download the Detoxify {self.model_type!r} weights from {url} "
                f"({type(exc).__name__}: {exc}). On a machine without network, supply the checkpoint and a local "
                f"config/tokenizer directory: scorer.checkpoint=/path/to/{target.name} "
                f"scorer.hf_config_path=/path/to/{hub_name} (a directory with {hub_name}'s config.json and "
                f"tokenizer files), or copy the checkpoint to where torch hub caches it: {target}",
                summary=f"could not download the Detoxify {self.model_type!r} weights ({type(exc).__name__})",
                fix=f"scorer.checkpoint=/path/to/{target.name} scorer.hf_config_path=/path/to/{hub_name}",
            ) from exc
        return target

    def _config_error(self, exc: BaseException) -> ScorerUnavailableError:
        hub_name = HUB_MODEL_TYPES.get(self.model_type, "bert-base-uncased")
        return ScorerUnavailableError(
            "Detoxify could not load the Hugging Face config/tokenizer named by the checkpoint "
            f"(not in the local Hugging Face cache and the Hub is unreachable: {type(exc).__name__}: {exc}). "
            "Offline, pass a local directory holding that model's config.json and tokenizer files, "
            f"e.g. scorer.hf_config_path=/path/to/{hub_name}",
            summary="Detoxify could not load its Hugging Face config/tokenizer offline",
            fix=f"scorer.hf_config_path=/path/to/{hub_name}",
        )

    # -- loading ----------------------------------------------------------------------------------------

    def load(self) -> None:
        """Load the model through Detoxify's loading code (once); raises ScorerUnavailableError on failure."""
        if self.detoxify is not None:
            return
        with _LOAD_LOCK:
            if self.detoxify is not None:
                return
            path = self.ensure_weights()
            device = resolve_device(self.options.device, self.options.precision)
            try:
                if self.hf_config_path is not None:
                    detox = self._load_with_local_config(path, device)
                else:
                    detox = self._load_with_detoxify(device)
            except ScorerUnavailableError:
                raise
            except Exception as exc:  # noqa: BLE001 - auto falls back on any load failure
                raise ScorerUnavailableError(
                    f"Detoxify failed to load ({type(exc).__name__}: {exc})"
                ) from exc
            detox.model.eval()
            self.detoxify = detox
            self.model = detox.model
            self.tokenizer = detox.tokenizer
            self.device = str(detox.device)
            self.loads += 1

    def _load_with_detoxify(self, device: str) -> Any:
        """``Detoxify(...)`` itself: first with the Hub offline (local HF cache only, no retries), then
        online if the Hub is reachable."""
        from detoxify import Detoxify

        kwargs: dict[str, Any] = {"model_type": self.model_type, "device": device}
        if self.checkpoint is not None:
            kwargs["checkpoint"] = str(self._checkpoint_file())
        for offline in (True, False):
            try:
                with hub_environment(offline=offline):
                    return Detoxify(**kwargs)
            except OSError as exc:
                if not offline or not hub_reachable():
                    raise self._config_error(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover - the online try returns or raises

    def _load_with_local_config(self, path: Path, device: str) -> Any:
        """Detoxify's ``get_model_and_tokenizer`` with ``hf_config_path`` as the checkpoint's ``model_type``,
        the Hub offline.

        Passing the directory as ``model_type`` (and not as Detoxify's ``huggingface_config_path``) also
        gives the config the checkpoint's ``num_classes``; a Hub config (2 labels) would not fit the head.
        """
        import torch
        from detoxify import detoxify as dx

        config_dir = self.hf_config_path
        assert config_dir is not None
        if not config_dir.is_dir():
            raise ScorerUnavailableError(
                f"hf_config_path {config_dir} is not a directory; it must hold the model's config.json and "
                "tokenizer files (e.g. a saved bert-base-uncased)"
            )
        loaded = torch.load(path, map_location=device, weights_only=False)
        if not isinstance(loaded, dict) or "config" not in loaded or "state_dict" not in loaded:
            raise ScorerUnavailableError(
                f"{path} is not a Detoxify checkpoint (needs 'config' and 'state_dict')"
            )
        args = {**loaded["config"]["arch"]["args"], "model_type": str(config_dir)}
        classes = _checkpoint_classes(path, loaded)
        with hub_environment(offline=True):
            model, tokenizer = dx.get_model_and_tokenizer(**args, state_dict=loaded["state_dict"])
        detox = dx.Detoxify.__new__(dx.Detoxify)  # the same object Detoxify(...) builds, usable with .predict
        detox.model, detox.tokenizer, detox.class_names, detox.device = model, tokenizer, classes, device
        detox.model.to(device)
        return detox

    # -- prediction -------------------------------------------------------------------------------------

    def activation(self) -> str:
        """Detoxify's head: a sigmoid per class (multi-label)."""
        return "sigmoid"


def _path(value: str | os.PathLike[str] | None) -> Path | None:
    return Path(value).expanduser() if value is not None else None




def _checkpoint_classes(path: Path, loaded: Any = None) -> list[str]:
    """The standardised class names stored in a Detoxify checkpoint (``loaded``, else read memory-mapped:
    the weights are not read)."""
    import torch

    if loaded is None:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        except RuntimeError:  # legacy (non-zip) serialisation cannot be memory-mapped
            loaded = torch.load(path, map_location="cpu", weights_only=False)
    try:
        classes = loaded["config"]["dataset"]["args"]["classes"]
    except (KeyError, TypeError) as exc:
        raise ScorerUnavailableError(f"{path} is not a Detoxify checkpoint (no config.dataset.args.classes)") from exc
    return [STANDARD_CLASS_NAMES.get(c, c) for c in classes]
