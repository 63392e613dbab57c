"""Civility profile and derailment on threads worked out by hand, and a planted effect recovered."""

from __future__ import annotations

import math

import polars as pl
import pytest

from toolkit.analysis.civility import (
    civility_by_depth,
    civility_by_parent,
    civility_by_removal,
    strategy_columns,
)
from toolkit.analysis.derailment import DerailmentOptions, derailment_log_odds, derailment_threads
from toolkit.analysis.registry import ANALYSES, AnalysisContext, AnalysisParams
from toolkit.analysis.synthetic import make_frame, random_threads
from toolkit.errors import ConfigError

S = ["hedges", "direct_question"]


def row(thread: str, cid: str, parent: str, minute: int, score: float | None, hedges: int | None = None,
        question: int | None = None, politeness: float | None = None, removed: bool = False) -> dict:
    return {"thread": thread, "id": cid, "parent": parent, "minute": minute, "score": score, "removed": removed,
            "hedges": hedges, "direct_question": question, "politeness": politeness}


def posts(*threads: str) -> list[dict]:
    return [{"thread": t, "id": t, "score": 0.1, "minute": 0} for t in threads]


# Thread A: a1 (depth 1) -> a2 (depth 2, toxic 0.8, removed) -> a3 (depth 3, a reply to a toxic parent).
# Thread B: b1 (depth 1) -> b2 (removed, no text: markers null) and b3 (depth 2).
AB = [
    row("A", "a1", "A", 1, 0.1, hedges=2, question=0, politeness=0.8),
    row("A", "a2", "a1", 2, 0.8, hedges=0, question=1, politeness=0.2, removed=True),
    row("A", "a3", "a2", 3, 0.2, hedges=1, question=0, politeness=0.6),
    row("B", "b1", "B", 1, 0.2, hedges=0, question=1, politeness=0.4),
    row("B", "b2", "b1", 2, None, removed=True),
    row("B", "b3", "b1", 3, 0.1, hedges=1, question=1, politeness=0.6),
]
# C: civil throughout; D: one comment (too short for k=1); E: its first comment is toxic (uncivil start).
CDE = [
    row("C", "c1", "C", 1, 0.1, hedges=0, question=1, politeness=0.5),
    row("C", "c2", "c1", 2, 0.2, hedges=0, question=0, politeness=0.5),
    row("D", "d1", "D", 1, 0.1, hedges=1, question=0, politeness=0.5),
    row("E", "e1", "E", 1, 0.9, hedges=0, question=0, politeness=0.1),
    row("E", "e2", "e1", 2, 0.1, hedges=0, question=0, politeness=0.5),
]


@pytest.fixture
def two_threads() -> pl.DataFrame:
    return make_frame(posts("A", "B") + AB)


@pytest.fixture
def five_threads() -> pl.DataFrame:
    return make_frame(posts("A", "B", "C", "D", "E") + AB + CDE)


def test_strategy_columns_known_names_prefixed_or_not_and_named_ones_checked() -> None:
    frame = pl.DataFrame({"text": ["x"], "politeness.gratitude": [1], "hedges": [0], "gratitude_x": [1]})
    assert strategy_columns(frame) == ["politeness.gratitude", "hedges"]
    assert strategy_columns(frame, ["gratitude_x"]) == ["gratitude_x"]
    with pytest.raises(ConfigError, match=r"strategies: strategy columns \['please'\] not in the frame"):
        strategy_columns(frame, ["please"])


def test_rates_by_depth_by_hand(two_threads: pl.DataFrame) -> None:
    table = civility_by_depth(two_threads, S, n_boot=50)
    got = {(r["strategy"], r["depth_bin"]): (r["n"], r["rate"], r["mean_count"]) for r in table.iter_rows(named=True)}
    # depth 1: a1 (hedges 2, no question), b1 (0, question); depth 2: a2 (0, q), b2 (no text), b3 (1, q); depth 3: a3
    assert got[("hedges", "1")] == (2, 0.5, 1.0)
    assert got[("direct_question", "1")] == (2, 0.5, 0.5)
    assert got[("hedges", "2")] == (2, 0.5, 0.5)
    assert got[("direct_question", "2")] == (2, 1.0, 1.0)
    assert got[("hedges", "3")] == (1, 1.0, 1.0)
    assert got[("politeness", "1")][:2] == (2, pytest.approx(0.6)) and got[("politeness", "2")][1] == pytest.approx(0.4)
    assert set(table.filter(pl.col("strategy") == "politeness")["measure"]) == {"mean score"}
    depth3 = table.filter(pl.col("depth_bin") == "3").row(0, named=True)
    assert math.isnan(depth3["rate_low"]) and depth3["ci_method"].endswith("no CI)")  # held by one thread


def test_removed_vs_kept_log_odds_with_half_smoothing(two_threads: pl.DataFrame) -> None:
    table = {r["strategy"]: r for r in civility_by_removal(two_threads, S, n_boot=50).iter_rows(named=True)}
    # removed with markers: a2 only (b2 has no text); kept: a1, a3, b1, b3
    hedges, question, score = table["hedges"], table["direct_question"], table["politeness"]
    assert (hedges["n_a"], hedges["n_b"], hedges["rate_a"], hedges["rate_b"]) == (1, 4, 0.0, 0.75)
    assert hedges["difference"] == -0.75
    assert hedges["log_odds"] == pytest.approx(math.log(0.5 * 1.5 / (1.5 * 3.5)))  # log(1/7)
    assert question["log_odds"] == pytest.approx(math.log(1.5 * 2.5 / (0.5 * 2.5)))  # log 3
    assert score["difference"] == pytest.approx(0.2 - 0.6) and math.isnan(score["log_odds"])


