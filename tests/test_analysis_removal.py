"""Removal context on hand-built threads: matched comparisons, removal rate by parent toxicity, calm-down."""

from __future__ import annotations

import math

import pytest

from toolkit.analysis.removal import (
    calm_down,
    context_scores,
    matched_context,
    removal_by_parent,
    removal_context,
    removal_parent_test,
)
from toolkit.analysis.synthetic import make_frame


@pytest.fixture
def threads():
    """Thread A: post (0.0); c1 removed (0.8) with reply r1 (0.6); c2 (0.2) with reply r2 (0.2); c3 (0.4).
    Thread B: post (0.3); d1 removed (0.9); d2 (0.1)."""
    return make_frame([
        {"thread": "A", "id": "A", "score": 0.0},
        {"thread": "A", "id": "c1", "parent": "A", "score": 0.8, "removed": True},
        {"thread": "A", "id": "c2", "parent": "A", "score": 0.2},
        {"thread": "A", "id": "c3", "parent": "A", "score": 0.4},
        {"thread": "A", "id": "r1", "parent": "c1", "score": 0.6},
        {"thread": "A", "id": "r2", "parent": "c2", "score": 0.2},
        {"thread": "B", "id": "B", "score": 0.3},
        {"thread": "B", "id": "d1", "parent": "B", "score": 0.9, "removed": True},
        {"thread": "B", "id": "d2", "parent": "B", "score": 0.1},
    ])


def test_context_scores_by_hand(threads) -> None:
    ctx = {r["comment_id"]: r for r in context_scores(threads).iter_rows(named=True)}
    assert ctx["c1"]["siblings"] == pytest.approx(0.3)  # mean of c2, c3
    assert ctx["c2"]["siblings"] == pytest.approx(0.6)  # mean of c1, c3
    assert ctx["c1"]["replies"] == pytest.approx(0.6) and ctx["c3"]["replies"] is None
    assert ctx["r1"]["parent"] == pytest.approx(0.8) and ctx["r1"]["siblings"] is None


def test_matched_context_by_hand(threads) -> None:
    """Strata (thread, depth) holding removed and kept comments: (A, 1) and (B, 1).
    self:     A: 0.8 - mean(0.2, 0.4) = 0.5;  B: 0.9 - 0.1 = 0.8;  average 0.65 (kept side 0.85 - 0.65 = 0.2)
    parent:   the post's score on both sides of each stratum: 0
    siblings: A: 0.3 - mean(0.6, 0.5) = -0.25;  B: 0.1 - 0.9 = -0.8;  average -0.525
    replies:  only A has replies on both sides: 0.6 - 0.2 = 0.4 (one removed, one kept, one thread)"""
    table = {r["context"]: r for r in matched_context(threads, n_boot=300).iter_rows(named=True)}
    s = table["self"]
    assert (s["n_removed"], s["n_kept"], s["n_strata"], s["n_threads"]) == (2, 3, 2, 2)
    assert (s["difference"], s["mean_removed"], s["mean_kept"]) == pytest.approx((0.65, 0.85, 0.2))
    assert s["low"] == pytest.approx(0.5) and s["high"] == pytest.approx(0.8)  # one stratum per thread
    assert table["parent"]["difference"] == pytest.approx(0.0)
    assert table["siblings"]["difference"] == pytest.approx(-0.525)
    r = table["replies"]
    assert (r["n_removed"], r["n_kept"], r["difference"]) == (1, 1, pytest.approx(0.4))
    # 3 x 2 equally likely within-stratum assignments; |T*| >= 0.65 only for the observed one: p ~ 1/6
    assert s["p_value"] == pytest.approx(1 / 6, abs=0.05)
    # Cohen's d of self over the matched rows: removed (0.8, 0.9) vs kept (0.2, 0.4, 0.1); variances 0.005 and
    # 0.07/3, pooled (1 * 0.005 + 2 * 0.07/3) / 3 = 0.155/9; d = (0.85 - 0.7/3) / sqrt(0.155/9) = 4.699
    assert s["cohen_d"] == pytest.approx((0.85 - 0.7 / 3) / math.sqrt(0.155 / 9))
    assert "permutation" in s["p_method"]


def test_flat_threads_have_no_parent_context() -> None:
    frame = make_frame([
        {"thread": "F", "id": "F", "score": 0.0},
        {"thread": "F", "id": "x", "score": 0.9, "removed": True},
        {"thread": "F", "id": "y", "score": 0.1},
    ])
    table = {r["context"]: r for r in matched_context(frame, n_boot=50).iter_rows(named=True)}
    assert table["self"]["difference"] == pytest.approx(0.8)
    assert table["parent"]["n_removed"] == 0 and math.isnan(table["parent"]["difference"])


