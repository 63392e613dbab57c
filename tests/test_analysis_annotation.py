"""annotation_sample (stratified Poisson sample, blinded sheet, key with inclusion probabilities), the labels
read back (several annotators, majority, Krippendorff's alpha) and scorer_validation with inverse-probability
weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hydra import compose, initialize_config_dir

from toolkit.analysis.annotation import (
    AnnotationSampleOptions,
    annotation_sample,
    blinded_sheet,
    krippendorff_alpha,
    majority,
    read_annotations,
)
from toolkit.analysis.declare import AnalysisContext
from toolkit.analysis.registry import ANALYSES, AnalysisParams
from toolkit.analysis.synthetic import make_frame
from toolkit.analysis.validation import scorer_validation
from toolkit.cli.app import CONFIG_DIR, to_settings
from toolkit.errors import ConfigError
from toolkit.pipeline import run_experiment


def corpus(n_threads: int = 60, seed: int = 0) -> pl.DataFrame:
    """Threads of a post and 1..30 replies (one thread of 120); two scores that agree on about half the replies,
    and a hidden truth that follows the first score."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(n_threads):
        rows.append({"thread": f"t{t}", "id": f"t{t}", "score": 0.1, "other": 0.1, "truth": False})
        size = 120 if t == 0 else int(rng.integers(1, 30))
        for i in range(size):
            a = float(rng.uniform())
            b = a if rng.uniform() < 0.5 else float(rng.uniform())
            rows.append({"thread": f"t{t}", "id": f"t{t}c{i}", "parent": f"t{t}" if i == 0 else f"t{t}c{i - 1}",
                         "score": a, "other": b, "truth": bool(rng.uniform() < a)})
    return make_frame(rows)


def test_sample_probabilities_allocation_and_thread_cap() -> None:
    frame = corpus()
    sample, strata = annotation_sample(frame, ["toxicity", "other"], n=80, quantiles=2, max_per_thread=2, seed=1)
    assert strata.height == 4 and strata["n_expected"].sum() == pytest.approx(80)
    assert strata["n_expected"].to_list() == pytest.approx([20.0] * 4)  # equal allocation: every cell can hold it
    assert sample.height == strata["n_sampled"].sum() and sample["comment_id"].is_unique().all()
    assert (sample["weight"] * sample["inclusion_probability"]).to_list() == pytest.approx([1.0] * sample.height)
    # the 120-reply thread: at most 2 expected comments per stratum, so its comments' probabilities are lower
    replies = frame.filter(~pl.col("is_post"))
    big = sample.filter(pl.col("thread_id") == "t0")
    assert big["inclusion_probability"].max() < sample.filter(pl.col("thread_id") != "t0")[
        "inclusion_probability"].max()
    expected_t0 = big.group_by("stratum").agg(pl.col("inclusion_probability").first() * pl.len())
    assert replies.filter(pl.col("thread_id") == "t0").height == 120 and expected_t0.height >= 1
    # the parent's text rides along; the first reply's parent is the post
    first = sample.join(frame.select("comment_id", "parent_id"), on="comment_id")
    for row in first.head(5).iter_rows(named=True):
        assert row["parent_text"] == f"text of {row['parent_id']}"
    again, _ = annotation_sample(frame, ["toxicity", "other"], n=80, quantiles=2, max_per_thread=2, seed=1)
    assert again.equals(sample)  # seeded
    other, _ = annotation_sample(frame, ["toxicity", "other"], n=80, quantiles=2, max_per_thread=2, seed=2)
    assert not other["comment_id"].equals(sample["comment_id"])


def test_thread_cap_bounds_each_threads_expected_share() -> None:
    frame = corpus()
    rows = frame.filter(~pl.col("is_post"))
    big = rows.filter(pl.col("thread_id") == "t0").height
    sample, strata = annotation_sample(frame, ["toxicity"], n=400, quantiles=1, max_per_thread=2, seed=0)
    # one stratum asking for more than it holds: each thread gives at most 2 expected comments (t0's 120 each
    # 2 / 120), so the expectation is the capacity, sum over threads of min(size, 2)
    t0 = sample.filter(pl.col("thread_id") == "t0")["inclusion_probability"].unique().to_list()
    assert t0 == [] or t0 == pytest.approx([2 / big])
    capacity = rows.group_by("thread_id").len()["len"].clip(upper_bound=2).sum()
    assert strata["n_expected"][0] == pytest.approx(capacity) and capacity < 400