def test_replies_to_toxic_vs_non_toxic_parents(two_threads: pl.DataFrame) -> None:
    table = {r["strategy"]: r for r in civility_by_parent(two_threads, S, threshold=0.5, n_boot=50).iter_rows(
        named=True)}
    # toxic parent: a3 (parent a2 0.8); non-toxic: a2 (parent a1), b3 (parent b1); replies to the post left out
    hedges, question = table["hedges"], table["direct_question"]
    assert (hedges["n_a"], hedges["n_b"], hedges["rate_a"], hedges["rate_b"]) == (1, 2, 1.0, 0.5)
    assert hedges["log_odds"] == pytest.approx(math.log(1.5 * 1.5 / (0.5 * 1.5)))  # log 3
    assert question["log_odds"] == pytest.approx(math.log(0.5 * 0.5 / (1.5 * 2.5)))  # log(1/15)


def test_civility_profile_leaves_out_what_cannot_apply() -> None:
    out = ANALYSES["civility_profile"](make_frame(posts("B") + AB[3:]), AnalysisContext(n_boot=20))
    assert sorted(out.tables) == ["civility_by_depth"]
    assert [spec.name for spec, _ in out.figures] == ["civility_by_depth"]
    assert out.skipped == (
        "civility_by_removal not written: needs removed and kept comments with markers (removed comments' text "
        "kept); civility_by_parent not written: needs replies to parents both >= and < 0.5 in toxicity")


def test_derailment_threads_left_out_and_counted(five_threads: pl.DataFrame) -> None:
    threads, sample = derailment_threads(five_threads, S, k=1)
    assert dict(sample.iter_rows()) == {
        "threads with comments": 5, "left out: fewer than 2 comments": 1,
        "left out: outcome (either) already in the first 1 comments": 1, "threads analysed": 3, "of which derail": 2}
    assert threads.select("thread_id", "derails", "hedges", "direct_question", "politeness").rows() == [
        ("A", True, 1.0, 0.0, 0.8), ("B", True, 0.0, 1.0, 0.4), ("C", False, 0.0, 1.0, 0.5)]
    lenient, _ = derailment_threads(five_threads, S, k=1, require_civil_start=False)
    assert lenient.filter(pl.col("thread_id") == "E")["derails"].to_list() == [False]
    toxic, sample = derailment_threads(five_threads, S, k=1, outcome="toxic")  # b2 is removed but unscored
    assert dict(toxic.select("thread_id", "derails").iter_rows()) == {"A": True, "B": False, "C": False}
    with pytest.raises(ConfigError, match="outcome: 'rude': give one of removed, toxic, either"):
        derailment_threads(five_threads, S, outcome="rude")


def test_derailment_log_odds_by_hand(five_threads: pl.DataFrame) -> None:
    threads, _ = derailment_threads(five_threads, S, k=1)
    table = {r["strategy"]: r for r in derailment_log_odds(threads, S, n_boot=50).iter_rows(named=True)}
    # derailing A (hedges, no question), B (question); civil C (question)
    assert (table["hedges"]["rate_a"], table["hedges"]["rate_b"]) == (0.5, 0.0)
    assert table["hedges"]["log_odds"] == pytest.approx(math.log(1.5 * 1.5 / (1.5 * 0.5)))  # log 3
    assert table["direct_question"]["log_odds"] == pytest.approx(math.log(1.5 * 0.5 / (1.5 * 1.5)))  # log(1/3)
    assert table["politeness"]["difference"] == pytest.approx(0.6 - 0.5)


def test_derailment_skips_with_reasons(five_threads: pl.DataFrame) -> None:
    def run(label: str = "toxicity", **options) -> object:
        params = AnalysisParams(derailment=DerailmentOptions(**options))
        return ANALYSES["derailment"](five_threads, AnalysisContext(label=label, n_boot=20, params=params))

    assert run(k=1).skipped == (
        "3 thread(s) to analyse, fewer than min_threads=20 (outcome: either (toxicity >= 0.5) after the first 1 "
        "comments; 2 of 3 threads derail; left out: 1 fewer than 2 comments, 1 outcome (either) already in the "
        "first 1 comments)")
    few = run(k=1, min_threads=3, folds=2)
    assert sorted(few.tables) == ["derailment_log_odds", "derailment_sample"]
    assert few.skipped == "derailment_prediction not written: 2 of 3 threads derail; 2-fold CV needs 2 of each"
    assert run("insult", outcome="toxic").skipped == "outcome 'toxic' needs insult scores; the data has none"
    unmarked = ANALYSES["derailment"](make_frame(posts("A") + [{"thread": "A", "id": "a1", "score": 0.1}]),
                                      AnalysisContext(n_boot=20))
    assert (unmarked.tables, unmarked.skipped) == ({}, "no politeness strategy columns: run with scorer=politeness")


@pytest.mark.slow
def test_derailment_recovers_the_planted_effect() -> None:
    """random_threads plants it: the first two comments of threads that later derail ask a direct question
    twice as often. The other strategies carry no effect."""
    frame = random_threads(400, seed=0, max_size=30)
    out = ANALYSES["derailment"](frame, AnalysisContext(n_boot=200))
    assert out.skipped == ""
    odds = {r["strategy"]: r for r in out.tables["derailment_log_odds"].iter_rows(named=True)}
    assert odds["direct_question"]["lo_low"] > 0
    assert odds["gratitude"]["lo_low"] < 0 < odds["gratitude"]["lo_high"]
    model = out.tables["derailment_prediction"].row(0, named=True)
    assert model["model"] == "strategies + politeness" and model["n_threads"] == out.tables["derailment_sample"]["threads"][3]
    assert model["roc_auc"] > 0.6 and model["roc_low"] > 0.5
