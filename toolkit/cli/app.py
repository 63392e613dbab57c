"""The Hydra application ``toolkit``: the only place that touches DictConfig.

``toolkit`` runs the default experiment; ``toolkit +experiment=NAME key=value ...`` runs another.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import logging
import os
import re
import sys
import types
import typing
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import hydra
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from toolkit.cli import experiments
from toolkit.errors import ConfigError, ToolkitError
from toolkit.io.paths import PROJECT_ROOT
from toolkit.settings import AnalysisSettings, DatasetSettings, PlotSettings, RunSettings, ScorerSettings

CONFIG_DIR = str(PROJECT_ROOT / "conf")  # inside the installed package, or the checkout's conf/
log = logging.getLogger("toolkit")


DEMO_DATA = ("seed_thread", "data/seed_thread.txt")  # the bundled demo: a bare `toolkit` run is the demo


def run_name(dataset: str, path: str | None) -> str:
    """What a run without an experiment is called (its ``outputs/<name>/`` folder and captions): ``demo`` for
    the bundled demo data, the file's stem for ``dataset=file`` (or the demo's dataset pointed elsewhere),
    else the dataset's name; ``run`` when none of these gives a name. (``conf/config.yaml``: the
    ``toolkit_run_name`` resolver; an experiment file sets ``experiment:`` itself.)

    >>> run_name("seed_thread", "data/seed_thread.txt"), run_name("file", "exports/mine.csv")
    ('demo', 'mine')
    >>> run_name("reddit_sample", "data/reddit_sample.json"), run_name("file", "dumps/RC-*.zst"), run_name("file", "/")
    ('reddit_sample', 'RC', 'run')
    """
    if (dataset, path) == DEMO_DATA:
        return "demo"
    stem = Path(str(path or "").rstrip("/")).name.split(".")[0] if dataset in ("file", DEMO_DATA[0]) else dataset
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-") or "run"


def _dataclass_of(hint: object) -> type | None:
    """The settings dataclass a field holds (through ``X | None``), or None for a free value (dict, list, ...)."""
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        found = [d for d in (_dataclass_of(a) for a in typing.get_args(hint)) if d is not None]
        return found[0] if len(found) == 1 else None
    return None


def unknown_key_error(cfg: Mapping, schema: type, prefix: str = "") -> ConfigError | None:
    """The first key of ``cfg`` that ``schema`` (a settings dataclass, walked into its nested dataclasses) has
    no field for, as an error naming it and the nearest valid key; None when every key is known.

    Hydra refuses an unknown ``key=value`` but adds one given as ``+key=value`` (its own hint), and OmegaConf
    then hangs it on the dataclass as a stray attribute: without this check a misspelt option would run with
    its default. Dict-typed fields (``dataset.options``, ``scorer.columns``, ``...thresholds``) take any key.

    >>> from toolkit.settings import RunSettings
    >>> str(unknown_key_error({"analysis": {"treshold": 0.9}}, RunSettings))
    'analysis.treshold: no such setting (did you mean threshold?); +key=value does not add settings'
    >>> unknown_key_error({"dataset": {"options": {"anything": 1}}, "scorer": {"columns": {"x": "y"}}}, RunSettings)
    """
    hints = typing.get_type_hints(schema)
    names = [f.name for f in dataclasses.fields(schema)]
    for key in cfg:
        if prefix == "" and key == "hydra":
            continue
        if key not in hints:
            near = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
            hint = f"did you mean {near[0]}?" if near else f"known: {', '.join(names)}"
            return ConfigError(f"{prefix}{key}", f"no such setting ({hint}); +key=value does not add settings")
        inner = _dataclass_of(hints[key])
        # the node itself: reading cfg[key] would resolve it (and fail on a mandatory ``???`` value)
        value = cfg._get_node(key) if isinstance(cfg, DictConfig) else cfg[key]
        if inner is not None and isinstance(value, Mapping):
            err = unknown_key_error(value, inner, f"{prefix}{key}.")
            if err is not None:
                return err
    return None


def to_settings(cfg: DictConfig) -> RunSettings:
    """The composed config as plain typed dataclasses (Hydra's own ``hydra`` node left out).

    Raises:
        ConfigError: a key no settings dataclass has (e.g. added with ``+``), naming the nearest valid one.
    """
    if (err := unknown_key_error(cfg, RunSettings)) is not None:
        raise err
    plain = OmegaConf.merge(OmegaConf.structured(RunSettings), {k: v for k, v in cfg.items() if k != "hydra"})
    return OmegaConf.to_object(plain)  # type: ignore[return-value]


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    """The config ``toolkit OVERRIDES`` runs (the same defaults, experiment files and checks), outside the app."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


# Typed schemas: a wrong type or unknown key in any config fails with Hydra's clear message.
for _group, _name, _node in ((None, "run_schema", RunSettings), ("dataset", "dataset_schema", DatasetSettings),
                             ("scorer", "scorer_schema", ScorerSettings), ("analysis", "analysis_schema",
                             AnalysisSettings), ("plot", "plot_schema", PlotSettings)):
    ConfigStore.instance().store(group=_group, name=_name, node=_node)
experiments.register()  # ./experiments/NAME.yaml of the working directory as +experiment=NAME
OmegaConf.register_new_resolver("toolkit_run_name", run_name, replace=True)


def one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                     line: str | None = None) -> str:
    """The command line's format for ``scorer=auto``'s fallback warning (``toolkit: warning: ...``, one line, no
    source location: it is about the settings, not the code); any other warning keeps Python's format."""
    from toolkit.scoring.resolve import ScorerFallbackWarning

    if issubclass(category, ScorerFallbackWarning):
        return f"toolkit: warning: {message}\n"
    return _python_format(message, category, filename, lineno, line)


_python_format = warnings.formatwarning


def one_line_errors(task: Callable[[DictConfig], None]) -> Callable[[DictConfig], None]:
    """A ``ToolkitError`` ends the command with its message alone on stderr and status 1, not a traceback
    (which ``HYDRA_FULL_ERROR=1`` still gives, as for Hydra's own errors)."""

    @functools.wraps(task)
    def run(cfg: DictConfig) -> None:
        try:
            task(cfg)
        except ToolkitError as err:
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            print(f"toolkit: error: {err}", file=sys.stderr)
            sys.exit(1)

    return run


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
@one_line_errors
def main(cfg: DictConfig) -> None:
    """Run the composed experiment into Hydra's run directory."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter
    warnings.formatwarning = one_line_warning
    from toolkit.pipeline import run_experiment, run_summary

    settings = to_settings(cfg)
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    manifest = run_experiment(settings, run_dir, resolved_config=OmegaConf.to_container(cfg, resolve=True))
    print(run_summary(manifest, run_dir))


if __name__ == "__main__":
    main()
