"""The command line's config edge: `+key=value` cannot add a setting no dataclass has (issue 18 #2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from toolkit.cli.app import CONFIG_DIR, to_settings
from toolkit.errors import ConfigError
from toolkit.settings import RunSettings


def compose_run(overrides: list[str]) -> RunSettings:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    return to_settings(cfg)


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"},
           "TOOLKIT_CACHE_DIR": str(cwd / "score-cache")}
    return subprocess.run([sys.executable, "-m", "toolkit.cli.app", *args], capture_output=True, text=True,
                          env=env, timeout=300, cwd=cwd)


@pytest.mark.parametrize(("override", "key", "near"), [
    ("+analysis.treshold=0.9", "analysis.treshold", "did you mean threshold?"),
    ("+analysis.params.depth_profile.depth_bin=[1,2,5]", "analysis.params.depth_profile.depth_bin",
     "did you mean depth_bins?"),
    ("+scorer.modle=unbiased", "scorer.modle", "did you mean model?"),
    ("+dataset.fetch.urll=http://127.0.0.1/x", "dataset.fetch.urll", "did you mean url?"),
    ("+plot.dip=100", "plot.dip", "did you mean dpi?"),
    ("+map.part_=1", "map.part_", "did you mean part?"),
    ("+experimnt=mine", "experimnt", "did you mean experiment?"),
    ("+analysis.params.depth_profil.depth_bins=[1]", "analysis.params.depth_profil", "did you mean depth_profile?"),
    ("+analysis.params.thread_tree.zzz=1", "analysis.params.thread_tree.zzz", "known: thread_id, pick, max_nodes"),
])
def test_plus_key_unknown_to_its_dataclass_is_refused(override: str, key: str, near: str) -> None:
    with pytest.raises(ConfigError) as err:
        compose_run([override])
    assert err.value.key == key and near in str(err.value)


def test_plus_keys_of_dict_fields_still_work() -> None:
    settings = compose_run([
        "dataset=file", "dataset.path=x.csv", "+dataset.options.columns={text: body, removed: was_removed}",
        "scorer=column", "+scorer.columns.toxicity=perspective",
        "+analysis.params.scorer_agreement.thresholds.toxicity=0.7",
    ])
    assert settings.dataset.options == {"columns": {"text": "body", "removed": "was_removed"}}
    assert settings.scorer.columns == {"toxicity": "perspective"}
    assert settings.analysis.params.scorer_agreement.thresholds == {"toxicity": 0.7}


@pytest.mark.slow
def test_cli_refuses_a_misspelt_plus_key(tmp_path: Path) -> None:
    """Hydra's own hint for an unknown key (add it with +) no longer runs at the default: status 1, one line."""
    result = run_cli(tmp_path, f"hydra.run.dir={tmp_path / 'r'}", "scorer=profanity", "+analysis.treshold=0.9")
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.strip() == ("toolkit: error: analysis.treshold: no such setting (did you mean threshold?); "
                                     "+key=value does not add settings")
    assert not (tmp_path / "r" / "manifest.json").exists()


@pytest.mark.parametrize(("overrides", "name"), [
    ([], "demo"),  # a bare `toolkit` runs the bundled demo
    (["dataset=file", "dataset.path=exports/mine.csv"], "mine"),
    (["dataset=file", "dataset.path=dumps/RC_2024-*.zst"], "RC_2024"),
    (["dataset.path=mine.txt"], "mine"),  # the demo's dataset pointed at the user's file is not the demo
    (["dataset=reddit_sample"], "reddit_sample"),
    (["+experiment=escalation"], "escalation"),
])
def test_run_without_an_experiment_is_named_after_its_data(overrides: list[str], name: str) -> None:
    """Issue 18 #5: a run on the user's data was filed under outputs/demo/ and captioned "demo"."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
    assert to_settings(cfg).experiment == name
    assert cfg.hydra.run.dir.startswith(f"outputs/{name}/") and cfg.hydra.sweep.dir.startswith(f"multirun/{name}/")


STUDY = "# @package _global_\nexperiment: mystudy\nscorer:\n  name: profanity\nanalysis:\n  threshold: 0.7\n"


def test_own_experiment_file_in_the_project_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18 #6: ./experiments/mystudy.yaml runs as +experiment=mystudy from the project folder, and a
    project's file wins over a shipped experiment of the same name."""
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "mystudy.yaml").write_text(STUDY)
    (tmp_path / "experiments" / "escalation.yaml").write_text("# @package _global_\nexperiment: my_escalation\n")
    monkeypatch.chdir(tmp_path)
    settings = compose_run(["+experiment=mystudy"])
    assert (settings.experiment, settings.scorer.name, settings.analysis.threshold) == ("mystudy", "profanity", 0.7)
    assert compose_run(["+experiment=escalation"]).experiment == "my_escalation"
    assert compose_run(["+experiment=derailment"]).experiment == "derailment"  # shipped ones still there
    monkeypatch.chdir(tmp_path / "experiments")  # elsewhere: no such experiment, Hydra lists the known ones
    with pytest.raises(Exception, match="Could not find 'experiment/mystudy'"):
        compose_run(["+experiment=mystudy"])


@pytest.mark.slow
def test_cli_runs_own_experiment_file(tmp_path: Path) -> None:
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "mystudy.yaml").write_text(STUDY)
    result = run_cli(tmp_path, "+experiment=mystudy", "--cfg", "job")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "experiment: mystudy" in result.stdout and "threshold: 0.7" in result.stdout