def test_inverse_probability_weights_estimate_the_corpus() -> None:
    """Horvitz-Thompson (ratio) estimates of the share of true comments are unbiased over repeated draws, while
    the unweighted share of the over-sampled disagreement strata is not."""
    frame = corpus(seed=3)
    truth = frame.filter(~pl.col("is_post")).select("comment_id", "truth")
    population = truth["truth"].mean()
    weighted, plain = [], []
    for seed in range(150):
        sample, _ = annotation_sample(frame, ["toxicity", "other"], n=120, quantiles=4, max_per_thread=3, seed=seed)
        s = sample.join(truth, on="comment_id")
        weighted.append(float((s["weight"] * s["truth"]).sum() / s["weight"].sum()))
        plain.append(float(s["truth"].mean()))
    assert np.mean(weighted) == pytest.approx(population, abs=0.01)
    assert abs(np.mean(plain) - population) > abs(np.mean(weighted) - population)


def test_sheet_is_blinded_and_key_maps_items() -> None:
    ctx = AnalysisContext(n_boot=20, seed=4, params=AnalysisParams(
        annotation_sample=AnnotationSampleOptions(n=30, columns=["toxicity", "other"], annotators=["ana", "bo"])))
    out = ANALYSES["annotation_sample"](corpus(), ctx)
    sheet = pl.read_csv(out.files["annotation/sample.csv"].encode())
    key = pl.read_csv(out.files["annotation/key.csv"].encode())
    assert sheet.columns == ["item_id", "text", "parent_text", "label_ana", "label_bo"]
    assert sheet["label_ana"].null_count() == sheet.height  # empty, to fill in
    assert {"comment_id", "stratum", "inclusion_probability", "weight"} <= set(key.columns)
    assert sheet["item_id"].to_list() == key["item_id"].to_list() == sorted(key["item_id"].to_list())
    assert "annotation_strata" in out.tables and out.figures[0][0].kind == "rate_bars"
    with pytest.raises(ConfigError, match="distinct annotator names"):
        blinded_sheet(pl.DataFrame({"item_id": [], "text": [], "parent_text": []}), ["a", "a"])


def test_majority_and_krippendorff_alpha() -> None:
    labels = pl.DataFrame({"label_a": [1.0, 1.0, 0.0, 0.0, 1.0], "label_b": [1.0, 1.0, 0.0, 0.0, 0.0],
                           "label_c": [None, 1.0, None, 0.0, 0.0]})
    assert majority(labels, ["label_a", "label_b"])["human"].to_list() == [True, True, False, False, None]
    assert majority(labels, ["label_a", "label_b", "label_c"])["human"].to_list() == [True, True, False, False, False]
    # two coders, 4 of 5 agree: D_o = 2/10, D_e = 2 * 5 * 5 / (10 * 9): alpha = 1 - 0.2 / (50 / 90) = 0.64
    table = krippendorff_alpha(labels, ["label_a", "label_b"], n_boot=200, seed=1)
    row = table.row(0, named=True)
    assert row["alpha"] == pytest.approx(0.64) and row["n_items"] == 5
    assert -1 <= row["alpha_low"] <= row["alpha"] <= row["alpha_high"] <= 1
    assert krippendorff_alpha(labels, ["label_a", "label_b"], n_boot=200, seed=1).equals(table)  # seeded


def _annotation_dir(tmp_path: Path) -> Path:
    d = tmp_path / "annotation"
    d.mkdir()
    pl.DataFrame({"item_id": ["item-1", "item-2", "item-3"], "comment_id": ["x", "y", "z"],
                  "weight": [2.0, 4.0, 1.0]}).write_csv(d / "key.csv")
    return d


