"""Every experiment in experiments/ runs end to end on its bundled data (scorer=profanity, n_boot=200, PNG at
low resolution to keep the suite fast), writes its tables and figures, and reproduces byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from hydra import compose, initialize_config_dir
from llm_server import LoopbackLLM, expected_p

from toolkit.cli.app import CONFIG_DIR, to_settings
from toolkit.pipeline import resolve_data_path, run_experiment
from toolkit.settings import RunSettings

pytest_plugins = ["scoring_fixtures"]

EXPERIMENTS = sorted(p.stem for p in (Path(CONFIG_DIR).parent / "experiments").glob("*.yaml"))
FAST = ["analysis.n_boot=200", "plot.formats=[png]", "plot.dpi=60"]


def settings_for(experiment: str, *overrides: str) -> RunSettings:
    """The experiment's settings; where it leaves the scorer to ``auto``, the embedded profanity scorer (offline)."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"+experiment={experiment}", *FAST, *overrides])
        if cfg.scorer.name == "auto":
            cfg = compose(config_name="config",
                          overrides=[f"+experiment={experiment}", "scorer=profanity", *FAST, *overrides])
    return to_settings(cfg)


def table(run: Path, name: str) -> pl.DataFrame:
    return pl.read_csv(run / "tables" / f"{name}.csv", infer_schema_length=None)


def check_removal_prediction(run: Path) -> None:
    auc = table(run, "removal_auc").row(0, named=True)
    assert (auc["n"], auc["n_positive"]) == (3562, 1132) and auc["roc_auc"] > 0.55
    notes = dict(table(run, "removal_logit").select("term", "note").iter_rows())
    assert notes["reply_depth"].startswith("dropped: constant")  # all top-level: said so in the table
    assert notes["score"].startswith("dropped: score not in the data")
    spec = json.loads((run / "figures" / "removal_odds_ratios.json").read_text())
    assert spec["title"] == "removed ~ toxicity"


def check_validate_scorer(run: Path) -> None:
    row = table(run, "scorer_validation").row(0, named=True)
    assert row["n"] == 16100 and row["roc_auc"] > 0.55 and 0 <= row["ece"] <= 1
    assert table(run, "validation_calibration").height == 10


def check_validate_llm(run: Path) -> None:
    """Every comment's stored score is the loopback server's P(yes) for it; no fault, so no retry."""
    row = table(run, "scorer_validation").row(0, named=True)
    assert (row["label"], row["n"]) == ("toxicity", 1200)
    comments = pl.read_parquet(run / "comments.parquet").filter(pl.col("text").is_not_null())
    assert all(abs(p - expected_p(t)) < 1e-12 for t, p in comments.select("text", "toxicity").iter_rows())
    scorer = json.loads((run / "manifest.json").read_text())["scorer"]
    assert scorer["extra"]["card"]["revision"] == "revision=r1" and scorer["extra"]["engine"]["retries"] == {}


def check_validate_politeness(run: Path) -> None:
    row = table(run, "scorer_validation").row(0, named=True)
    assert (row["label"], row["n"], row["n_positive"]) == ("politeness", 2178, 1089)  # the two quartiles
    assert row["roc_auc"] > 0.85  # in-sample (the model was trained on them); cross-validated: 0.90


def check_thread_length(run: Path) -> None:
    assert table(run, "thread_length")["n_threads"].sum() >= 1
    footer = json.loads((run / "figures" / "thread_length.json").read_text())["footer"]
    assert "thread bootstrap" in footer and "Avalle et al. (2024) used per-bin t-intervals" in footer
    assert "toxicity ≥ 0.6" in footer and "21 log bins" in footer


def check_depth_profile(run: Path) -> None:
    depth = table(run, "depth_profile")
    assert depth["min_depth"].to_list() == list(range(1, 11))  # the sample thread reaches depth 10
    assert (run / "figures" / "thread_tree.png").exists()


def check_escalation(run: Path) -> None:
    assert table(run, "escalation").height == 6 and table(run, "escalation")["n"][0] > 100


def check_scorer_agreement(run: Path) -> None:
    pairs = table(run, "scorer_agreement")
    names = set(pairs["a"]) | set(pairs["b"])
    assert "toxicity" in names and any(n.startswith("detoxify:") for n in names)  # the run's scorer vs Detoxify
    assert (pairs["n"] == 300).all()  # the seeded sample
    scorers = dict(table(run, "scorer_agreement_scorers").select("scorer", "note").iter_rows())
    assert scorers["profanity"].startswith("same scores as the run's scorer")


