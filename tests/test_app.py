"""The Hydra app: every shipped config composes, the CLI writes a full run directory, reruns hit the cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import compose_config, compose_settings
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from toolkit.cli.app import CONFIG_DIR
from toolkit.pipeline import run_experiment

EXPERIMENTS = sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))
GROUPS = {g: sorted(p.stem for p in (Path(CONFIG_DIR) / g).glob("*.yaml")) for g in ("dataset", "scorer", "analysis", "plot")}


def test_default_config_is_the_demo() -> None:
    settings = compose_settings([])
    assert settings.experiment == "demo"
    assert settings.dataset.path == "data/seed_thread.txt" and settings.scorer.name == "auto"


def leaves(node: object, prefix: str = "") -> dict[str, object]:
    """A YAML mapping's values by dotted key (``defaults`` and mandatory ``???`` values left out)."""
    if not isinstance(node, dict):
        return {prefix: node}
    return {k: v for key, sub in node.items() if key != "defaults"
            for k, v in leaves(sub, f"{prefix}.{key}" if prefix else key).items() if v != "???"}


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes(experiment: str) -> None:
    assert compose_settings([f"+experiment={experiment}"]).experiment == experiment


@pytest.mark.parametrize(("group", "option"), [(g, o) for g, opts in GROUPS.items() for o in opts])
def test_every_group_option_composes(group: str, option: str) -> None:
    """Every value the option's file sets arrives in the typed settings."""
    extra = ["dataset.path=some/file.json"] if (group, option) == ("dataset", "file") else []
    settings = OmegaConf.structured(getattr(compose_settings([f"{group}={option}", *extra]), group))
    written = leaves(OmegaConf.to_container(OmegaConf.load(Path(CONFIG_DIR) / group / f"{option}.yaml")))
    assert written
    assert {k: OmegaConf.to_container(v) if OmegaConf.is_config(v) else v
            for k in written for v in [OmegaConf.select(settings, k)]} == written


def test_wrong_type_in_config_is_a_clear_error() -> None:
    with pytest.raises(ConfigCompositionException, match=r"n_boot.*not-a-number|not-a-number.*n_boot"):
        compose_settings(["analysis.n_boot=not-a-number"])
    with pytest.raises(ConfigCompositionException, match="scorer.modle"):
        compose_settings(["scorer.modle=original"])


def test_misspelt_key_in_an_experiment_file_is_named(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    shutil.copytree(CONFIG_DIR, conf, symlinks=False)
    (conf / "experiment" / "typo.yaml").write_text("# @package _global_\nscorer:\n  modle: unbiased\n")
    with pytest.raises(ConfigCompositionException, match=r"Key 'modle' not in 'ScorerSettings'"):
        compose_config(["+experiment=typo"], config_dir=conf)


@pytest.mark.slow
def test_pipeline_on_demo(tmp_path: Path) -> None:
    settings = compose_settings(["scorer=profanity", "analysis.n_boot=100"])
    manifest = run_experiment(settings, tmp_path, resolved_config=OmegaConf.to_container(OmegaConf.structured(settings)))
    counts = manifest["counts"]
    assert (counts["rows_in"], counts["rows_kept"], counts["rows_rejected"]) == (13, 13, 0)
    assert manifest["scorer"]["scorer"] == "profanity"
    assert (tmp_path / "comments.parquet").exists()
    for output in manifest["outputs"]:
        assert (tmp_path / output).exists(), output


def run_cli(tmp_path: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}, "PYTHONWARNINGS": "default",
           "TOOLKIT_CACHE_DIR": str(tmp_path / "score-cache"), **extra_env}
    return subprocess.run(
        [sys.executable, "-m", "toolkit.cli.app", *args], capture_output=True, text=True, env=env, timeout=300,
        cwd=tmp_path,
    )


@pytest.mark.slow
def test_cli_default_run_then_fully_cached_rerun(tmp_path: Path) -> None:
    """`toolkit` with no arguments (scorer=auto, offline): falls back, writes everything; rerun loads no model.

        The demo has 10 texts to score: the post and the 9 comments that were not removed.
        """
    first = run_cli(tmp_path, f"hydra.run.dir={tmp_path / 'run1'}", "analysis.n_boot=100")
    assert first.returncode == 0, first.stderr[-3000:]
    run1 = tmp_path / "run1"
    manifest = json.loads((run1 / "manifest.json").read_text())
    assert manifest["scorer"]["scorer"] == "profanity" and manifest["scorer"]["fallback_reason"]
    # The fallback is said once, in one short line with the fix (the full reason is in the manifest).
    said = [line for line in first.stderr.splitlines() if "instead of Detoxify" in line or "profanity scorer" in line]
    assert len(said) == 1 and len(said[0]) < 300 and "Fix: scorer.checkpoint=" in said[0], first.stderr[-3000:]
    assert said[0].startswith("toolkit: warning: scorer=auto: ")
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


@pytest.mark.slow
def test_cli_toolkit_error_is_one_message(tmp_path: Path) -> None:
    """A ToolkitError (here a LoadError) prints its message alone, status 1; HYDRA_FULL_ERROR=1 shows where."""
    result = run_cli(tmp_path, f"hydra.run.dir={tmp_path / 'r'}", "dataset.path=nope.txt")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("toolkit: error: nope.txt: no such file")

    full = run_cli(tmp_path, f"hydra.run.dir={tmp_path / 'r'}", "dataset.path=nope.txt", HYDRA_FULL_ERROR="1")
    assert full.returncode == 1
    assert "Traceback" in full.stderr and "toolkit.errors.LoadError: nope.txt: no such file" in full.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("override", "named"), [
    ("analysis.n_boot=not-a-number", "full_key: analysis.n_boot"),
    ("scorer.modle=original", "Key 'modle' not in 'ScorerSettings'"),
])
def test_cli_config_error_is_short(tmp_path: Path, override: str, named: str) -> None:
    """Hydra's own config errors (wrong type, unknown key) stay a few lines naming the key, no traceback."""
    result = run_cli(tmp_path, f"hydra.run.dir={tmp_path / 'r'}", override)
    assert result.returncode == 1
    assert named in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 8, result.stderr
    assert not (tmp_path / "r").exists()  # composing failed: no run directory