def test_removal_rate_by_parent_bin_by_hand(threads) -> None:
    """Replies and their parents' scores: c1 c2 c3 <- post A (0.0); r1 <- c1 (0.8); r2 <- c2 (0.2);
    d1 d2 <- post B (0.3). [0, .2): c1 (removed), c2, c3 -> 1/3; [.2, .4): r2, d1 (removed), d2 -> 1/3;
    [.8, 1]: r1 -> 0."""
    table = removal_by_parent(threads, n_boot=100)
    rates = {r["parent_bin"]: (r["n"], r["n_removed"], r["removal_rate"]) for r in table.iter_rows(named=True)}
    assert rates["[0, 0.2)"] == (3, 1, pytest.approx(1 / 3))
    assert rates["[0.2, 0.4)"] == (3, 1, pytest.approx(1 / 3))
    assert rates["[0.8, 1]"] == (1, 0, 0.0)
    assert rates["[0.4, 0.6)"][0] == 0 and rates["no score"][0] == 0
    without_post = removal_by_parent(threads, include_post_parent=False, n_boot=50)
    assert without_post["n"].sum() == 2  # r1, r2
    test = removal_parent_test(threads, threshold=0.5, n_boot=100)
    # toxic parent (>= 0.5): r1, kept -> 0; others: 2 of 6 removed -> difference -1/3, ratio 0
    assert (test["n_removed_side"], test["n_kept_side"]) == (1, 6)
    assert test["difference"] == pytest.approx(-1 / 3) and test["risk_ratio"] == 0.0


def test_calm_down_by_hand() -> None:
    """One thread in time order: c0 0.1, c1 0.3, c2 removed (0.9), c3 0.2, c4 0.0; window 2.
    Removed c2: before (0.1, 0.3) -> 0.2, after (0.2, 0.0) -> 0.1: change -0.1.
    Kept: c1: 0.1 -> (0.9 + 0.2)/2 = +0.45; c3: (0.3 + 0.9)/2 -> 0.0 = -0.6 (c0, c4 lack a side): -0.075.
    Difference in differences: -0.1 - (-0.075) = -0.025."""
    scores = [0.1, 0.3, 0.9, 0.2, 0.0]
    frame = make_frame([{"thread": "T", "id": "T", "score": 0.0, "minute": 0}] + [
        {"thread": "T", "id": f"c{i}", "parent": "T", "score": s, "removed": i == 2, "minute": i + 1}
        for i, s in enumerate(scores)])
    table, test = calm_down(frame, window=2, n_boot=100)
    removed, kept = table.row(0, named=True), table.row(1, named=True)
    assert (removed["group"], removed["n_events"], removed["change"]) == ("removed", 1, pytest.approx(-0.1))
    assert (removed["mean_before"], removed["mean_after"]) == pytest.approx((0.2, 0.1))
    assert (kept["n_events"], kept["change"]) == (2, pytest.approx(-0.075))
    assert test["difference"] == pytest.approx(-0.025)


def test_calm_down_without_timestamps_is_empty() -> None:
    frame = make_frame([{"thread": "T", "id": "T", "score": 0.0},
                        {"thread": "T", "id": "a", "parent": "T", "score": 0.5, "removed": True}])
    table, test = calm_down(frame, n_boot=10)
    assert table["n_events"].to_list() == [0, 0] and math.isnan(test["difference"])


def test_removal_context_first_cut_still_works(threads) -> None:
    groups, tests = removal_context(threads, n_boot=100)
    assert groups["comparison"].to_list() == ["replies to removed vs kept"] * 2 + ["removed vs kept"] * 2
    removed_vs_kept = tests.row(1, named=True)
    assert removed_vs_kept["difference"] == pytest.approx(0.85 - (0.2 + 0.4 + 0.6 + 0.2 + 0.1) / 5)
    assert removed_vs_kept["roc_auc"] == pytest.approx(1.0)


def test_matched_bootstrap_fast_path_equals_the_replicate_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-product bootstrap of the matched difference gives the very numbers of the per-replicate loop."""
    import numpy as np

    from toolkit.analysis import removal
    from toolkit.analysis.stats import cluster_bootstrap
    from toolkit.analysis.synthetic import random_threads

    frame = random_threads(30, seed=3)
    fast = removal.matched_context(frame, n_boot=200)

    def loop(values, rem, strata, k, threads, n_boot, seed):
        return cluster_bootstrap(lambda w: removal._matched_difference(values, rem, strata, k, w), threads,
                                 n_boot=n_boot, seed=seed)

    monkeypatch.setattr(removal, "_matched_bootstrap", loop)
    slow = removal.matched_context(frame, n_boot=200)
    assert np.allclose(fast.select("low", "high").to_numpy(), slow.select("low", "high").to_numpy(), equal_nan=True)
