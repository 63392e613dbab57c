"""Every experiment in experiments/ runs end to end on its bundled data (scorer=profanity, n_boot=200, PNG at
low resolution to keep the suite fast), writes its tables and figures, and those with seeded or sampled steps
reproduce byte for byte on a rerun."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from helpers import experiment_settings
from llm_server import LoopbackLLM, expected_p

from toolkit.cli.app import CONFIG_DIR
from toolkit.pipeline import resolve_data_path, run_experiment
from toolkit.settings import RunSettings

pytestmark = pytest.mark.slow

pytest_plugins = ["scoring_fixtures"]

EXPERIMENTS = sorted(p.stem for p in (Path(CONFIG_DIR).parent / "experiments").glob("*.yaml"))


settings_for = experiment_settings


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
    """CAT gn: the archived Perspective scores (the run's scorer=column) against the embedded and Detoxify."""
    pairs = table(run, "scorer_agreement")
    names = set(pairs["a"]) | set(pairs["b"])
    assert {"toxicity", "profanity.toxicity"} <= names and any(n.startswith("detoxify:") for n in names)
    assert (pairs["n"] == 300).all()  # the seeded sample
    scorers = dict(table(run, "scorer_agreement_scorers").select("scorer", "used").iter_rows())
    assert scorers["profanity"] is True
    perspective = pairs.filter((pl.col("a") == "toxicity") & (pl.col("b") == "profanity.toxicity")).row(0, named=True)
    assert perspective["spearman"] > 0.2  # Perspective and the profanity model rank CAT gn's comments alike


def check_escalation_human(run: Path) -> None:
    """ToxiChat's human labels as 0/1 scores: 519 reply->reply pairs (3-turn threads), offensiveness begets it."""
    rows = {r["measure"]: r for r in table(run, "escalation").iter_rows(named=True)}
    assert rows["spearman rho (parent, reply)"]["n"] == 519
    assert rows["risk difference (toxic - non-toxic parent)"]["low"] > 0.3


def _skipped(run: Path) -> dict[str, str]:
    return json.loads((run / "manifest.json").read_text())["skipped"]


def check_civility_profile(run: Path) -> None:
    """The sample thread has no removals: strategies by depth are drawn, the removed-vs-kept table is not."""
    table_ = table(run, "civility_by_depth")
    assert {"gratitude", "hedges", "politeness"} <= set(table_["strategy"])  # 21 strategies and the score
    assert (run / "figures" / "civility_by_depth.png").exists()
    assert _skipped(run)["civility_profile"].startswith("civility_by_removal not written: needs removed and kept")


def check_derailment(run: Path) -> None:
    """ToxiChat, outcome = the human offensive label, k: null (every turn before the outcome; civil threads a
    matched prefix): each rule's count in the sample table, and each model's features in its table."""
    counts = dict(table(run, "derailment_sample").iter_rows())
    assert counts["threads with turns"] == 1700
    assert counts["derailing: the turns before the first outcome turn"] + counts[
        "civil: prefix length matched to the derailing threads'"] == counts["threads analysed"]
    assert counts["of which derail"] == counts["derailing: the turns before the first outcome turn"] > 300
    models = {r["model"]: r for r in table(run, "derailment_prediction").iter_rows(named=True)}
    assert {"strategies + politeness", "toxicity (mean, max, last)", "all"} <= set(models)
    assert models["toxicity (mean, max, last)"]["features"] == "toxicity, toxicity_max, toxicity_last"
    assert "question_share" in models["all"]["features"] and "prefix_turns" in models["all"]["features"]
    assert all(0 <= m["roc_low"] <= m["roc_auc"] <= m["roc_high"] <= 1 for m in models.values())


def check_lemmy_removals(run: Path) -> None:
    manifest = json.loads((run / "manifest.json").read_text())
    counts = manifest["counts"]  # the synthetic archive (data/build_lemmy_archive.py): 2 posts, 210 comments
    assert (counts["rows_kept"], counts["rows_rejected"], counts["structure"]) == (211, 9, {"orphan": 5, "tree": 206})
    reasons = table(run, "removal_reasons")
    assert reasons.select("reason", "n_removed").rows() == [
        ("Rule 1: be civil", 14), ("Rule 3: no spam", 5), ("Rule 2: off topic", 4)]
    assert reasons["share"].to_list() == [14 / 23, 5 / 23, 4 / 23]
    assert json.loads((run / "figures" / "removal_reasons.json").read_text())["kind"] == "rate_bars"


def check_perspective_crosswalk(run: Path) -> None:
    """The Spearman equals scipy's on the run's comments; the same-share thresholds flag the same share."""
    from scipy.stats import spearmanr

    comments = pl.read_parquet(run / "comments.parquet").filter(
        pl.col("toxicity").is_not_null() & pl.col("perspective_toxicity").is_not_null())
    x, y = comments["toxicity"].to_numpy(), comments["perspective_toxicity"].to_numpy()
    cross = table(run, "crosswalk")
    assert cross["n"][0] == comments.height == 10_000 and cross["threshold"].to_list() == [0.5, 0.7, 0.8]
    assert abs(cross["spearman"][0] - spearmanr(x, y).statistic) < 1e-3
    for row in table(run, "crosswalk_thresholds").iter_rows(named=True):
        share = (x >= row["scorer_threshold_same_share"]).mean()
        assert abs(share - (y >= row["reference_threshold"]).mean()) * 100 <= 0.2
        assert row["truth"] == "toxic" and 0 < row["reference_precision"] <= 1
    assert table(run, "crosswalk_map").height == 101


def _counts(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())["counts"]


def check_bluesky_thread(run: Path) -> None:
    """The SYNTHETIC Bluesky archive (data/build_platform_archives.py): 2 threads, 37 posts (2 hidden by a
    moderation service's !hide label), the AppView's cut-off branches asked again (their focus posts twice)."""
    counts = _counts(run)
    assert (counts["rows_kept"], counts["rows_rejected"], counts["posts"]) == (37, 2, 2)
    assert table(run, "removal_context").height >= 1 and (run / "figures" / "thread_tree.png").exists()
    assert table(run, "depth_profile")["min_depth"].max() >= 5


def check_mastodon_thread(run: Path) -> None:
    counts = _counts(run)
    assert (counts["rows_kept"], counts["posts"], counts["structure"]) == (40, 1, {"tree": 40})
    assert table(run, "escalation").height >= 1 and (run / "figures" / "thread_tree.png").exists()


def check_hackernews_thread(run: Path) -> None:
    counts = _counts(run)
    assert (counts["rows_kept"], counts["rows_rejected"], counts["posts"]) == (40, 0, 1)
    assert table(run, "removal_context").height >= 1 and (run / "figures" / "removal_context.png").exists()


def check_jetstream_capture(run: Path) -> None:
    counts = _counts(run)  # 61 post commits: 60 posts (one updated), one reply to a post before the capture
    assert (counts["rows_kept"], counts["rows_rejected"], counts["structure"]) == (60, 1, {"orphan": 1, "tree": 59})
    assert table(run, "thread_length")["n_threads"].sum() >= 1


def check_calibrate_scorer(run: Path) -> None:
    """CAT gn's archived Perspective scores calibrated to its human labels: cross-fitted Brier and ECE go down."""
    raw, cal = table(run, "calibration_metrics").iter_rows(named=True)
    assert (raw["n"], raw["n_positive"]) == (10000, 59)
    assert cal["brier"] < raw["brier"] and cal["ece"] < raw["ece"]
    doc = json.loads((run / "calibration" / "toxicity.json").read_text())
    assert doc["scorer"]["model"] == "perspective_toxicity" and doc["metrics"]["brier_calibrated"] == cal["brier"]


def check_annotation_sample(run: Path) -> None:
    """CAT gn, the run's scorer beside the archived Perspective scores: 16 joint-quartile strata, the blinded
    sheet (no scores) and the key (inclusion probabilities)."""
    strata = table(run, "annotation_strata")
    assert strata.height == 16 and strata["n_expected"].sum() == pytest.approx(200)
    sheet = pl.read_csv(run / "annotation" / "sample.csv")
    key = pl.read_csv(run / "annotation" / "key.csv")
    assert sheet.columns == ["item_id", "text", "parent_text", "label_annotator_1", "label_annotator_2"]
    assert sheet.height == key.height == strata["n_sampled"].sum()
    assert ((key["inclusion_probability"] > 0) & (key["inclusion_probability"] <= 1)).all()


CHECKS = {name[len("check_"):]: fn for name, fn in globals().items() if name.startswith("check_")}

# Rerun (without figures) and compared byte for byte: tables, and every other file but figures, the manifest and
# the comments (the calibration map, the annotation sheet and key). The value: files the first run must write.
RERUN_IDENTICAL = {"perspective_crosswalk": "tables/crosswalk.csv", "robustness": "tables/robustness.csv",
                   "removal_prediction": "tables/removal_auc.csv", "derailment": "tables/derailment_prediction.csv",
                   "annotation_sample": "annotation/key.csv", "calibrate_scorer": "calibration/toxicity.json"}


def assert_rerun_identical(experiment: str, first: Path, settings: RunSettings) -> None:
    """The same settings run again (no figures) write the same bytes: seeded samples, stable sorts, no clock."""
    second = first / "rerun"
    run_experiment(replace(settings, plot=replace(settings.plot, formats=[])), second)
    names = sorted(str(p.relative_to(first)) for p in first.rglob("*") if p.is_file() and p.parts[len(first.parts)]
                   not in ("figures", "manifest.json", "comments.parquet", "rerun", ".hydra"))
    assert RERUN_IDENTICAL[experiment] in names and any(n.startswith("tables/") for n in names)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


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
    # every shipped experiment shows a result on its own data: at least one table and one figure
    assert list((tmp_path / "tables").glob("*.csv")), f"{experiment} wrote no table ({manifest['skipped']})"
    assert list((tmp_path / "figures").glob("*.png")), f"{experiment} wrote no figure ({manifest['skipped']})"
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
    if experiment in RERUN_IDENTICAL:
        assert_rerun_identical(experiment, tmp_path, settings)