def test_labels_come_back_from_one_file_per_annotator(tmp_path: Path) -> None:
    d = _annotation_dir(tmp_path)
    pl.DataFrame({"item_id": ["item-1", "item-2", "item-3"], "text": ["a", "b", "c"],
                  "label_ana": ["1", "0", ""]}).write_csv(d / "sample.csv")
    pl.DataFrame({"item_id": ["item-3", "item-1"], "label_bo": ["yes", "no"]}).write_csv(d / "bo.csv")
    labels, annotators = read_annotations(d)
    assert annotators == ["label_bo", "label_ana"]  # files in name order: bo.csv, sample.csv
    assert labels.select("comment_id", "label_ana", "label_bo").rows() == [
        ("x", 1.0, 0.0), ("y", 0.0, None), ("z", None, 1.0)]
    pl.DataFrame({"item_id": ["item-2"], "label_ana": ["1"]}).write_csv(d / "clash.csv")
    with pytest.raises(ConfigError, match="label_ana labels item 'item-2' differently"):
        read_annotations(d)
    (d / "clash.csv").unlink()
    pl.DataFrame({"item_id": ["item-9"], "label_cy": ["1"]}).write_csv(d / "cy.csv")
    with pytest.raises(ConfigError, match="item 'item-9' is not in"):
        read_annotations(d)
    pl.DataFrame({"item_id": ["item-1"], "label_cy": ["perhaps"]}).write_csv(d / "cy.csv")
    with pytest.raises(ConfigError, match=r"cy.csv: label_cy: 'perhaps' is not a label"):
        read_annotations(d)


def test_weighted_validation_equals_the_sample_repeated_by_weight() -> None:
    """Integer weights: every point estimate equals the unweighted one on rows repeated that many times."""
    rng = np.random.default_rng(5)
    n = 60
    scores, w = rng.uniform(size=n), rng.integers(1, 5, n)
    truth = rng.uniform(size=n) < scores
    rows = [{"thread": f"t{i % 12}", "id": f"c{i}", "parent": None, "score": float(scores[i]),
             "toxic": bool(truth[i]), "w": int(w[i])} for i in range(n)]
    frame = make_frame(rows)
    repeated = make_frame([{**r, "id": f"{r['id']}_{k}"} for r in rows for k in range(r["w"])])
    weighted = scorer_validation(frame, truth="toxic", weight="w", n_boot=20)
    plain = scorer_validation(repeated, truth="toxic", n_boot=20)
    for column in ("roc_auc", "pr_auc", "base_rate", "precision", "recall", "f1", "brier", "ece"):
        assert weighted[column][0] == pytest.approx(plain[column][0]), column
    assert weighted["weighted_by"][0].startswith("w ") and "weighted_by" not in plain.columns


def _settings(*overrides: str):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return to_settings(compose(config_name="config", overrides=[
            *overrides, "scorer=profanity", "analysis.n_boot=50", "plot.formats=[png]", "plot.dpi=50"]))


@pytest.mark.slow
def test_sample_labelled_and_fed_back_into_scorer_validation(tmp_path: Path) -> None:
    """cat_gn: draw the sample, let two 'annotators' label it (CAT's own labels, the second flipping three),
    then validate with annotations=DIR: weighted metrics, the majority as truth, Krippendorff's alpha."""
    run_experiment(_settings("+experiment=annotation_sample"), tmp_path / "sample")
    d = tmp_path / "sample" / "annotation"
    key = pl.read_csv(d / "key.csv", schema_overrides={"comment_id": pl.String})
    truth = pl.read_parquet(Path(__file__).resolve().parents[1] / "data" / "cat_gn.parquet").select(
        "comment_id", "toxic")
    labels = key.join(truth, on="comment_id", maintain_order="left")["toxic"].cast(pl.Int64)
    second = labels.to_list()
    for i in (0, 1, 2):
        second[i] = 1 - second[i]
    sheet = pl.read_csv(d / "sample.csv").with_columns(pl.Series("label_annotator_1", labels.cast(pl.String)),
                                                      pl.Series("label_annotator_2", [str(v) for v in second]))
    sheet.write_csv(d / "sample.csv")
    run_experiment(_settings("+experiment=validate_scorer", "dataset=cat_gn", "analysis.run=[scorer_validation]",
                             f"analysis.params.scorer_validation.annotations={d}"), tmp_path / "validate")
    tables = tmp_path / "validate" / "tables"
    metrics = pl.read_csv(tables / "scorer_validation.csv").row(0, named=True)
    assert metrics["n"] == key.height - 3  # the three disagreements are ties: left out
    assert metrics["weighted_by"].startswith("annotation_weight")
    alpha = pl.read_csv(tables / "annotator_agreement.csv").row(0, named=True)
    assert alpha["n_items"] == key.height and alpha["alpha"] < 1
