"""The Hydra application ``toolkit``: the only place that touches DictConfig.

``toolkit`` runs the default experiment; ``toolkit +experiment=NAME key=value ...`` runs another.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

import hydra
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from toolkit.errors import ToolkitError
from toolkit.io.paths import PROJECT_ROOT
from toolkit.settings import AnalysisSettings, DatasetSettings, PlotSettings, RunSettings, ScorerSettings

CONFIG_DIR = str(PROJECT_ROOT / "conf")  # inside the installed package, or the checkout's conf/
log = logging.getLogger("toolkit")


def register_configs() -> None:
    """Typed schemas: a wrong type or unknown key in any config fails with Hydra's clear message."""
    cs = ConfigStore.instance()
    cs.store(name="run_schema", node=RunSettings)
    cs.store(group="dataset", name="dataset_schema", node=DatasetSettings)
    cs.store(group="scorer", name="scorer_schema", node=ScorerSettings)
    cs.store(group="analysis", name="analysis_schema", node=AnalysisSettings)
    cs.store(group="plot", name="plot_schema", node=PlotSettings)


def to_settings(cfg: DictConfig) -> RunSettings:
    """The composed config as plain typed dataclasses (Hydra's own ``hydra`` node left out)."""
    plain = OmegaConf.merge(OmegaConf.structured(RunSettings), {k: v for k, v in cfg.items() if k != "hydra"})
    return OmegaConf.to_object(plain)  # type: ignore[return-value]


register_configs()


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
    from toolkit.pipeline import run_experiment, run_summary

    settings = to_settings(cfg)
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    manifest = run_experiment(settings, run_dir, resolved_config=resolved)
    print(run_summary(manifest, run_dir))


if __name__ == "__main__":
    main()