def _skipped(run: Path) -> dict[str, str]:
    return json.loads((run / "manifest.json").read_text())["skipped"]


def check_civility_profile(run: Path) -> None:
    """The sample thread has no removals: strategies by depth are drawn, the removed-vs-kept table is not."""
    table_ = table(run, "civility_by_depth")
    assert {"gratitude", "hedges", "politeness"} <= set(table_["strategy"])  # 21 strategies and the score
    assert (run / "figures" / "civility_by_depth.png").exists()
    assert _skipped(run)["civility_profile"].startswith("civility_by_removal not written: needs removed and kept")


def check_derailment(run: Path) -> None:
    """One thread cannot be split into derailing and civil ones: skipped, saying how many and why."""
    assert _skipped(run)["derailment"].startswith("1 thread(s) to analyse, fewer than min_threads=20")


def check_lemmy_removals(run: Path) -> None:
    manifest = json.loads((run / "manifest.json").read_text())
    counts = manifest["counts"]  # the synthetic archive (data/build_lemmy_archive.py): 2 posts, 210 comments
    assert (counts["rows_kept"], counts["rows_rejected"], counts["structure"]) == (211, 9, {"orphan": 5, "tree": 206})
    reasons = table(run, "removal_reasons")
    assert reasons.select("reason", "n_removed").rows() == [
        ("Rule 1: be civil", 14), ("Rule 3: no spam", 5), ("Rule 2: off topic", 4)]
    assert reasons["share"].to_list() == [14 / 23, 5 / 23, 4 / 23]
    assert json.loads((run / "figures" / "removal_reasons.json").read_text())["kind"] == "rate_bars"


CHECKS = {name[len("check_"):]: fn for name, fn in globals().items() if name.startswith("check_")}


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_runs_on_bundled_data(experiment: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    settings = settings_for(experiment)
    if not resolve_data_path(settings.dataset.path).exists():
        pytest.skip(f"{settings.dataset.path} not present (../shared is laid beside the clone in CI)")
    if experiment == "validate_llm":  # an LLM judge needs a server: the loopback one, in a thread; 1,200 comments
        server = LoopbackLLM().start()
        request.addfinalizer(server.stop)
        sample = tmp_path / "input" / "labelled.csv"
        sample.parent.mkdir()
        pl.read_csv(resolve_data_path(settings.dataset.path), infer_schema_length=None).head(1200).write_csv(sample)
        settings = settings_for(experiment, f"scorer.base_url={server.base_url}", f"scorer.model={server.model}",
                                f"dataset.path={sample}")
    if experiment == "scorer_agreement":
        # Detoxify's real weights need the network: compare with a tiny local Detoxify-format checkpoint.
        tiny = request.getfixturevalue("tiny_detoxify")
        options = settings.analysis.params.scorer_agreement
        options.max_comments = 300
        options.scorers = ["profanity", {"name": "detoxify", "checkpoint": str(tiny.checkpoint), "batch_size": 128}]
    manifest = run_experiment(settings, tmp_path)
    for output in manifest["outputs"]:
        assert (tmp_path / output).exists(), output
    for spec_file in (tmp_path / "figures").glob("*.json"):
        spec = json.loads(spec_file.read_text())
        assert (tmp_path / "figures" / f"{spec_file.stem}.png").exists()
        assert (tmp_path / "figures" / f"{spec_file.stem}.csv").exists()
        assert settings.scorer.name in spec["footer"] and "n = " in spec["footer"], spec_file.name
    for md in (tmp_path / "tables").glob("*.md"):
        assert (tmp_path / "tables" / f"{md.stem}.tex").read_text().count(r"\toprule") == 1
    if experiment in CHECKS:
        CHECKS[experiment](tmp_path)


def test_experiment_tables_are_byte_identical_on_rerun(tmp_path: Path) -> None:
    settings = settings_for("removal_prediction", "plot.formats=[]")
    first, second = tmp_path / "a", tmp_path / "b"
    run_experiment(settings, first)
    run_experiment(settings, second)
    names = sorted(p.name for p in (first / "tables").iterdir())
    assert len(names) >= 15
    for name in names:
        assert (first / "tables" / name).read_bytes() == (second / "tables" / name).read_bytes(), name
