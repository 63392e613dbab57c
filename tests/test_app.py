"""The Hydra app: every shipped config composes, the CLI writes a full run directory, reruns hit the cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from toolkit.cli.app import CONFIG_DIR, to_settings
from toolkit.pipeline import run_experiment
from toolkit.settings import RunSettings

EXPERIMENTS = sorted(p.stem for p in (Path(CONFIG_DIR).parent / "experiments").glob("*.yaml"))
GROUPS = {g: sorted(p.stem for p in (Path(CONFIG_DIR) / g).glob("*.yaml")) for g in ("dataset", "scorer", "analysis", "plot")}


def compose_run(overrides: list[str]) -> RunSettings:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    return to_settings(cfg)


def test_default_config_is_the_demo() -> None:
    settings = compose_run([])
    assert settings.experiment == "demo"
    assert settings.dataset.path == "data/seed_thread.txt" and settings.scorer.name == "auto"


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes(experiment: str) -> None:
    settings = compose_run([f"+experiment={experiment}"])
    assert isinstance(settings, RunSettings)


@pytest.mark.parametrize(("group", "option"), [(g, o) for g, opts in GROUPS.items() for o in opts])
def test_every_group_option_composes(group: str, option: str) -> None:
    extra = ["dataset.path=some/file.json"] if (group, option) == ("dataset", "file") else []
    assert isinstance(compose_run([f"{group}={option}", *extra]), RunSettings)


def test_wrong_type_in_config_is_a_clear_error() -> None:
    with pytest.raises(Exception, match=r"n_boot.*not-a-number|not-a-number.*n_boot"):
        compose_run(["analysis.n_boot=not-a-number"])
    with pytest.raises(Exception, match="scorer.modle"):
        compose_run(["scorer.modle=original"])


def test_misspelt_key_in_an_experiment_file_is_named(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    shutil.copytree(CONFIG_DIR, conf, symlinks=False)
    (conf / "experiment" / "typo.yaml").write_text("# @package _global_\nscorer:\n  modle: unbiased\n")
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"), pytest.raises(
        Exception, match=r"Key 'modle' not in 'ScorerSettings'"
    ):
        compose(config_name="config", overrides=["+experiment=typo"])


def test_pipeline_on_demo(tmp_path: Path) -> None:
    settings = compose_run(["scorer=profanity", "analysis.n_boot=100"])
    manifest = run_experiment(settings, tmp_path, resolved_config=OmegaConf.to_container(OmegaConf.structured(settings)))
    counts = manifest["counts"]
    assert (counts["rows_in"], counts["rows_kept"], counts["rows_rejected"]) == (13, 13, 0)
    assert manifest["scorer"]["scorer"] == "profanity"
    assert (tmp_path / "comments.parquet").exists()
    for output in manifest["outputs"]:
        assert (tmp_path / output).exists(), output


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "default", "TOOLKIT_CACHE_DIR": str(tmp_path / "score-cache")}
    return subprocess.run(
        [sys.executable, "-m", "toolkit.cli.app", *args], capture_output=True, text=True, env=env, timeout=300,
        cwd=tmp_path,
    )


def test_cli_default_run_then_fully_cached_rerun(tmp_path: Path) -> None:
    """`toolkit` with no arguments (scorer=auto, offline): falls back, writes everything; rerun loads no model.

        The demo has 10 texts to score: the post and the 9 comments that were not removed.
        """
    first = run_cli(tmp_path, f"hydra.run.dir={tmp_path / 'run1'}", "analysis.n_boot=100")
    assert first.returncode == 0, first.stderr[-3000:]
    run1 = tmp_path / "run1"
    manifest = json.loads((run1 / "manifest.json").read_text())
    assert manifest["scorer"]["scorer"] == "profanity" and manifest["scorer"]["fallback_reason"]
    assert manifest["config"]["scorer"]["name"] == "auto"
    assert manifest["scorer"]["cache_misses"] == 10 and manifest["scorer"]["model_loaded"]
    for key in ("versions", "git", "inputs", "stage_seconds", "counts"):
        assert manifest[key]
    assert list(manifest["inputs"]["sha256"].values()) == [
        "766d184ff6fc8e9201a579caa24c884d79263459988506dc23fcb6d1d6c290f9"
    ]
    assert (run1 / ".hydra" / "config.yaml").exists()
    for name in ("depth_profile", "score_distribution", "thread_view"):
        for ext in ("png", "pdf", "csv"):
            assert (run1 / "figures" / f"{name}.{ext}").stat().st_size > 0
    assert (run1 / "tables" / "depth_profile.md").exists()
    # The demo's removed comments have no text and no replies (a flat thread): the removal tables say n = 0
    # and no empty figure is drawn.
    removal = (run1 / "tables" / "removal_context.csv").read_text()
    assert "removed" in removal and not (run1 / "figures" / "removal_context.png").exists()
    assert "profanity" in (run1 / "figures" / "depth_profile.json").read_text()

    second = run_cli(tmp_path, f"hydra.run.dir={tmp_path / 'run2'}", "analysis.n_boot=100")
    assert second.returncode == 0, second.stderr[-3000:]
    again = json.loads((tmp_path / "run2" / "manifest.json").read_text())["scorer"]
    assert (again["cache_hits"], again["cache_misses"], again["model_loaded"]) == (10, 0, False)
    assert "10 cache hits, 0 misses, model loaded: False" in second.stdout


def test_cli_bad_input_is_one_clear_error(tmp_path: Path) -> None:
    result = run_cli(tmp_path, f"hydra.run.dir={tmp_path / 'r'}", "dataset.path=nope.txt")
    assert result.returncode != 0
    assert "nope.txt: no such file" in result.stderr
